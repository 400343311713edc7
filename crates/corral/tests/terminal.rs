//! The terminal around corral: shell completions, man pages, colour
//! decisions, `ps`'s readiness column.

mod support;

use std::process::Command;

use serde_json::json;
use support::{wait_until, Project, CORRAL, HANG_GUARD};

fn corral(args: &[&str]) -> (i32, String) {
    let out = Command::new(CORRAL).args(args).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn completions_cover_every_subcommand_and_bash_reads_them() {
    for shell in ["bash", "zsh", "fish"] {
        let (status, script) = corral(&["completions", shell]);
        assert_eq!(status, 0);
        for sub in ["up", "tui", "logs", "completions"] {
            assert!(script.contains(sub), "{shell} completions lack {sub}");
        }
    }
    let (_, bash) = corral(&["completions", "bash"]);
    let check = Command::new("bash").arg("-n").arg("-c").arg(&bash).status().unwrap();
    assert!(check.success(), "bash cannot parse its completions");
    let (status, _) = corral(&["completions", "tcsh"]);
    assert_eq!(status, 2, "an unknown shell is bad input");
}

#[test]
fn man_pages_for_corral_and_each_subcommand() {
    let (status, page) = corral(&["manpage"]);
    assert_eq!(status, 0);
    assert!(page.starts_with(".ie") || page.contains(".TH corral 1"), "{}", &page[..page.len().min(200)]);
    assert!(page.contains("tui") && page.contains("Open the dashboard"), "the subcommands are listed");
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(Command::new(CORRAL).args(["manpage", "--dir"]).arg(dir.path()).status().unwrap().code(), Some(0));
    let tui = std::fs::read_to_string(dir.path().join("corral-tui.1")).unwrap();
    assert!(tui.contains(".TH corral-tui 1") && tui.contains("\\-\\-config"), "{tui}");
    assert!(dir.path().join("corral-up.1").exists() && !dir.path().join("corral-__guard.1").exists());
}

#[test]
fn ps_marks_processes_without_a_readiness_check() {
    let p = Project::new();
    p.config(json!({"name": "marks", "processes": {
        "db": {"command": "echo up; exec sleep 300", "ready_log_line": "up"},
        "worker": {"command": "exec sleep 300"}
    }}));
    assert_eq!(p.corral(&["up", "-f", "dev.json", "-d", "--wait", "--timeout", "30"]).status, 0);
    let mut table = String::new();
    assert!(wait_until(HANG_GUARD, || {
        table = p.corral(&["ps", "-f", "dev.json"]).stdout;
        table.lines().any(|l| l.starts_with("db ") && l.contains(" yes"))
    }));
    let worker = table.lines().find(|l| l.starts_with("worker")).unwrap();
    assert!(worker.contains("no check"), "{table}");
    assert_eq!(p.corral(&["down", "-f", "dev.json"]).status, 0);
}

#[test]
fn colour_follows_clicolor_force_and_no_color_in_up_logs_and_attach() {
    let p = Project::new();
    p.config(json!({"name": "hues", "processes": {
        "db": {"command": "echo db says hi; exec sleep 300"},
        "api": {"command": "echo api says hi; exec sleep 300"}
    }}));
    // The foreground: piped, so plain, unless forced.
    let run = p.start_with(&["up", "-f", "dev.json"], &[("CLICOLOR_FORCE", "1")]);
    run.wait_for("api says hi");
    assert!(run.stdout().contains("\x1b[36mapi"), "forced colour, the foreground's colour for api: {:?}", run.stdout());
    let logs = p.start_with(&["logs", "--config", "dev.json"], &[("CLICOLOR_FORCE", "1")]).wait();
    assert!(logs.stdout.contains("\x1b[33mdb") && logs.stdout.contains("\x1b[36mapi"), "the same colours in logs: {:?}", logs.stdout);
    let plain = p.corral(&["logs", "--config", "dev.json"]);
    assert!(!plain.stdout.contains('\x1b') && plain.stdout.contains("api | api says hi"), "{:?}", plain.stdout);
    let dumb = p.start_with(&["logs", "--config", "dev.json"], &[("NO_COLOR", "1")]).wait();
    assert!(!dumb.stdout.contains('\x1b'), "{:?}", dumb.stdout);
    assert_eq!(p.corral(&["down", "-f", "dev.json"]).status, 0);
    run.wait();
}
