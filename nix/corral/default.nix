# The root of a `corral.<name>` declaration: which corral and shell to use, and
# the wrapper package that runs the set (`outputs.package`).
{ name, config, pkgs, lib, ... }:
let
  inherit (lib) mkOption types literalExpression;
  corral = lib.getExe config.package;
  # Subcommands passed through as they are; anything else goes to `corral up`.
  subcommands = [ "up" "check" "schema" "help" "down" "ps" "logs" "restart" "stop" "start" "wait" "attach" "export" "-h" "--help" "-V" "--version" ];
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
      description = "The corral that runs the set.";
    };
    shell = mkOption {
      type = types.package;
      default = pkgs.bash;
      defaultText = literalExpression "pkgs.bash";
      example = literalExpression "pkgs.dash";
      description = "The shell for commands, probes and hooks (`settings.shell.shell_command` defaults to its main program), so no global bash is needed.";
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

  config.outputs.package = pkgs.writeTextFile {
    inherit name;
    executable = true;
    destination = "/bin/${name}";
    text = ''
      #!${lib.getExe config.shell}
      # Runs the "${name}" process set with corral.
      export CORRAL_CONFIG=${config.outputs.settingsFile}
      case "''${1-}" in
        ${lib.concatStringsSep "|" subcommands}) exec ${corral} "$@" ;;
        *) exec ${corral} up "$@" ;;
      esac
    '';
    # The JSON is exactly what corral accepts: check it with corral itself.
    checkPhase = ''
      ${corral} check -f ${config.outputs.settingsFile} >/dev/null
    '';
    meta.mainProgram = name;
  };
}
