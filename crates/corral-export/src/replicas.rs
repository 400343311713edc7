//! Replicated processes for targets that scale a workload themselves (Kubernetes).
//!
//! The loader expands `replicas: N` into processes `NAME-0` … `NAME-(N-1)`, each
//! marked with the name it was written with ([`Process::replica_of`]), and makes a
//! dependency on `NAME` a dependency on every copy. [`collapse`] undoes that for
//! the export: one process `NAME` (replica 0's spec, without its
//! `PC_REPLICA_NUM`) and its count, so the target gets one workload of N, not N
//! workloads of one.

use std::collections::BTreeMap;

use corral_config::{Config, Process};

use crate::warnings::Warnings;

/// The variable process-compose gives each replica: its index.
pub(crate) const REPLICA_NUM: &str = "PC_REPLICA_NUM";

/// `config` with each replicated process as one, and the replica counts by name.
pub(crate) fn collapse(config: &Config, warnings: &mut Warnings) -> (Config, BTreeMap<String, usize>) {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for p in config.processes.values() {
        if let Some(base) = &p.replica_of {
            *counts.entry(base.clone()).or_default() += 1;
        }
    }
    if counts.is_empty() {
        return (config.clone(), counts);
    }
    let mut out = config.clone();
    out.processes.clear();
    // Copies in name order: replica 0 first (names are zero-padded).
    for (name, p) in &config.processes {
        match &p.replica_of {
            None => {
                out.processes.insert(name.clone(), p.clone());
            }
            Some(base) => match out.processes.get(base) {
                None => {
                    out.processes.insert(base.clone(), workload(p));
                }
                Some(first) => {
                    if !same_spec(first, &workload(p)) {
                        warnings.process(base, "replicas", "the replicas differ (a {{.PC_REPLICA_NUM}} template in a command, port or path?): every pod runs replica 0's spec");
                    }
                }
            },
        }
    }
    // A dependency on each copy becomes one dependency on the workload.
    let base_of: BTreeMap<&str, &str> = config.processes.iter().filter_map(|(n, p)| Some((n.as_str(), p.replica_of.as_deref()?))).collect();
    for p in out.processes.values_mut() {
        let deps = std::mem::take(&mut p.depends_on);
        for (dep, d) in deps {
            let target = base_of.get(dep.as_str()).map_or(dep.clone(), |b| b.to_string());
            p.depends_on.entry(target).or_insert(d);
        }
    }
    (out, counts)
}

/// A copy as the workload: no replica marker, no per-copy index.
fn workload(p: &Process) -> Process {
    let mut w = p.clone();
    w.replica_of = None;
    w.environment.0.retain(|(k, _)| k != REPLICA_NUM);
    w
}

fn same_spec(a: &Process, b: &Process) -> bool {
    serde_json::to_value(a).ok() == serde_json::to_value(b).ok()
}
