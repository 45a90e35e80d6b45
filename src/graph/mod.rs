//! Dependency graphs: of desired resources (for `standby graph`) and of a plan's steps
//! (for apply).
//!
//! Invariant: creates and updates run after what they depend on; deletes run after
//! everything that depended on them was deleted; a replacement deletes before it creates.

use crate::address::Address;
use crate::plan::Action;
use crate::topology::Desired;
use anyhow::{bail, Result};
use petgraph::graph::{DiGraph, NodeIndex};
use std::collections::BTreeMap;

/// What one node of the apply graph does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Deletes the current resource (a delete, or the first half of a replacement).
    Delete,
    /// Creates or updates the desired resource.
    Converge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepNode {
    /// Index into the plan's actions.
    pub action: usize,
    pub phase: Phase,
}

/// The steps of a plan with an edge from each step to the steps that must wait for it.
pub fn apply_graph(
    actions: &[Action],
    stages: &BTreeMap<Address, u32>,
) -> Result<DiGraph<StepNode, ()>> {
    let mut g = DiGraph::new();
    let mut converge: BTreeMap<&Address, NodeIndex> = BTreeMap::new();
    let mut delete: BTreeMap<&Address, NodeIndex> = BTreeMap::new();
    for (i, a) in actions.iter().enumerate() {
        let addr = a.address();
        match a {
            Action::Create { .. } | Action::Update { .. } => {
                converge.insert(
                    addr,
                    g.add_node(StepNode {
                        action: i,
                        phase: Phase::Converge,
                    }),
                );
            }
            Action::Delete { .. } => {
                delete.insert(
                    addr,
                    g.add_node(StepNode {
                        action: i,
                        phase: Phase::Delete,
                    }),
                );
            }
            Action::Replace { .. } => {
                let d = g.add_node(StepNode {
                    action: i,
                    phase: Phase::Delete,
                });
                let c = g.add_node(StepNode {
                    action: i,
                    phase: Phase::Converge,
                });
                g.add_edge(d, c, ());
                delete.insert(addr, d);
                converge.insert(addr, c);
            }
        }
    }
    for a in actions {
        let addr = a.address();
        if let Some(&node) = converge.get(addr) {
            let desired = match a {
                Action::Create { desired }
                | Action::Update { desired, .. }
                | Action::Replace { desired, .. } => desired,
                Action::Delete { .. } => unreachable!("deletes have no converge step"),
            };
            for dep in desired.dependencies() {
                if let Some(&before) = converge.get(dep) {
                    g.add_edge(before, node, ());
                }
            }
        }
        if let Some(&node) = delete.get(addr) {
            let current = match a {
                Action::Delete { current, .. }
                | Action::Replace { current, .. }
                | Action::Update { current, .. } => current,
                Action::Create { .. } => unreachable!("creates have no delete step"),
            };
            // What this resource depended on is deleted only after it is gone.
            for dep in &current.depends_on {
                if let Some(&after) = delete.get(dep) {
                    g.add_edge(node, after, ());
                }
            }
        }
    }
    if !stages.is_empty() {
        // Every step of a stage waits for every step of the stage before it.
        let mut by_stage: BTreeMap<u32, Vec<NodeIndex>> = BTreeMap::new();
        for n in g.node_indices() {
            let stage = stages
                .get(actions[g[n].action].address())
                .copied()
                .unwrap_or(0);
            by_stage.entry(stage).or_default().push(n);
        }
        let levels: Vec<&Vec<NodeIndex>> = by_stage.values().collect();
        for pair in levels.windows(2) {
            for &a in pair[0] {
                for &b in pair[1] {
                    g.add_edge(a, b, ());
                }
            }
        }
    }
    if petgraph::algo::is_cyclic_directed(&g) {
        bail!("the plan's dependencies form a cycle");
    }
    Ok(g)
}

/// The desired resources as a DOT graph, an edge from each resource to what it needs.
pub fn to_dot(desired: &[Desired]) -> Result<String> {
    let mut g: DiGraph<String, String> = DiGraph::new();
    let nodes: BTreeMap<&Address, NodeIndex> = desired
        .iter()
        .map(|d| (&d.address, g.add_node(d.address.to_string())))
        .collect();
    for d in desired {
        for (label, dep) in d
            .refs
            .iter()
            .map(|(k, v)| (k.as_str(), v))
            .chain(d.depends_on.iter().map(|v| ("", v)))
        {
            if let Some(&to) = nodes.get(dep) {
                g.add_edge(nodes[&d.address], to, label.to_string());
            }
        }
    }
    if let Err(cycle) = petgraph::algo::toposort(&g, None) {
        bail!("dependency cycle through {}", g[cycle.node_id()]);
    }
    Ok(format!("{}", petgraph::dot::Dot::new(&g)))
}
