# preHook and postHook: shell text that corral itself runs (they become the
# JSON's pre_hook and post_hook), so the wrapper stays a one-line exec.
{ lib, ... }:
let
  inherit (lib) mkOption types;
in
{
  options = {
    preHook = mkOption {
      type = types.lines;
      default = "";
      example = ''
        export DATA="$CORRAL_PROJECT_ROOT/.data"
        mkdir -p "$DATA"
        trap 'rm -rf "$DATA/tmp"' EXIT
      '';
      description = ''
        Shell text run (with `set -e`) before any process starts. Variables it exports reach
        every process, probe and hook; a `trap … EXIT` it sets fires when the whole run ends.
        If it fails, nothing starts and the run exits with its status.
      '';
    };
    postHook = mkOption {
      type = types.lines;
      default = "";
      example = ''echo "all processes ended well"'';
      description = "Shell text run after every process has stopped, only when the run succeeded.";
    };
  };
}
