//! The dashboard in a real terminal: tmux runs `corral tui` (or `up --tui`)
//! against a real set, `send-keys` presses keys, `capture-pane` reads what a
//! person would see. tmux must be installed (.ci/run installs it).

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};
use support::{wait_until, Project, CORRAL, HANG_GUARD};

/// One tmux server of our own (its own socket), with one window.
struct Tmux {
    server: String,
}

impl Tmux {
    /// Runs `command` in `dir` in a `cols`×`rows` terminal; when it ends, the
    /// pane shows `EXITED:<status>` and stays.
    fn start(dir: &Path, command: &str, cols: u16, rows: u16) -> Tmux {
        let server = format!("corral-test-{}-{}", std::process::id(), rand_suffix());
        let shell = format!("cd '{}' && {command}; echo EXITED:$?; sleep 600", dir.display());
        let ok = Command::new("tmux")
            .args(["-L", &server, "-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", &cols.to_string(), "-y", &rows.to_string()])
            .args(["-e", "NO_COLOR=", "-e", "PAGER=cat"])
            .arg(shell)
            .env_remove("TMUX")
            .status()
            .expect("tmux is needed for the dashboard tests (apt-get install tmux)");
        assert!(ok.success(), "tmux new-session failed");
        Tmux { server }
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux").args(["-L", &self.server]).args(args).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        for k in keys {
            self.tmux(&["send-keys", "-t", "t", k]);
        }
    }

    /// The screen as text.
    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "t"])
    }

    /// Waits until the screen satisfies `cond`; panics with the screen otherwise.
    fn wait_for(&self, what: &str, mut cond: impl FnMut(&str) -> bool) -> String {
        let mut last = String::new();
        if wait_until(HANG_GUARD, || {
            last = self.screen();
            cond(&last)
        }) {
            return last;
        }
        panic!("the screen never showed {what}:\n{last}");
    }

    /// Whether the program in the pane has the mouse (any-event tracking).
    fn mouse_captured(&self) -> bool {
        self.tmux(&["display", "-p", "-t", "t", "#{mouse_any_flag}"]).trim() == "1"
    }

    fn resize(&self, cols: u16, rows: u16) {
        self.tmux(&["resize-window", "-t", "t", "-x", &cols.to_string(), "-y", &rows.to_string()]);
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["-L", &self.server, "kill-server"]).status();
    }
}

/// Stops a detached set when the test ends, also when it fails.
struct DownOnDrop<'a>(&'a Project);

impl Drop for DownOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.corral(&["down", "-f", "dev.json"]);
    }
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() as u64
}

fn set() -> Value {
    json!({"name": "dash", "processes": {
        "db": {"command": "echo db booting; echo db ready; exec sleep 300", "ready_log_line": "db ready"},
        "api": {"command": "echo api serving; echo the needle line; exec sleep 300", "depends_on": {"db": {"condition": "process_log_ready"}}},
        "job": {"command": "echo job done"},
        "flaky": {"command": "echo flaky gives up; exit 3", "availability": {"restart": "on_failure", "backoff_seconds": 120}}
    }})
}

fn ps(p: &Project) -> Vec<Value> {
    let out = p.corral(&["ps", "-f", "dev.json", "--json"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    serde_json::from_str::<Value>(&out.stdout).unwrap().as_array().unwrap().clone()
}

fn pid_of(list: &[Value], name: &str) -> Option<i64> {
    list.iter().find(|p| p["name"] == name).and_then(|p| p["pid"].as_i64())
}

/// The row of `name` in the table (the line that starts with it inside the border).
fn row<'a>(screen: &'a str, name: &str) -> Option<&'a str> {
    // (Log lines in the bordered log pane start with a name too, then " | ".)
    screen.lines().find(|l| l.trim_start_matches('│').starts_with(&format!("{name} ")) && !l.contains(" | "))
}

#[test]
fn the_dashboard_shows_the_set_and_acts_on_it() {
    let p = Project::new();
    p.config(set());
    let up = p.corral(&["up", "-f", "dev.json", "-d"]);
    assert_eq!(up.status, 0, "{}", up.stderr);
    let _down = DownOnDrop(&p);
    assert!(wait_until(HANG_GUARD, || ps(&p).iter().any(|x| x["name"] == "flaky" && x["state"] == "restarting")));
    let t = Tmux::start(p.path(), &format!("{CORRAL} tui -f dev.json"), 120, 30);

    // Every process, with its state as a word and a symbol.
    let screen = t.wait_for("every process with its state", |s| {
        row(s, "db").is_some_and(|r| r.contains("● ready") && r.contains("yes"))
            && row(s, "api").is_some_and(|r| r.contains("▶ running") && r.contains("no check"))
            && row(s, "job").is_some_and(|r| r.contains("✓ completed") && r.contains("status 0"))
            && row(s, "flaky").is_some_and(|r| r.contains("↻ restarting 1") && r.contains("status 3"))
            // Merged, labelled logs.
            && s.contains("api   | the needle line")
            && s.contains("db    | db ready")
    });
    assert!(!screen.contains("EXITED"));

    // Restart api: move the selection down to its row (rows are in start order), then `r`: a new pid.
    let before = pid_of(&ps(&p), "api").expect("api runs");
    let names = ["db", "api", "job", "flaky"];
    let mut rows: Vec<(usize, &str)> = names.iter().filter_map(|n| screen.lines().position(|l| row(l, n).is_some()).map(|at| (at, *n))).collect();
    rows.sort();
    let api_row = rows.iter().position(|(_, n)| *n == "api").expect("api has a row");
    let mut keys = vec!["j"; api_row];
    keys.push("r");
    t.keys(&keys);
    assert!(wait_until(HANG_GUARD, || pid_of(&ps(&p), "api").is_some_and(|now| now != before)), "r did not restart api");
    t.wait_for("the restart's outcome", |s| s.contains("restart api: done"));

    // Stop it, then start it again.
    t.keys(&["x"]);
    t.wait_for("api stopped", |s| row(s, "api").is_some_and(|r| r.contains("■ stopped")));
    t.keys(&["s"]);
    t.wait_for("api running again", |s| row(s, "api").is_some_and(|r| r.contains("▶ running")));

    // Sort by name, filter by name.
    t.keys(&["o"]);
    t.wait_for("rows sorted by name", |s| {
        let at = |n: &str| row(s, n).and_then(|r| s.find(r));
        s.contains("sort: name") && matches!((at("api"), at("db"), at("flaky"), at("job")), (Some(a), Some(b), Some(c), Some(d)) if a < b && b < c && c < d)
    });
    t.keys(&["o", "o", "o", "o", "o", "o"]);
    t.wait_for("config order again", |s| s.contains("sort: config order"));
    t.keys(&["F", "fla", "Enter"]);
    t.wait_for("only flaky", |s| row(s, "flaky").is_some() && row(s, "db").is_none() && s.contains("filter: fla"));
    t.keys(&["Escape"]);
    t.wait_for("every process again", |s| row(s, "db").is_some() && row(s, "flaky").is_some());

    // Timestamps and wrapping show in the log pane's title and lines.
    t.keys(&["t", "w"]);
    t.wait_for("timestamps and wrap", |s| s.contains("follow wrap time") && s.lines().any(|l| l.contains(" api   | api serving") && l.contains(':')));
    t.keys(&["t", "w"]);

    // Search finds a line and says where.
    t.keys(&["/", "NEEDLE", "Enter"]);
    t.wait_for("a search match", |s| s.contains("match at line") && s.contains("search: NEEDLE") && s.contains("the needle line"));
    t.keys(&["n"]);
    t.wait_for("the next search result", |s| s.contains("no newer match") || s.contains("match at line"));

    // One process's log (api's row, counted from the top).
    t.keys(&["Escape"]);
    t.wait_for("the search cleared", |s| !s.contains("search: NEEDLE"));
    let mut keys = vec!["g"];
    keys.extend(vec!["j"; api_row]);
    keys.push("Enter");
    t.keys(&keys);
    t.wait_for("api's own log", |s| s.contains("log of api") && s.contains("api serving") && !s.contains("db ready"));

    // The help overlay lists every key; any key closes it.
    t.keys(&["?"]);
    t.wait_for("the help overlay with every key", |s| {
        s.contains("keys (any key closes)")
            && ["restart it (with its dependents)", "search the log", "select mode", "$PAGER", "dependency graph", "quit", "stop every process"].iter().all(|w| s.contains(w))
    });
    t.keys(&["Escape"]);
    t.wait_for("the help closed", |s| !s.contains("keys (any key closes)"));

    // The dependency graph: api under db.
    t.keys(&["d"]);
    t.wait_for("the dependency graph", |s| s.contains("dependencies:") && s.lines().any(|l| l.contains("└─ ▶ api")));
    t.keys(&["Escape"]);

    // Select mode releases the mouse (so the terminal can select text), and takes it back.
    assert!(t.mouse_captured(), "the dashboard scrolls with the mouse");
    t.keys(&["v"]);
    t.wait_for("select mode", |s| s.contains("SELECT: mouse released"));
    assert!(!t.mouse_captured(), "select mode must release the mouse");
    t.keys(&["v"]);
    t.wait_for("the end of select mode", |s| !s.contains("SELECT"));
    assert!(t.mouse_captured());

    // The pager gets the current log (PAGER=cat here), and the dashboard comes back.
    t.keys(&["p"]);
    t.wait_for("the dashboard back after the pager", |s| s.contains("log of api") && row(s, "db").is_some());

    // Tiny and huge terminals: no panic, still drawn.
    t.resize(40, 10);
    t.wait_for("a 40×10 dashboard", |s| s.lines().count() <= 10 && s.contains("corral") && !s.contains("EXITED"));
    t.resize(300, 80);
    t.wait_for("a 300×80 dashboard", |s| s.lines().any(|l| l.chars().count() > 200) && row(s, "flaky").is_some());
    t.keys(&["?"]);
    t.wait_for("help at 300×80", |s| s.contains("keys (any key closes)"));
    t.keys(&["Escape"]);
    t.wait_for("the help closed", |s| !s.contains("keys (any key closes)"));
    t.resize(40, 10);
    t.keys(&["?"]);
    t.wait_for("help at 40×10", |s| s.contains("keys (any"));
    t.keys(&["Escape"]);

    // Quitting leaves the set running.
    t.keys(&["q"]);
    t.wait_for("the dashboard's exit", |s| s.contains("EXITED:0"));
    let list = ps(&p);
    assert!(pid_of(&list, "db").is_some() && pid_of(&list, "api").is_some(), "{list:?}");
    assert_eq!(p.corral(&["down", "-f", "dev.json"]).status, 0);
    p.assert_nothing_left();
}

#[test]
fn quitting_up_tui_stops_the_run_after_a_confirmation() {
    let p = Project::new();
    p.config(set());
    let t = Tmux::start(p.path(), &format!("{CORRAL} up --tui -f dev.json"), 100, 24);
    t.wait_for("the running set", |s| row(s, "db").is_some_and(|r| r.contains("ready")) && row(s, "api").is_some_and(|r| r.contains("running")));
    // Other clients see the same run.
    assert!(pid_of(&ps(&p), "db").is_some());

    t.keys(&["q"]);
    t.wait_for("the confirmation", |s| s.contains("Quit? This stops every process"));
    t.keys(&["n"]);
    t.wait_for("the cancelled quit", |s| s.contains("cancelled"));
    assert!(pid_of(&ps(&p), "db").is_some(), "a cancelled quit stops nothing");

    t.keys(&["q"]);
    t.wait_for("the confirmation", |s| s.contains("Quit? This stops every process"));
    t.keys(&["Enter"]);
    let screen = t.wait_for("the run's end", |s| s.contains("EXITED:"));
    assert!(screen.contains("the run ended (status"), "{screen}");
    let after = p.corral(&["ps", "-f", "dev.json"]);
    assert_eq!(after.status, 3, "the run should be over (3: no corral is running): {}", after.stdout);
    p.assert_nothing_left();
}

#[test]
fn up_tui_without_a_terminal_prints_plain_output_with_a_note() {
    let p = Project::new();
    p.config(json!({"processes": {"hello": {"command": "echo hello from plain"}}}));
    let out = p.up(&["--tui"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(out.stderr.contains("stdout is not a terminal, so no dashboard"), "{}", out.stderr);
    assert!(out.stdout.contains("hello | hello from plain"), "{}", out.stdout);
    let tui = p.corral(&["tui", "-f", "dev.json"]);
    assert_eq!(tui.status, 2);
    assert!(tui.stderr.contains("the dashboard needs a terminal"), "{}", tui.stderr);
}

#[test]
fn plain_output_on_a_terminal_gets_a_one_line_start_up_summary() {
    let p = Project::new();
    p.config(json!({"name": "sum", "processes": {
        "db": {"command": "echo db up; exec sleep 300", "ready_log_line": "db up"},
        "api": {"command": "exec sleep 300", "depends_on": {"db": {"condition": "process_log_ready"}}},
        "job": {"command": "echo job done"}
    }}));
    let t = Tmux::start(p.path(), &format!("{CORRAL} up -f dev.json"), 120, 20);
    // Plain labelled output stays.
    t.wait_for("the start-up summary", |s| s.contains("corral: 3/3 ready (") && s.contains("db  | db up"));
    assert_eq!(p.corral(&["down", "-f", "dev.json"]).status, 0);
    t.wait_for("the end of the run", |s| s.contains("EXITED:"));
    // Piped output (CI) gets no summary.
    let piped = p.corral(&["up", "-f", "dev.json", "job"]);
    assert!(!piped.stderr.contains("ready ("), "{}", piped.stderr);
}

#[test]
fn scrolling_past_memory_reads_the_process_s_log_file() {
    let p = Project::new();
    p.config(json!({"name": "scroll", "processes": {
        "talker": {"command": "seq 1 5000; echo talked; exec sleep 300", "log_location": "logs/talker.log"}
    }}));
    assert_eq!(p.corral(&["up", "-f", "dev.json", "-d"]).status, 0);
    let _down = DownOnDrop(&p);
    assert!(wait_until(HANG_GUARD, || p.read("logs/talker.log").contains("talked")));
    let t = Tmux::start(p.path(), &format!("{CORRAL} tui -f dev.json"), 100, 20);
    t.wait_for("the end of the output", |s| s.contains("talked"));
    // Its own log, then to the top: past what the dashboard holds, the log file.
    t.keys(&["Enter", "Tab", "g"]);
    t.wait_for("the first lines of the log file", |s| {
        let body: Vec<&str> = s.lines().map(|l| l.trim_matches(|c| c == '│' || c == ' ')).collect();
        s.contains("older lines read from talker's log file") && body.contains(&"1") && body.contains(&"2")
    });
    t.keys(&["G"]);
    t.wait_for("the newest line again", |s| s.contains("talked"));
    t.keys(&["q"]);
    t.wait_for("the dashboard's exit", |s| s.contains("EXITED:0"));
    assert_eq!(p.corral(&["down", "-f", "dev.json"]).status, 0);
}

#[test]
fn killing_up_tui_stops_its_run() {
    let p = Project::new();
    p.config(set());
    let t = Tmux::start(p.path(), &format!("{CORRAL} up --tui -f dev.json"), 100, 24);
    t.wait_for("the running set", |s| row(s, "db").is_some_and(|r| r.contains("ready")));
    assert_eq!(p.corral(&["ps", "-f", "dev.json"]).status, 0);
    // The pane runs a shell (`…; echo EXITED`); the dashboard is its child.
    let shell: i32 = t.tmux(&["display", "-p", "-t", "t", "#{pane_pid}"]).trim().parse().unwrap();
    let tui = child_of(shell).expect("the dashboard's pid");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(tui), nix::sys::signal::Signal::SIGKILL).unwrap();
    assert!(wait_until(HANG_GUARD, || p.corral(&["ps", "-f", "dev.json"]).status == 3), "the run outlived its dashboard");
    p.assert_nothing_left();
}

/// A child of `pid`, from /proc.
fn child_of(pid: i32) -> Option<i32> {
    std::fs::read_dir("/proc").ok()?.flatten().filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok()).find(|c| {
        std::fs::read_to_string(format!("/proc/{c}/stat")).ok().and_then(|s| s.rsplit_once(')').and_then(|(_, r)| r.split_whitespace().nth(1).map(str::to_string))) == Some(pid.to_string())
    })
}

#[test]
fn up_tui_with_a_bad_config_says_why_and_exits_2() {
    let p = Project::new();
    p.raw_config(r#"{"processes": {"a": {"command": 3}}}"#);
    let t = Tmux::start(p.path(), &format!("{CORRAL} up --tui -f dev.json"), 100, 20);
    let screen = t.wait_for("the end", |s| s.contains("EXITED:"));
    assert!(screen.contains("EXITED:2") && screen.contains("processes.a.command"), "{screen}");
}

#[test]
fn the_scale_key_changes_how_many_replicas_run() {
    let p = Project::new();
    p.config(json!({"name": "scaled", "processes": {
        "w": {"command": "echo worker $PC_REPLICA_NUM; exec sleep 300", "replicas": 2}
    }}));
    let up = p.corral(&["up", "-f", "dev.json", "-d"]);
    assert_eq!(up.status, 0, "{}", up.stderr);
    let _down = DownOnDrop(&p);
    let t = Tmux::start(p.path(), &format!("{CORRAL} tui -f dev.json"), 120, 30);
    t.wait_for("both replicas", |s| row(s, "w-0").is_some_and(|r| r.contains("running")) && row(s, "w-1").is_some_and(|r| r.contains("running")));
    // The help lists the key.
    t.keys(&["?"]);
    t.wait_for("the scale key in the help", |s| s.contains("scale it: how many replicas"));
    t.keys(&["Escape"]);
    t.wait_for("the help closed", |s| !s.contains("keys (any key closes)"));
    // On a replica's row, S asks how many replicas of its process: 3.
    t.keys(&["g", "S"]);
    t.wait_for("the scale prompt", |s| s.contains("scale w to (replicas):"));
    t.keys(&["3", "Enter"]);
    t.wait_for("the outcome", |s| s.contains("scale w to 3: done"));
    assert!(wait_until(HANG_GUARD, || ps(&p).iter().filter(|x| x["name"].as_str().is_some_and(|n| n.starts_with("w-")) && x["state"] == "running").count() == 3), "three replicas run: {:?}", ps(&p));
    t.wait_for("the third replica on screen", |s| row(s, "w-2").is_some_and(|r| r.contains("running")));
    // Not a number: said so, nothing sent.
    t.keys(&["S", "many", "Enter"]);
    t.wait_for("the refusal", |s| s.contains("is not a number of replicas"));
    t.keys(&["q"]);
}
