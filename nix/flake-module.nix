# The flake-parts module: `perSystem.corral.<name>` declarations become
# `packages.<name>` (the command) and, with a `test` process, `checks.<name>`.
import ./per-system-option.nix {
  option = "corral";
  description = ''
    Process sets run by corral. Each `corral.<name>` becomes `packages.<name>`, a command
    that runs the set (`nix run .#<name>`), and `checks.<name>` when it has a `test` process.
  '';
}
