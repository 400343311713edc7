//! Process output: labelled, interleaved, bounded, complete.

mod support;

use serde_json::json;
use support::Project;

#[test]
fn two_processes_of_100k_lines_lose_nothing_and_keep_order() {
    let p = Project::new();
    p.config(json!({"processes": {
        "alpha": {"command": "seq -f 'a%g' 1 100000"},
        "b": {"command": "seq -f 'b%g' 1 100000 >&2"}
    }}));
    let f = p.up(&[]);
    assert_eq!(f.status, 0, "{}", f.stderr);
    for (label, prefix) in [("alpha", 'a'), ("b", 'b')] {
        let lines = f.lines_of(label);
        assert_eq!(lines.len(), 100_000, "{label}");
        for (i, l) in lines.iter().enumerate() {
            assert_eq!(*l, format!("{prefix}{}", i + 1), "{label} line {i}");
        }
    }
    // Labels are padded to one column.
    assert!(f.stdout.lines().any(|l| l.starts_with("b     | b1")), "labels not padded");
}

#[test]
fn an_over_long_line_is_split_and_a_final_line_without_newline_is_shown() {
    let p = Project::new();
    p.config(json!({"processes": {
        "long": {"command": "head -c 100000 /dev/zero | tr '\\0' x; echo; printf 'last words'"}
    }}));
    let f = p.up(&[]);
    assert_eq!(f.status, 0, "{}", f.stderr);
    let lines = f.lines_of("long");
    assert!(lines.len() >= 4, "100000 bytes must be cut into several lines, got {}", lines.len());
    assert!(lines.iter().all(|l| l.len() <= 32 * 1024));
    let xs: String = lines[..lines.len() - 1].concat();
    assert_eq!(xs, "x".repeat(100_000), "no byte lost when splitting");
    assert_eq!(*lines.last().unwrap(), "last words");
}

#[test]
fn output_of_a_process_that_exits_at_once_is_complete_and_in_order_with_stderr() {
    let p = Project::new();
    p.config(json!({"processes": {
        "mixed": {"command": "for i in $(seq 1 2000); do echo out$i; echo err$i >&2; done"}
    }}));
    let f = p.up(&[]);
    let lines = f.lines_of("mixed");
    let expected: Vec<String> = (1..=2000).flat_map(|i| [format!("out{i}"), format!("err{i}")]).collect();
    assert_eq!(lines, expected, "stdout and stderr share one ordered stream");
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let p = Project::new();
    p.config(json!({"processes": {"c": {"command": "echo hi"}}}));
    let plain = p.up(&[]);
    assert!(!plain.stdout.contains('\x1b'), "piped output must not be coloured");
    let coloured = p.up(&["--color", "always"]);
    assert!(coloured.stdout.contains("\x1b[") && coloured.stdout.contains("c\x1b[0m | hi"), "{:?}", coloured.stdout);
}

#[test]
fn no_color_is_honoured_on_a_terminal() {
    // `script` gives corral a real pseudo-terminal as stdout.
    let p = Project::new();
    p.config(json!({"processes": {"c": {"command": "echo hi"}}}));
    let run = |no_color: &str| {
        let out = std::process::Command::new("script")
            .args(["-qec", &format!("{} up -f dev.json", support::CORRAL), "/dev/null"])
            .current_dir(p.path())
            .env("NO_COLOR", no_color)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    assert!(run("").contains("\x1b[36mc\x1b[0m | hi"), "a terminal gets colour");
    let off = run("1");
    assert!(off.contains("c | hi") && !off.contains("\x1b[36m"), "{off:?}");
}

#[test]
fn log_files_per_process_and_combined() {
    let p = Project::new();
    p.config(json!({
        "log_location": "logs/all.log",
        "processes": {
            "one": {"command": "echo first; echo second", "log_location": "logs/one.log"},
            "two": {"command": "echo other"}
        }
    }));
    let f = p.up(&[]);
    assert_eq!(f.status, 0, "{}", f.stderr);
    assert_eq!(p.read("logs/one.log"), "first\nsecond\n");
    let all = p.read("logs/all.log");
    assert!(all.contains("one | first\n") && all.contains("two | other\n"), "{all}");
}

#[test]
fn corral_events_go_to_stderr_not_stdout() {
    let p = Project::new();
    p.config(json!({"processes": {"e": {"command": "exit 3"}}}));
    let f = p.up(&[]);
    assert!(f.stderr.contains("corral: e: started (pid "), "{}", f.stderr);
    assert!(f.stderr.contains("e: exited with status 3"), "{}", f.stderr);
    assert!(!f.stdout.contains("started"), "{}", f.stdout);
}
