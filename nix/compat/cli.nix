# process-compose-flake's `cli.*` options, on a corral set. Each option either
# maps to what corral does (hooks, the log file, initially disabled processes,
# keep-project, dotenv, no TUI) or is accepted with an evaluation-time warning
# saying what corral does instead; none is dropped silently. `cli.outputs.*`
# exist, as read-only strings, so configurations that reference them keep
# evaluating; `outputs.environment` is what the wrapper exports for corral.
{ config, lib, ... }:
let
  inherit (lib) mkOption types;
  o = config.cli.options;
  e = config.cli.environment;
  at = "${config.optionPrefix}.cli";
  split = s: lib.filter (x: x != "") (map lib.trim (lib.splitString "," s));

  # process-compose's own log file: corral's own log (its stderr) is appended there.
  logFile = if o.log-file != null then o.log-file else e.PC_LOG_FILE;
  disabledProcesses = if e.PC_DISABLED_PROCESSES == null then [ ] else split e.PC_DISABLED_PROCESSES;

  # Options corral honours through its own variables, exported by the wrapper for `corral up`:
  # --keep-project is CORRAL_KEEP_PROJECT, and corral reads PC_DISABLE_DOTENV as process-compose does.
  corralEnv = lib.filterAttrs (_: v: v != null) {
    CORRAL_KEEP_PROJECT = if o.keep-project then "1" else null;
    PC_DISABLE_DOTENV = if e.PC_DISABLE_DOTENV == null then null else if e.PC_DISABLE_DOTENV then "1" else "0";
  };
  exports = lib.concatStrings (lib.mapAttrsToList (n: v: "export ${n}=${lib.escapeShellArg v}\n") corralEnv);

  # What corral does instead, for every option it cannot honour as such.
  unsupported = lib.filter (w: w != null) [
    # no-server, ordered-shutdown, use-uds, PC_DISABLE_TUI = true, PC_NO_SERVER = true and
    # PC_ORDERED_SHUTDOWN are what corral always does: no warning.
    (if o.port != null then "${at}.options.port: corral has no HTTP server; its control socket is a private Unix socket in its state directory (`corral ps`, `corral attach`); ignored" else null)
    (if o.read-only then "${at}.options.read-only: corral's control socket only accepts its owner; there is no read-only mode; ignored" else null)
    (if o.unix-socket != null then "${at}.options.unix-socket: corral's control socket lives in its state directory (docs/control.md) and is found by `corral ps`/`down`/`attach`; ignored" else null)
    (if e.PC_DISABLE_TUI == false || e.PC_TUI_FULL_SCREEN == true then "${at}.environment: corral's `up` has no TUI; use `corral attach` (or `nix run .#${config.settings.name} -- attach`) for a live view; ignored" else null)
    (if e.PC_ADDRESS != null || e.PC_PORT_NUM != null then "${at}.environment.PC_ADDRESS/PC_PORT_NUM: corral has no HTTP server; its control socket is a private Unix socket; ignored" else null)
    (if e.PC_NO_SERVER == false then "${at}.environment.PC_NO_SERVER: corral has no HTTP server; ignored" else null)
    (if e.PC_SOCKET_PATH != null then "${at}.environment.PC_SOCKET_PATH: corral's control socket lives in its state directory (docs/control.md); ignored" else null)
    (if e.PC_READ_ONLY == true then "${at}.environment.PC_READ_ONLY: corral's control socket only accepts its owner; there is no read-only mode; ignored" else null)
    (if e.PC_CONFIG_FILES != null then "${at}.environment.PC_CONFIG_FILES: corral runs exactly the set declared here; merge other files with Nix imports instead; ignored" else null)
    (if e.PC_SHORTCUTS_FILES != null then "${at}.environment.PC_SHORTCUTS_FILES: corral has no TUI shortcuts; ignored" else null)
    # PC_DISABLE_DOTENV = true is exported (corral then reads no .env, nor `--env` files); false
    # cannot bring back process-compose's default: a Nix-declared set reads .env only when asked.
    (if e.PC_DISABLE_DOTENV == false then "${at}.environment.PC_DISABLE_DOTENV: false does not make corral read .env: a Nix-declared set reads it only when asked (`nix run .#${config.settings.name} -- --env .env`; docs/config.md)" else null)
    (if e.PC_HIDE_DISABLED_PROC != null then "${at}.environment.PC_HIDE_DISABLED_PROC: corral's `ps` lists disabled processes as `disabled`; ignored" else null)
    (if e.PC_RECURSIVE_METRICS != null then "${at}.environment.PC_RECURSIVE_METRICS: corral's `ps` always sums a process's whole group; ignored" else null)
  ];

  flag = description: mkOption { type = types.bool; default = false; inherit description; };
  nullable = type: description: mkOption { type = types.nullOr type; default = null; inherit description; };
in
{
  options.cli = {
    preHook = mkOption { type = types.lines; default = ""; description = "process-compose-flake's name for `preHook` (both are run, this one first)."; };
    postHook = mkOption { type = types.lines; default = ""; description = "process-compose-flake's name for `postHook` (both are run, this one first)."; };
    options = {
      keep-project = flag "process-compose's `--keep-project`: the run stays up after every process has ended, until `corral down` (corral's `--keep-project`).";
      log-file = nullable types.str "process-compose's `--log-file`: corral's own log (its stderr) is appended to this file, relative to where the command runs.";
      no-server = flag "process-compose's `--no-server`: corral never opens a TCP server, so this is what it always does.";
      ordered-shutdown = flag "process-compose's `--ordered-shutdown`: corral always stops in reverse dependency order.";
      port = nullable types.int "process-compose's `--port`: corral has no HTTP server (warns).";
      read-only = flag "process-compose's `--read-only`: corral has no read-only mode (warns).";
      unix-socket = nullable types.str "process-compose's `--unix-socket`: corral's socket is in its state directory (warns).";
      use-uds = flag "process-compose's `--use-uds`: corral's control socket is always a Unix socket.";
    };
    environment = {
      PC_DISABLE_TUI = nullable types.bool "`true` is what corral's `up` does (no TUI); `false` warns (use `corral attach`).";
      PC_ADDRESS = nullable types.str "No HTTP server in corral (warns).";
      PC_PORT_NUM = nullable types.int "No HTTP server in corral (warns).";
      PC_CONFIG_FILES = nullable types.str "corral runs exactly the declared set (warns).";
      PC_SHORTCUTS_FILES = nullable types.str "No TUI shortcuts in corral (warns).";
      PC_NO_SERVER = nullable types.bool "`true` is what corral always does; `false` warns.";
      PC_SOCKET_PATH = nullable types.str "corral's socket is in its state directory (warns).";
      PC_READ_ONLY = nullable types.bool "No read-only mode in corral (`true` warns).";
      PC_DISABLE_DOTENV = nullable types.bool "`true`: corral reads no .env file, nor `--env` files (a Nix-declared set reads .env only when run with `--env .env`); `false` warns that it does not turn .env on.";
      PC_TUI_FULL_SCREEN = nullable types.bool "No TUI in corral's `up` (`true` warns).";
      PC_HIDE_DISABLED_PROC = nullable types.bool "corral's `ps` lists disabled processes (warns).";
      PC_ORDERED_SHUTDOWN = nullable types.bool "corral always stops in reverse dependency order.";
      PC_RECURSIVE_METRICS = nullable types.bool "corral's `ps` always sums the whole group (warns).";
      PC_DISABLED_PROCESSES = nullable types.str "Comma-separated processes to start disabled: mapped to their `disabled = true`.";
      PC_LOG_FILE = nullable types.str "Like `cli.options.log-file`: corral's own log is appended to this file.";
    };
    outputs = {
      options = mkOption {
        type = types.str;
        readOnly = true;
        description = "The arguments the wrapper gives corral for `cli.options` (none of process-compose's flags is a corral flag: the mapped ones act through the wrapper and the settings).";
        default = "";
      };
      environment = mkOption {
        type = types.str;
        readOnly = true;
        description = "The variables the wrapper exports for corral (`NAME=value …`): `CORRAL_KEEP_PROJECT` for `cli.options.keep-project`, `PC_DISABLE_DOTENV`; the other mapped options act through the wrapper and the settings.";
      };
    };
  };

  config = {
    preHook = lib.mkIf (config.cli.preHook != "") (lib.mkBefore config.cli.preHook);
    postHook = lib.mkIf (config.cli.postHook != "") (lib.mkBefore config.cli.postHook);
    wrapperPrelude = lib.optionalString (logFile != null) ''
      # cli.options.log-file / PC_LOG_FILE: corral's own log is appended to this file.
      exec 2>>${lib.escapeShellArg logFile}
    '' + lib.optionalString (corralEnv != { }) ''
      # cli.options.keep-project, cli.environment.PC_DISABLE_DOTENV: read by `corral up`.
      ${exports}'';
    cli.outputs.environment = lib.concatStringsSep " " (lib.mapAttrsToList (n: v: "${n}=${lib.escapeShellArg v}") corralEnv);
    initiallyDisabled = disabledProcesses;
    warnings = unsupported;
  };
}
