//! process-compose files end to end: discovery, the README's example as
//! written, .env and env_file values reaching processes, replicas, namespaces,
//! --no-deps, and every bad input of issue 15 (exit 2, nothing started).

mod support;

use support::Project;

/// The first ```yaml block of docs/process-compose.md: process-compose's README example.
fn docs_example() -> String {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/process-compose.md")).unwrap();
    let start = doc.find("```yaml\n").expect("a yaml block") + "```yaml\n".len();
    let end = start + doc[start..].find("```").unwrap();
    doc[start..end].to_string()
}

#[test]
fn the_readme_example_runs_as_written() {
    let p = Project::new();
    let yaml = docs_example();
    assert!(yaml.contains("echo 'Hello World'") && yaml.contains("condition: process_completed"), "{yaml}");
    p.write("process-compose.yaml", &yaml);
    let f = p.corral(&["up"]);
    assert_eq!(f.status, 0, "{}", f.stderr);
    assert_eq!(f.lines_of("hello"), ["Hello World"]);
    assert_eq!(f.lines_of("pc"), ["From Process Compose"]);
    let hello = f.stdout.find("Hello World").unwrap();
    assert!(f.stdout.find("From Process Compose").unwrap() > hello, "order: {}", f.stdout);
    let check = p.corral(&["check"]);
    assert_eq!(check.status, 0, "{}", check.stderr);
    assert!(check.stdout.contains("process-compose.yaml: ok, 2 process(es)"), "{}", check.stdout);
}

#[test]
fn discovery_follows_process_compose_and_corral_json_wins() {
    let p = Project::new();
    p.write("compose.yaml", "processes:\n  a:\n    command: echo from-compose $$X\n    environment: [X=base]\n");
    p.write("compose.override.yml", "processes:\n  a:\n    environment: [X=override]\n");
    let f = p.corral(&["up"]);
    assert_eq!(f.status, 0, "{}", f.stderr);
    assert_eq!(f.lines_of("a"), ["from-compose override"]);

    p.write("other.yaml", "processes:\n  b:\n    command: echo from-pc-config-files\n");
    let f = p.start_with(&["up"], &[("PC_CONFIG_FILES", "other.yaml")]).wait();
    assert_eq!(f.lines_of("b"), ["from-pc-config-files"], "{}", f.stderr);

    p.write("corral.json", r#"{"processes": {"c": {"command": "echo from-corral-json"}}}"#);
    let f = p.corral(&["up"]);
    assert_eq!(f.lines_of("c"), ["from-corral-json"], "{}", f.stderr);
    assert!(f.stderr.contains("note: reading corral.json; compose.yaml is not read"), "{}", f.stderr);
    // $CORRAL_CONFIG comes before corral.json (the test harness clears it, so set it here).
    let out = std::process::Command::new(support::CORRAL).arg("up").current_dir(p.path()).env("CORRAL_CONFIG", "other.yaml").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("b | from-pc-config-files"), "{}", String::from_utf8_lossy(&out.stderr));

    let empty = Project::new();
    let f = empty.corral(&["up"]);
    assert_eq!(f.status, 2);
    assert!(f.stderr.contains("no config found") && f.stderr.contains("process-compose.yaml"), "{}", f.stderr);
}

#[test]
fn several_files_merge_in_order() {
    let p = Project::new();
    p.write("a.yaml", "processes:\n  a:\n    command: echo first\n  b:\n    command: echo b\n");
    p.write("b.yaml", "processes:\n  a:\n    command: echo second\n");
    let f = p.corral(&["up", "-f", "a.yaml", "-f", "b.yaml"]);
    assert_eq!(f.status, 0, "{}", f.stderr);
    assert_eq!(f.lines_of("a"), ["second"]);
    assert_eq!(f.lines_of("b"), ["b"]);
}

#[test]
fn dotenv_and_env_file_values_reach_processes() {
    let p = Project::new();
    std::fs::create_dir(p.file("svc")).unwrap();
    p.write(".env", "GREETING=from-dotenv\nPORT=7000\n");
    p.write("svc/app.env", "DB=from-env-file\n");
    p.write("custom.env", "GREETING=from-custom\n");
    p.write(
        "process-compose.yaml",
        "processes:\n  app:\n    command: echo \"$GREETING $$GREETING ${PORT} $$DB $$PC_PROC_NAME $$PC_REPLICA_NUM\"\n    working_dir: svc\n    env_file: app.env\n",
    );
    // $GREETING is expanded at load time, $$GREETING by the shell at run time.
    let f = p.corral(&["up"]);
    assert_eq!(f.lines_of("app"), ["from-dotenv from-dotenv 7000 from-env-file app 0"], "{}", f.stderr);
    let f = p.corral(&["up", "--disable-dotenv"]);
    assert_eq!(f.lines_of("app"), ["   from-env-file app 0"], "{}", f.stderr);
    let f = p.start_with(&["up"], &[("PC_DISABLE_DOTENV", "1")]).wait();
    assert_eq!(f.lines_of("app"), ["   from-env-file app 0"], "{}", f.stderr);
    let f = p.corral(&["up", "--env", "custom.env"]);
    assert_eq!(f.lines_of("app"), ["from-custom from-custom  from-env-file app 0"], "{}", f.stderr);
    // As in process-compose: load-time expansion looks in .env first; in the
    // process's environment, corral's own environment wins over .env.
    let f = p.start_with(&["up"], &[("GREETING", "from-shell")]).wait();
    assert_eq!(f.lines_of("app"), ["from-dotenv from-shell 7000 from-env-file app 0"], "{}", f.stderr);
    // corral check shows where expansion changed the command.
    let check = p.corral(&["check"]);
    assert!(check.stderr.contains("processes.app.command: $VAR expanded at load time (line 3)"), "{}", check.stderr);
}

#[test]
fn env_cmds_and_vars() {
    let p = Project::new();
    p.write(
        "process-compose.yaml",
        "vars:\n  WHO: world\nenv_cmds:\n  REV: echo rev-42\nprocesses:\n  a:\n    vars: {WHO: corral}\n    command: echo \"hello {{.WHO}} $$REV\"\n",
    );
    let f = p.corral(&["up"]);
    assert_eq!(f.lines_of("a"), ["hello corral rev-42"], "{}", f.stderr);
}

#[test]
fn replicas_run_as_numbered_processes() {
    let p = Project::new();
    p.write(
        "process-compose.yaml",
        "processes:\n  api:\n    command: echo \"replica $$PC_REPLICA_NUM of $$PC_PROC_NAME\"\n    replicas: 3\n  client:\n    command: echo client after all\n    depends_on:\n      api: {condition: process_completed_successfully}\n",
    );
    let f = p.corral(&["up"]);
    assert_eq!(f.status, 0, "{}", f.stderr);
    for i in 0..3 {
        assert_eq!(f.lines_of(&format!("api-{i}")), [format!("replica {i} of api")]);
    }
    let client = f.stdout.find("client after all").unwrap();
    assert!(f.stdout.match_indices("replica ").all(|(i, _)| i < client), "{}", f.stdout);
}

#[test]
fn namespaces_no_deps_and_is_disabled() {
    let p = Project::new();
    p.write(
        "process-compose.yaml",
        "processes:\n  db:\n    command: echo db\n    namespace: data\n  api:\n    command: echo api\n    namespace: web\n    depends_on: {db: {}}\n  tool:\n    command: echo tool\n    is_disabled: \"${TOOL_OFF:-true}\"\n",
    );
    let f = p.corral(&["up", "-n", "web"]);
    assert_eq!((f.lines_of("db").len(), f.lines_of("api").len(), f.lines_of("tool").len()), (1, 1, 0), "{}", f.stdout);
    let f = p.corral(&["up", "-n", "web", "--no-deps"]);
    assert_eq!((f.lines_of("db").len(), f.lines_of("api").len()), (0, 1), "{}", f.stdout);
    let f = p.start_with(&["up"], &[("TOOL_OFF", "false")]).wait();
    assert_eq!(f.lines_of("tool"), ["tool"], "{}", f.stderr);
    let f = p.start_with(&["up"], &[("TOOL_OFF", "false"), ("PC_DISABLED_PROCESSES", "tool,api")]).wait();
    assert_eq!((f.lines_of("db").len(), f.lines_of("api").len(), f.lines_of("tool").len()), (1, 0, 0), "{}", f.stdout);
    let f = p.corral(&["up", "-n", "nope"]);
    assert_eq!(f.status, 2);
    assert!(f.stderr.contains("no process is in namespace \"nope\""), "{}", f.stderr);
}

#[test]
fn client_commands_find_a_yaml_project_without_f() {
    let p = Project::new();
    p.write("process-compose.yaml", "name: pcproj\nprocesses:\n  s:\n    command: sleep 30\n");
    let up = p.corral(&["up", "-d", "--wait", "--timeout", "30"]);
    assert_eq!(up.status, 0, "{}", up.stderr);
    let ps = p.corral(&["ps"]);
    assert_eq!(ps.status, 0, "{}", ps.stderr);
    assert!(ps.stdout.contains('s'), "{}", ps.stdout);
    assert_eq!(p.corral(&["down"]).status, 0);
}

/// A bad process-compose file: exit 2 with `expect` in the message, nothing started, and check agrees.
fn rejected(yaml: &str, expect: &[&str]) {
    let p = Project::new();
    p.write("process-compose.yaml", &format!("pre_hook: touch started\n{yaml}"));
    let f = p.corral(&["up"]);
    assert_eq!(f.status, 2, "{yaml}\n{}", f.stderr);
    for e in expect {
        assert!(f.stderr.contains(e), "expected {e:?} in:\n{}", f.stderr);
    }
    assert!(f.stderr.contains("process-compose.yaml"), "{}", f.stderr);
    assert!(!p.file("started").exists(), "something was started");
    assert_eq!(p.corral(&["check"]).status, 2);
}

#[test]
fn bad_process_compose_files_are_refused_with_file_line_and_path() {
    rejected("processes:\n  a:\n    command: [x\n", &["line 4"]);
    rejected("processes:\n  a:\n    command: x\n  a:\n    command: y\n", &["a key is given twice: a", "line 5"]);
    rejected("processes:\n  a:\n    command: x\n    extends: b\n  b:\n    extends: a\n", &["extends cycle"]);
    rejected("processes:\n  a:\n    command: x\n    env_file: missing.env\n", &["processes.a.env_file", "missing.env", "line 5"]);
    rejected("env_cmds:\n  V: exit 3\nprocesses:\n  a:\n    command: x\n", &["env_cmds.V", "exit status: 3", "line 3"]);
    rejected("env_cmds:\n  V: sleep 600\nprocesses:\n  a:\n    command: x\n", &["env_cmds.V", "did not finish within 5 s"]);
    rejected("processes:\n  a:\n    command: x\n    replicas: 0\n", &["processes.a.replicas", "got 0", "line 5"]);
    rejected("processes:\n  a:\n    command: x\n    replicas: 100000\n", &["processes.a.replicas", "got 100000"]);
    rejected("processes:\n  a:\n    command: echo {{.NOPE}}\n", &["processes.a.command", "{{.NOPE}}, which is not in vars", "line 4"]);
    rejected("processes:\n  a:\n    command: echo ${A@Q}\n", &["not supported", "line 4"]);
    rejected("processes:\n  a:\n    command: echo {{range .X}}\n", &["processes.a.command", "not supported", "line 4"]);
}

#[test]
fn a_json_file_with_a_bom_is_named() {
    let p = Project::new();
    std::fs::write(p.file("dev.json"), b"\xEF\xBB\xBF{\"processes\": {\"a\": {\"command\": \"touch started\"}}}").unwrap();
    let f = p.up(&[]);
    assert_eq!(f.status, 2);
    assert!(f.stderr.contains("byte order mark"), "{}", f.stderr);
}

/// Three consecutive free ports.
fn free_base() -> u16 {
    (0..200)
        .map(|i| 21000 + (std::process::id() as u16 % 100) * 30 + i * 7)
        .find(|b| (0..3).all(|k| std::net::TcpListener::bind(("127.0.0.1", b + k)).is_ok()))
        .expect("free ports")
}

#[test]
fn replicas_answer_on_distinct_ports() {
    let p = Project::new();
    let base = free_base();
    std::fs::create_dir_all(p.file("www")).unwrap();
    std::fs::write(p.file("www/index.html"), "hello").unwrap();
    p.write(
        "process-compose.yaml",
        &format!(
            "environment: [CORRAL_TEST_MARK={mark}]\nvars:\n  BASE: {base}\nprocesses:\n  web:\n    command: exec python3 -m http.server --bind 127.0.0.1 $$(( {{{{.BASE}}}} + PC_REPLICA_NUM )) --directory www\n    replicas: 3\n    readiness_probe:\n      exec:\n        command: curl -fs http://127.0.0.1:$$(( {{{{.BASE}}}} + PC_REPLICA_NUM ))/ >/dev/null\n      period_seconds: 0.2\n      failure_threshold: 150\n  client:\n    command: 'for i in 0 1 2; do echo \"port $$(( {base} + i )): $$(curl -fs http://127.0.0.1:$$(( {base} + i ))/)\"; done'\n    availability: {{exit_on_end: true}}\n    depends_on:\n      web: {{condition: process_healthy}}\n",
            mark = p.mark
        ),
    );
    let f = p.corral(&["up"]);
    assert_eq!(f.status, 0, "{}\n{}", f.stdout, f.stderr);
    let lines = f.lines_of("client");
    assert_eq!(lines, (0..3).map(|i| format!("port {}: hello", base + i)).collect::<Vec<_>>(), "{}", f.stderr);
    assert!(p.survivors().is_empty());
}

/// Examples from process-compose's configuration documentation (indentation
/// repaired where the page's own YAML does not parse), run end to end.
#[test]
fn process_compose_documented_examples() {
    let run = |yaml: &str| {
        let p = Project::new();
        p.write("process-compose.yaml", yaml);
        let f = p.corral(&["up"]);
        assert_eq!(f.status, 0, "{yaml}\n{}", f.stderr);
        f
    };
    // Variables: global vars, Go template functions, and $VAR inside a template.
    let f = run(r#"vars:
  VERSION: v1.2.3
  FTR_A_ENABLED: true
  FTR_B_ENABLED: true

processes:
  version:
    command: "echo 'version {{or \"${VERSION_UNSET_IN_TESTS}\" .VERSION}}'"
  feature:
    command: "echo '{{if .FTR_A_ENABLED}}Feature A Enabled{{else}}Feature A Disalbed{{end}}'"
  not_supported:
    command: "echo 'Hi {{if and .FTR_A_ENABLED .FTR_B_ENABLED}}Not Supported{{end}}'"
"#);
    assert_eq!(f.lines_of("version"), ["version v1.2.3"]);
    assert_eq!(f.lines_of("feature"), ["Feature A Enabled"]);
    assert_eq!(f.lines_of("not_supported"), ["Hi Not Supported"]);

    // Disable automatic expansion: $$ escapes, disable_env_expansion, and the default.
    let f = run("processes:\n  foo:\n    command: echo I am $$ENV_TEST\n    environment:\n      - 'ENV_TEST=ready'\n");
    assert_eq!(f.lines_of("foo"), ["I am ready"]);
    let f = run("disable_env_expansion: true\nprocesses:\n  foo:\n    command: echo I am $ENV_TEST\n    environment:\n      - 'ENV_TEST=ready'\n");
    assert_eq!(f.lines_of("foo"), ["I am ready"]);
    let f = run("processes:\n  foo:\n    command: echo I am $ENV_TEST\n    environment:\n      - 'ENV_TEST=ready'\n");
    assert_eq!(f.lines_of("foo"), ["I am"]);

    // Environment commands.
    let f = run(r#"env_cmds:
  DATE: "date +%Y"
  OS_NAME: "awk -F= '/^NAME/ {print $2}' /etc/os-release"
processes:
  my-process:
    command: "echo Current year is: $${DATE} on $${OS_NAME}"
"#);
    let line = f.lines_of("my-process");
    assert!(line.len() == 1 && line[0].starts_with("Current year is: 20") && !line[0].ends_with("on "), "{line:?}");

    // Template escaping.
    let f = run("processes:\n  t:\n    command: 'echo {{ \"{{.State.Running}}\" }}'\n");
    assert_eq!(f.lines_of("t"), ["{{.State.Running}}"]);
}

#[test]
fn fifos_never_block_the_load() {
    let p = Project::new();
    let mode = nix::sys::stat::Mode::from_bits_truncate(0o600);
    nix::unistd::mkfifo(&p.file("fifo.yaml"), mode).unwrap();
    nix::unistd::mkfifo(&p.file("fifo.env"), mode).unwrap();
    let f = p.corral(&["up", "-f", "fifo.yaml"]);
    assert_eq!(f.status, 2);
    assert!(f.stderr.contains("cannot read fifo.yaml: not a regular file"), "{}", f.stderr);
    p.write("process-compose.yaml", "processes:\n  a:\n    command: touch started\n    env_file: fifo.env\n");
    let f = p.corral(&["up"]);
    assert_eq!(f.status, 2);
    assert!(f.stderr.contains("fifo.env is not a regular file"), "{}", f.stderr);
    let f = p.corral(&["up", "--env", "fifo.env"]);
    assert_eq!(f.status, 2);
    assert!(f.stderr.contains("not a regular file") && !p.file("started").exists(), "{}", f.stderr);
}
