//! The environment a process sees, assembled in one documented order:
//! corral's own environment (minus systemd handoff variables meant for corral
//! itself) < the global `environment` < what the pre_hook exported < the
//! process's `environment` < corral's own variables (`CORRAL_*`).
//!
//! Values are never expanded here: `$HOME` in a value stays `$HOME`. The shell
//! that runs the command expands what it expands, at run time.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::sync::Arc;

/// Variables that describe a handoff from corral's own supervisor (systemd, a
/// parent corral) to corral. Passing them on would make a child believe the
/// sockets or watchdog were meant for it.
const NEVER_INHERITED: &[&str] = &[
    "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "LISTEN_PIDFDID", "NOTIFY_SOCKET", "WATCHDOG_PID", "WATCHDOG_USEC",
];

/// Marks every process of one run, so the guardian can find stragglers that left
/// their process group after corral itself was killed.
pub const RUN_ID_VAR: &str = "CORRAL_RUN_ID";
/// The process's own name.
pub const PROCESS_NAME_VAR: &str = "CORRAL_PROCESS_NAME";
/// The directory corral was started in; relative paths in the config resolve against it.
pub const PROJECT_ROOT_VAR: &str = "CORRAL_PROJECT_ROOT";

/// An environment under construction. Keys are OS strings because corral's own
/// environment may hold bytes that are not UTF-8, and they must pass through.
///
/// A shared, frozen base plus a small overlay of changes: a thousand processes
/// share one copy of the inherited environment instead of holding a thousand.
#[derive(Debug, Clone, Default)]
pub struct Env {
    base: Arc<BTreeMap<OsString, OsString>>,
    /// Changes over `base`, sorted by name: Some(value) set, None removed. A
    /// sorted vector, not a map: a process adds two or three variables, and a
    /// map's first node alone costs half a kilobyte per process.
    overlay: Vec<(OsString, Option<OsString>)>,
}

impl PartialEq for Env {
    fn eq(&self, other: &Env) -> bool {
        self.iter().collect::<BTreeMap<_, _>>() == other.iter().collect::<BTreeMap<_, _>>()
    }
}

impl Eq for Env {}

impl Env {
    /// corral's own environment, without the handoff variables.
    pub fn inherited() -> Env {
        Env::from_vars(std::env::vars_os())
    }

    pub fn from_vars(vars: impl IntoIterator<Item = (OsString, OsString)>) -> Env {
        let base = vars.into_iter().filter(|(k, _)| !NEVER_INHERITED.iter().any(|n| k == n)).collect();
        Env { base: Arc::new(base), overlay: Vec::new() }
    }

    pub fn set(&mut self, key: impl Into<OsString>, value: impl Into<OsString>) {
        self.put(key.into(), Some(value.into()));
    }

    pub fn remove(&mut self, key: &str) {
        self.put(key.into(), None);
    }

    fn put(&mut self, key: OsString, value: Option<OsString>) {
        match self.overlay.binary_search_by(|(k, _)| k.cmp(&key)) {
            Ok(i) => self.overlay[i].1 = value,
            Err(i) => self.overlay.insert(i, (key, value)),
        }
    }

    /// The overlay's entry for `key`: Some(Some(v)) set, Some(None) removed, None untouched.
    fn changed(&self, key: &std::ffi::OsStr) -> Option<&Option<OsString>> {
        self.overlay.binary_search_by(|(k, _)| k.as_os_str().cmp(key)).ok().map(|i| &self.overlay[i].1)
    }

    pub fn get(&self, key: &str) -> Option<&OsString> {
        match self.changed(std::ffi::OsStr::new(key)) {
            Some(v) => v.as_ref(),
            None => self.base.get(std::ffi::OsStr::new(key)),
        }
    }

    pub fn extend<'a>(&mut self, pairs: impl IntoIterator<Item = (&'a str, &'a str)>) {
        for (k, v) in pairs {
            self.set(k, v);
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&OsString, &OsString)> {
        let base = self.base.iter().filter(|(k, _)| self.changed(k).is_none());
        base.chain(self.overlay.iter().filter_map(|(k, v)| v.as_ref().map(|v| (k, v))))
    }

    fn contains(&self, key: &OsString) -> bool {
        match self.changed(key) {
            Some(v) => v.is_some(),
            None => self.base.contains_key(key),
        }
    }

    /// Frees the overlay's spare room (one Env is kept per process for the run).
    pub fn compact(&mut self) {
        self.overlay.shrink_to_fit();
    }

    /// Folds the overlay into a new shared base; clones made afterwards share it.
    pub fn freeze(&mut self) {
        if !self.overlay.is_empty() {
            let merged = self.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            self.base = Arc::new(merged);
            self.overlay.clear();
        }
    }

    /// Applies the changes a hook made: what it set or changed, and what it unset.
    pub fn apply(&mut self, changes: &EnvChanges) {
        for (k, v) in &changes.set {
            self.set(k.clone(), v.clone());
        }
        for k in &changes.unset {
            self.put(k.clone(), None);
        }
    }
}

/// What a hook changed in its environment, relative to what it was given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvChanges {
    pub set: Vec<(OsString, OsString)>,
    pub unset: Vec<OsString>,
}

/// Variables every shell manages by itself; a difference in them is not an export.
const SHELL_MANAGED: &[&str] = &["_", "SHLVL", "PWD", "OLDPWD"];

impl EnvChanges {
    /// Compares the environment a hook was given with the one it ended with.
    pub fn between(before: &Env, after: &Env) -> EnvChanges {
        let managed = |k: &OsString| SHELL_MANAGED.iter().any(|m| k == m);
        let before_map: BTreeMap<&OsString, &OsString> = before.iter().collect();
        let mut set: Vec<(OsString, OsString)> = after
            .iter()
            .filter(|(k, v)| !managed(k) && before_map.get(k) != Some(v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        set.sort();
        let unset = before_map.keys().filter(|k| !managed(k) && !after.contains(k)).map(|k| (*k).clone()).collect();
        EnvChanges { set, unset }
    }

    /// Parses the `NAME=value\0` records written by `corral __env`.
    pub fn parse_dump(bytes: &[u8]) -> Env {
        use std::os::unix::ffi::OsStrExt;
        let pairs = bytes.split(|b| *b == 0).filter(|r| !r.is_empty()).filter_map(|rec| {
            let eq = rec.iter().position(|b| *b == b'=')?;
            Some((
                std::ffi::OsStr::from_bytes(&rec[..eq]).to_os_string(),
                std::ffi::OsStr::from_bytes(&rec[eq + 1..]).to_os_string(),
            ))
        });
        Env { base: Arc::new(pairs.collect()), overlay: Vec::new() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_vars(pairs.iter().map(|(k, v)| (k.into(), v.into())))
    }

    #[test]
    fn clones_share_a_frozen_base() {
        let mut shared = env(&[("HOME", "/h"), ("A", "1")]);
        shared.set("B", "2");
        shared.remove("A");
        shared.freeze();
        let mut one = shared.clone();
        one.set("B", "3");
        assert!(Arc::ptr_eq(&one.base, &shared.base));
        assert_eq!(one, env(&[("HOME", "/h"), ("B", "3")]));
        assert_eq!(shared, env(&[("HOME", "/h"), ("B", "2")]));
        assert_eq!(one.get("A"), None);
    }

    #[test]
    fn handoff_variables_are_not_inherited() {
        let e = Env::from_vars([("LISTEN_FDS".into(), "2".into()), ("NOTIFY_SOCKET".into(), "/x".into()), ("HOME".into(), "/h".into())]);
        assert_eq!(e, env(&[("HOME", "/h")]));
    }

    #[test]
    fn later_layers_win_and_values_are_not_expanded() {
        let mut e = env(&[("A", "own"), ("HOME", "/h")]);
        e.extend([("A", "global"), ("B", "$HOME/x")]);
        e.extend([("A", "process")]);
        assert_eq!(e.get("A").unwrap(), "process");
        assert_eq!(e.get("B").unwrap(), "$HOME/x");
    }

    #[test]
    fn hook_changes_are_diffed_and_applied() {
        let before = env(&[("KEEP", "1"), ("CHANGE", "old"), ("DROP", "x"), ("SHLVL", "1")]);
        let after = EnvChanges::parse_dump(b"KEEP=1\0CHANGE=new\0ADDED=a=b\0SHLVL=2\0_=/bin/env\0");
        let changes = EnvChanges::between(&before, &after);
        assert_eq!(changes.set, vec![("ADDED".into(), "a=b".into()), ("CHANGE".into(), "new".into())]);
        assert_eq!(changes.unset, vec![OsString::from("DROP")]);
        let mut target = env(&[("DROP", "x"), ("OTHER", "o")]);
        target.apply(&changes);
        assert_eq!(target, env(&[("ADDED", "a=b"), ("CHANGE", "new"), ("OTHER", "o")]));
    }
}
