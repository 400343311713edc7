# docs/options.md, rendered with this checkout's nixpkgs lib and the stand-in pkgs.
{ repo }:
let
  corral = builtins.getFlake "git+file://${repo}";
  pkgs = import ./stand-in-pkgs.nix { system = "x86_64-linux"; corralBin = "/bin/corral"; };
in
import ../../nix/options-doc.nix { inherit (corral.inputs.nixpkgs-lib) lib; inherit pkgs; }
