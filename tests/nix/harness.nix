# Evaluates one of this repository's flakes (templates/default, example) the way
# `nix` would, but with corral taken from this checkout and nixpkgs replaced by
# the stand-in. Needs --impure (getFlake of a local git checkout).
#
#   nix build --impure --expr '(import tests/nix/harness.nix { repo = …; flakeDir = …; corralBin = …; }).packages.x86_64-linux.dev'
#   extraInputs: further inputs by name (e.g. services-flake, for docs/services-flake.md)
{ repo, flakeDir, corralBin, system ? "x86_64-linux", hostTools ? { }, extraInputs ? { } }:
let
  corral = builtins.getFlake "git+file://${repo}";
  pkgs = import ./stand-in-pkgs.nix { inherit system corralBin hostTools; };
  flake = import (flakeDir + "/flake.nix");
  inputs = extraInputs // {
    inherit corral;
    self = outputs // { _type = "flake"; outPath = flakeDir; inherit inputs outputs; };
    flake-parts = corral.inputs.flake-parts;
    nixpkgs = { _type = "flake"; outPath = "/nonexistent-nixpkgs"; legacyPackages.${system} = pkgs; };
  };
  outputs = flake.outputs inputs;
in
outputs
