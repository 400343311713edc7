# process-compose-flake's `lib`, run by corral: a flake that did
#
#   pc = import inputs.process-compose-flake.lib { inherit pkgs; };
#   pc.makeProcessCompose { name = "dev"; modules = [ … ]; }
#
# keeps working with `inputs.corral.lib` in its place (corral's flake `lib` can
# be imported: its `outPath` is this file). Same call shapes: `evalModules`
# returns the whole evaluation (`.config.outputs.package`), `makeProcessCompose`
# the package; the modules get the compatibility options (`cli.*`).
{ pkgs, lib ? pkgs.lib, ... }:
let
  # "NAME=value" -> { NAME = "value"; }; anything else -> null.
  parseEnv = s:
    let m = builtins.match "([^=]+)=(.*)" s; in
    if m == null then null else { ${builtins.elemAt m 0} = builtins.elemAt m 1; };
  parseEnvList = l: if l == null then { } else lib.foldl' (acc: s: acc // (if parseEnv s == null then { } else parseEnv s)) { } l;
  evalModules = { name ? "process-compose", modules }:
    lib.evalModules {
      specialArgs = { inherit name pkgs; };
      modules = [ ./corral ./compat/cli.nix { optionPrefix = "lib.evalModules (${name})"; } ] ++ modules;
    };
in
{
  inherit evalModules parseEnv parseEnvList;
  makeProcessCompose = args: (evalModules args).config.outputs.package;
  lookupEnv = name: envList: (parseEnvList envList).${name} or null;
  types.command = lib.types.either lib.types.package lib.types.str;
}
