//! The Nix module. CI-safe tests need only `nix-instantiate`; the others evaluate
//! the real flake-parts and nixpkgs lib (seeded into the store, see
//! shared/nix-offline) with a stand-in `pkgs` over host binaries, build the
//! wrapper and run it. Without the seeded inputs they print SKIPPED; with
//! CORRAL_REQUIRE_NIX_E2E=1 they fail instead.

mod support;

use std::path::Path;
use std::process::Command;

use support::nixrun::{have_nix, nix, repo, skip, with_inputs, Fixture};

// ---------- CI-safe: no flake inputs needed ----------

#[test]
fn every_nix_file_parses() {
    if !have_nix() {
        return skip("every_nix_file_parses", "nix is not installed (apt-get install -y nix-bin)");
    }
    let files = Command::new("git").args(["ls-files", "*.nix"]).current_dir(repo()).output().unwrap();
    let files: Vec<String> = String::from_utf8_lossy(&files.stdout).lines().map(str::to_string).collect();
    assert!(files.len() >= 15, "found only {files:?}");
    for f in files {
        let out = nix(&["nix-instantiate", "--parse", &f], &repo());
        assert!(out.status.success(), "{f}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn settings_to_json_translation_with_builtins_only() {
    if !have_nix() {
        return skip("settings_to_json_translation_with_builtins_only", "nix is not installed");
    }
    let out = nix(&["nix-instantiate", "--eval", "--strict", "tests/nix/json-test.nix"], &repo());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "\"ok\"", "{}", String::from_utf8_lossy(&out.stderr));
}

// ---------- full: real flake-parts and nixpkgs lib, stand-in pkgs ----------

const DEV: &str = r#"
corral.dev = {
  preHook = ''export GREETING="hi from the hook"'';
  defaults.processSettings = { shutdown.timeout_seconds = lib.mkDefault 3; };
  settings = {
    environment = { SHARED = "s"; };
    processes = {
      db = { command = "echo db $GREETING $SHARED; sleep 0.3; echo db done"; };
      api = { command = "echo api after db"; depends_on.db.condition = "process_completed_successfully"; };
      other = { command = pkgs.python3; environment = [ "PYTHONSTARTUP=" ]; entrypoint = null; };
      test = { command = "echo testing; test -n \"$GREETING\""; depends_on.api = { }; };
    };
  };
};
"#;

/// Runs a built command; stdout comes back with label padding removed (`name | line`).
fn run(bin: &Path, args: &[&str], cwd: &Path) -> (i32, String, String) {
    let out = Command::new(bin).args(args).current_dir(cwd).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| match l.split_once(" | ") {
            Some((name, rest)) => format!("{} | {rest}\n", name.trim_end()),
            None => format!("{l}\n"),
        })
        .collect();
    (out.status.code().unwrap_or(-1), stdout, String::from_utf8_lossy(&out.stderr).to_string())
}

#[test]
fn wrapper_runs_the_set_in_order_with_hook_exports_and_without_test() {
    with_inputs("wrapper_runs_the_set_in_order_with_hook_exports_and_without_test", || {
        let fx = Fixture::new("flakeModule", &DEV.replace("other = { command = pkgs.python3; environment = [ \"PYTHONSTARTUP=\" ]; entrypoint = null; };", ""));
        let out = fx.build("dev").unwrap_or_else(|e| panic!("{e}"));
        let (status, stdout, stderr) = run(&out.join("bin/dev"), &[], fx.path());
        assert_eq!(status, 0, "{stderr}");
        let lines: Vec<&str> = stdout.lines().collect();
        let pos = |needle: &str| lines.iter().position(|l| l.contains(needle)).unwrap_or_else(|| panic!("no {needle:?} in {stdout}"));
        assert!(lines.contains(&"db | db hi from the hook s"), "{stdout}");
        assert!(pos("db done") < pos("api after db"), "api waited for db: {stdout}");
        assert!(!stdout.contains("testing"), "test is disabled in the package: {stdout}");
    });
}

#[test]
fn wrapper_passes_arguments_and_subcommands_through() {
    with_inputs("wrapper_passes_arguments_and_subcommands_through", || {
        let fx = Fixture::new("flakeModule", &DEV.replace("other = { command = pkgs.python3; environment = [ \"PYTHONSTARTUP=\" ]; entrypoint = null; };", "other.command = \"echo other ran\";"));
        let bin = fx.build("dev").unwrap_or_else(|e| panic!("{e}")).join("bin/dev");
        let (status, stdout, stderr) = run(&bin, &["db"], fx.path());
        assert_eq!(status, 0, "{stderr}");
        assert!(stdout.contains("db done") && !stdout.contains("api after db") && !stdout.contains("other ran"), "only db: {stdout}");
        let (status, stdout, _) = run(&bin, &["api"], fx.path());
        assert_eq!(status, 0);
        assert!(stdout.contains("db done") && stdout.contains("api after db") && !stdout.contains("other ran"), "api and its dependency: {stdout}");
        let (status, stdout, _) = run(&bin, &["check"], fx.path());
        assert_eq!(status, 0);
        assert!(stdout.contains("ok, 4 process(es)"), "{stdout}");
        let (status, _, stderr) = run(&bin, &["nosuch"], fx.path());
        assert_eq!(status, 2, "{stderr}");
        assert!(stderr.contains("unknown process \"nosuch\""), "{stderr}");
    });
}

#[test]
fn the_json_is_clean_deterministic_and_applies_defaults() {
    with_inputs("the_json_is_clean_deterministic_and_applies_defaults", || {
        let fx = Fixture::new("flakeModule", DEV);
        let json = fx.eval_raw("corralJSON").err();
        assert!(json.is_some(), "no such attribute: sanity check of eval_raw");
        let file = fx.build("dev").unwrap_or_else(|e| panic!("{e}"));
        let wrapper = std::fs::read_to_string(file.join("bin/dev")).unwrap();
        let config_path = wrapper.lines().find_map(|l| l.strip_prefix("export CORRAL_CONFIG=")).unwrap().to_string();
        let text = std::fs::read_to_string(&config_path).unwrap();
        assert!(!text.contains("null") && !text.contains("{}"), "no null or empty set leaks: {text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["processes"]["db"]["shutdown"]["timeout_seconds"], 3, "defaults.processSettings applied");
        assert_eq!(v["environment"], serde_json::json!(["SHARED=s"]), "attrset environment becomes a list");
        assert_eq!(v["processes"]["other"]["command"], "/nix/store/".to_string() + v["processes"]["other"]["command"].as_str().unwrap().trim_start_matches("/nix/store/"));
        assert!(v["processes"]["other"]["command"].as_str().unwrap().ends_with("/bin/python3"), "a package command is its main program");
        assert_eq!(v["processes"]["test"]["disabled"], true);
        assert_eq!(v["pre_hook"], "export GREETING=\"hi from the hook\"");
        assert!(v["shell"]["shell_command"].as_str().unwrap().ends_with("/bin/bash"), "the shell package, not a global bash");
        assert_eq!(v["name"], "dev");
        let check = Command::new(support::CORRAL).args(["check", "-f", &config_path]).output().unwrap();
        assert!(check.status.success(), "corral check accepts it: {}", String::from_utf8_lossy(&check.stderr));
        // Evaluating again gives the same store path: the JSON is deterministic.
        let again = Fixture::new("flakeModule", DEV).build("dev").unwrap();
        assert_eq!(std::fs::read_to_string(again.join("bin/dev")).unwrap().lines().nth(2), wrapper.lines().nth(2));
    });
}

#[test]
fn test_mode_check_passes_when_the_test_passes_and_fails_when_it_fails() {
    with_inputs("test_mode_check_passes_when_the_test_passes_and_fails_when_it_fails", || {
        let passing = Fixture::new("flakeModule", DEV);
        passing.build("checks.x86_64-linux.dev").unwrap_or_else(|e| panic!("the check must pass: {e}"));
        let failing = Fixture::new("flakeModule", &DEV.replace("echo testing;", "echo testing; exit 3;"));
        let err = failing.build("checks.x86_64-linux.dev").expect_err("the check must fail");
        assert!(err.contains("test: exit_on_end is set: stopping the run (status 3)"), "{err}");
        let no_test = Fixture::new("flakeModule", "corral.dev.settings.processes.a.command = \"true\";");
        let err = no_test.build("checks.x86_64-linux.dev").expect_err("no test process: no check");
        assert!(err.contains("does not provide attribute"), "{err}");
    });
}

#[test]
fn bad_declarations_fail_evaluation_readably() {
    with_inputs("bad_declarations_fail_evaluation_readably", || {
        let unknown = Fixture::new("flakeModule", r#"corral.dev.settings.processes = { api = { command = "x"; depends_on.dbb = { }; }; db.command = "x"; };"#);
        let err = unknown.build("dev").expect_err("unknown dependency");
        assert!(err.contains("corral.dev: processes.api.depends_on.dbb: unknown process \"dbb\" (declared: api, db)"), "{err}");
        let cycle = Fixture::new("flakeModule", r#"corral.dev.settings.processes = { a = { command = "x"; depends_on.b = { }; }; b = { command = "x"; depends_on.c = { }; }; c = { command = "x"; depends_on.a = { }; }; };"#);
        let err = cycle.build("dev").expect_err("cycle");
        assert!(err.contains("corral.dev: dependency cycle: a -> b -> c -> a"), "{err}");
        let typed = Fixture::new("flakeModule", r#"corral.dev.settings.processes.a = { command = "x"; shutdown.signal = 99; };"#);
        let err = typed.build("dev").expect_err("bad signal");
        assert!(err.contains("shutdown.signal") && err.contains("99"), "{err}");
        // A field corral does not run yet passes the module (freeform) and is rejected by corral check at build.
        let later = Fixture::new("flakeModule", r#"corral.dev.settings.processes.a = { command = "x"; is_tty = true; };"#);
        let err = later.build("dev").expect_err("is_tty is not supported yet");
        assert!(err.contains("processes.a.is_tty: not supported yet"), "{err}");
    });
}

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
fn lib_eval_modules_works_without_flake_parts() {
    with_inputs("lib_eval_modules_works_without_flake_parts", || {
        let expr = format!(
            r#"let corral = builtins.getFlake "git+file://{repo}";
                   pkgs = import {repo}/tests/nix/stand-in-pkgs.nix {{ system = "x86_64-linux"; corralBin = "{bin}"; }};
               in (corral.lib.evalModules {{ inherit pkgs; name = "solo"; modules = [ {{ settings.processes.hello.command = "echo hello from evalModules"; }} ]; }}).outputs.package"#,
            repo = repo().display(),
            bin = support::CORRAL
        );
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("result");
        let out = nix(&["nix", "build", "--impure", "--out-link", link.to_str().unwrap(), "--expr", &expr], dir.path());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let (status, stdout, _) = run(&link.join("bin/solo"), &[], dir.path());
        assert_eq!(status, 0);
        assert!(stdout.contains("hello | hello from evalModules"), "{stdout}");
    });
}

/// Builds an attribute of one of this repository's flakes through tests/nix/harness.nix.
fn harness_build(flake_dir: &str, attr: &str, tools: &str) -> Result<(), String> {
    let expr = format!(
        r#"(import {repo}/tests/nix/harness.nix {{ repo = "{repo}"; flakeDir = {repo}/{flake_dir}; corralBin = "{bin}"; hostTools = {tools}; }}).{attr}"#,
        repo = repo().display(),
        bin = support::CORRAL
    );
    let dir = tempfile::tempdir().unwrap();
    let out = nix(&["nix", "build", "-L", "--impure", "--out-link", dir.path().join("r").to_str().unwrap(), "--expr", &expr], dir.path());
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).to_string())
    }
}

fn host_has(bins: &[&str]) -> bool {
    bins.iter().all(|b| Path::new(b).exists())
}

#[test]
fn the_template_evaluates_builds_and_its_test_passes() {
    with_inputs("the_template_evaluates_builds_and_its_test_passes", || {
        let tools = r#"{ python3 = [ "/usr/bin/python3" ]; curl = [ "/usr/bin/curl" ]; }"#;
        harness_build("templates/default", "packages.x86_64-linux.dev", tools).unwrap_or_else(|e| panic!("{e}"));
        if host_has(&["/usr/bin/python3", "/usr/bin/curl"]) {
            harness_build("templates/default", "checks.x86_64-linux.dev", tools).unwrap_or_else(|e| panic!("{e}"));
        } else {
            skip("the template's check (run for real)", "the host lacks python3 or curl");
        }
    });
}

#[test]
fn the_example_evaluates_builds_and_runs_where_the_host_has_its_services() {
    with_inputs("the_example_evaluates_builds_and_runs_where_the_host_has_its_services", || {
        let tools = r#"{ python3 = [ "/usr/bin/python3" ]; curl = [ "/usr/bin/curl" ]; redis = [ "/usr/bin/redis-server" "/usr/bin/redis-cli" ]; }"#;
        harness_build("example", "packages.x86_64-linux.demo", tools).unwrap_or_else(|e| panic!("{e}"));
        if host_has(&["/usr/bin/python3", "/usr/bin/curl", "/usr/bin/redis-server", "/usr/bin/redis-cli"]) {
            let result = harness_build("example", "checks.x86_64-linux.demo", tools);
            result.unwrap_or_else(|e| panic!("the example's test failed: {e}"));
        } else {
            skip("the example's check (run for real)", "the host lacks redis-server, python3 or curl (apt-get install -y redis-server curl)");
        }
    });
}

#[test]
fn the_option_reference_is_current() {
    with_inputs("the_option_reference_is_current", || {
        let expr = format!(r#"import {repo}/tests/nix/options-doc.nix {{ repo = "{repo}"; }}"#, repo = repo().display());
        let out = nix(&["nix", "eval", "--raw", "--impure", "--expr", &expr], &repo());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let committed = std::fs::read_to_string(repo().join("docs/options.md")).unwrap();
        assert!(
            String::from_utf8_lossy(&out.stdout) == committed,
            "docs/options.md is out of date: regenerate it with\n  nix eval --raw --impure --expr 'import ./tests/nix/options-doc.nix {{ repo = \"'$PWD'\"; }}' > docs/options.md"
        );
        for option in ["settings.processes.<name>.readiness_probe.http_get.port", "preHook", "defaults.processSettings", "outputs.check", "shell"] {
            assert!(committed.contains(&format!("## `corral.<name>.{option}`")), "{option} is documented");
        }
    });
}

#[test]
fn our_flake_exports_the_modules_lib_and_template() {
    with_inputs("our_flake_exports_the_modules_lib_and_template", || {
        let eval = |attr: &str, apply: &str| {
            let out = nix(&["nix", "eval", "--json", &format!(".#{attr}"), "--apply", apply], &repo());
            assert!(out.status.success(), "{attr}: {}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        assert_eq!(eval("flakeModules", "builtins.attrNames"), r#"["default","process-compose"]"#);
        assert_eq!(eval("flakeModule", "m: baseNameOf m"), r#""flake-module.nix""#);
        assert_eq!(eval("lib", "builtins.attrNames"), r#"["evalModules"]"#);
        assert_eq!(eval("templates.default", "t: builtins.pathExists (t.path + \"/flake.nix\")"), "true");
    });
}

#[test]
fn activation_options_reach_corral() {
    with_inputs("activation_options_reach_corral", || {
        let base = support::free_port();
        let listen = support::free_port();
        let fx = Fixture::new(
            "flakeModule",
            &format!(
                r#"
corral.dev.settings = {{
  strict_ports = false;
  processes = {{
    web = {{ command = "echo port=$CORRAL_PORT_WEB_HTTP fds=$LISTEN_FDS names=$LISTEN_FDNAMES; echo >&4; sleep 300"; ports.http = {base}; ready_fd = 4; listen = [ {{ name = "api"; tcp = "127.0.0.1:{listen}"; }} ]; }};
    done = {{ command = "echo web was ready"; depends_on.web.condition = "process_healthy"; availability.exit_on_end = true; }};
  }};
}};
"#
            ),
        );
        let bin = fx.build("dev").unwrap_or_else(|e| panic!("{e}")).join("bin/dev");
        let (status, stdout, stderr) = run(&bin, &[], fx.path());
        assert_eq!(status, 0, "{stderr}");
        assert!(stdout.contains("web | port=") && stdout.contains("fds=1 names=api"), "{stdout}");
        assert!(stdout.contains("done | web was ready"), "{stdout}");
    });
}

#[test]
fn wrapper_subcommands_address_the_same_project() {
    with_inputs("wrapper_subcommands_address_the_same_project", || {
        let fx = Fixture::new("flakeModule", "corral.dev.settings.processes.svc.command = \"echo svc up; exec sleep 300\";");
        let bin = fx.build("dev").unwrap_or_else(|e| panic!("{e}")).join("bin/dev");
        let (status, _, stderr) = run(&bin, &["-d", "--wait"], fx.path());
        assert_eq!(status, 0, "{stderr}");
        let (status, stdout, stderr) = run(&bin, &["ps"], fx.path());
        assert_eq!(status, 0, "{stderr}");
        assert!(stdout.contains("svc") && stdout.contains("running"), "{stdout}");
        let (status, stdout, _) = run(&bin, &["logs"], fx.path());
        assert_eq!(status, 0);
        assert!(stdout.contains("svc | svc up"), "{stdout}");
        let (status, _, stderr) = run(&bin, &["down"], fx.path());
        assert_eq!(status, 0, "{stderr}");
        let (status, _, stderr) = run(&bin, &["ps"], fx.path());
        assert_eq!(status, 1);
        assert!(stderr.contains("no corral is running for project dev-"), "{stderr}");
    });
}

#[test]
fn watch_options_reach_corral() {
    with_inputs("watch_options_reach_corral", || {
        let fx = Fixture::new(
            "flakeModule",
            r#"corral.dev.settings.processes.w = { command = "echo run >> w.runs; exec sleep 300"; watch = { paths = [ "src" { path = "conf"; include = "*.toml"; } ]; debounce = "200ms"; extensions = [ "rs" "toml" ]; }; };"#,
        );
        std::fs::create_dir_all(fx.path().join("src")).unwrap();
        let bin = fx.build("dev").unwrap_or_else(|e| panic!("{e}")).join("bin/dev");
        let mut child = Command::new(&bin).current_dir(fx.path()).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
        let runs = || std::fs::read_to_string(fx.path().join("w.runs")).unwrap_or_default().lines().count();
        assert!(support::wait_until(support::HANG_GUARD, || runs() == 1));
        std::fs::write(fx.path().join("src/a.rs"), "x").unwrap();
        assert!(support::wait_until(support::HANG_GUARD, || runs() == 2), "a change restarted the process");
        let _ = Command::new(&bin).arg("down").current_dir(fx.path()).output();
        let _ = child.wait();
    });
}
