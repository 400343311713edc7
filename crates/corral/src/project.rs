//! The project root and which running corral a command talks to.
//!
//! The root (`$CORRAL_PROJECT_ROOT`) is decided here, once, for `up` and for the
//! client commands alike (docs/config.md, "The project root"):
//! 1. `$PRJ_ROOT` when set (the flake-root / devshell convention);
//! 2. else the nearest directory at or above the current one that holds
//!    `flake.nix`, for a set run through the Nix wrapper (its config is in the
//!    Nix store), or the config file itself, for `corral up -f FILE`;
//! 3. else the current directory (e.g. `nix run github:…` from elsewhere).
//!
//! A relative config path that does not exist in the current directory is
//! looked for in the directories above it, like the root, so `corral ps` works
//! from any subdirectory. The project's identity is its name and its root
//! (corral_supervisor::control::project).

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use corral_supervisor::control::project::Project;

/// The variable that names the root explicitly (numtide's devshell, flake-root).
pub const PRJ_ROOT_VAR: &str = "PRJ_ROOT";

/// A config file and the project root it runs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub config: PathBuf,
    pub root: PathBuf,
}

/// Finds the config (see the module doc) and decides the project root.
pub fn locate(config: &Path) -> Result<Located, String> {
    let cwd = std::env::current_dir().map_err(|e| format!("cannot determine the current directory: {e}"))?;
    let prj_root = std::env::var_os(PRJ_ROOT_VAR).filter(|v| !v.is_empty()).map(PathBuf::from);
    locate_from(config, &cwd, prj_root.as_deref())
}

fn locate_from(config: &Path, cwd: &Path, prj_root: Option<&Path>) -> Result<Located, String> {
    let config = if config.is_relative() && !cwd.join(config).exists() {
        cwd.ancestors().map(|d| d.join(config)).find(|c| c.is_file()).unwrap_or_else(|| config.to_path_buf())
    } else {
        config.to_path_buf()
    };
    let root = match prj_root {
        Some(r) => {
            let r = if r.is_relative() { cwd.join(r) } else { r.to_path_buf() };
            if !r.is_dir() {
                return Err(format!("{PRJ_ROOT_VAR}={} is not a directory", r.display()));
            }
            r
        }
        None if in_nix_store(&config) => cwd.ancestors().find(|d| d.join("flake.nix").is_file()).unwrap_or(cwd).to_path_buf(),
        None => {
            let wanted = fs::metadata(cwd.join(&config)).ok().map(|m| (m.dev(), m.ino()));
            cwd.ancestors()
                .find(|d| {
                    let name = config.file_name().unwrap_or_default();
                    wanted.is_some() && fs::metadata(d.join(name)).ok().map(|m| (m.dev(), m.ino())) == wanted
                })
                .unwrap_or(cwd)
                .to_path_buf()
        }
    };
    // One spelling of the root, so that the identity does not depend on symlinks or `..`.
    let root = root.canonicalize().unwrap_or(root);
    Ok(Located { config, root })
}

/// A config in the Nix store: a set run through the wrapper.
fn in_nix_store(config: &Path) -> bool {
    let store = std::env::var_os("NIX_STORE").filter(|v| !v.is_empty()).map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/nix/store"));
    config.starts_with(store)
}

/// The project for `located` (its `name`, else its file stem), unless named explicitly.
pub fn project(located: &Located, explicit: Option<&str>, config_name: Option<&str>) -> Project {
    Project::new(&name(located, explicit, config_name), &located.root)
}

/// The running project a client command talks to: the project's own state
/// directory, or, when none is there, one an older corral made for it (its id
/// was the name and the directory it was started in), so a detached set started
/// before an upgrade is still found by `ps` and `down`.
pub fn running_project(config: &Path, explicit: Option<&str>) -> Result<Project, String> {
    let located = locate(config)?;
    let current = project(&located, explicit, None);
    if current.socket().exists() {
        return Ok(current);
    }
    let name = name(&located, explicit, None);
    let cwd = std::env::current_dir().map_err(|e| format!("cannot determine the current directory: {e}"))?;
    let older = [Project::legacy(&name, &cwd), Project::legacy(&name, &located.root)];
    Ok(older.into_iter().find(|p| p.socket().exists()).unwrap_or(current))
}

fn name(located: &Located, explicit: Option<&str>, config_name: Option<&str>) -> String {
    match (explicit, config_name) {
        (Some(n), _) => n.to_string(),
        (None, Some(n)) => n.to_string(),
        (None, None) => name_in_file(&located.config).unwrap_or_else(|| located.config.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "corral".into())),
    }
}

/// The config's `name`, read without validating the rest (client commands
/// must work even while the config is being edited).
fn name_in_file(config: &Path) -> Option<String> {
    corral_config::config_name(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> (tempfile::TempDir, PathBuf) {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().canonicalize().unwrap();
        fs::create_dir_all(root.join("a/b/c")).unwrap();
        (t, root)
    }

    #[test]
    fn prj_root_wins() {
        let (_t, root) = tree();
        fs::write(root.join("a/dev.json"), "{}").unwrap();
        let l = locate_from(Path::new("dev.json"), &root.join("a/b"), Some(&root.join("a/b/c"))).unwrap();
        assert_eq!(l.root, root.join("a/b/c"));
        assert_eq!(l.config, root.join("a/dev.json"), "the config is still found above");
        let err = locate_from(Path::new("dev.json"), &root, Some(&root.join("nope"))).unwrap_err();
        assert!(err.contains("PRJ_ROOT=") && err.contains("is not a directory"), "{err}");
    }

    #[test]
    fn a_config_file_makes_its_directory_the_root_from_any_subdirectory() {
        let (_t, root) = tree();
        fs::write(root.join("a/dev.json"), "{}").unwrap();
        let from_sub = locate_from(Path::new("dev.json"), &root.join("a/b/c"), None).unwrap();
        assert_eq!(from_sub, Located { config: root.join("a/dev.json"), root: root.join("a") });
        let here = locate_from(Path::new("dev.json"), &root.join("a"), None).unwrap();
        assert_eq!(here.root, root.join("a"));
        // An absolute config above the current directory: its directory.
        let abs = locate_from(&root.join("a/dev.json"), &root.join("a/b"), None).unwrap();
        assert_eq!(abs.root, root.join("a"));
        let dotted = locate_from(&root.join("a/dev.json"), &root.join("a/b").join("..").join("..").join("a/b/c"), None).unwrap();
        assert_eq!(dotted.root, root.join("a"), "`..` spellings give one root");
        // A config elsewhere: the current directory.
        let outside = tempfile::tempdir().unwrap();
        let cwd = outside.path().canonicalize().unwrap();
        assert_eq!(locate_from(&root.join("a/dev.json"), &cwd, None).unwrap().root, cwd);
        let none = locate_from(Path::new("missing.json"), &root.join("a/b"), None).unwrap();
        assert_eq!(none.root, root.join("a/b"));
    }

    #[test]
    fn a_nix_run_set_is_rooted_at_the_nearest_flake() {
        let (_t, root) = tree();
        fs::write(root.join("a/flake.nix"), "{}").unwrap();
        let store = Path::new("/nix/store/xxxx-corral-dev.json");
        assert_eq!(locate_from(store, &root.join("a/b/c"), None).unwrap().root, root.join("a"));
        assert_eq!(locate_from(store, &root.join("a"), None).unwrap().root, root.join("a"));
        let outside = tempfile::tempdir().unwrap();
        let cwd = outside.path().canonicalize().unwrap();
        assert_eq!(locate_from(store, &cwd, None).unwrap().root, cwd, "no flake above: the current directory");
    }
}
