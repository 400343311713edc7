//! File watching: restart a process, or re-run a one-shot, when its files change.
//!
//! One notify debouncer per watching process (each with its own debounce),
//! whose batches of changed paths arrive here; a path counts once it has
//! been quiet for the debounce time, so a burst of changes is one change; a change that passes the
//! process's filters and `.gitignore` is reported to the dispatcher, which
//! decides what it means for the process's state. A watched path that does
//! not exist (yet, or any more) is waited for by watching its nearest
//! existing ancestor, and watched again when it appears. Between changes
//! nothing runs: inotify wakes the watcher thread only when something happens.

mod filter;
mod gitignore;

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{Event, EventHandler, RecommendedWatcher, RecursiveMode, Watcher, WatcherKind};
use notify_debouncer_mini::{new_debouncer_opt, DebounceEventResult, DebouncedEventKind, Debouncer};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub(crate) use filter::Filter;
use gitignore::Gitignores;

use crate::plan::Plan;

/// notify's recommended watcher without access events: a process that merely
/// reads its own files (a build listing its sources) must not restart itself.
pub(crate) struct ChangesOnly(RecommendedWatcher);

impl Watcher for ChangesOnly {
    fn new<F: EventHandler>(mut handler: F, config: notify::Config) -> notify::Result<Self> {
        let filtered = move |res: notify::Result<Event>| match &res {
            Ok(e) if e.kind.is_access() => {}
            _ => handler.handle_event(res),
        };
        RecommendedWatcher::new(filtered, config).map(ChangesOnly)
    }
    fn watch(&mut self, path: &Path, mode: RecursiveMode) -> notify::Result<()> {
        self.0.watch(path, mode)
    }
    fn unwatch(&mut self, path: &Path) -> notify::Result<()> {
        self.0.unwatch(path)
    }
    fn configure(&mut self, option: notify::Config) -> notify::Result<bool> {
        self.0.configure(option)
    }
    fn kind() -> WatcherKind {
        RecommendedWatcher::kind()
    }
}

/// A change that concerns process `.0`.
pub(crate) type Change = (usize, PathBuf);

/// The running watchers; dropping this stops them.
pub(crate) struct WatchService {
    task: JoinHandle<()>,
}

impl Drop for WatchService {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A watched path and how it is being watched right now.
struct Root {
    path: PathBuf,
    /// None while the path exists and is watched itself; else the ancestor watched for it.
    waiting_on: Option<PathBuf>,
}

struct ProcessWatch {
    index: usize,
    name: String,
    debouncer: Debouncer<ChangesOnly>,
    roots: Vec<Root>,
    /// Ancestors watched (non-recursively) for roots that do not exist, with how
    /// many roots wait in each: several roots may wait in the same directory.
    ancestors: std::collections::BTreeMap<PathBuf, usize>,
    filter: Filter,
    gitignore: bool,
    boundary: PathBuf,
}

/// Starts watching for every process that has `watch`; None when none has.
/// An error (an unreadable path, too many watches) names the process and path.
pub(crate) fn start(plan: &Plan) -> Result<Option<(WatchService, mpsc::UnboundedReceiver<Change>)>, String> {
    let (raw_tx, mut raw_rx) = mpsc::unbounded_channel::<(usize, DebounceEventResult)>();
    let mut watches = Vec::new();
    for (index, p) in plan.processes.iter().enumerate() {
        let Some(spec) = &p.watch else { continue };
        let tx = raw_tx.clone();
        let config = notify_debouncer_mini::Config::default().with_timeout(spec.debounce.max(Duration::from_millis(10)));
        let debouncer = new_debouncer_opt::<_, ChangesOnly>(config, move |res: DebounceEventResult| drop(tx.send((index, res))))
            .map_err(|e| format!("processes.{}.watch: cannot start watching: {e}", p.name))?;
        let mut w = ProcessWatch {
            index,
            name: p.name.clone(),
            debouncer,
            roots: spec.roots.iter().map(|r| Root { path: r.path.clone(), waiting_on: None }).collect(),
            ancestors: Default::default(),
            filter: Filter::new(spec).map_err(|e| format!("processes.{}.watch: {e}", p.name))?,
            gitignore: spec.gitignore,
            boundary: plan.root.clone(),
        };
        for i in 0..w.roots.len() {
            w.arm(i).map_err(|e| format!("processes.{}.watch.paths[{i}]: {e}", p.name))?;
        }
        watches.push(w);
    }
    if watches.is_empty() {
        return Ok(None);
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        let mut ignores = Gitignores::default();
        while let Some((index, result)) = raw_rx.recv().await {
            let Some(w) = watches.iter_mut().find(|w| w.index == index) else { continue };
            let events = match result {
                Ok(e) => e,
                Err(e) => {
                    tracing::warn!("{}: watching failed: {e}", w.name);
                    continue;
                }
            };
            for e in &events {
                tracing::trace!("{}: {:?} {}", w.name, e.kind, e.path.display());
                ignores.invalidate(&e.path);
            }
            let appeared = w.rearm();
            // Act once a path has settled (quiet for the debounce time); paths still
            // changing come again as settled when they stop: one restart per burst.
            let settled = events.iter().filter(|e| e.kind == DebouncedEventKind::Any);
            // A watched path that appeared is a change too (its creation event names its parent).
            let hit = settled.map(|e| &e.path).find(|path| w.concerns(path, &mut ignores)).cloned().or(appeared);
            if let Some(path) = hit {
                let _ = tx.send((index, path));
            }
        }
    });
    Ok(Some((WatchService { task }, rx)))
}

impl ProcessWatch {
    /// Watches root `i` itself if it exists, else its nearest existing ancestor.
    fn arm(&mut self, i: usize) -> Result<(), String> {
        let path = self.roots[i].path.clone();
        if path.exists() {
            self.debouncer.watcher().watch(&path, RecursiveMode::Recursive).map_err(|e| describe(&path, e))?;
            if let Some(old) = self.roots[i].waiting_on.take() {
                self.release_ancestor(&old);
                tracing::info!("{}: {} appeared; watching it", self.name, path.display());
            }
        } else {
            let ancestor = path.ancestors().skip(1).find(|a| a.is_dir()).unwrap_or(Path::new("/")).to_path_buf();
            if self.roots[i].waiting_on.as_ref() != Some(&ancestor) {
                if let Some(old) = self.roots[i].waiting_on.take() {
                    self.release_ancestor(&old);
                }
                self.hold_ancestor(&ancestor)?;
                tracing::info!("{}: {} does not exist (now); waiting for it in {}", self.name, path.display(), ancestor.display());
                self.roots[i].waiting_on = Some(ancestor);
            }
        }
        Ok(())
    }

    /// Whether `dir` lies inside a root that is watched recursively (which then
    /// reports what happens in `dir` already).
    fn covered(&self, dir: &Path) -> bool {
        self.roots.iter().any(|r| r.waiting_on.is_none() && r.path.exists() && dir.starts_with(&r.path))
    }

    fn hold_ancestor(&mut self, dir: &Path) -> Result<(), String> {
        let count = self.ancestors.entry(dir.to_path_buf()).or_insert(0);
        *count += 1;
        if *count == 1 && !self.covered(dir) {
            self.debouncer.watcher().watch(dir, RecursiveMode::NonRecursive).map_err(|e| describe(dir, e))?;
        }
        Ok(())
    }

    fn release_ancestor(&mut self, dir: &Path) {
        if let Some(count) = self.ancestors.get_mut(dir) {
            *count -= 1;
            if *count == 0 {
                self.ancestors.remove(dir);
                if !self.covered(dir) {
                    let _ = self.debouncer.watcher().unwatch(dir);
                }
            }
        }
    }

    /// After a batch: roots that appeared are watched, roots that vanished are
    /// waited for. Returns a root that appeared, if any.
    fn rearm(&mut self) -> Option<PathBuf> {
        let mut appeared = None;
        for i in 0..self.roots.len() {
            let exists = self.roots[i].path.exists();
            let waiting = self.roots[i].waiting_on.is_some();
            if exists == waiting || !exists {
                match self.arm(i) {
                    Ok(()) if exists && waiting => appeared = Some(self.roots[i].path.clone()),
                    Ok(()) => {}
                    Err(e) => tracing::warn!("{}: {e}", self.name),
                }
            }
        }
        appeared
    }

    fn concerns(&self, path: &Path, ignores: &mut Gitignores) -> bool {
        self.filter.matches(path) && !(self.gitignore && ignores.ignored(path, &self.boundary))
    }
}

fn describe(path: &Path, e: notify::Error) -> String {
    match &e.kind {
        notify::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::PermissionDenied => format!("cannot watch {}: permission denied", path.display()),
        notify::ErrorKind::MaxFilesWatch => format!("cannot watch {}: too many watched directories (raise fs.inotify.max_user_watches)", path.display()),
        _ => format!("cannot watch {}: {e}", path.display()),
    }
}
