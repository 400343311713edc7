# Compatibility with process-compose-flake: the same corral submodule under
# `perSystem.process-compose.<name>`, so switching is a one-line import change.
# process-compose-flake's `cli.preHook` / `cli.postHook` map to corral's hooks;
# its `cli.options` and `cli.environment` only tuned process-compose's own
# server and TUI and are accepted and ignored.
import ./per-system-option.nix {
  option = "process-compose";
  description = "process-compose-flake-compatible process sets, run by corral (see corral.<name>).";
  extraModules = [
    ({ config, lib, ... }: {
      options.cli = {
        preHook = lib.mkOption { type = lib.types.lines; default = ""; description = "process-compose-flake's name for `preHook`."; };
        postHook = lib.mkOption { type = lib.types.lines; default = ""; description = "process-compose-flake's name for `postHook`."; };
        options = lib.mkOption { type = lib.types.attrsOf lib.types.anything; default = { }; description = "process-compose's CLI flags; ignored by corral."; };
        environment = lib.mkOption { type = lib.types.attrsOf lib.types.anything; default = { }; description = "process-compose's own environment settings; ignored by corral."; };
      };
      config = {
        preHook = config.cli.preHook;
        postHook = config.cli.postHook;
      };
    })
  ];
}
