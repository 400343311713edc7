//! The process-compose-flake compatibility module (`flakeModules.process-compose`)
//! and process-compose-flake's `lib` call shapes: configurations written for
//! process-compose-flake evaluate, build and run with corral; every `cli.*`
//! option is mapped or warned about at evaluation; what corral cannot honour is
//! an evaluation error naming the option.

mod support;

use support::nixrun::{nix, repo, run, with_inputs, Fixture};

#[test]
fn compat_module_runs_a_process_compose_flake_configuration() {
    with_inputs("compat_module_runs_a_process_compose_flake_configuration", || {
        let fx = Fixture::new(
            "flakeModules.process-compose",
            r#"
process-compose.pc = {
  cli.preHook = ''export FROM_CLI_HOOK=yes'';
  cli.options.no-server = true;
  settings = {
    environment.GLOBAL = "g";
    processes = {
      first = { command = "echo first $FROM_CLI_HOOK $GLOBAL"; availability.restart = "no"; namespace = "app"; };
      second = { command = "echo second"; depends_on.first.condition = "process_completed_successfully"; log_location = "second.log"; };
    };
  };
};
"#,
        );
        let bin = fx.build("pc").unwrap_or_else(|e| panic!("{e}")).join("bin/pc");
        let (status, stdout, stderr) = run(&bin, &[], fx.path());
        assert_eq!(status, 0, "{stderr}");
        assert!(stdout.contains("first | first yes g") && stdout.contains("second | second"), "{stdout}");
        assert_eq!(std::fs::read_to_string(fx.path().join("second.log")).unwrap(), "second\n", "relative paths resolve against the project root");
    });
}

#[test]
fn compat_module_maps_or_warns_every_process_compose_flake_option() {
    with_inputs("compat_module_maps_or_warns_every_process_compose_flake_option", || {
        let fx = Fixture::new(
            "flakeModules.process-compose",
            r#"
process-compose.pc = { config, ... }: {
  cli.options = { no-server = true; use-uds = true; ordered-shutdown = true; port = 8080; keep-project = true; log-file = "pc.log"; };
  cli.environment = { PC_DISABLE_TUI = true; PC_DISABLED_PROCESSES = "second"; PC_SOCKET_PATH = "pc.sock"; };
  settings.processes = {
    first.command = "echo first ran; echo '${config.cli.outputs.options}|${config.cli.outputs.environment}' > outputs.txt";
    second.command = "echo second ran";
    test = { command = "echo the test ran"; depends_on.first = { }; };
  };
};
packages.pc-test = config.process-compose.pc.outputs.testPackage;
"#,
        );
        let out = nix(&["nix", "build", "-L", "--out-link", "result-pc", ".#pc", ".#checks.x86_64-linux.pc"], fx.path());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        for warned in ["process-compose.pc.cli.options.port: corral has no HTTP server", "process-compose.pc.cli.options.keep-project:", "process-compose.pc.cli.environment.PC_SOCKET_PATH:"] {
            assert!(err.contains(warned), "warned at evaluation: {warned:?} in {err}");
        }
        for silent in ["no-server", "use-uds", "ordered-shutdown", "PC_DISABLE_TUI", "PC_DISABLED_PROCESSES"] {
            assert!(!err.contains(&format!("cli.options.{silent}:")) && !err.contains(&format!("cli.environment.{silent}:")), "{silent} is honoured, not warned about: {err}");
        }
        let bin = fx.build("pc").unwrap_or_else(|e| panic!("{e}")).join("bin/pc");
        let (status, stdout, stderr) = run(&bin, &[], fx.path());
        assert_eq!(status, 0, "{stderr}");
        assert!(stdout.contains("first | first ran") && !stdout.contains("second ran"), "PC_DISABLED_PROCESSES: {stdout}");
        let log = std::fs::read_to_string(fx.path().join("pc.log")).unwrap_or_default();
        assert!(log.contains("first"), "log-file receives corral's own log: {log:?}");
        assert_eq!(std::fs::read_to_string(fx.path().join("outputs.txt")).unwrap().trim(), "|");
        // outputs.testPackage: the set with the test enabled, ending with its status.
        let bin = fx.build("pc-test").unwrap_or_else(|e| panic!("{e}")).join("bin/pc-test");
        let (status, stdout, stderr) = run(&bin, &[], fx.path());
        assert_eq!(status, 0, "{stderr}");
        assert!(stdout.contains("test | the test ran"), "{stdout}");
    });
}

#[test]
fn compat_bad_options_fail_evaluation_naming_the_option() {
    with_inputs("compat_bad_options_fail_evaluation_naming_the_option", || {
        let unknown = Fixture::new("flakeModules.process-compose", r#"process-compose.pc = { cli.environment.PC_DISABLED_PROCESSES = "a,nosuch"; settings.processes.a.command = "true"; };"#);
        let err = unknown.build("pc").expect_err("unknown process");
        assert!(err.contains("process-compose.pc.cli.environment.PC_DISABLED_PROCESSES: unknown process \"nosuch\" (declared: a)"), "{err}");
        let pc = Fixture::new(
            "flakeModules.process-compose",
            r#"process-compose.pc = { package = (pkgs.writeTextFile { name = "process-compose"; text = ""; }) // { pname = "process-compose"; }; settings.processes.a.command = "true"; };"#,
        );
        let err = pc.build("pc").expect_err("process-compose is not corral");
        assert!(err.contains("process-compose.pc.package: this is process-compose, but corral runs this set"), "{err}");
    });
}

#[test]
fn process_compose_flake_lib_call_shapes_keep_working() {
    with_inputs("process_compose_flake_lib_call_shapes_keep_working", || {
        let expr = format!(
            r#"let corral = builtins.getFlake "git+file://{repo}";
                   pkgs = import {repo}/tests/nix/stand-in-pkgs.nix {{ system = "x86_64-linux"; corralBin = "{bin}"; }} // {{ lib = corral.inputs.nixpkgs-lib.lib; }};
                   pc = import corral.lib {{ inherit pkgs; }};
                   evaluated = pc.evalModules {{ name = "viaeval"; modules = [ {{ settings.processes.e.command = "echo from evalModules"; }} ]; }};
               in assert pc.lookupEnv "B" [ "A=1" "B=x=y" ] == "x=y";
                  pkgs.runCommand "both" {{ }} ''
                    mkdir -p $out/bin
                    ln -s ${{pc.makeProcessCompose {{ name = "viamake"; modules = [ {{ cli.preHook = "export V=hooked"; settings.processes.m.command = "echo from makeProcessCompose $V"; }} ]; }}}}/bin/viamake $out/bin/
                    ln -s ${{evaluated.config.outputs.package}}/bin/viaeval $out/bin/
                  ''"#,
            repo = repo().display(),
            bin = support::CORRAL
        );
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("result");
        let out = nix(&["nix", "build", "--impure", "--out-link", link.to_str().unwrap(), "--expr", &expr], dir.path());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let (status, stdout, stderr) = run(&link.join("bin/viamake"), &[], dir.path());
        assert_eq!(status, 0, "{stderr}");
        assert!(stdout.contains("m | from makeProcessCompose hooked"), "{stdout}");
        let (status, stdout, stderr) = run(&link.join("bin/viaeval"), &[], dir.path());
        assert_eq!(status, 0, "{stderr}");
        assert!(stdout.contains("e | from evalModules"), "{stdout}");
    });
}
