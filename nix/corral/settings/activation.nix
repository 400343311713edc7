# What a process can ask of corral the way a systemd service would: readiness it
# signals itself, a watchdog, sockets bound before it starts, allocated ports.
# (docs/activation.md)
{ lib }:
let
  inherit (lib) mkOption types literalExpression;
  inherit (import ./types.nix { inherit lib; }) seconds;
in
{
  ready_notify = mkOption {
    type = types.nullOr types.bool;
    default = null;
    example = true;
    description = "The process tells its readiness with sd_notify (`READY=1` on `$NOTIFY_SOCKET`); satisfies `process_healthy`.";
  };
  ready_fd = mkOption {
    type = types.nullOr (types.ints.between 3 1023);
    default = null;
    example = 3;
    description = "The process tells its readiness by writing a newline to this fd (s6's notification-fd); satisfies `process_healthy`.";
  };
  watchdog = mkOption {
    default = null;
    example = literalExpression "{ timeout_seconds = 30; }";
    description = ''
      A watchdog: the process gets `WATCHDOG_USEC` and `WATCHDOG_PID` and must send `WATCHDOG=1`
      at least every `timeout_seconds`; otherwise it gets `signal`, then SIGKILL after
      `shutdown.timeout_seconds`, and its restart policy applies.
    '';
    type = types.nullOr (types.submodule {
      options = {
        timeout_seconds = mkOption { type = seconds; example = 30; description = "Longest silence allowed."; };
        require_ready = mkOption { type = types.nullOr types.bool; default = null; example = false; description = "Arm only once the process is ready (default true)."; };
        signal = mkOption { type = types.nullOr (types.either (types.ints.between 1 31) types.str); default = null; example = "SIGQUIT"; description = "Sent when the watchdog expires (default SIGABRT)."; };
      };
    });
  };
  listen = mkOption {
    default = null;
    example = literalExpression ''[ { name = "http"; tcp = "127.0.0.1:8080"; } { name = "ctl"; unix_stream = "run/ctl.sock"; mode = "0660"; } ]'';
    description = ''
      Sockets corral binds before the first start and keeps across restarts (socket activation):
      passed at fd 3, 4, … in this order, with `LISTEN_FDS`, `LISTEN_PID` (the process's own pid)
      and `LISTEN_FDNAMES`.
    '';
    type = types.nullOr (types.listOf (types.submodule {
      options = {
        name = mkOption { type = types.str; example = "http"; description = "Its name in `LISTEN_FDNAMES`."; };
        tcp = mkOption { type = types.nullOr types.str; default = null; example = "127.0.0.1:8080"; description = "A TCP listening address."; };
        udp = mkOption { type = types.nullOr types.str; default = null; example = "127.0.0.1:5353"; description = "A UDP address."; };
        unix_stream = mkOption { type = types.nullOr types.str; default = null; example = "run/app.sock"; description = "A Unix stream socket path, relative to the project root."; };
        mode = mkOption { type = types.nullOr types.str; default = null; example = "0660"; description = "Permissions of the Unix socket file, in octal."; };
      };
    }));
  };
  ports = mkOption {
    type = types.nullOr (types.attrsOf types.port);
    default = null;
    example = { http = 8080; };
    description = ''
      Ports to allocate, by name, with the number to start from: the first free port is taken and
      given to every process and probe as `$CORRAL_PORT_<PROCESS>_<NAME>` (upper-case, other
      characters as `_`). Use it in a command through the shell, for example
      `command = "server --port $CORRAL_PORT_WEB_HTTP";`, and in a probe by name
      (`readiness_probe.http_get.port = "http";`).
    '';
  };
}
