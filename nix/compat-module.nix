# Compatibility with process-compose-flake: the same corral submodule under
# `perSystem.process-compose.<name>`, so switching is a one-line import change
# (services-flake's service modules included). process-compose-flake's `cli.*`
# options are mapped or warned about in ./compat/cli.nix.
import ./per-system-option.nix {
  option = "process-compose";
  description = "process-compose-flake-compatible process sets, run by corral (see corral.<name>).";
  extraModules = [
    ./compat/cli.nix
    ({ name, ... }: { optionPrefix = "process-compose.${name}"; })
  ];
}
