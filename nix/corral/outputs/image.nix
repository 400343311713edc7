# `outputs.image`: an OCI image holding the whole set with corral as its
# entrypoint (PID 1: it reaps orphans and stops the set on `docker stop`), built
# with nixpkgs' `dockerTools.streamLayeredImage`, or with nix2container when
# `image.nix2container` is given. Wired to `packages.<name>-image`:
#
#     nix build .#dev-image && ./result | docker load && docker run --rm dev:latest
#
# `outputs.images.<process>`: one image per process for the Kubernetes export,
# holding that process's closure (its command's store paths) and a shell.
{ name, config, pkgs, lib, ... }:
let
  inherit (lib) mkOption types literalExpression;
  cfg = config.image;
  corral = lib.getExe config.package;
  shell = lib.getExe config.shell;
  processes = config.settings.processes;

  # "127.0.0.1:8080" / "[::1]:8080" -> "8080"
  portOf = address: lib.last (lib.splitString ":" address);
  portsOf = p:
    map (n: "${toString p.ports.${n}}/tcp") (lib.attrNames (if p.ports or null == null then { } else p.ports))
    ++ lib.concatMap (l: lib.optional (l.tcp or null != null) "${portOf l.tcp}/tcp" ++ lib.optional (l.udp or null != null) "${portOf l.udp}/udp")
      (if p.listen or null == null then [ ] else p.listen);
  exposed = ps: lib.genAttrs (lib.unique ps) (_: { });

  env = [ "PATH=/bin" "CORRAL_CONFIG=${config.outputs.settingsFile}" ];

  # The image config (OCI/Docker keys), exposed as `outputs.imageConfig` for inspection.
  setConfig = {
    Entrypoint = [ corral "up" ];
    Env = env;
    WorkingDir = cfg.root;
    ExposedPorts = exposed (lib.concatMap portsOf (lib.attrValues processes));
    Labels = { "dev.corral.set" = name; };
  };

  processConfig = pname: p: {
    Entrypoint =
      if p.entrypoint or null != null then p.entrypoint
      else [ shell config.settings.shell.shell_argument (toString p.command) ];
    Env = [ "PATH=/bin" ];
    WorkingDir = cfg.root;
    ExposedPorts = exposed (portsOf p);
    Labels = { "dev.corral.set" = name; "dev.corral.process" = pname; };
  };

  # The image's root: the project directory and /tmp (corral's state, sockets).
  extraCommands = ''
    mkdir -p .${cfg.root} tmp
    chmod 1777 tmp
  '';
  # The same directories for nix2container, which copies store paths into the root.
  rootDirs = pkgs.runCommand "corral-image-dirs" { } "mkdir -p $out${cfg.root} $out/tmp";

  build = imageName: contents: imageConfig:
    if cfg.nix2container != null then
      cfg.nix2container.buildImage {
        name = imageName;
        inherit (cfg) tag;
        config = imageConfig;
        copyToRoot = contents ++ [ rootDirs ];
        perms = [ { path = rootDirs; regex = "/tmp"; mode = "1777"; } ];
      }
    else
      pkgs.dockerTools.streamLayeredImage {
        name = imageName;
        inherit (cfg) tag;
        inherit contents extraCommands;
        config = imageConfig;
      };
in
{
  options.image = {
    name = mkOption {
      type = types.str;
      default = name;
      defaultText = literalExpression "<name>";
      description = "The image's name (`outputs.images.<process>` are `<name>-<process>`).";
    };
    tag = mkOption {
      type = types.str;
      default = "latest";
      description = "The images' tag.";
    };
    root = mkOption {
      type = types.str;
      default = "/app";
      description = "The project directory inside the image: processes run there and relative paths resolve against it.";
    };
    contents = mkOption {
      type = types.listOf types.package;
      default = [ ];
      example = literalExpression "[ pkgs.coreutils pkgs.curl ]";
      description = "More packages whose programs are on the image's PATH (`/bin`). Store paths the commands name are in the image anyway.";
    };
    nix2container = mkOption {
      type = types.nullOr types.raw;
      default = null;
      example = literalExpression "inputs.nix2container.packages.\${system}.nix2container";
      description = "nix2container's package set: when given, images are built with its `buildImage` instead of `dockerTools.streamLayeredImage`.";
    };
  };

  options.outputs = {
    image = mkOption {
      type = types.package;
      readOnly = true;
      description = "The whole set in one image, corral as its entrypoint; `nix build .#<name>-image`, then `./result | docker load`.";
    };
    images = mkOption {
      type = types.attrsOf types.package;
      readOnly = true;
      description = "One image per process (`<name>-<process>:<tag>`), for the Kubernetes export.";
    };
    imageConfig = mkOption {
      type = types.attrsOf types.anything;
      readOnly = true;
      description = "The configuration of `outputs.image` (entrypoint, environment, exposed ports).";
    };
  };

  config.outputs = {
    imageConfig = setConfig;
    image = build cfg.name ([ config.package config.shell ] ++ cfg.contents) setConfig;
    images = lib.mapAttrs
      (pname: p: build "${cfg.name}-${pname}" ([ config.shell ] ++ cfg.contents) (processConfig pname p))
      processes;
  };
}
