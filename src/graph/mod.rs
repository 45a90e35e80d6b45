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
    /// The DR stage it runs in (0 without stages): the plan's, or an earlier one when a step
    /// of that earlier stage needs it.
    pub stage: u32,
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
                        stage: 0,
                    }),
                );
            }
            Action::Delete { .. } => {
                delete.insert(
                    addr,
                    g.add_node(StepNode {
                        action: i,
                        phase: Phase::Delete,
                        stage: 0,
                    }),
                );
            }
            Action::Replace { .. } => {
                let d = g.add_node(StepNode {
                    action: i,
                    phase: Phase::Delete,
                    stage: 0,
                });
                let c = g.add_node(StepNode {
                    action: i,
                    phase: Phase::Converge,
                    stage: 0,
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
        add_stage_barriers(&mut g, actions, stages)?;
    }
    if petgraph::algo::is_cyclic_directed(&g) {
        bail!("the plan's dependencies form a cycle");
    }
    Ok(g)
}

/// Every step of a stage waits for every step of the stages before it. A step that an
/// earlier stage's step depends on (a database promoted in stage 1 whose subnet group is
/// only created in stage 2, after an apply that stopped part-way) moves to that earlier
/// stage, so that the barriers never point against a dependency.
fn add_stage_barriers(
    g: &mut DiGraph<StepNode, ()>,
    actions: &[Action],
    stages: &BTreeMap<Address, u32>,
) -> Result<()> {
    let order = match petgraph::algo::toposort(&*g, None) {
        Ok(order) => order,
        Err(_) => bail!("the plan's dependencies form a cycle"),
    };
    for &n in &order {
        g[n].stage = stages
            .get(actions[g[n].action].address())
            .copied()
            .unwrap_or(0);
    }
    // Successors first, so that a lowered stage propagates to the steps before it.
    for &n in order.iter().rev() {
        let earliest_successor = g
            .neighbors_directed(n, petgraph::Direction::Outgoing)
            .map(|m| g[m].stage)
            .min();
        if let Some(s) = earliest_successor {
            g[n].stage = g[n].stage.min(s);
        }
    }
    let mut by_stage: BTreeMap<u32, Vec<NodeIndex>> = BTreeMap::new();
    for n in g.node_indices() {
        by_stage.entry(g[n].stage).or_default().push(n);
    }
    let levels: Vec<Vec<NodeIndex>> = by_stage.into_values().collect();
    for pair in levels.windows(2) {
        for &a in &pair[0] {
            for &b in &pair[1] {
                g.add_edge(a, b, ());
            }
        }
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::Kind;

    fn create(address: &str, kind: Kind, needs: &[&str]) -> Action {
        Action::Create {
            desired: Desired {
                address: Address::new(address),
                kind,
                region: Some("us-west-2".into()),
                name: address.into(),
                attrs: Default::default(),
                tags: Default::default(),
                refs: needs
                    .iter()
                    .map(|n| (n.to_string(), Address::new(*n)))
                    .collect(),
                depends_on: vec![],
                bindings: Default::default(),
                prevent_destroy: false,
            },
        }
    }

    #[test]
    fn a_step_an_earlier_stage_needs_moves_to_that_stage_instead_of_a_cycle() {
        // A promote after an apply that stopped part-way: the database (stage 1) needs a
        // subnet group that only stage 2 would create.
        let actions = vec![
            create("db", Kind::Database, &["group"]),
            create("group", Kind::DbSubnetGroup, &["vpc"]),
            create("vpc", Kind::Vpc, &[]),
            create("instance", Kind::Instance, &["vpc"]),
            create("record", Kind::Record, &["instance"]),
        ];
        let stages = BTreeMap::from([
            (Address::new("db"), 1),
            (Address::new("group"), 2),
            (Address::new("vpc"), 2),
            (Address::new("instance"), 2),
            (Address::new("record"), 3),
        ]);
        let g = apply_graph(&actions, &stages).expect("no cycle");
        let stage_of = |a: &str| {
            g.node_weights()
                .find(|n| actions[n.action].address().as_str() == a)
                .unwrap()
                .stage
        };
        assert_eq!(stage_of("group"), 1);
        assert_eq!(stage_of("vpc"), 1);
        assert_eq!(stage_of("instance"), 2, "what nothing earlier needs stays");
        assert_eq!(stage_of("record"), 3);
        let order = petgraph::algo::toposort(&g, None).unwrap();
        let position = |a: &str| {
            order
                .iter()
                .position(|n| actions[g[*n].action].address().as_str() == a)
                .unwrap()
        };
        assert!(position("vpc") < position("group") && position("group") < position("db"));
        assert!(
            position("db") < position("instance"),
            "stage 1 before stage 2"
        );
    }
}
