//! State: what standby last saw of an environment, as a versioned JSON file (`file`): a
//! local file or an S3 object, optionally kept in a replica bucket in another region
//! (`Backend`).
//!
//! Invariant: every write bumps `serial`, happens under the lock and is all-or-nothing:
//! locally atomic (temp file, fsync, rename, previous version kept as `.backup`, mode 0600),
//! remotely a conditional put on the version read (the bucket keeps earlier versions).
//! Only observed resources and roles go in: never a secret.

mod backend;
pub mod check;
pub mod edit;
pub mod file;
mod history;
mod journal;
mod lock;
mod outcome;
pub mod s3;
mod stage;
mod store;

pub use backend::{
    record as record_backend, record_lineage, recorded as recorded_backend, recorded_lineage,
    Backend, Failover, OpenOptions,
};
pub use history::{now_rfc3339 as history_now, who, HistoryEntry, Interruption, Operation, Step};
pub use journal::{Journal, JournalStage};
pub use lock::{refuse_running, LockHolder, StateLock};
pub use outcome::{RunOutcome, StepOutcome};
pub use s3::{Replica, S3Location};
pub use stage::Stage;
pub use store::StateStore;

use crate::address::Address;
use crate::config::Role;
use crate::provider::Observed;
use std::collections::BTreeMap;

/// What standby last saw of an environment. Not `Serialize`: `file` converts it to and
/// from the state file's versioned types.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    /// Bumped on every write; a saved plan remembers it.
    pub serial: u64,
    /// Fixed when the state is first written; tells two environments' states apart.
    pub lineage: String,
    /// The service the state belongs to; empty in states written before standby recorded it
    /// (filled in on their next write).
    pub service: String,
    pub environment: String,
    /// Region name to role: seeded from the spec, changed by promote and rebuild.
    pub roles: BTreeMap<String, Role>,
    /// Sorted by address.
    resources: Vec<Observed>,
    pub outputs: BTreeMap<String, serde_json::Value>,
    history: Vec<HistoryEntry>,
    /// The promote or rebuild under way or interrupted; absent when none is.
    pub journal: Option<Journal>,
}

impl State {
    pub fn new(environment: &str) -> Self {
        State {
            serial: 0,
            lineage: uuid::Uuid::new_v4().to_string(),
            service: String::new(),
            environment: environment.to_string(),
            roles: BTreeMap::new(),
            resources: Vec::new(),
            outputs: BTreeMap::new(),
            history: Vec::new(),
            journal: None,
        }
    }

    /// The roles to plan for: the state's, with those of an interrupted DR operation over
    /// them (the roles it leads to), so that no plan undoes half of it.
    pub fn planned_roles(&self) -> BTreeMap<String, Role> {
        let mut roles = self.roles.clone();
        if let Some(j) = &self.journal {
            roles.extend(j.roles.clone());
        }
        roles
    }

    /// Every resource, sorted by address.
    pub fn resources(&self) -> &[Observed] {
        &self.resources
    }

    /// What was done to the environment, oldest first.
    pub fn history(&self) -> &[HistoryEntry] {
        &self.history
    }

    /// Appends to the history: it is never rewritten.
    pub fn record(&mut self, entry: HistoryEntry) {
        self.history.push(entry);
    }

    pub fn get(&self, address: &Address) -> Option<&Observed> {
        self.resources
            .binary_search_by(|r| r.address.cmp(address))
            .ok()
            .map(|i| &self.resources[i])
    }

    /// Inserts or replaces the resource at its address, keeping the order.
    pub fn upsert(&mut self, resource: Observed) {
        match self
            .resources
            .binary_search_by(|r| r.address.cmp(&resource.address))
        {
            Ok(i) => self.resources[i] = resource,
            Err(i) => self.resources.insert(i, resource),
        }
    }

    pub fn remove(&mut self, address: &Address) -> Option<Observed> {
        self.resources
            .binary_search_by(|r| r.address.cmp(address))
            .ok()
            .map(|i| self.resources.remove(i))
    }

    /// Replaces all resources, sorting them by address.
    pub fn set_resources(&mut self, mut resources: Vec<Observed>) {
        resources.sort_by(|a, b| a.address.cmp(&b.address));
        resources.dedup_by(|a, b| a.address == b.address);
        self.resources = resources;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::Kind;

    fn obs(a: &str) -> Observed {
        Observed {
            address: Address::new(a),
            kind: Kind::Vpc,
            region: Some("us-east-1".into()),
            id: format!("id-{a}"),
            attrs: Default::default(),
            computed: Default::default(),
            depends_on: vec![],
        }
    }

    #[test]
    fn upsert_keeps_resources_sorted_and_unique() {
        let mut s = State::new("demo");
        s.upsert(obs("b"));
        s.upsert(obs("a"));
        s.upsert(obs("b"));
        assert_eq!(s.resources.len(), 2);
        assert_eq!(s.get(&"a".into()).unwrap().id, "id-a");
        assert!(s.remove(&"a".into()).is_some());
        assert!(s.get(&"a".into()).is_none());
    }
}
