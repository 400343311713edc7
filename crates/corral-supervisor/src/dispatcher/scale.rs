//! The decision on `scale NAME N`: how many copies of a process run.
//!
//! The set of NAME is the process NAME itself (an unreplicated process counts
//! as replica 0) or its replicas `NAME-0` … as the loader expanded them.
//! Scaling up adds replicas `NAME-k` with the next numbers, each a copy of
//! the lowest-numbered one with its own name, `PC_REPLICA_NUM` and (allocated
//! by the shell) ports, the same dependencies, and every process that waits
//! for NAME now waiting for it too; a replica removed earlier with that number
//! is started again instead. Scaling down stops the highest-numbered replicas
//! (the usual stop: signal or `shutdown.command`, SIGKILL at the timeout),
//! takes them out of `ps` and of their dependents' conditions.
//!
//! Bounds as at load, and as process-compose: 1 to 1000 (process-compose's
//! `ScaleProcess` refuses 0 too; `stop NAME` is how a set stops). A replica
//! added at run time is not a new rendering of the file: templates were
//! rendered at load (`{{.PC_REPLICA_NUM}}` in a command stays replica 0's
//! value, so commands should read `$PC_REPLICA_NUM`), and a process with
//! `listen`, `ready_notify` or a `watchdog` cannot be scaled at run time
//! (its sockets are made before the first start).

use std::sync::Arc;
use std::time::Instant;

use corral_protocol::{ErrorBody, ErrorCode, Reply, Response};

use super::core::{Action, Core};
use super::record::{NewActor, ProcessRecord};
use crate::plan::Replica;
use crate::state::Input;

fn error(code: ErrorCode, message: String) -> Reply {
    Err(ErrorBody { code, message })
}

impl<H: NewActor> Core<H> {
    /// The live (not retired) members of `name`'s set, by replica number.
    pub(crate) fn replica_set(&self, name: &str) -> Vec<usize> {
        let mut set: Vec<(u32, usize)> = self
            .records
            .iter()
            .enumerate()
            .filter(|(_, r)| !r.retired)
            .filter_map(|(i, r)| match &r.spec.replica {
                Some(rep) if rep.of == name => Some((rep.num, i)),
                None if r.name() == name => Some((0, i)),
                _ => None,
            })
            .collect();
        set.sort_unstable();
        set.into_iter().map(|(_, i)| i).collect()
    }

    pub(super) fn scale(&mut self, name: &str, n: u32, now: Instant, out: &mut Vec<Action>) -> Reply {
        if self.stopping() {
            return error(ErrorCode::Failed, "the run is stopping".into());
        }
        let max = corral_config::MAX_REPLICAS;
        if n == 0 || u64::from(n) > max {
            return error(ErrorCode::BadRequest, format!("expected a number of replicas from 1 to {max}, got {n} (use `corral stop {name}` to stop them all)"));
        }
        let members = self.replica_set(name);
        let Some(&first) = members.first() else {
            if let Some(r) = self.records.iter().find(|r| r.name() == name && !r.retired) {
                if let Some(rep) = &r.spec.replica {
                    return error(ErrorCode::BadRequest, format!("{name} is replica {} of {}: scale {}", rep.num, rep.of, rep.of));
                }
            }
            let known: Vec<&str> = self.records.iter().filter(|r| !r.retired).map(|r| r.name()).collect();
            return error(ErrorCode::UnknownProcess, format!("unknown process {name:?} (known: {})", known.join(", ")));
        };
        let spec = &self.records[first].spec;
        let why_not = if !spec.listeners.is_empty() {
            Some("listen")
        } else if spec.ready_notify {
            Some("ready_notify")
        } else if spec.watchdog.is_some() {
            Some("watchdog")
        } else {
            None
        };
        let current = members.len();
        if let (Some(key), true) = (why_not, n as usize > current) {
            return error(ErrorCode::Failed, format!("{name} has {key}, whose sockets are made before the run: it cannot gain replicas at run time"));
        }
        if (n as usize) < current {
            let gone = &members[n as usize..];
            let names: Vec<&str> = gone.iter().map(|&i| self.records[i].name()).collect();
            tracing::info!("{name}: scaling down to {n}: stopping {}", names.join(", "));
            for &i in gone {
                self.records[i].retired = true;
                self.records[i].machine.request_stop(true, false);
            }
        } else if n as usize > current {
            tracing::info!("{name}: scaling up to {n}");
            for num in current as u32..n {
                self.add_replica(name, first, num, now, out)?;
            }
        }
        let names = self.replica_set(name).into_iter().map(|i| self.name(i).to_string()).collect();
        Ok(Response::Scaled { replicas: names })
    }

    /// Replica `num` of `name`: a retired record brought back, or a new one made from `template`.
    fn add_replica(&mut self, name: &str, template: usize, num: u32, now: Instant, out: &mut Vec<Action>) -> Result<(), ErrorBody> {
        let retired = self.records.iter().position(|r| r.retired && r.spec.replica.as_ref().is_some_and(|rep| rep.of == name && rep.num == num));
        if let Some(i) = retired {
            let r = &mut self.records[i];
            r.retired = false;
            if r.state().is_terminal() {
                r.machine.release();
                self.apply(i, Input::Start, now, out);
            } else {
                // Still stopping: start again once stopped.
                r.machine.request_stop(true, true);
            }
            return Ok(());
        }
        let new_name = format!("{name}-{num}");
        if self.records.iter().any(|r| r.name() == new_name) {
            return Err(ErrorBody { code: ErrorCode::Failed, message: format!("cannot add replica {new_name}: another process has that name") });
        }
        let mut spec = (*self.records[template].spec).clone();
        spec.name = new_name;
        spec.replica = Some(Replica { of: name.to_string(), num });
        set_var(&mut spec.environment, "PC_PROC_NAME", name);
        set_var(&mut spec.environment, "PC_REPLICA_NUM", &num.to_string());
        let log_file = spec.log_file.as_ref().map(|f| replica_log(f, &self.records[template].spec.name, &spec.name));
        spec.log_file = log_file;
        let i = self.records.len();
        for &(d, _) in &spec.dependencies {
            Arc::make_mut(&mut self.records[d].spec).dependents.push(i);
        }
        for &d in &spec.dependents {
            let dep = Arc::make_mut(&mut self.records[d].spec);
            if let Some(&(_, cond)) = dep.dependencies.iter().find(|(t, _)| *t == template) {
                dep.dependencies.push((i, cond));
            }
        }
        self.records.push(ProcessRecord::new(Arc::new(spec), H::unstarted()));
        out.push(Action::AddActor { index: i, template });
        self.apply(i, Input::Activate, now, out);
        Ok(())
    }
}

fn set_var(env: &mut Vec<(String, String)>, name: &str, value: &str) {
    env.retain(|(k, _)| k != name);
    env.push((name.to_string(), value.to_string()));
}

/// The log file of a new replica: the template's, with the template's name
/// replaced by the replica's where it appears in the file name, else with
/// `-<name>` added before the extension.
fn replica_log(file: &std::path::Path, template: &str, name: &str) -> std::path::PathBuf {
    let base = file.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    let renamed = if base.contains(template) {
        base.replacen(template, name, 1)
    } else {
        match base.rsplit_once('.') {
            Some((stem, ext)) if !stem.is_empty() => format!("{stem}-{name}.{ext}"),
            _ => format!("{base}-{name}"),
        }
    };
    file.with_file_name(renamed)
}
