//! `log_configuration.rotation` (process-compose's lumberjack settings) for
//! process log files, the combined log and a detached run's output log: sizes
//! stay bounded, backups are counted, compressed backups are valid gzip, and no
//! line is lost across rotations.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;
use support::Project;

const MIB: u64 = 1024 * 1024;
/// ~5.6 MB of numbered lines: several rotations at 1 MiB.
const LINES: u32 = 110_000;

fn writer(tag: &str) -> String {
    format!("seq -f '{tag} line %08g ............................' 1 {LINES}")
}

fn expected(tag: &str) -> String {
    (1..=LINES).map(|i| format!("{tag} line {i:08} ............................\n")).collect()
}

/// The backups of `log` (`NAME-<time>.EXT[.gz]`), oldest first.
fn backups(log: &Path) -> Vec<PathBuf> {
    let stem = log.file_stem().unwrap().to_string_lossy().into_owned();
    let ext = log.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
    let mut found: Vec<PathBuf> = std::fs::read_dir(log.parent().unwrap())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with(&format!("{stem}-")) && (name.ends_with(&ext) || name.ends_with(&format!("{ext}.gz"))) && !name.contains(".partial")
        })
        .collect();
    found.sort();
    found
}

/// A file's text; `.gz` files through the real gunzip (which also checks them).
fn text(path: &Path) -> String {
    if path.extension().is_some_and(|e| e == "gz") {
        let out = Command::new("gunzip").arg("-c").arg(path).output().expect("gunzip");
        assert!(out.status.success(), "gunzip {}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    } else {
        std::fs::read_to_string(path).unwrap()
    }
}

fn assert_bounded(files: &[PathBuf], bound: u64) {
    for f in files {
        let n = text(f).len() as u64;
        assert!(n <= bound, "{} holds {n} bytes, over {bound}", f.display());
    }
}

#[test]
fn process_and_combined_logs_rotate_without_losing_a_line() {
    let p = Project::new();
    p.config(json!({
        "log_location": "logs/all.log",
        "log_configuration": {"rotation": {"max_size_mb": 1}},
        "processes": {
            "keep": {"command": writer("keep"), "log_location": "logs/keep.log",
                     "log_configuration": {"rotation": {"max_size_mb": 1, "compress": true}}},
            "bounded": {"command": writer("bounded"), "log_location": "logs/bounded.log",
                        "log_configuration": {"rotation": {"max_size_mb": 1, "max_backups": 2}}}
        }
    }));
    let f = p.up(&[]);
    assert_eq!(f.status, 0, "{}", f.stderr);

    // Every backup kept and compressed: the concatenation is the whole output.
    let keep = p.file("logs/keep.log");
    let old = backups(&keep);
    assert!(old.len() >= 4, "several rotations: {old:?}");
    assert!(old.iter().all(|b| b.extension().unwrap() == "gz"), "compressed: {old:?}");
    let mut all: Vec<PathBuf> = old.clone();
    all.push(keep.clone());
    assert_bounded(&all, MIB);
    let joined: String = all.iter().map(|f| text(f)).collect();
    assert!(joined == expected("keep"), "lines lost or reordered across rotations ({} of {} bytes)", joined.len(), expected("keep").len());

    // max_backups 2: the two newest backups and the current file, uncompressed.
    let bounded = p.file("logs/bounded.log");
    let old = backups(&bounded);
    assert_eq!(old.len(), 2, "{old:?}");
    assert!(old.iter().all(|b| b.extension().unwrap() == "log"));
    let mut tail: Vec<PathBuf> = old;
    tail.push(bounded);
    assert_bounded(&tail, MIB);
    let joined: String = tail.iter().map(|f| text(f)).collect();
    assert!(expected("bounded").ends_with(&joined), "the newest lines, in order, none missing");
    assert!(joined.starts_with("bounded line "), "backups start at a line");

    // The combined log (labelled lines of both) rotates under the set's own setting.
    let combined = p.file("logs/all.log");
    let mut all = backups(&combined);
    assert!(all.len() >= 8, "{all:?}");
    all.push(combined);
    assert_bounded(&all, MIB);
    let joined: String = all.iter().map(|f| text(f)).collect();
    let labelled = |tag: &str| joined.lines().filter_map(|l| l.split_once(" | ")).filter(|(n, _)| n.trim() == tag).map(|(_, t)| format!("{t}\n")).collect::<String>();
    assert_eq!(labelled("keep"), expected("keep"));
    assert_eq!(labelled("bounded"), expected("bounded"));
}

#[test]
fn a_detached_runs_output_log_is_rotated() {
    let p = Project::new();
    p.config(json!({
        "log_configuration": {"rotation": {"max_size_mb": 1, "max_backups": 2, "compress": true}},
        "processes": {"chatty": {"command": format!("{}; sleep 300", writer("out"))}}
    }));
    let up = p.corral(&["up", "-f", "dev.json", "-d"]);
    assert_eq!(up.status, 0, "{}", up.stderr);
    let at = up.stderr.split("output in ").nth(1).and_then(|s| s.split(';').next()).expect("up -d names its output log");
    let output = PathBuf::from(at.trim());
    // Wait until the last line reached the output log.
    let last = format!("out line {LINES:08}");
    assert!(support::wait_until(support::HANG_GUARD, || std::fs::read_to_string(&output).unwrap_or_default().contains(&last)), "the output log got every line");
    assert_eq!(p.corral(&["down", "-f", "dev.json"]).status, 0);
    let old = backups(&output);
    assert_eq!(old.len(), 2, "max_backups: {old:?}");
    assert!(old.iter().all(|b| b.extension().unwrap() == "gz"), "{old:?}");
    let mut all = old;
    all.push(output.clone());
    assert_bounded(&all, MIB);
    let joined: String = all.iter().map(|f| text(f)).collect();
    let lines: Vec<&str> = joined.lines().filter_map(|l| l.split_once(" | ")).map(|(_, t)| t).collect();
    let first: u32 = lines[0].split_whitespace().nth(2).unwrap().parse().unwrap();
    let want: Vec<String> = (first..=LINES).map(|i| format!("out line {i:08} ............................")).collect();
    assert_eq!(lines, want, "the newest lines, in order, none missing across the rotations");
    p.assert_nothing_left();
}

#[test]
fn detached_output_is_bounded_without_any_setting() {
    // No log_configuration: the output log still rotates, at 10 MiB.
    let p = Project::new();
    p.config(json!({"processes": {"chatty": {"command": "seq -f 'line %08g ............................' 1 260000; sleep 300"}}}));
    let up = p.corral(&["up", "-f", "dev.json", "-d"]);
    assert_eq!(up.status, 0, "{}", up.stderr);
    let at = up.stderr.split("output in ").nth(1).and_then(|s| s.split(';').next()).expect("up -d names its output log");
    let output = PathBuf::from(at.trim());
    assert!(support::wait_until(support::HANG_GUARD, || std::fs::read_to_string(&output).unwrap_or_default().contains("line 00260000")));
    assert_eq!(p.corral(&["down", "-f", "dev.json"]).status, 0);
    let old = backups(&output);
    assert_eq!(old.len(), 1, "{old:?}");
    let mut all = old;
    all.push(output);
    assert_bounded(&all, 10 * MIB);
    let joined: String = all.iter().map(|f| text(f)).collect();
    assert_eq!(joined.lines().filter(|l| l.contains(" | line ")).count(), 260_000);
    p.assert_nothing_left();
}

#[test]
fn check_notes_only_the_logger_keys_corral_does_not_use() {
    let p = Project::new();
    p.write(
        "process-compose.yaml",
        "log_configuration:\n  add_timestamp: true\n  rotation:\n    max_size_mb: 5\n    compress: true\n    directory: /var/log\nprocesses:\n  a:\n    command: echo hi\n    log_configuration:\n      rotation:\n        max_backups: 3\n      no_color: true\n",
    );
    let f = p.corral(&["check", "-f", "process-compose.yaml"]);
    assert_eq!(f.status, 0, "{}", f.stderr);
    assert!(f.stderr.contains("log_configuration.add_timestamp") && f.stderr.contains("processes.a.log_configuration.no_color"), "{}", f.stderr);
    assert!(f.stderr.contains("log_configuration.rotation.directory"), "process-compose's own-log keys are noted: {}", f.stderr);
    assert!(!f.stderr.contains("rotation.max_size_mb") && !f.stderr.contains("rotation.compress") && !f.stderr.contains("rotation.max_backups"), "rotation is honoured, not noted: {}", f.stderr);
    p.write("bad.yaml", "log_configuration:\n  rotation:\n    max_size_mb: lots\nprocesses:\n  a:\n    command: echo hi\n");
    let f = p.corral(&["check", "-f", "bad.yaml"]);
    assert_eq!(f.status, 2, "{}", f.stderr);
    assert!(f.stderr.contains("log_configuration.rotation.max_size_mb"), "{}", f.stderr);
}

#[test]
fn a_detached_runs_own_log_goes_through_its_log_thread_to_the_end() {
    // corral.log is written by a thread of its own (rotated like output.log): every
    // record reaches it, the last ones (written while stopping) included.
    let p = Project::new();
    p.config(json!({"processes": {"svc": {"command": "sleep 300"}}}));
    let up = p.corral(&["up", "-f", "dev.json", "-d"]);
    assert_eq!(up.status, 0, "{}", up.stderr);
    let at = up.stderr.split("output in ").nth(1).and_then(|s| s.split(';').next()).unwrap();
    let own = PathBuf::from(at.trim()).with_file_name("corral.log");
    assert!(support::wait_until(support::HANG_GUARD, || std::fs::read_to_string(&own).unwrap_or_default().contains("svc: started")));
    assert_eq!(p.corral(&["down", "-f", "dev.json"]).status, 0);
    let text = std::fs::read_to_string(&own).unwrap();
    assert!(text.contains("all processes ended; exit status 0"), "the records written at the end are there: {text}");
    p.assert_nothing_left();
}
