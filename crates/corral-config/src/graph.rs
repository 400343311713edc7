//! The dependency graph: which process waits for which, start and stop order,
//! and the closure of a selection (`corral up api` runs api and what it needs).
//!
//! Processes are numbered in name order (the order of `Config::processes`), so
//! indices are stable and deterministic across runs.
//!
//! Every algorithm here is iterative (explicit stacks and queues, no recursion):
//! a valid config may hold a dependency chain as long as the size limit admits
//! (hundreds of thousands of links), and recursion that deep overflows the stack.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::diagnostic::Diagnostic;
use crate::model::{Condition, Config};

/// Edges point from a process to the processes it depends on.
#[derive(Debug, Clone)]
pub struct DepGraph {
    names: Vec<String>,
    index: BTreeMap<String, usize>,
    deps: Vec<Vec<(usize, Condition)>>,
    dependents: Vec<Vec<usize>>,
}

impl DepGraph {
    /// Builds the graph, or reports every unknown dependency and every cycle.
    pub fn build(config: &Config) -> Result<DepGraph, Vec<Diagnostic>> {
        let names: Vec<String> = config.processes.keys().cloned().collect();
        let index: BTreeMap<String, usize> = names.iter().enumerate().map(|(i, n)| (n.clone(), i)).collect();
        let mut errors = Vec::new();
        let mut deps = vec![Vec::new(); names.len()];
        let mut dependents = vec![Vec::new(); names.len()];
        for (i, (name, p)) in config.processes.iter().enumerate() {
            for (dep, d) in &p.depends_on {
                match index.get(dep) {
                    Some(&j) => {
                        deps[i].push((j, d.condition));
                        dependents[j].push(i);
                    }
                    None => errors.push(Diagnostic::error(
                        format!("processes.{name}.depends_on.{dep}"),
                        format!("unknown process {dep:?}{}", suggestion(dep, &names)),
                    )),
                }
            }
        }
        let graph = DepGraph { names, index, deps, dependents };
        errors.extend(graph.cycles());
        if errors.is_empty() {
            Ok(graph)
        } else {
            Err(errors)
        }
    }

    /// One error per cycle, naming every process in it in dependency order.
    fn cycles(&self) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for scc in self.strongly_connected() {
            let members: BTreeSet<usize> = scc.into_iter().collect();
            let first = *members.iter().next().unwrap();
            let self_loop = self.deps[first].iter().any(|&(j, _)| j == first);
            if members.len() < 2 && !self_loop {
                continue;
            }
            let cycle = self.walk_cycle(first, &members);
            // A cycle through thousands of processes is named by its start and its length.
            const SHOWN: usize = 20;
            let mut shown: Vec<&str> = cycle.iter().take(SHOWN).map(|&i| self.names[i].as_str()).collect();
            if cycle.len() > SHOWN + 1 {
                shown.truncate(SHOWN - 1);
                shown.push("…");
                shown.push(self.names[first].as_str());
            }
            let length = if cycle.len() > SHOWN + 1 { format!(" ({} processes)", cycle.len() - 1) } else { String::new() };
            out.push(Diagnostic::error(
                format!("processes.{}.depends_on", self.names[first]),
                format!("dependency cycle{length}: {}", shown.join(" -> ")),
            ));
        }
        out
    }

    /// Follows dependency edges inside one strongly connected component from
    /// `start` until it comes back, visiting every member once where possible.
    fn walk_cycle(&self, start: usize, members: &BTreeSet<usize>) -> Vec<usize> {
        let mut path = vec![start];
        let mut seen = BTreeSet::from([start]);
        let mut at = start;
        loop {
            let next_new = self.deps[at].iter().map(|&(j, _)| j).find(|j| members.contains(j) && !seen.contains(j));
            match next_new {
                Some(j) => {
                    path.push(j);
                    seen.insert(j);
                    at = j;
                }
                None => {
                    // Close the loop; the SCC guarantees a way back to `start`.
                    path.push(start);
                    return path;
                }
            }
        }
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
    pub fn name(&self, i: usize) -> &str {
        &self.names[i]
    }
    pub fn names(&self) -> &[String] {
        &self.names
    }
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }
    /// The processes `i` depends on, with the condition for each.
    pub fn dependencies(&self, i: usize) -> &[(usize, Condition)] {
        &self.deps[i]
    }
    /// The processes that depend on `i`.
    pub fn dependents(&self, i: usize) -> &[usize] {
        &self.dependents[i]
    }

    /// `roots` and everything they depend on, transitively.
    pub fn closure(&self, roots: &[usize]) -> BTreeSet<usize> {
        let mut out = BTreeSet::new();
        let mut stack: Vec<usize> = roots.to_vec();
        while let Some(i) = stack.pop() {
            if out.insert(i) {
                stack.extend(self.deps[i].iter().map(|&(j, _)| j));
            }
        }
        out
    }

    /// Dependencies before dependents (the graph is acyclic once built):
    /// Kahn's algorithm, taking ready processes in index (name) order.
    pub fn start_order(&self) -> Vec<usize> {
        let mut waiting: Vec<usize> = self.deps.iter().map(Vec::len).collect();
        let mut ready: VecDeque<usize> = (0..self.len()).filter(|&i| waiting[i] == 0).collect();
        let mut order = Vec::with_capacity(self.len());
        while let Some(i) = ready.pop_front() {
            order.push(i);
            for &d in &self.dependents[i] {
                waiting[d] -= 1;
                if waiting[d] == 0 {
                    ready.push_back(d);
                }
            }
        }
        assert_eq!(order.len(), self.len(), "DepGraph::build rejects cycles");
        order
    }

    /// The strongly connected components (Tarjan's algorithm with an explicit
    /// stack of (node, next edge) frames instead of recursion).
    fn strongly_connected(&self) -> Vec<Vec<usize>> {
        const UNSEEN: usize = usize::MAX;
        let n = self.len();
        let mut index = vec![UNSEEN; n];
        let mut low = vec![0; n];
        let mut on_stack = vec![false; n];
        let mut stack = Vec::new();
        let mut next = 0;
        let mut out = Vec::new();
        for root in 0..n {
            if index[root] != UNSEEN {
                continue;
            }
            let mut frames = vec![(root, 0usize)];
            index[root] = next;
            low[root] = next;
            next += 1;
            stack.push(root);
            on_stack[root] = true;
            while let Some(&mut (v, ref mut edge)) = frames.last_mut() {
                if let Some(&(w, _)) = self.deps[v].get(*edge) {
                    *edge += 1;
                    if index[w] == UNSEEN {
                        index[w] = next;
                        low[w] = next;
                        next += 1;
                        stack.push(w);
                        on_stack[w] = true;
                        frames.push((w, 0));
                    } else if on_stack[w] {
                        low[v] = low[v].min(index[w]);
                    }
                    continue;
                }
                frames.pop();
                if let Some(&(parent, _)) = frames.last() {
                    low[parent] = low[parent].min(low[v]);
                }
                if low[v] == index[v] {
                    let mut scc = Vec::new();
                    loop {
                        let w = stack.pop().expect("v is on the stack");
                        on_stack[w] = false;
                        scc.push(w);
                        if w == v {
                            break;
                        }
                    }
                    out.push(scc);
                }
            }
        }
        out
    }
}

/// ", did you mean \"db\"?" when a known name is close to the unknown one.
fn suggestion(unknown: &str, names: &[String]) -> String {
    names
        .iter()
        .map(|n| (edit_distance(unknown, n), n))
        .filter(|(d, n)| *d <= 2.max(n.len() / 4))
        .min()
        .map(|(_, n)| format!(", did you mean {n:?}?"))
        .unwrap_or_default()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push((prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> Config {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn start_order_puts_dependencies_first() {
        let c = config(r#"{"processes": {
            "api": {"command": "x", "depends_on": {"db": {}, "migrate": {}}},
            "migrate": {"command": "x", "depends_on": {"db": {"condition": "process_started"}}},
            "db": {"command": "x"}, "lone": {"command": "x"}}}"#);
        let g = DepGraph::build(&c).unwrap();
        let order: Vec<&str> = g.start_order().into_iter().map(|i| g.name(i)).collect();
        let pos = |n| order.iter().position(|x| *x == n).unwrap();
        assert!(pos("db") < pos("migrate") && pos("migrate") < pos("api"));
        assert_eq!(order.len(), 4);
        let api = g.index_of("api").unwrap();
        let names: Vec<&str> = g.closure(&[api]).into_iter().map(|i| g.name(i)).collect();
        assert_eq!(names, ["api", "db", "migrate"]);
        assert_eq!(g.dependents(g.index_of("db").unwrap()).len(), 2);
    }

    #[test]
    fn every_cycle_member_is_named() {
        let c = config(r#"{"processes": {
            "a": {"command": "x", "depends_on": {"b": {}}},
            "b": {"command": "x", "depends_on": {"c": {}}},
            "c": {"command": "x", "depends_on": {"a": {}}},
            "s": {"command": "x", "depends_on": {"s": {}}}}}"#);
        let errs = DepGraph::build(&c).unwrap_err();
        let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert!(text.iter().any(|t| t.contains("dependency cycle: a -> b -> c -> a")), "{text:?}");
        assert!(text.iter().any(|t| t.contains("dependency cycle: s -> s")), "{text:?}");
    }

    /// A config of `n` processes where each depends on the next; `close` makes the last depend on the first.
    fn chain(n: usize, close: bool) -> Config {
        let mut processes = serde_json::Map::new();
        for i in 0..n {
            let mut p = serde_json::json!({"command": "x"});
            if i + 1 < n || close {
                p["depends_on"] = serde_json::json!({ format!("p{:06}", (i + 1) % n): {} });
            }
            processes.insert(format!("p{i:06}"), p);
        }
        serde_json::from_value(serde_json::json!({ "processes": processes })).unwrap()
    }

    #[test]
    fn a_chain_of_200_000_processes_needs_no_deep_stack() {
        // Run on a small stack: any recursion per link would overflow it.
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                let g = DepGraph::build(&chain(200_000, false)).unwrap();
                let order = g.start_order();
                assert_eq!(order.first().map(|&i| g.name(i)), Some("p199999"));
                assert_eq!(order.last().map(|&i| g.name(i)), Some("p000000"));
                assert_eq!(g.closure(&[0]).len(), 200_000);
                let errs = DepGraph::build(&chain(200_000, true)).unwrap_err();
                assert_eq!(errs.len(), 1);
                assert!(errs[0].message.starts_with("dependency cycle (200000 processes): p000000 -> p000001 -> p000002"), "{}", errs[0].message);
                assert!(errs[0].message.ends_with("p000018 -> … -> p000000"), "{}", errs[0].message);
            })
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn unknown_dependency_suggests_a_name() {
        let c = config(r#"{"processes": {"api": {"command": "x", "depends_on": {"dbb": {}}}, "db": {"command": "x"}}}"#);
        let errs = DepGraph::build(&c).unwrap_err();
        assert_eq!(errs[0].path, "processes.api.depends_on.dbb");
        assert!(errs[0].message.contains("unknown process \"dbb\", did you mean \"db\"?"), "{}", errs[0]);
    }
}
