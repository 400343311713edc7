# The root of a `corral.<name>` declaration: which corral and shell to use, and
# the wrapper package that runs the set (`outputs.package`).
{ name, config, pkgs, lib, ... }:
let
  inherit (lib) mkOption types literalExpression;
  corral = lib.getExe config.package;
  # Subcommands passed through as they are; anything else goes to `corral up`.
  subcommands = [ "up" "check" "schema" "help" "down" "ps" "logs" "restart" "stop" "start" "wait" "attach" "export" "-h" "--help" "-V" "--version" ];
  # The command that runs a settings file: corral, with the subcommands passed through.
  mkWrapper = command: settingsFile: pkgs.writeTextFile {
    name = command;
    executable = true;
    destination = "/bin/${command}";
    text = ''
      #!${lib.getExe config.shell}
      # Runs the "${name}" process set with corral.
      export CORRAL_CONFIG=${settingsFile}
      ${config.wrapperPrelude}
      case "''${1-}" in
        ${lib.concatStringsSep "|" subcommands}) exec ${corral} "$@" ;;
        *) exec ${corral} up "$@" ;;
      esac
    '';
    # The JSON is exactly what corral accepts: check it with corral itself.
    checkPhase = ''
      ${corral} check -f ${settingsFile} >/dev/null
    '';
    meta.mainProgram = command;
  };
in
{
  imports = [
    ./settings
    ./hooks.nix
    ./defaults.nix
    ./test.nix
    ./outputs/exports.nix
    ./outputs/image.nix
  ];

  options = {
    package = mkOption {
      type = types.package;
      default = pkgs.callPackage ../package.nix { };
      defaultText = literalExpression "corral, built from this flake with your nixpkgs";
      description = "The corral that runs the set (a corral build: process-compose is refused).";
      apply = p:
        if lib.getName p == "process-compose" then
          throw "${config.optionPrefix}.package: this is process-compose, but corral runs this set and passes it corral's arguments; remove the `package` setting (or give a corral build)"
        else p;
    };
    shell = mkOption {
      type = types.package;
      default = pkgs.bash;
      defaultText = literalExpression "pkgs.bash";
      example = literalExpression "pkgs.dash";
      description = "The shell for commands, probes and hooks (`settings.shell.shell_command` defaults to its main program), so no global bash is needed.";
    };
    optionPrefix = mkOption {
      type = types.str;
      default = "corral.${name}";
      internal = true;
      description = "Where this set is declared, for messages (`process-compose.<name>` under the compatibility module).";
    };
    warnings = mkOption {
      type = types.listOf types.str;
      default = [ ];
      internal = true;
      description = "Shown when the set is evaluated (`lib.warn`), where Nix shows them.";
    };
    wrapperPrelude = mkOption {
      type = types.lines;
      default = "";
      internal = true;
      description = "Shell text the wrapper runs before corral (the compatibility module's log file).";
    };
    outputs.testPackage = mkOption {
      type = types.nullOr types.package;
      readOnly = true;
      description = ''
        Like `outputs.package`, with the `test` process enabled and ending the run with its
        status (the command `outputs.check` runs); null without a `test` process.
      '';
    };
    outputs.package = mkOption {
      type = types.package;
      readOnly = true;
      description = ''
        The command that runs the set: `nix run .#${name}` starts everything,
        `nix run .#${name} -- api` starts `api` and what it depends on, and corral's
        subcommands pass through (`-- check`). Add it to a devShell's `packages` to
        have the command there.
      '';
    };
  };

  config.outputs = {
    package = mkWrapper name config.outputs.settingsFile;
    testPackage = if config.outputs.testSettingsFile == null then null else mkWrapper "${name}-test" config.outputs.testSettingsFile;
  };
}
