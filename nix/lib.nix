# Using corral's module without flake-parts:
#
#   let set = corral.lib.evalModules { inherit pkgs; name = "dev"; modules = [ { settings.processes.hello.command = "echo hi"; } ]; };
#   in set.outputs.package
#
# process-compose-flake's call shape also works: `import corral.lib { inherit pkgs; }`
# gives its `evalModules` / `makeProcessCompose` (./process-compose-lib.nix).
{ lib }:
{
  evalModules = { pkgs, name ? "default", modules }:
    (lib.evalModules {
      specialArgs = { inherit pkgs name; };
      modules = [ ./corral ] ++ modules;
    }).config;
  outPath = ./process-compose-lib.nix;
}
