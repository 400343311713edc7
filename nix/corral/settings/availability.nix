# availability: what happens when a run of the process ends (docs/lifecycle.md).
{ lib }:
let
  inherit (lib) mkOption types;
  inherit (import ./types.nix { inherit lib; }) seconds;
in
{
  restart = mkOption {
    type = types.nullOr (types.enum [ "no" "on_failure" "always" "exit_on_failure" ]);
    default = null;
    example = "on_failure";
    description = "Restart policy (default `no`); `exit_on_failure` ends the whole run with the process's status when it fails.";
  };
  exit_on_end = mkOption { type = types.nullOr types.bool; default = null; example = true; description = "When the process ends by itself, stop the run and exit with its status."; };
  exit_on_skipped = mkOption { type = types.nullOr types.bool; default = null; example = true; description = "When the process is skipped, stop the run and exit with 1."; };
  max_restarts = mkOption { type = types.nullOr types.ints.unsigned; default = null; example = 5; description = "Restarts in a row before giving up (default 0 = unlimited)."; };
  backoff_seconds = mkOption { type = types.nullOr seconds; default = null; example = 1; description = "Delay before the first restart in a row (default 1)."; };
  backoff_max_seconds = mkOption { type = types.nullOr seconds; default = null; example = 30; description = "The delay doubles per restart in a row up to this (default: fixed at backoff_seconds)."; };
  stable_after_seconds = mkOption { type = types.nullOr seconds; default = null; example = 10; description = "A run this long resets the restart count and backoff (default 10)."; };
}
