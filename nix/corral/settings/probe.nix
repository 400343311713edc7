# A readiness or liveness probe: exactly one of exec, http_get, tcp_socket,
# plus timing. corral honours every timing field.
{ lib, ... }:
let
  inherit (lib) mkOption types;
  inherit (import ./types.nix { inherit lib; }) seconds port;
in
{
  options = {
    exec = mkOption {
      default = null;
      description = "Run a command through the process's shell, with its environment; success is exit status 0.";
      example = lib.literalExpression ''{ command = "pg_isready -h 127.0.0.1"; }'';
      type = types.nullOr (types.submodule {
        options = {
          command = mkOption { type = types.str; example = "pg_isready -h 127.0.0.1"; description = "Shell text to run."; };
          working_dir = mkOption { type = types.nullOr types.str; default = null; example = "data"; description = "Where to run it; default the process's working_dir. Relative to the project root."; };
        };
      });
    };
    http_get = mkOption {
      default = null;
      description = "Send an HTTP GET; success is `status_code`, or any 2xx/3xx when it is not set.";
      example = lib.literalExpression ''{ port = 8080; path = "/health"; }'';
      type = types.nullOr (types.submodule {
        options = {
          host = mkOption { type = types.str; default = "127.0.0.1"; description = "Host to connect to."; };
          scheme = mkOption { type = types.enum [ "http" ]; default = "http"; description = "Only plain HTTP is supported."; };
          path = mkOption { type = types.str; default = "/"; example = "/health"; description = "Request path."; };
          port = mkOption { type = port; example = 8080; description = "TCP port."; };
          headers = mkOption { type = types.nullOr (types.attrsOf types.str); default = null; example = { Authorization = "Bearer t"; }; description = "Extra request headers."; };
          status_code = mkOption { type = types.nullOr (types.ints.between 100 599); default = null; example = 200; description = "The status that counts as success."; };
        };
      });
    };
    tcp_socket = mkOption {
      default = null;
      description = "Open a TCP connection; success is a completed connect (corral's addition).";
      example = lib.literalExpression ''{ port = 5432; }'';
      type = types.nullOr (types.submodule {
        options = {
          host = mkOption { type = types.str; default = "127.0.0.1"; description = "Host to connect to."; };
          port = mkOption { type = port; example = 5432; description = "TCP port."; };
        };
      });
    };
    initial_delay_seconds = mkOption { type = types.nullOr seconds; default = null; example = 2; description = "Wait this long after the start before the first check (default 0)."; };
    period_seconds = mkOption { type = types.nullOr seconds; default = null; example = 1; description = "Time between the starts of two checks (default 10)."; };
    timeout_seconds = mkOption { type = types.nullOr seconds; default = null; example = 2; description = "A check taking longer fails; an exec probe's process group is killed (default 1)."; };
    success_threshold = mkOption { type = types.nullOr types.ints.positive; default = null; example = 1; description = "Consecutive successes to become ready (default 1)."; };
    failure_threshold = mkOption { type = types.nullOr types.ints.positive; default = null; example = 3; description = "Consecutive failures to fail (default 3)."; };
  };
}
