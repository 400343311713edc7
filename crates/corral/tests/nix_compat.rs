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
  cli.options = { no-server = true; use-uds = true; ordered-shutdown = true; port = 8080; log-file = "pc.log"; };
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
        for warned in ["process-compose.pc.cli.options.port: corral has no HTTP server", "process-compose.pc.cli.environment.PC_SOCKET_PATH:"] {
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

/// `cli.options.keep-project`: mapped to corral's `--keep-project` (the wrapper
/// exports CORRAL_KEEP_PROJECT): the run stays up after every process ended,
/// answers `ps`, and ends with `down`. No warning.
#[test]
fn compat_keep_project_keeps_the_run_up_until_down() {
    with_inputs("compat_keep_project_keeps_the_run_up_until_down", || {
        let fx = Fixture::new(
            "flakeModules.process-compose",
            r#"
process-compose.pc = { config, ... }: {
  cli.options.keep-project = true;
  settings.processes.once.command = "echo once ran; echo '${config.cli.outputs.environment}' > outputs.txt";
};
"#,
        );
        let out = nix(&["nix", "build", "--out-link", "result-pc", ".#pc"], fx.path());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert!(!err.contains("keep-project"), "mapped, not warned about: {err}");
        let bin = fx.path().join("result-pc/bin/pc");
        let mut up = std::process::Command::new(&bin)
            .current_dir(fx.path())
            .env_remove("PRJ_ROOT")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let ended = |fx: &Fixture| {
            let (status, stdout, _) = run(&bin, &["ps"], fx.path());
            status == 0 && stdout.contains("completed")
        };
        assert!(support::wait_until(support::HANG_GUARD, || ended(&fx)), "the run answers after its only process ended");
        std::thread::sleep(std::time::Duration::from_millis(500));
        assert!(up.try_wait().unwrap().is_none(), "still up: keep-project");
        assert_eq!(std::fs::read_to_string(fx.path().join("outputs.txt")).unwrap().trim(), "CORRAL_KEEP_PROJECT=1");
        let (status, _, stderr) = run(&bin, &["down"], fx.path());
        assert_eq!(status, 0, "{stderr}");
        assert!(support::wait_until(support::HANG_GUARD, || up.try_wait().unwrap().is_some()));
        assert_eq!(up.wait().unwrap().code(), Some(0));
    });
}

/// `cli.environment.PC_DISABLE_DOTENV`: `true` is exported and honoured (not even
/// an `--env` file is read); `false` warns that a Nix-declared set reads .env only
/// when asked.
#[test]
fn compat_pc_disable_dotenv_is_mapped() {
    with_inputs("compat_pc_disable_dotenv_is_mapped", || {
        let fx = Fixture::new(
            "flakeModules.process-compose",
            r#"
process-compose.pc = { config, ... }: {
  cli.environment.PC_DISABLE_DOTENV = true;
  settings.processes.show.command = "echo \"value=[\${FROM_DOTENV-unset}] env=[${config.cli.outputs.environment}]\"";
};
process-compose.on = {
  cli.environment.PC_DISABLE_DOTENV = false;
  settings.processes.show.command = "echo \"value=[\${FROM_DOTENV-unset}]\"";
};
"#,
        );
        std::fs::write(fx.path().join(".env"), "FROM_DOTENV=from-file\n").unwrap();
        let out = nix(&["nix", "build", "--out-link", "result-pc", ".#pc", ".#on"], fx.path());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert!(!err.contains("process-compose.pc.cli.environment.PC_DISABLE_DOTENV"), "true is honoured, not warned about: {err}");
        assert!(err.contains("process-compose.on.cli.environment.PC_DISABLE_DOTENV: false does not make corral read .env"), "{err}");
        let pc = fx.build("pc").unwrap_or_else(|e| panic!("{e}")).join("bin/pc");
        let (status, stdout, stderr) = run(&pc, &[], fx.path());
        assert_eq!(status, 0, "{stderr}");
        assert!(stdout.contains("value=[unset] env=[PC_DISABLE_DOTENV=1]"), "{stdout}");
        // Disabled: even a file asked for with --env is not read.
        let (status, stdout, stderr) = run(&pc, &["--env", ".env"], fx.path());
        assert_eq!(status, 0, "{stderr}");
        assert!(stdout.contains("value=[unset]"), "{stdout}");
        // Without the variable, --env reads it (the control: the check above can fail).
        let on = fx.build("on").unwrap_or_else(|e| panic!("{e}")).join("bin/on");
        let (status, stdout, stderr) = run(&on, &["--env", ".env"], fx.path());
        assert_eq!(status, 0, "{stderr}");
        assert!(stdout.contains("value=[from-file]"), "{stdout}");
    });
}
