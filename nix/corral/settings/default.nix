# `settings`: the process set, mirroring corral's JSON format, and the JSON file
# it becomes (`outputs.settingsFile`).
{ name, config, options, pkgs, lib, ... }:
let
  inherit (lib) mkOption types literalExpression;
  json = import ../json.nix;
  corralKeys = import ./corral-keys.nix;

  # Freeform keys that neither this module nor corral knows: warned about at
  # evaluation, where Nix shows it (corral check would only say so in the build log).
  unknownKeys =
    let
      settingsOptions = options.settings.type.getSubOptions [ ];
      processOptions = settingsOptions.processes.type.getSubOptions [ ];
      # Sets, built once, so that each key costs one lookup.
      knownTop = lib.genAttrs (builtins.attrNames settingsOptions ++ corralKeys.topLevel) (_: true);
      knownProcess = lib.genAttrs (builtins.attrNames processOptions ++ corralKeys.process) (_: true);
      unknown = known: attrs: lib.filter (k: !(known ? ${k}) && !(lib.hasPrefix "x-" k)) (builtins.attrNames attrs);
      where = "${config.optionPrefix}.settings";
      top = map (k: "${where}.${k}: unknown key; corral ignores it (a warning in `corral check`, an error with is_strict)")
        (unknown knownTop config.settings);
      perProcess = builtins.concatLists (lib.mapAttrsToList
        (n: p: map (k: "${where}.processes.${n}.${k}: unknown key; corral ignores it (a warning in `corral check`, an error with is_strict)")
          (unknown knownProcess p))
        config.settings.processes);
    in
    top ++ perProcess;

  # Text with "$$" (process-compose's escape for "$"): corral passes text to the
  # shell unchanged, so it is the shell's pid. corral check says so in the build
  # log; this says it at evaluation.
  doubleDollars =
    let
      # (A value that cannot be evaluated is skipped here: `guard` below reports it with its path.)
      warn = path: value:
        let text = builtins.tryEval value; in
        lib.optional (text.success && builtins.isString text.value && lib.hasInfix "$$" text.value)
        "${config.optionPrefix}.${path}: contains \"$$\": corral passes text to the shell unchanged, so this is the shell's pid, not process-compose's escape for \"$\"";
    in
    warn "preHook" config.preHook ++ warn "postHook" config.postHook
    ++ builtins.concatLists (lib.mapAttrsToList
      (n: p: warn "settings.processes.${n}.command" p.command ++ warn "settings.processes.${n}.shutdown.command" (p.shutdown.command or null))
      config.settings.processes);
in
{
  options = {
    settings = mkOption {
      default = { };
      description = ''
        The process set, in the schema of corral's JSON format (process-compose's schema;
        see docs/config.md). Keys without an option here pass through to the JSON unchanged.
      '';
      example = literalExpression ''
        {
          processes.db = { command = "postgres -D $DATA"; readiness_probe.exec.command = "pg_isready"; };
          processes.api = { command = "api --port 9000"; depends_on.db.condition = "process_healthy"; };
        }
      '';
      # A real module (as in process-compose-flake): a definition may be a function or
      # carry `imports`, which is how services-flake merges each service's
      # `outputs.settings` into the set.
      type = types.submoduleWith {
        modules = [{
          freeformType = types.attrsOf types.anything;
          options = {
            processes = mkOption {
              type = types.attrsOf (types.submoduleWith {
                modules = [ ./process.nix config.defaults.processSettings ];
              });
              default = { };
              description = "The processes, by name.";
            };
            environment = import ./environment.nix { inherit lib; };
            shell = {
              shell_command = mkOption {
                type = types.str;
                default = lib.getExe config.shell;
                defaultText = literalExpression "lib.getExe config.shell";
                example = "/bin/sh";
                description = "The shell that runs commands, probes and hooks; by default the `shell` package.";
              };
              shell_argument = mkOption { type = types.str; default = "-c"; description = "The argument that introduces the command text."; };
            };
            log_location = mkOption { type = types.nullOr types.str; default = null; example = "logs/all.log"; description = "A file receiving every process's lines, labelled; relative to the project root."; };
            strict_ports = mkOption { type = types.nullOr types.bool; default = null; example = true; description = "A taken port base is an error instead of moving on to the next free port."; };
            is_strict = mkOption { type = types.nullOr types.bool; default = null; example = true; description = "Unknown keys are errors instead of warnings."; };
            format_version = mkOption { type = types.int; default = 1; readOnly = true; description = "corral's JSON format version."; };
            name = mkOption { type = types.str; default = name; defaultText = literalExpression "<name>"; description = "The project name."; };
          };
        }];
      };
    };

    initiallyDisabled = mkOption {
      type = types.listOf types.str;
      default = [ ];
      internal = true;
      description = "Processes started disabled (the compatibility module's PC_DISABLED_PROCESSES).";
    };
    outputs.resolvedSettings = mkOption {
      type = types.attrsOf types.raw;
      readOnly = true;
      internal = true;
      description = "`settings` with the hooks and the initially disabled processes applied: what becomes the JSON.";
    };
    outputs.settingsJSON = mkOption {
      type = types.str;
      readOnly = true;
      description = "The JSON corral runs (see also `outputs.settingsFile`).";
    };
    outputs.settingsFile = mkOption {
      type = types.package;
      readOnly = true;
      description = "The JSON file corral runs, in the store.";
    };
  };

  config.outputs = {
    # The settings as corral gets them: hooks added, processes the compatibility
    # module disables initially marked so (an unknown name is an evaluation error),
    # and the set's warnings shown once, when it is evaluated.
    resolvedSettings =
      let
        known = builtins.attrNames config.settings.processes;
        disable = n:
          if builtins.elem n known then { disabled = true; }
          else throw "${config.optionPrefix}.cli.environment.PC_DISABLED_PROCESSES: unknown process \"${n}\" (declared: ${lib.concatStringsSep ", " known})";
        # A process whose value cannot be evaluated (e.g. a service whose package is
        # missing from pkgs: nixpkgs' "memcached cannot be found in pkgs") gets the
        # option path it belongs to printed before Nix's own error.
        guard = n: p:
          if (builtins.tryEval (builtins.deepSeq p true)).success then p
          else builtins.trace "error: while evaluating ${config.optionPrefix}.settings.processes.${n}:" p;
        processes = builtins.mapAttrs guard config.settings.processes;
        # Only the processes named are touched (a recursive update of every process would
        # cost as much as the rest of the evaluation on large sets).
        resolved = config.settings // {
          processes = if config.initiallyDisabled == [ ] then processes
            else processes // lib.genAttrs config.initiallyDisabled (n: processes.${n} or { } // disable n);
          pre_hook = if config.preHook == "" then null else config.preHook;
          post_hook = if config.postHook == "" then null else config.postHook;
        };
      in
      lib.foldr (w: v: lib.warn w v) resolved (config.warnings ++ unknownKeys ++ doubleDollars);
    settingsJSON = json.toJSON config.optionPrefix config.outputs.resolvedSettings;
    settingsFile = pkgs.writeTextFile { name = "corral-${name}.json"; text = config.outputs.settingsJSON; };
  };
}
