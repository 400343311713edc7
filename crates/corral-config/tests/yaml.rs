//! process-compose YAML through the loader: the same field-path quality as JSON
//! (a table of bad inputs in both formats), merging, extends, the environment,
//! vars and replicas.

use std::path::{Path, PathBuf};

use corral_config::{load, LoadError, LoadOptions, Loaded, Severity};

struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Dir {
        Dir(tempfile::tempdir().unwrap())
    }
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
    fn opts(&self, files: &[&str]) -> LoadOptions {
        LoadOptions::new(files.iter().map(|f| self.0.path().join(f)).collect(), self.0.path().to_path_buf())
    }
    fn load(&self, files: &[&str]) -> Result<Loaded, LoadError> {
        load(&self.opts(files))
    }
}

/// Every error of a failed load, one per line.
fn errors(r: Result<Loaded, LoadError>) -> String {
    match r {
        Ok(l) => panic!("expected an error, loaded {:?}", l.config.processes.keys().collect::<Vec<_>>()),
        Err(LoadError::Invalid { file, diagnostics }) => diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| format!("{}: {d}", file.display()))
            .collect::<Vec<_>>()
            .join("\n"),
        Err(e) => e.to_string(),
    }
}

/// (name, JSON, YAML, what both errors must contain). The YAML error must also name its line.
const BAD: &[(&str, &str, &str, &[&str], u32)] = &[
    ("wrong type", r#"{"processes": {"a": {"command": "x", "disabled": "yes"}}}"#, "processes:\n  a:\n    command: x\n    disabled: yes-please\n", &["processes.a.disabled", "expected a boolean"], 4),
    ("bad signal", r#"{"processes": {"a": {"command": "x", "shutdown": {"signal": 99}}}}"#, "processes:\n  a:\n    command: x\n    shutdown:\n      signal: 99\n", &["processes.a.shutdown.signal", "got 99"], 5),
    ("bad env entry", r#"{"processes": {"a": {"command": "x", "environment": ["A=1", "B"]}}}"#, "processes:\n  a:\n    command: x\n    environment:\n      - A=1\n      - B\n", &["processes.a.environment[1]", "got \"B\""], 6),
    ("duplicate process", r#"{"processes": {"a": {"command": "x"}, "a": {"command": "y"}}}"#, "processes:\n  a:\n    command: x\n  a:\n    command: y\n", &["processes", "twice"], 4),
    ("missing command", r#"{"processes": {"a": {"description": "d"}}}"#, "processes:\n  a:\n    description: d\n", &["processes.a.command: missing"], 3),
    ("unknown dependency", r#"{"processes": {"a": {"command": "x", "depends_on": {"zz": {}}}}}"#, "processes:\n  a:\n    command: x\n    depends_on:\n      zz: {}\n", &["processes.a.depends_on.zz"], 5),
    ("negative timeout", r#"{"processes": {"a": {"command": "x", "shutdown": {"timeout_seconds": -1}}}}"#, "processes:\n  a:\n    command: x\n    shutdown:\n      timeout_seconds: -1\n", &["processes.a.shutdown.timeout_seconds", "got -1"], 5),
    ("replicas 0", r#"{"processes": {"a": {"command": "x", "replicas": 0}}}"#, "processes:\n  a:\n    command: x\n    replicas: 0\n", &["processes.a.replicas", "from 1 to 1000, got 0"], 4),
    ("replicas 100000", r#"{"processes": {"a": {"command": "x", "replicas": 100000}}}"#, "processes:\n  a:\n    command: x\n    replicas: 100000\n", &["processes.a.replicas", "got 100000"], 4),
    ("undefined var", r#"{"vars": {"A": 1}, "processes": {"a": {"command": "echo {{.NOPE}}"}}}"#, "vars:\n  A: 1\nprocesses:\n  a:\n    command: echo {{.NOPE}}\n", &["processes.a.command", "{{.NOPE}}, which is not in vars"], 5),
    ("extends cycle", r#"{"processes": {"a": {"command": "x", "extends": "b"}, "b": {"extends": "a"}}}"#, "processes:\n  a:\n    command: x\n    extends: b\n  b:\n    extends: a\n", &["extends cycle"], 0),
    ("missing env_file", r#"{"processes": {"a": {"command": "x", "env_file": "nope.env"}}}"#, "processes:\n  a:\n    command: x\n    env_file: nope.env\n", &["processes.a.env_file", "nope.env", "No such file"], 4),
    ("failing env_cmds", r#"{"env_cmds": {"V": "echo broken >&2; exit 4"}, "processes": {"a": {"command": "x"}}}"#, "env_cmds:\n  V: echo broken >&2; exit 4\nprocesses:\n  a:\n    command: x\n", &["env_cmds.V", "exit status: 4", "broken"], 2),
    ("unsupported key", r#"{"processes": {"a": {"command": "x", "is_foreground": true}}}"#, "processes:\n  a:\n    command: x\n    is_foreground: true\n", &["processes.a.is_foreground", "not supported"], 4),
];

#[test]
fn bad_inputs_name_file_line_and_field_path_in_both_formats() {
    for (name, json, yaml, expect, line) in BAD {
        let d = Dir::new();
        d.write("c.json", json);
        d.write("c.yaml", yaml);
        let je = errors(d.load(&["c.json"]));
        let ye = errors(d.load(&["c.yaml"]));
        for e in *expect {
            assert!(je.contains(e), "{name}: JSON error lacks {e:?}:\n{je}");
            assert!(ye.contains(e), "{name}: YAML error lacks {e:?}:\n{ye}");
        }
        assert!(je.contains("c.json"), "{name}: {je}");
        assert!(ye.contains("c.yaml"), "{name}: {ye}");
        if *line > 0 {
            assert!(ye.contains(&format!("line {line}")), "{name}: YAML error lacks line {line}:\n{ye}");
        }
    }
}

#[test]
fn malformed_yaml_has_a_position() {
    let d = Dir::new();
    d.write("c.yaml", "processes:\n  a:\n    command: [x\n");
    let e = errors(d.load(&["c.yaml"]));
    assert!(e.contains("c.yaml") && e.contains("line 3"), "{e}");
    d.write("c.yaml", "processes:\n  a:\n    command: x\n    command: y\n");
    let e = errors(d.load(&["c.yaml"]));
    assert!(e.contains("a key is given twice: command") && e.contains("line 4"), "{e}");
    d.write("c.yaml", "- just\n- a list\n");
    assert!(errors(d.load(&["c.yaml"])).contains("expected a mapping"));
}

#[test]
fn alias_bombs_are_refused() {
    let d = Dir::new();
    let mut y = String::from("a: &a [\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\"]\n");
    for (i, c) in "bcdefghijk".chars().enumerate() {
        let prev = (b'a' + i as u8) as char;
        y.push_str(&format!("{c}: &{c} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
    }
    y.push_str("processes:\n  p:\n    command: x\n");
    d.write("c.yaml", &y);
    let e = errors(d.load(&["c.yaml"]));
    assert!(e.contains("c.yaml"), "{e}");
}

#[test]
fn expansion_follows_process_compose() {
    let d = Dir::new();
    d.write(".env", "FROM_DOTENV=dot\nPATH=/not/used\n");
    d.write("c.yaml", "processes:\n  a:\n    command: echo $FROM_DOTENV ${MISSING_VAR_XYZ:-dflt} $$HOME $MISSING_VAR_XYZ.\n");
    let l = d.load(&["c.yaml"]).unwrap();
    assert_eq!(l.config.processes["a"].command.as_deref(), Some("echo dot dflt $HOME ."));
    assert!(l.diagnostics.iter().any(|n| n.severity == Severity::Note && n.path == "processes.a.command" && n.message.contains("expanded at load time (line 3)")), "{:?}", l.diagnostics);
    // .env fills in the environment, below corral's own (PATH is set) and the global environment.
    let env = &l.config.processes["a"].environment.0;
    assert!(env.contains(&("FROM_DOTENV".into(), "dot".into())), "{env:?}");
    assert!(!env.iter().any(|(k, _)| k == "PATH"), "{env:?}");

    d.write("c.yaml", "disable_env_expansion: true\nprocesses:\n  a:\n    command: echo $FROM_DOTENV $$\n");
    let l = d.load(&["c.yaml"]).unwrap();
    assert_eq!(l.config.processes["a"].command.as_deref(), Some("echo $FROM_DOTENV $$"));

    let mut opts = d.opts(&["c.yaml"]);
    opts.disable_dotenv = true;
    d.write("c.yaml", "processes:\n  a:\n    command: echo [$FROM_DOTENV]\n");
    assert_eq!(load(&opts).unwrap().config.processes["a"].command.as_deref(), Some("echo []"));

    // JSON is never expanded, and reads no .env unless asked.
    d.write("c.json", r#"{"processes": {"a": {"command": "echo $FROM_DOTENV $$"}}}"#);
    let l = d.load(&["c.json"]).unwrap();
    assert_eq!(l.config.processes["a"].command.as_deref(), Some("echo $FROM_DOTENV $$"));
    assert!(l.config.processes["a"].environment.is_empty());
    let mut opts = d.opts(&["c.json"]);
    opts.env_files = Some(vec![".env".into()]);
    let l = load(&opts).unwrap();
    assert!(l.config.processes["a"].environment.0.contains(&("FROM_DOTENV".into(), "dot".into())));
    opts.env_files = Some(vec!["missing.env".into()]);
    assert!(errors(load(&opts)).contains("missing.env"));
}

#[test]
fn several_files_merge_with_process_compose_rules() {
    let d = Dir::new();
    d.write("base.yaml", "environment: [A=1, B=2]\nprocesses:\n  db:\n    command: db\n    disabled: true\n    depends_on: {x: {}}\n  x:\n    command: x\n");
    d.write("over.yaml", "environment: [B=3]\nprocesses:\n  db:\n    command: db --fast\n    disabled: false\n    depends_on: {y: {condition: process_started}}\n  y:\n    command: y\n");
    let l = d.load(&["base.yaml", "over.yaml"]).unwrap();
    let c = &l.config;
    assert_eq!(c.environment.0, vec![("A".into(), "1".into()), ("B".into(), "3".into())]);
    let db = &c.processes["db"];
    assert_eq!(db.command.as_deref(), Some("db --fast"));
    assert!(db.disabled, "false is Go's zero value: it does not override");
    assert_eq!(db.depends_on.keys().collect::<Vec<_>>(), ["x", "y"]);
    // An error found after the merge names the file that wrote the field.
    d.write("over.yaml", "processes:\n  db:\n    shutdown:\n      signal: 99\n");
    let e = errors(d.load(&["base.yaml", "over.yaml"]));
    assert!(e.contains("over.yaml") && e.contains("line 4") && e.contains("processes.db.shutdown.signal"), "{e}");
}

#[test]
fn file_and_process_extends() {
    let d = Dir::new();
    std::fs::create_dir(d.0.path().join("sub")).unwrap();
    d.write("sub/base.yaml", "processes:\n  db:\n    command: db\n    environment: [A=1]\n");
    d.write("c.yaml", "extends: sub/base.yaml\nprocesses:\n  api:\n    command: api\n  api2:\n    extends: api\n    environment: [B=2]\n");
    let l = d.load(&["c.yaml"]).unwrap();
    let c = &l.config;
    assert_eq!(c.processes["db"].working_dir.as_deref(), Some(d.0.path().join("sub").as_path()), "an extended file's processes run in its directory");
    assert_eq!(c.processes["api2"].command.as_deref(), Some("api"));
    assert!(c.processes["api2"].environment.0.contains(&("B".into(), "2".into())));

    d.write("sub/base.yaml", "extends: ../c.yaml\nprocesses: {}\n");
    let e = errors(d.load(&["c.yaml"]));
    assert!(e.contains("extends cycle") && e.contains("line 1"), "{e}");
    d.write("sub/base.yaml", "processes:\n  db:\n    command: db\n");
    let e = errors(d.load(&["sub/base.yaml", "c.yaml"]));
    assert!(e.contains("also given with -f"), "{e}");
    d.write("c.yaml", "extends: nowhere.yaml\nprocesses:\n  a:\n    command: x\n");
    let e = errors(d.load(&["c.yaml"]));
    assert!(e.contains("c.yaml: extends: cannot read") && e.contains("nowhere.yaml"), "{e}");
    d.write("c.yaml", "processes:\n  a:\n    command: x\n    extends: zz\n");
    assert!(errors(d.load(&["c.yaml"])).contains("extends unknown process \"zz\""));
}

#[test]
fn vars_replicas_and_pc_variables() {
    let d = Dir::new();
    d.write(
        "c.yaml",
        "vars:\n  PORT: 8000\nprocesses:\n  api:\n    vars: {NAME: web}\n    command: serve {{.NAME}} {{.PORT}} {{.PC_REPLICA_NUM}}\n    replicas: 10\n  client:\n    command: c\n    depends_on:\n      api: {condition: process_started}\n",
    );
    let l = d.load(&["c.yaml"]).unwrap();
    let c = &l.config;
    let names: Vec<&String> = c.processes.keys().collect();
    assert_eq!(names.len(), 11, "{names:?}");
    assert_eq!(c.processes["api-07"].command.as_deref(), Some("serve web 8000 7"));
    let env = &c.processes["api-07"].environment.0;
    assert!(env.contains(&("PC_PROC_NAME".into(), "api".into())) && env.contains(&("PC_REPLICA_NUM".into(), "7".into())), "{env:?}");
    assert_eq!(c.processes["client"].depends_on.len(), 10);
    assert!(c.processes["client"].environment.0.contains(&("PC_PROC_NAME".into(), "client".into())));
    // Positions still point at the original process.
    d.write("c.yaml", "processes:\n  api:\n    command: x\n    replicas: 2\n    shutdown: {signal: 99}\n");
    let e = errors(d.load(&["c.yaml"]));
    assert!(e.contains("line 5"), "{e}");
}

#[test]
fn env_file_env_cmds_and_is_disabled() {
    let d = Dir::new();
    std::fs::create_dir(d.0.path().join("svc")).unwrap();
    d.write("svc/db.env", "DB_URL=postgres://x\nSHARED=file\n");
    d.write(
        "c.yaml",
        "environment: [SHARED=global]\nenv_cmds:\n  REV: echo abc123\nprocesses:\n  db:\n    command: db\n    working_dir: svc\n    env_file: db.env\n    is_disabled: \"true\"\n",
    );
    let l = d.load(&["c.yaml"]).unwrap();
    let c = &l.config;
    assert!(c.environment.0.contains(&("REV".into(), "abc123".into())), "{:?}", c.environment);
    let db = &c.processes["db"];
    assert!(db.disabled);
    assert!(db.environment.0.contains(&("DB_URL".into(), "postgres://x".into())));
    assert!(db.environment.0.contains(&("SHARED".into(), "file".into())), "env_file wins over the global environment");
}

#[test]
fn yaml_schema_fields_are_documented() {
    let schema = corral_config::json_schema().to_string();
    for key in ["extends", "vars", "env_cmds", "env_file", "replicas", "is_disabled"] {
        assert!(schema.contains(&format!("\"{key}\"")), "schema lacks {key}");
    }
    let _ = Path::new("");
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let d = Dir::new();
    d.write("c.yaml", &format!("processes:\n  a:\n    command: x\n    x-deep: {}{}\n", "[".repeat(100_000), "]".repeat(100_000)));
    let e = errors(d.load(&["c.yaml"]));
    assert!(e.contains("c.yaml") && e.contains("line 4"), "{e}");
}

#[test]
fn a_long_extends_chain_and_many_dollars_load() {
    let d = Dir::new();
    let mut y = String::from("processes:\n  p0:\n    command: echo $$HOME\n");
    for i in 1..50_000 {
        y.push_str(&format!("  p{i}:\n    extends: p{}\n", i - 1));
    }
    d.write("c.yaml", &y);
    let t = std::time::Instant::now();
    let l = d.load(&["c.yaml"]).unwrap();
    assert_eq!(l.config.processes["p49999"].command.as_deref(), Some("echo $HOME"));
    assert!(t.elapsed() < std::time::Duration::from_secs(60), "hang guard");
}
