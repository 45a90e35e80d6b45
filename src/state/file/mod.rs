//! The state file's formats: `v2` is written, `v1` (the release before) is read and
//! upgraded. `read` tells them apart by `format_version`; `write` writes version 2.
//!
//! Invariant: the domain types (`State`, its history, journal and stages) are not
//! `Serialize`: only the types here are, and the conversion between the two is explicit,
//! so a field renamed in the engine never silently changes the file.

mod v1;
pub mod v2;
mod words;

pub use words::{RoleWord, StepWord};

use crate::provider::Observed;
use crate::state::{HistoryEntry, Operation, State};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt::Display;

/// The version this build writes.
pub const VERSION: u32 = v2::VERSION;

/// Why bytes are not a state this build can use.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("is not valid: {0}")]
    Invalid(String),
    #[error("has format version {0}, newer than this standby understands ({VERSION})")]
    Newer(u64),
}

impl ReadError {
    /// The error for the state at `place`, with `repair` as the fix for a damaged one.
    pub fn at(self, place: impl Display, repair: &str) -> anyhow::Error {
        match self {
            ReadError::Newer(_) => anyhow::anyhow!("the state {place} {self}: upgrade standby"),
            ReadError::Invalid(_) => anyhow::anyhow!("the state {place} {self}; {repair}"),
        }
    }
}

#[derive(Deserialize)]
struct Version {
    format_version: Option<u64>,
}

/// Reads a state file of any version this build knows, upgrading an older one.
pub fn read(bytes: &[u8]) -> Result<State, ReadError> {
    let invalid = |e: &dyn Display| ReadError::Invalid(e.to_string());
    let version: Version = serde_json::from_slice(bytes).map_err(|e| invalid(&e))?;
    let state = match version.format_version {
        Some(n) if n == u64::from(v1::VERSION) => serde_json::from_slice::<v1::StateFileV1>(bytes)
            .map_err(|e| invalid(&e))?
            .upgrade(),
        Some(n) if n == u64::from(v2::VERSION) => serde_json::from_slice::<v2::StateFile>(bytes)
            .map_err(|e| invalid(&e))?
            .into_state(),
        Some(n) if n > u64::from(VERSION) => return Err(ReadError::Newer(n)),
        Some(n) => {
            return Err(invalid(&format!(
                "format version {n} is not one standby wrote"
            )))
        }
        None => return Err(invalid(&"it has no format_version")),
    };
    state.map_err(|e| invalid(&format!("{e:#}")))
}

/// The state as the version 2 file, pretty JSON.
pub fn write(state: &State) -> Vec<u8> {
    serde_json::to_vec_pretty(&v2::from_state(state)).expect("a state file serializes")
}

/// One resource as the state file holds it (`state show ADDRESS`).
pub fn resource_json(o: &Observed) -> serde_json::Value {
    serde_json::to_value(v2::resource(o)).expect("a resource serializes")
}

/// `serialize_with` for documents that show a history entry as the state file holds it
/// (`status --json`'s `last_promote` and `last_drill`).
pub fn serialize_entry<S: Serializer>(e: &Option<HistoryEntry>, s: S) -> Result<S::Ok, S::Error> {
    e.as_ref().map(v2::entry).serialize(s)
}

/// `serialize_with` for an operation in a document: its state file words.
pub fn serialize_operation<S: Serializer>(o: &Operation, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&words::operation(o))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::Address;
    use crate::config::Role;
    use crate::state::{Interruption, Journal, JournalStage, RunOutcome, Stage, Step, StepOutcome};
    use crate::topology::Kind;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn sample() -> State {
        let mut s = State::new("prod");
        s.serial = 7;
        s.service = "checkout".into();
        s.roles = BTreeMap::from([
            ("us-east-1".into(), Role::Failed),
            ("us-west-2".into(), Role::Primary),
        ]);
        s.outputs
            .insert("url".into(), json!("https://api.example.com"));
        for a in [
            "region.us-west-2.network.vpc",
            "region.us-east-1.network.vpc",
        ] {
            s.upsert(Observed {
                address: Address::new(a),
                kind: Kind::Vpc,
                region: Address::new(a).region().map(str::to_string),
                id: format!("vpc-{}", a.len()),
                attrs: json!({"cidr": "10.0.0.0/16"}).as_object().unwrap().clone(),
                computed: json!({"arn": "arn:aws:ec2:vpc"})
                    .as_object()
                    .unwrap()
                    .clone(),
                depends_on: vec![Address::new("dns.api.zone")],
            });
        }
        let region = || "us-west-2".to_string();
        let mut journal = Journal::new(
            Operation::Rebuild {
                region: region(),
                role: Role::WarmStandby,
            },
            "standby rebuild us-west-2",
            vec![JournalStage::new(
                Stage::BringUp {
                    region: region(),
                    role: Role::WarmStandby,
                },
                BTreeMap::from([(region(), Role::WarmStandby)]),
            )],
            BTreeMap::new(),
        );
        journal.steps.push(Step {
            name: "create x".into(),
            started_at: "t".into(),
            duration_ms: 3,
            outcome: StepOutcome::NotMade,
        });
        journal.interruptions.push(Interruption {
            at: "stage 1/1".into(),
            reason: "killed".into(),
            resumed_at: "t".into(),
        });
        journal.last_error = Some("boom".into());
        let mut entry = journal
            .clone()
            .into_entry(RunOutcome::Succeeded { not_made: 2 });
        entry.state_replica = Some("s3://b/k in us-west-2".into());
        s.record(entry);
        s.journal = Some(journal);
        s
    }

    #[test]
    fn version_2_reads_back_what_it_wrote() {
        let state = sample();
        let bytes = write(&state);
        let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(doc["format_version"], 2);
        assert_eq!(
            doc["history"][0]["outcome"],
            "succeeded, 2 changes not made"
        );
        assert_eq!(
            doc["journal"]["stages"][0]["name"],
            "bring us-west-2 up as warm-standby"
        );
        assert_eq!(doc["journal"]["steps"][0]["outcome"], "not made");
        assert_eq!(read(&bytes).unwrap(), state);
    }

    #[test]
    fn version_1_reads_with_its_defaults_and_free_step_words() {
        let v1 = json!({
            "format_version": 1, "serial": 2, "lineage": "l", "environment": "prod",
            "history": [{
                "operation": "drill us-west-2", "user": "u", "host": "h",
                "started_at": "t", "duration_ms": 1, "outcome": "met",
                "steps": [{"name": "gate", "started_at": "t", "duration_ms": 1, "outcome": "ok"}]
            }],
            "journal": {
                "operation": "promote us-west-2", "resume": "standby promote us-west-2",
                "user": "u", "host": "h", "started_at": "t", "duration_ms": 5,
                "stages": [
                    {"name": "fence us-east-1", "roles": {"us-east-1": "failed"}, "done": true},
                    {"name": "promote the database in us-west-2", "done": false}
                ],
                "roles": {"us-west-2": "primary"},
                "steps": [{"name": "rpo gate", "started_at": "t", "duration_ms": 1,
                           "outcome": "replica lag 0s in us-west-2 is within the rpo of 15m"}],
                "last_error": "PromoteReadReplica failed"
            }
        });
        let state = read(v1.to_string().as_bytes()).unwrap();
        assert_eq!(state.service, "");
        assert!(state.resources().is_empty());
        assert_eq!(state.history()[0].outcome, RunOutcome::Met);
        assert_eq!(state.history()[0].steps[0].outcome, StepOutcome::Done);
        let journal = state
            .journal
            .as_ref()
            .expect("the journal of the promote under way");
        assert_eq!(
            journal.stages[0].name,
            Stage::Fence {
                old_primary: Some("us-east-1".into())
            }
        );
        assert_eq!(journal.stages[0].roles["us-east-1"], Role::Failed);
        assert_eq!(journal.current_stage(), Some(1));
        assert_eq!(journal.steps[0].outcome, StepOutcome::Done);
        // Version 2 is closed: the same step word is refused there.
        let v2 = v1
            .to_string()
            .replace("\"format_version\":1", "\"format_version\":2");
        assert!(matches!(read(v2.as_bytes()), Err(ReadError::Invalid(_))));
    }

    #[test]
    fn a_newer_unknown_or_damaged_file_is_an_error_not_a_panic() {
        let newer = read(br#"{"format_version": 9, "anything": true}"#).unwrap_err();
        assert!(matches!(newer, ReadError::Newer(9)));
        assert_eq!(
            newer.at("state/prod.json", "restore it").to_string(),
            "the state state/prod.json has format version 9, newer than this standby understands (2): upgrade standby"
        );
        for bad in [
            &b"{\"format_version\": 2"[..],
            b"{}",
            b"{\"format_version\": 0}",
            b"\xff\xfe",
            b"{\"format_version\": 1, \"serial\": 1, \"lineage\": \"l\", \"environment\": \"e\", \"history\": [{\"operation\": \"juggle\", \"user\": \"u\", \"host\": \"h\", \"started_at\": \"t\", \"duration_ms\": 1, \"outcome\": \"met\"}]}",
        ] {
            let err = read(bad).unwrap_err();
            assert!(matches!(err, ReadError::Invalid(_)), "{err}");
            let shown = err.at("state/prod.json", "restore it").to_string();
            assert!(shown.starts_with("the state state/prod.json is not valid"), "{shown}");
            assert!(shown.ends_with("; restore it"), "{shown}");
        }
    }
}
