//! The dependency graph: which process waits for which, start and stop order,
//! and the closure of a selection (`corral up api` runs api and what it needs).
//!
//! Processes are numbered in name order (the order of `Config::processes`), so
//! indices are stable and deterministic across runs.

use std::collections::{BTreeMap, BTreeSet};

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

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

    fn petgraph(&self) -> DiGraph<usize, ()> {
        let mut g = DiGraph::new();
        let nodes: Vec<NodeIndex> = (0..self.names.len()).map(|i| g.add_node(i)).collect();
        for (i, ds) in self.deps.iter().enumerate() {
            for &(j, _) in ds {
                g.add_edge(nodes[i], nodes[j], ());
            }
        }
        g
    }

    /// One error per cycle, naming every process in it in dependency order.
    fn cycles(&self) -> Vec<Diagnostic> {
        let g = self.petgraph();
        let mut out = Vec::new();
        for scc in tarjan_scc(&g) {
            let members: BTreeSet<usize> = scc.iter().map(|n| g[*n]).collect();
            let first = *members.iter().next().unwrap();
            let self_loop = self.deps[first].iter().any(|&(j, _)| j == first);
            if members.len() < 2 && !self_loop {
                continue;
            }
            let cycle = self.walk_cycle(first, &members);
            let shown: Vec<&str> = cycle.iter().map(|&i| self.names[i].as_str()).collect();
            out.push(Diagnostic::error(
                format!("processes.{}.depends_on", self.names[first]),
                format!("dependency cycle: {}", shown.join(" -> ")),
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

    /// Dependencies before dependents (the graph is acyclic once built).
    pub fn start_order(&self) -> Vec<usize> {
        let g = self.petgraph();
        let mut order: Vec<usize> = petgraph::algo::toposort(&g, None)
            .expect("DepGraph::build rejects cycles")
            .into_iter()
            .map(|n| g[n])
            .collect();
        order.reverse();
        order
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

    #[test]
    fn unknown_dependency_suggests_a_name() {
        let c = config(r#"{"processes": {"api": {"command": "x", "depends_on": {"dbb": {}}}, "db": {"command": "x"}}}"#);
        let errs = DepGraph::build(&c).unwrap_err();
        assert_eq!(errs[0].path, "processes.api.depends_on.dbb");
        assert!(errs[0].message.contains("unknown process \"dbb\", did you mean \"db\"?"), "{}", errs[0]);
    }
}
