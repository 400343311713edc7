# Using corral's module without flake-parts:
#
#   let set = corral.lib.evalModules { inherit pkgs; name = "dev"; modules = [ { settings.processes.hello.command = "echo hi"; } ]; };
#   in set.outputs.package
{ lib }:
{
  evalModules = { pkgs, name ? "default", modules }:
    (lib.evalModules {
      specialArgs = { inherit pkgs name; };
      modules = [ ./corral ] ++ modules;
    }).config;
}
