# `defaults.processSettings`: a module applied to every process, as in
# process-compose-flake. Use lib.mkDefault so that a process can override it.
{ lib, config, ... }:
let
  inherit (lib) mkOption types;
in
{
  options.defaults = {
    enable = mkOption {
      type = types.bool;
      default = true;
      description = "Whether `defaults.processSettings` applies.";
    };
    processSettings = mkOption {
      type = types.deferredModule;
      default = { };
      apply = m: if config.defaults.enable then m else { };
      example = lib.literalExpression ''
        {
          availability.restart = lib.mkDefault "on_failure";
          shutdown.timeout_seconds = lib.mkDefault 30;
        }
      '';
      description = "Settings applied to every process; a process's own settings win over `lib.mkDefault` ones.";
    };
  };
}
