//! The Nix module. CI-safe tests need only `nix-instantiate`; the others evaluate
//! the real flake-parts and nixpkgs lib (seeded into the store, see
//! shared/nix-offline) with a stand-in `pkgs` over host binaries, build the
//! wrapper and run it. Without the seeded inputs they print SKIPPED; with
//! CORRAL_REQUIRE_NIX_E2E=1 they fail instead.

mod support;

use std::path::Path;
use std::process::Command;

use support::nixrun::{have_nix, nix, repo, run, skip, with_inputs, Fixture};

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
      test = { command = "echo testing; test -n \"$GREETING\"; test \"$CORRAL_PROJECT_ROOT\" = \"$TMPDIR\""; depends_on.api = { }; };
    };
  };
};
"#;

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
        // A field corral does not run passes the module (freeform) and is rejected by corral check at build.
        let later = Fixture::new("flakeModule", r#"corral.dev.settings.processes.a = { command = "x"; is_elevated = true; };"#);
        let err = later.build("dev").expect_err("is_elevated is not supported");
        assert!(err.contains("processes.a.is_elevated: process-compose's is_elevated is not supported by corral"), "{err}");
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
        assert_eq!(eval("lib", "builtins.attrNames"), r#"["evalModules","outPath"]"#);
        assert_eq!(eval("templates.default", "t: builtins.pathExists (t.path + \"/flake.nix\")"), "true");
        // The template's and the example's corral follow the user's nixpkgs (one nixpkgs in their lock).
        for flake in ["templates/default/flake.nix", "example/flake.nix"] {
            let out = nix(&["nix-instantiate", "--eval", "--strict", "--json", "-E", &format!("(import ./{flake}).inputs.corral.inputs.nixpkgs.follows")], &repo());
            assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), r#""nixpkgs""#, "{flake}: {}", String::from_utf8_lossy(&out.stderr));
        }
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
        let fx = Fixture::new("flakeModule", "corral.dev.settings.processes.svc = { command = \"echo svc up; exec sleep 300\"; log_location = \"data/svc.log\"; };");
        let bin = fx.build("dev").unwrap_or_else(|e| panic!("{e}")).join("bin/dev");
        // Started in a subdirectory of the flake, addressed from another: one project, rooted at the flake.
        let sub = fx.path().join("src/deep");
        std::fs::create_dir_all(&sub).unwrap();
        let (status, _, stderr) = run(&bin, &["-d", "--wait"], &sub);
        assert_eq!(status, 0, "{stderr}");
        assert!(support::wait_until(support::HANG_GUARD, || std::fs::read_to_string(fx.path().join("data/svc.log")).is_ok_and(|l| l.contains("svc up"))), "relative paths land at the flake's root");
        let (status, stdout, stderr) = run(&bin, &["ps"], &fx.path().join("src"));
        assert_eq!(status, 0, "{stderr}");
        assert!(stdout.contains("svc") && stdout.contains("running"), "{stdout}");
        let (status, stdout, stderr) = run(&bin, &["ps"], fx.path());
        assert_eq!(status, 0, "{stderr}");
        assert!(stdout.contains("svc") && stdout.contains("running"), "{stdout}");
        let (status, stdout, _) = run(&bin, &["logs"], fx.path());
        assert_eq!(status, 0);
        assert!(stdout.contains("svc | svc up"), "{stdout}");
        let (status, _, stderr) = run(&bin, &["down"], fx.path());
        assert_eq!(status, 0, "{stderr}");
        let (status, _, stderr) = run(&bin, &["ps"], fx.path());
        assert_eq!(status, 3);
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

#[test]
fn settings_is_a_real_module_in_both_option_trees() {
    with_inputs("settings_is_a_real_module_in_both_option_trees", || {
        // A function definition and one carrying `imports` (how services-flake contributes), under both names.
        let fx = Fixture::new(
            "flakeModule corral.flakeModules.process-compose",
            r#"
corral.dev.settings = { lib, ... }: {
  imports = [ { processes.a.command = "echo a from an import"; } ];
  processes.b = { command = "echo b after a"; depends_on.a.condition = "process_completed_successfully"; };
};
process-compose.pc = {
  settings.imports = [ ({ config, ... }: { processes.c.command = "echo c sees ${builtins.toString (builtins.length (builtins.attrNames config.processes))} processes"; }) ];
  settings.processes.d.command = "echo d";
};
"#,
        );
        let bin = fx.build("dev").unwrap_or_else(|e| panic!("{e}")).join("bin/dev");
        let (status, stdout, stderr) = run(&bin, &[], fx.path());
        assert_eq!(status, 0, "{stderr}");
        assert!(stdout.contains("a | a from an import") && stdout.contains("b | b after a"), "{stdout}");
        let bin = fx.build("pc").unwrap_or_else(|e| panic!("{e}")).join("bin/pc");
        let (status, stdout, stderr) = run(&bin, &[], fx.path());
        assert_eq!(status, 0, "{stderr}");
        assert!(stdout.contains("c | c sees 2 processes") && stdout.contains("d | d"), "{stdout}");
        // A definition that is neither an attribute set nor a module function: an error naming the option.
        let bad = Fixture::new("flakeModules.process-compose", r#"process-compose.pc.settings = 42;"#);
        let err = bad.build("pc").expect_err("a number is not a module");
        assert!(err.contains("process-compose.pc.settings") && err.contains("not of type"), "{err}");
    });
}

#[test]
fn ci_seeds_the_nix_inputs_from_shared_and_requires_the_nix_tests() {
    let ci = std::fs::read_to_string(repo().join(".ci/run")).unwrap();
    assert!(ci.contains("../shared/nix-offline/seed-store flake.lock ../shared/nix-offline/inputs/*.tar.gz"), "{ci}");
    assert!(ci.contains("export CORRAL_REQUIRE_NIX_E2E=1"), "{ci}");
    // No path of a particular machine (built in two parts so that this file does not match itself).
    let machine_path = ["/wo", "rk/"].concat();
    let tracked = Command::new("git").args(["grep", "-l", &machine_path]).current_dir(repo()).output().unwrap();
    assert!(tracked.stdout.is_empty(), "tracked files name a machine's path: {}", String::from_utf8_lossy(&tracked.stdout));
}

#[test]
fn test_mode_ends_when_the_test_is_skipped_and_names_the_failed_dependency() {
    with_inputs("test_mode_ends_when_the_test_is_skipped_and_names_the_failed_dependency", || {
        let fx = Fixture::new(
            "flakeModule",
            r#"corral.dev.settings.processes = {
  migrate.command = "echo migrating; exit 4";
  web.command = "exec sleep 600";
  test = { command = "echo never runs"; depends_on.migrate.condition = "process_completed_successfully"; };
};"#,
        );
        // A hang guard, not a timing goal: before the fix this build never ended.
        let link = fx.path().join("result-check");
        let out = nix(&["timeout", "300", "nix", "build", "-L", "--out-link", link.to_str().unwrap(), ".#checks.x86_64-linux.dev"], fx.path());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(124), "the check hung: {err}");
        assert!(!out.status.success(), "a skipped test fails the check: {err}");
        assert!(err.contains("test: exit_on_skipped is set: stopping the run (dependency migrate failed"), "{err}");
        assert!(!err.contains("never runs"), "{err}");
    });
}

#[test]
fn unknown_keys_are_warned_about_at_evaluation_and_the_key_lists_match_corral() {
    with_inputs("unknown_keys_are_warned_about_at_evaluation_and_the_key_lists_match_corral", || {
        let fx = Fixture::new(
            "flakeModule",
            r#"corral.dev.settings = { bogus = 1; x-mine = 2; log_level = "debug"; processes.a = { command = "echo $$HOME"; colour = "red"; log_configuration = { }; x-note = "n"; }; };"#,
        );
        let link = fx.path().join("result-dev");
        let out = nix(&["nix", "build", "--out-link", link.to_str().unwrap(), ".#dev"], fx.path());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert!(err.contains("evaluation warning: corral.dev.settings.processes.a.colour: unknown key; corral ignores it"), "{err}");
        assert!(err.contains("evaluation warning: corral.dev.settings.bogus: unknown key"), "{err}");
        assert!(err.contains("evaluation warning: corral.dev.settings.processes.a.command: contains \"$$\""), "{err}");
        for quiet in ["x-mine", "x-note", "log_level", "log_configuration"] {
            assert!(!err.contains(&format!(".{quiet}: unknown key")), "{quiet} is known: {err}");
        }
        // The module's list of keys corral knows beyond its options covers what corral reads.
        let schema: serde_json::Value = serde_json::from_slice(&Command::new(support::CORRAL).arg("schema").output().unwrap().stdout).unwrap();
        let defs = schema.get("$defs").or_else(|| schema.get("definitions")).unwrap();
        let expr = format!(
            r#"let keys = import {repo}/nix/corral/settings/corral-keys.nix;
                   corral = builtins.getFlake "git+file://{repo}";
                   lib = corral.inputs.nixpkgs-lib.lib;
                   pkgs = import {repo}/tests/nix/stand-in-pkgs.nix {{ system = "x86_64-linux"; corralBin = "{bin}"; }};
                   set = lib.evalModules {{ specialArgs = {{ inherit pkgs; name = "k"; }}; modules = [ {repo}/nix/corral ]; }};
                   s = set.options.settings.type.getSubOptions [ ];
               in {{ top = builtins.attrNames s ++ keys.topLevel; process = builtins.attrNames (s.processes.type.getSubOptions [ ]) ++ keys.process; }}"#,
            repo = repo().display(),
            bin = support::CORRAL
        );
        let out = nix(&["nix", "eval", "--impure", "--json", "--expr", &expr], &repo());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let known: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let has = |list: &serde_json::Value, k: &str| list.as_array().unwrap().iter().any(|v| v == k);
        for k in schema["properties"].as_object().unwrap().keys() {
            assert!(has(&known["top"], k), "top-level key {k} of corral's schema is unknown to the module");
        }
        for k in defs["Process"]["properties"].as_object().unwrap().keys() {
            assert!(has(&known["process"], k), "process key {k} of corral's schema is unknown to the module");
        }
    });
}

#[test]
fn a_set_with_no_processes_builds_and_runs_its_hooks() {
    with_inputs("a_set_with_no_processes_builds_and_runs_its_hooks", || {
        let fx = Fixture::new("flakeModule", r#"corral.dev = { preHook = "echo pre ran > pre.txt"; postHook = "echo post ran > post.txt"; settings.processes.off = lib.mkIf false { command = "x"; }; };"#);
        let bin = fx.build("dev").unwrap_or_else(|e| panic!("{e}")).join("bin/dev");
        let (status, _, stderr) = run(&bin, &[], fx.path());
        assert_eq!(status, 0, "{stderr}");
        assert_eq!(std::fs::read_to_string(fx.path().join("pre.txt")).unwrap(), "pre ran\n");
        assert_eq!(std::fs::read_to_string(fx.path().join("post.txt")).unwrap(), "post ran\n");
    });
}

#[test]
fn dependencies_keep_the_module_systems_checks_and_priorities() {
    with_inputs("dependencies_keep_the_module_systems_checks_and_priorities", || {
        let fx = Fixture::new(
            "flakeModule",
            r#"corral.dev = {
  defaults.processSettings = { name, ... }: { depends_on = lib.mkIf (name == "b") { a.condition = lib.mkDefault "process_started"; }; };
  settings.processes = {
    a = { command = "true"; ready_log_line = "x"; };
    b = { command = "true"; readiness_probe.exec.command = "true"; };
    c = { command = "true"; depends_on.a = { }; depends_on.b.condition = lib.mkForce "process_healthy"; };
    d = { command = "true"; depends_on.a.condition = "process_completed_successfully"; };
  };
  imports = [ { settings.processes.b.depends_on.a.condition = "process_log_ready"; settings.processes.c.depends_on.b.condition = "process_started"; } ];
};"#,
        );
        let wrapper = std::fs::read_to_string(fx.build("dev").unwrap_or_else(|e| panic!("{e}")).join("bin/dev")).unwrap();
        let config = wrapper.lines().find_map(|l| l.strip_prefix("export CORRAL_CONFIG=")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(config).unwrap()).unwrap();
        assert_eq!(v["processes"]["b"]["depends_on"]["a"]["condition"], "process_log_ready", "a definition beats mkDefault");
        assert_eq!(v["processes"]["c"]["depends_on"]["a"]["condition"], "process_completed", "the default condition");
        assert_eq!(v["processes"]["c"]["depends_on"]["b"]["condition"], "process_healthy", "mkForce wins");
        assert_eq!(v["processes"]["d"]["depends_on"]["a"]["condition"], "process_completed_successfully");
        let bad = Fixture::new("flakeModule", r#"corral.dev.settings.processes = { a.command = "true"; b = { command = "true"; depends_on.a.condition = "process_ready"; }; };"#);
        let err = bad.build("dev").expect_err("a bad condition");
        assert!(err.contains("corral.dev.settings.processes.b.depends_on.a.condition") && err.contains("process_ready"), "{err}");
        let extra = Fixture::new("flakeModule", r#"corral.dev.settings.processes = { a.command = "true"; b = { command = "true"; depends_on.a.conditon = "process_started"; }; };"#);
        let err = extra.build("dev").expect_err("a misspelt key");
        assert!(err.contains("corral.dev.settings.processes.b.depends_on.a.conditon' does not exist"), "{err}");
    });
}
