# Test mode: a process named `test` is disabled in `outputs.package`;
# `outputs.check` runs the whole set with it enabled and ending the run with its
# status, or failing when it is skipped because a dependency failed (the rest of
# its availability is kept), inside the build sandbox, so `nix flake check` fails
# exactly when the test fails and never hangs on a long-running sibling.
{ name, config, pkgs, lib, ... }:
let
  inherit (lib) mkOption types;
  json = import ./json.nix;
  hasTest = config.settings.processes ? test;
  resolved = config.outputs.resolvedSettings;
  test = resolved.processes.test;
  # exit_on_skipped: a `test` whose dependency failed ends the run (failing, naming
  # the dependency) instead of leaving long-running siblings to run forever.
  testSettings = resolved // {
    processes = resolved.processes // {
      test = test // { disabled = false; availability = (test.availability or { }) // { exit_on_end = true; exit_on_skipped = true; }; };
    };
  };
in
{
  options.outputs = {
    testSettingsFile = mkOption {
      type = types.nullOr types.package;
      readOnly = true;
      description = "The JSON for test mode (`test` enabled, ending the run); null without a `test` process.";
    };
    check = mkOption {
      type = types.nullOr types.package;
      readOnly = true;
      description = "A derivation that runs the set in test mode and fails when `test` fails; null without a `test` process. Wired to `checks.<name>`.";
    };
  };

  config.outputs = {
    testSettingsFile =
      if !hasTest then null
      else pkgs.writeTextFile {
        name = "corral-${name}-test.json";
        text = json.toJSON config.optionPrefix testSettings;
      };
    check =
      if !hasTest then null
      else pkgs.runCommand "${name}-check" { } ''
        export HOME="$TMPDIR"
        # The project root in the build sandbox is the build directory.
        export PRJ_ROOT="$TMPDIR"
        cd "$TMPDIR"
        ${lib.getExe config.package} up --color never -f ${config.outputs.testSettingsFile}
        touch "$out"
      '';
  };
}
