# shutdown: how the process is stopped; SIGKILL to its group always follows the timeout.
{ lib }:
let
  inherit (lib) mkOption types;
  inherit (import ./types.nix { inherit lib; }) seconds;
in
{
  command = mkOption { type = types.nullOr types.str; default = null; example = "pg_ctl stop -D $DATA -m fast"; description = "Shell text that stops the process; if it fails, the process group is killed at once."; };
  signal = mkOption {
    type = types.nullOr (types.either (types.ints.between 1 31) types.str);
    default = null;
    example = "SIGINT";
    description = "Signal sent to the process group when there is no shutdown command (default 15, SIGTERM).";
  };
  timeout_seconds = mkOption { type = types.nullOr seconds; default = null; example = 30; description = "After this, SIGKILL goes to the whole group (default 10)."; };
  parent_only = mkOption { type = types.nullOr types.bool; default = null; example = true; description = "Signal only the process, not its group (the SIGKILL still goes to the group)."; };
}
