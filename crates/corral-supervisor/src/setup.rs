//! Setting up what processes asked for before the first one starts: allocated
//! ports (exported to every process and probe), bound listening sockets, and
//! sd_notify sockets in a private runtime directory. Any failure stops the run
//! before anything starts.

use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;

use crate::activation::{listeners, ports};
use crate::actor::Resources;
use crate::env::Env;
use crate::notify::NotifySocket;
use crate::plan::Plan;

pub(crate) struct Prepared {
    /// The ports allocated for this run (the plan names them; these are their numbers).
    pub(crate) ports: Vec<ports::Allocation>,
    /// Per process, in plan order.
    pub(crate) resources: Vec<Resources>,
    /// Holds the notify sockets; removed at the end of the run.
    pub(crate) runtime_dir: Option<PathBuf>,
}

pub(crate) fn prepare(plan: &Plan, shared: &mut Env) -> Result<Prepared, String> {
    let allocations = ports::allocate(plan)?;
    if !allocations.is_empty() {
        let shown: Vec<String> = allocations.iter().map(|a| format!("{}={}", a.var, a.port)).collect();
        tracing::info!("ports: {}", shown.join(" "));
    }
    for a in &allocations {
        shared.set(&a.var, a.port.to_string());
    }

    let runtime_dir = if plan.needs_notify() { Some(runtime_dir()?) } else { None };
    let mut resources = Vec::new();
    for (i, p) in plan.processes.iter().enumerate() {
        let notify = match &runtime_dir {
            Some(dir) if p.ready_notify || p.watchdog.is_some() => Some(
                NotifySocket::bind(&dir.join(format!("{i}.sock"))).map_err(|e| format!("processes.{}: cannot create its notify socket: {e}", p.name))?,
            ),
            _ => None,
        };
        resources.push(Resources { notify, listeners: listeners::bind_all(p)?, ..Default::default() });
    }
    Ok(Prepared { ports: allocations, resources, runtime_dir })
}

/// A private directory (0700) with a short path for this run's sockets:
/// `$XDG_RUNTIME_DIR/corral-<pid>`, else `/tmp/corral-<uid>-<pid>`. Short,
/// because a socket path holds at most 107 bytes.
fn runtime_dir() -> Result<PathBuf, String> {
    let pid = std::process::id();
    let dir = match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(base) => PathBuf::from(base).join(format!("corral-{pid}")),
        None => PathBuf::from(format!("/tmp/corral-{}-{pid}", nix::unistd::getuid())),
    };
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::DirBuilder::new().mode(0o700).create(&dir).map_err(|e| format!("cannot create the runtime directory {}: {e}", dir.display()))?;
    Ok(dir)
}
