//! The project root and the project's identity (docs/config.md, "The project
//! root"), and the state directory under hostile neighbours: part of the fault
//! suite (issue 14: two projects never share an id; a planted symlink or a
//! foreign directory is refused).

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::json;
use support::Project;

/// `corral ARGS…` in `dir`, with `env`, to its end: (status, stdout, stderr).
fn corral_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(support::CORRAL)
        .args(args)
        .current_dir(dir)
        .env_remove("CORRAL_CONFIG")
        .env_remove("CORRAL_PROJECT")
        .env_remove("PRJ_ROOT")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn sleeper(p: &Project, file: &str, text: &str) {
    let config = json!({ "environment": [format!("CORRAL_TEST_MARK={}", p.mark)], "processes": { "svc": { "command": format!("echo {text}; exec sleep 300") } } });
    p.write(file, &config.to_string());
}

#[test]
fn two_projects_whose_names_read_alike_never_share_an_id() {
    let p = Project::new();
    sleeper(&p, "my.app.json", "dotted");
    sleeper(&p, "my_app.json", "underscored");
    for f in ["my.app.json", "my_app.json"] {
        let (status, _, err) = corral_in(p.path(), &["up", "-f", f, "-d", "--wait", "--timeout", "30"], &[]);
        assert_eq!(status, 0, "both start: {err}");
    }
    let (status, _, err) = corral_in(p.path(), &["down", "-f", "my_app.json"], &[]);
    assert_eq!(status, 0, "{err}");
    let (status, out, err) = corral_in(p.path(), &["ps", "-f", "my.app.json"], &[]);
    assert_eq!(status, 0, "`down` of my_app left my.app running: {err}");
    assert!(out.contains("svc") && out.contains("running"), "{out}");
    let (status, _, err) = corral_in(p.path(), &["ps", "-f", "my_app.json"], &[]);
    assert_eq!(status, 3, "{err}");
    let (status, _, err) = corral_in(p.path(), &["down", "-f", "my.app.json"], &[]);
    assert_eq!(status, 0, "{err}");
    p.assert_nothing_left();
}

#[test]
fn client_commands_find_the_running_set_from_any_subdirectory_and_paths_resolve_at_the_root() {
    let p = Project::new();
    fs::create_dir_all(p.file("sub/deeper")).unwrap();
    let config = json!({
        "environment": [format!("CORRAL_TEST_MARK={}", p.mark)],
        "processes": { "svc": { "command": "echo root=$CORRAL_PROJECT_ROOT; pwd > where; exec sleep 300", "log_location": "logs/svc.log" } }
    });
    p.write("corral.json", &config.to_string());
    let deeper = p.file("sub/deeper");
    // Started from a subdirectory: the root is the directory holding corral.json.
    let (status, _, err) = corral_in(&deeper, &["up", "-d", "--wait", "--timeout", "30"], &[]);
    assert_eq!(status, 0, "{err}");
    let root = p.path().canonicalize().unwrap();
    assert!(support::wait_until(support::HANG_GUARD, || p.read("where").ends_with('\n')));
    assert_eq!(p.read("where").trim(), root.to_str().unwrap(), "relative working_dir: the root");
    assert!(support::wait_until(support::HANG_GUARD, || p.read("logs/svc.log").contains(&format!("root={}", root.display()))), "log_location under the root");
    let (status, out, err) = corral_in(&p.file("sub"), &["ps"], &[]);
    assert_eq!(status, 0, "ps from another subdirectory: {err}");
    assert!(out.contains("svc"), "{out}");
    let (status, out, _) = corral_in(p.path(), &["logs"], &[]);
    assert_eq!(status, 0);
    assert!(out.contains("root="), "{out}");
    let (status, _, err) = corral_in(&deeper, &["down"], &[]);
    assert_eq!(status, 0, "{err}");
    p.assert_nothing_left();
}

#[test]
fn prj_root_names_the_root() {
    let p = Project::new();
    let elsewhere = tempfile::tempdir().unwrap();
    let config = json!({
        "environment": [format!("CORRAL_TEST_MARK={}", p.mark)],
        "processes": { "once": { "command": "echo at $CORRAL_PROJECT_ROOT > marker" } }
    });
    p.write("dev.json", &config.to_string());
    let target = elsewhere.path().canonicalize().unwrap();
    let (status, _, err) = corral_in(p.path(), &["up", "-f", "dev.json"], &[("PRJ_ROOT", target.to_str().unwrap())]);
    assert_eq!(status, 0, "{err}");
    assert_eq!(fs::read_to_string(target.join("marker")).unwrap().trim(), format!("at {}", target.display()));
    assert!(!p.file("marker").exists());
    let (status, _, err) = corral_in(p.path(), &["up", "-f", "dev.json"], &[("PRJ_ROOT", "/nonexistent/root")]);
    assert_ne!(status, 0);
    assert!(err.contains("PRJ_ROOT=/nonexistent/root is not a directory"), "{err}");
}

/// The id an older corral gave a project: its name and the directory it ran in (FNV-1a, 32 bits).
fn legacy_id(name: &str, root: &Path) -> String {
    let h = root.as_os_str().as_encoded_bytes().iter().fold(0xcbf29ce484222325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100000001b3));
    format!("{name}-{:08x}", h as u32)
}

#[test]
fn a_detached_set_started_by_an_older_corral_is_still_found_after_an_upgrade() {
    let p = Project::new();
    let runtime = tempfile::tempdir().unwrap();
    let env = [("XDG_RUNTIME_DIR", runtime.path().to_str().unwrap())];
    sleeper(&p, "old.json", "from before the upgrade");
    let (status, _, err) = corral_in(p.path(), &["up", "-f", "old.json", "-d", "--wait", "--timeout", "30"], &env);
    assert_eq!(status, 0, "{err}");
    // Make it look like an older corral's run: its state directory under the old id.
    let base = runtime.path().join("corral");
    let current = fs::read_dir(&base).unwrap().flatten().next().unwrap().path();
    let root = p.path().canonicalize().unwrap();
    let old = base.join(legacy_id("old", &root));
    fs::rename(&current, &old).unwrap();
    let (status, out, err) = corral_in(p.path(), &["ps", "-f", "old.json"], &env);
    assert_eq!(status, 0, "ps finds the older run: {err}");
    assert!(out.contains("svc") && out.contains("running"), "{out}");
    let (status, _, err) = corral_in(p.path(), &["down", "-f", "old.json"], &env);
    assert_eq!(status, 0, "{err}");
    p.assert_nothing_left();
}

#[test]
fn a_planted_symlink_or_a_foreign_state_directory_is_refused_with_a_clear_error() {
    let p = Project::new();
    sleeper(&p, "dev.json", "must not start");
    let runtime = tempfile::tempdir().unwrap();
    let env = [("XDG_RUNTIME_DIR", runtime.path().to_str().unwrap())];
    // Another user's trap: a shared directory, and a symlink to it where corral keeps its state.
    let shared = tempfile::tempdir().unwrap();
    fs::set_permissions(shared.path(), fs::Permissions::from_mode(0o1777)).unwrap();
    std::os::unix::fs::symlink(shared.path(), runtime.path().join("corral")).unwrap();
    let (status, _, err) = corral_in(p.path(), &["up", "-f", "dev.json"], &env);
    assert_ne!(status, 0);
    assert!(err.contains(&format!("refusing the state directory {}/corral: it is a symbolic link", runtime.path().display())), "{err}");
    assert_eq!(fs::metadata(shared.path()).unwrap().permissions().mode() & 0o7777, 0o1777, "the symlink's target was not chmodded");
    assert!(fs::read_dir(shared.path()).unwrap().next().is_none(), "nothing was put there");
    assert!(p.survivors().is_empty(), "nothing started");
    // A directory that belongs to someone else.
    if nix::unistd::getuid().is_root() {
        fs::remove_file(runtime.path().join("corral")).unwrap();
        fs::create_dir(runtime.path().join("corral")).unwrap();
        nix::unistd::chown(&runtime.path().join("corral"), Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
        let (status, _, err) = corral_in(p.path(), &["up", "-f", "dev.json"], &env);
        assert_ne!(status, 0);
        assert!(err.contains("it belongs to uid 65534, not to uid 0"), "{err}");
        assert!(p.survivors().is_empty(), "nothing started");
    }
}
