# One process, mirroring corral's JSON (docs/config.md). Unset options are left
# out of the JSON, so corral's own defaults apply. Keys without an option here
# (other process-compose fields) pass through as they are and corral says what
# it makes of them when the wrapper is built (`corral check`).
{ name, lib, ... }:
let
  inherit (lib) mkOption types literalExpression;
  probe = types.nullOr (types.submodule ./probe.nix);
  settingsTypes = import ./types.nix { inherit lib; };
in
{
  freeformType = types.attrsOf types.anything;

  options = (import ./activation.nix { inherit lib; }) // {
    command = import ./command.nix { inherit lib; } {
      example = literalExpression ''"postgres -D $CORRAL_PROJECT_ROOT/data"'';
      description = ''
        Shell text run as `shell_command shell_argument command`, unchanged; or a package,
        whose main program is run. Set this or `entrypoint`.
      '';
    };
    entrypoint = mkOption {
      type = types.nullOr (types.listOf types.str);
      default = null;
      example = [ "redis-server" "--port" "6380" ];
      description = "A program and its arguments, executed directly (no shell).";
    };
    working_dir = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "services/api";
      description = ''
        Where the process runs. A relative path resolves against the project root
        (`$CORRAL_PROJECT_ROOT`: `$PRJ_ROOT`, else the nearest directory holding `flake.nix`),
        never the Nix store.
      '';
    };
    environment = import ./environment.nix { inherit lib; };
    disabled = mkOption {
      type = types.nullOr types.bool;
      default = if name == "test" then true else null;
      defaultText = literalExpression ''name == "test"'';
      example = true;
      description = ''
        Not started unless named on the command line (`nix run .#dev -- NAME`). A process
        named `test` is disabled by default: `outputs.check` runs it.
      '';
    };
    namespace = mkOption {
      type = types.nullOr (types.either types.str (types.listOf types.str));
      default = null;
      example = "backend";
      description = "One namespace or a list of them, for grouping.";
    };
    description = mkOption { type = types.nullOr types.str; default = null; example = "the API server"; description = "Free text."; };
    log_location = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "logs/api.log";
      description = "A file receiving this process's output lines, appended to; relative to the project root.";
    };
    availability = import ./availability.nix { inherit lib; };
    watch = import ./watch.nix { inherit lib; };
    success_exit_codes = mkOption {
      type = types.nullOr (types.listOf (types.ints.between 0 255));
      default = null;
      example = [ 0 143 ];
      description = "Exit statuses that count as success (default `[ 0 ]`).";
    };
    shutdown = import ./shutdown.nix { inherit lib; };
    depends_on = mkOption {
      type = types.nullOr (types.attrsOf (settingsTypes.dependency
        [ "process_started" "process_healthy" "process_log_ready" "process_completed" "process_completed_successfully" ]
        "process_completed"));
      default = null;
      example = literalExpression ''{ db.condition = "process_healthy"; migrate.condition = "process_completed_successfully"; }'';
      description = ''
        Processes this one waits for, and for what: `condition` is one of `process_started`,
        `process_healthy`, `process_log_ready`, `process_completed` (the default, as in
        process-compose) and `process_completed_successfully`.
      '';
    };
    readiness_probe = mkOption {
      type = probe;
      default = null;
      example = literalExpression ''{ http_get = { port = 8080; path = "/health"; }; period_seconds = 1; }'';
      description = "Makes the process ready (`process_healthy`); failing it applies the restart policy.";
    };
    liveness_probe = mkOption {
      type = probe;
      default = null;
      example = literalExpression ''{ exec.command = "pg_isready"; failure_threshold = 5; }'';
      description = "Failing it restarts the process, whatever its restart policy.";
    };
    ready_log_line = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "ready to accept connections";
      description = "A substring of an output line that makes the process ready (`process_log_ready`).";
    };
  };
}
