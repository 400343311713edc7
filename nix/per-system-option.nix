# Declares `perSystem.<option>.<name>` as corral submodules and wires each one's
# wrapper to `packages.<name>` and its test mode to `checks.<name>`.
# Shared by the corral module and the process-compose compatibility module.
{ option, extraModules ? [ ], description }:
{ lib, flake-parts-lib, ... }:
{
  options.perSystem = flake-parts-lib.mkPerSystemOption ({ config, pkgs, ... }: {
    options.${option} = lib.mkOption {
      type = lib.types.attrsOf (lib.types.submoduleWith {
        specialArgs = { inherit pkgs; };
        modules = [ ./corral ] ++ extraModules;
      });
      default = { };
      inherit description;
      example = lib.literalExpression ''
        {
          dev = {
            preHook = "export DATA=$CORRAL_PROJECT_ROOT/data";
            settings.processes = {
              db.command = "postgres -D $DATA";
              api = { command = "api --port 9000"; depends_on.db.condition = "process_healthy"; };
            };
          };
        }
      '';
    };
    config = {
      packages = lib.mapAttrs (_: set: set.outputs.package) config.${option}
        // lib.mapAttrs' (name: set: lib.nameValuePair "${name}-image" set.outputs.image) config.${option};
      checks = lib.filterAttrs (_: check: check != null) (lib.mapAttrs (_: set: set.outputs.check) config.${option});
    };
  });
}
