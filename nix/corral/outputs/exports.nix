# `outputs.exports.<format>`: the set exported by `corral export` at build time
# (systemd units, a Compose file, Kubernetes manifests, a Procfile), each a
# directory a deployment can take from the flake (for example
# `packages.shop-units = config.corral.shop.outputs.exports.systemd;`). Compose
# and Kubernetes name the images that `outputs.image` and `outputs.images.<process>`
# are tagged with. Fields a target cannot express are listed in the build log.
{ name, config, pkgs, lib, ... }:
let
  inherit (lib) mkOption types literalExpression;
  corral = lib.getExe config.package;
  image = config.image;
  processImages = lib.concatStringsSep " " (map
    (p: lib.escapeShellArg "--process-image=${p}=${image.name}-${p}:${image.tag}")
    (lib.attrNames config.settings.processes));
  args = {
    systemd = "--root ${lib.escapeShellArg config.export.root}" + lib.optionalString config.export.system " --system";
    compose = "--root ${lib.escapeShellArg image.root} --image ${lib.escapeShellArg "${image.name}:${image.tag}"}";
    kubernetes = "--root ${lib.escapeShellArg image.root} --image ${lib.escapeShellArg "${image.name}:${image.tag}"} ${processImages}";
    procfile = "";
  };
in
{
  options.export = {
    root = mkOption {
      type = types.str;
      default = "/var/lib/${name}";
      defaultText = literalExpression ''"/var/lib/<name>"'';
      example = "/srv/shop";
      description = "systemd: where the project lives on the server; processes run there and relative paths resolve against it.";
    };
    system = mkOption {
      type = types.bool;
      default = false;
      description = "systemd: system units (`multi-user.target`) instead of user units.";
    };
    strict = mkOption {
      type = types.bool;
      default = false;
      description = "Fail the export's build when a field cannot be expressed by the target (`corral export --strict`) instead of warning in the build log.";
    };
  };

  options.outputs.exports = mkOption {
    type = types.attrsOf types.package;
    readOnly = true;
    description = ''
      The set exported to each target (`systemd`, `compose`, `kubernetes`, `procfile`): a
      directory holding the files `corral export FORMAT -o DIR` writes. Fields the target
      cannot express are listed in the build log (see docs/production.md).
    '';
  };

  config.outputs.exports = lib.genAttrs [ "systemd" "compose" "kubernetes" "procfile" ] (format:
    pkgs.runCommand "${name}-${format}" { } ''
      ${corral} export ${format} -f ${config.outputs.settingsFile} -p ${lib.escapeShellArg name} \
        ${args.${format}} ${lib.optionalString config.export.strict "--strict"} -o "$out"
    '');
}
