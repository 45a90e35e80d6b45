//! The state's replica (`replica { bucket, region }` in the backend block): every write lands
//! in the backend's bucket, then in the replica's, under the same key, serial and lineage, so
//! that a promote or rebuild can read, lock and write the state while the backend's region
//! is down; the next command that locks both reconciles them.
//!
//! Dual-write, not S3 Cross-Region Replication: CRR copies asynchronously (most objects
//! within 15 minutes, a bound only with paid Replication Time Control, per the S3 User
//! Guide's "Replicating objects"), so the replica could lag the state exactly when the region
//! goes down, and nothing would tell; and it replicates one way, so what a promote wrote to
//! the replica would never come back. Writing both under both locks makes the replica exactly
//! as current as the state, checkable (serial, lineage) and reconcilable both ways.
//!
//! Invariant: both copies are locked by one holder (one lock id) before either is read; a
//! run that lost the backend's region holds only the replica's lock, and every normal run
//! takes the replica's lock too, so the two never write at once. A pair where neither
//! extends the other is never reconciled by guessing: it is refused until `state push`.

use super::object::ObjectStore;
use super::{brief_client, client, is_unreachable, read, S3Location};
use crate::state::backend::{Failover, OpenOptions};
use crate::state::{LockHolder, State, StateStore};
use anyhow::{anyhow, Result};

/// The state object, and its replica when there is one, open under their locks.
#[derive(Debug)]
pub struct S3Store {
    /// The copies every save writes, in order: the primary, then the replica. Only the
    /// replica when the backend's region is down; only the primary when the replica's is.
    copies: Vec<ObjectStore>,
    /// Set when the run reads and writes the replica alone.
    on_replica: Option<S3Location>,
    /// The history entries there were at open: those after them are this run's.
    history_at_open: usize,
}

/// How a state and its replica stand to each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Copies {
    Same,
    PrimaryAhead,
    ReplicaAhead,
    /// Neither extends the other: another lineage, or the same serial with other contents,
    /// or histories that parted.
    Diverged,
}

impl Copies {
    pub fn of(primary: Option<&State>, replica: Option<&State>) -> Copies {
        match (primary, replica) {
            (None, None) => Copies::Same,
            (Some(_), None) => Copies::PrimaryAhead,
            (None, Some(_)) => Copies::ReplicaAhead,
            (Some(p), Some(r)) if p == r => Copies::Same,
            (Some(p), Some(r)) if extends(p, r) => Copies::PrimaryAhead,
            (Some(p), Some(r)) if extends(r, p) => Copies::ReplicaAhead,
            _ => Copies::Diverged,
        }
    }
}

/// `newer` continues `older`: the same lineage, a higher serial, and `older`'s history as the
/// start of its own (history is only ever appended to).
fn extends(newer: &State, older: &State) -> bool {
    newer.lineage == older.lineage
        && newer.serial > older.serial
        && newer.history.starts_with(&older.history)
}

/// The refusal of a pair that diverged, naming both copies and the way out.
fn diverged(primary: &S3Location, p: &State, replica: &S3Location, r: &State) -> anyhow::Error {
    anyhow!(
        "the state {} (serial {}, lineage {}) and its replica {} (serial {}, lineage {}) have diverged and standby will not pick one: \
         look at both (`standby state pull`, `standby state pull --replica`), then `standby state push` the one to keep, which writes it to both",
        primary.placed(),
        p.serial,
        p.lineage,
        replica.placed(),
        r.serial,
        r.lineage
    )
}

/// Reads the state without locking it: the newer of the state and its replica when one
/// extends the other (nothing is written: the next command that locks the state copies it
/// over), the replica alone when the backend's region cannot be reached.
pub async fn read_pair(loc: &S3Location) -> Result<Option<State>> {
    let Some(rloc) = loc.replica_location() else {
        let primary = read(&client(&loc.region).await, loc).await;
        return primary.map(|found| found.map(|(s, _)| s));
    };
    // The replica stands in when the backend's region does not answer: asked briefly.
    let primary = read(&brief_client(&loc.region).await, loc).await;
    let replica = read(&client(&rloc.region).await, &rloc).await;
    match (primary, replica) {
        (Ok(p), Ok(r)) => {
            let (p, r) = (p.map(|(s, _)| s), r.map(|(s, _)| s));
            match Copies::of(p.as_ref(), r.as_ref()) {
                Copies::Same | Copies::PrimaryAhead => Ok(p),
                Copies::ReplicaAhead => {
                    tracing::warn!(
                        "the state replica {} is ahead of {}: read it; the next command that locks the state copies it back",
                        rloc.placed(),
                        loc.placed()
                    );
                    Ok(r)
                }
                Copies::Diverged => {
                    let (p, r) = (p.expect("diverged"), r.expect("diverged"));
                    Err(diverged(loc, &p, &rloc, &r))
                }
            }
        }
        (Ok(p), Err(e)) => {
            tracing::warn!("{e:#}: read the state without its replica");
            Ok(p.map(|(s, _)| s))
        }
        (Err(e), Ok(r)) if is_unreachable(&e) => {
            tracing::warn!("{e:#}: read the state replica {} instead", rloc.placed());
            Ok(r.map(|(s, _)| s))
        }
        (Err(e), _) => Err(e),
    }
}

/// Locks the state at `loc` (and its replica) for `operation` and loads it, a new empty
/// state for `environment` when there is none.
pub(crate) async fn open(
    loc: &S3Location,
    environment: &str,
    operation: &str,
    opts: &OpenOptions,
) -> Result<StateStore> {
    let holder = LockHolder::current(operation);
    let (store, state) = S3Store::open(loc, &holder, opts).await?;
    Ok(StateStore::remote(
        crate::state::Backend::S3(loc.clone()),
        state.unwrap_or_else(|| State::new(environment)),
        store,
    ))
}

/// Locks the one state object at `loc` for `operation` through `client` and loads it (its
/// replica, if any, is left alone): for tests that bring a client of their own.
pub async fn open_with(
    client: aws_sdk_s3::Client,
    loc: &S3Location,
    environment: &str,
    operation: &str,
    lock_timeout: Option<std::time::Duration>,
) -> Result<StateStore> {
    let holder = LockHolder::current(operation);
    let (object, state) = ObjectStore::open(client, loc, &holder, lock_timeout).await?;
    let store = S3Store::new(vec![object], None, state.as_ref());
    Ok(StateStore::remote(
        crate::state::Backend::S3(loc.clone()),
        state.unwrap_or_else(|| State::new(environment)),
        store,
    ))
}

impl S3Store {
    fn new(
        copies: Vec<ObjectStore>,
        on_replica: Option<S3Location>,
        state: Option<&State>,
    ) -> Self {
        S3Store {
            copies,
            on_replica,
            history_at_open: state.map_or(0, |s| s.history.len()),
        }
    }

    /// Locks and reads the state and its replica, reconciling them; only the replica when
    /// the backend's region is assumed down or, for a promote or rebuild, does not answer.
    async fn open(
        loc: &S3Location,
        holder: &LockHolder,
        opts: &OpenOptions,
    ) -> Result<(S3Store, Option<State>)> {
        let rloc = loc.replica_location();
        let assumed_down =
            matches!(&opts.failover, Failover::AssumeDown(down) if down.contains(&loc.region));
        if assumed_down {
            match rloc {
                Some(rloc) => return Self::open_replica(rloc, holder, opts, "assumed down").await,
                None => tracing::warn!(
                    "the state {loc} is in {}, assumed down, and the backend has no replica: it is used there all the same \
                     (a `replica {{ bucket, region }}` in the backend block keeps the state through an outage of its region)",
                    loc.region
                ),
            }
        }
        // With a replica to fail over to, the backend's region is asked briefly first.
        let brief = opts.failover != Failover::Never && rloc.is_some();
        let first = match brief {
            true => brief_client(&loc.region).await,
            false => client(&loc.region).await,
        };
        let primary = ObjectStore::open(first, loc, holder, opts.lock_timeout);
        let (primary, p) = match (primary.await, rloc.clone()) {
            (Ok((mut primary, p)), _) => {
                primary.use_client(client(&loc.region).await);
                (primary, p)
            }
            (Err(e), Some(rloc)) if opts.failover != Failover::Never && is_unreachable(&e) => {
                tracing::warn!("{e:#}");
                let (mut store, r) = Self::open_replica(rloc, holder, opts, "unreachable").await?;
                if opts.failover == Failover::IfFailed && !failed_in(r.as_ref(), &loc.region) {
                    let _ = store.release().await;
                    return Err(anyhow!(
                        "the state's region {} does not answer, and it is not failed in the state replica: {} needs it \
                         (only promote and rebuild, or an apply after a promote failed that region, run on the replica): \
                         run it again once {} answers",
                        loc.region,
                        holder.operation,
                        loc.region
                    ));
                }
                return Ok((store, r));
            }
            (Err(e), _) => return Err(e),
        };
        let Some(rloc) = rloc else {
            return Ok((S3Store::new(vec![primary], None, p.as_ref()), p));
        };
        let replica =
            ObjectStore::open(client(&rloc.region).await, &rloc, holder, opts.lock_timeout).await;
        match replica {
            Ok((replica, r)) => Self::reconcile(primary, p, replica, r, opts).await,
            Err(e) if is_unreachable(&e) => {
                tracing::warn!(
                    "{e:#}: this run writes the state without its replica; the next command brings the replica up to date"
                );
                Ok((S3Store::new(vec![primary], None, p.as_ref()), p))
            }
            Err(e) => {
                let mut primary = primary;
                let _ = primary.release().await;
                Err(e)
            }
        }
    }

    /// The run goes on with the replica alone: the backend's region is `why`.
    async fn open_replica(
        rloc: S3Location,
        holder: &LockHolder,
        opts: &OpenOptions,
        why: &str,
    ) -> Result<(S3Store, Option<State>)> {
        let (mut replica, r) =
            ObjectStore::open(client(&rloc.region).await, &rloc, holder, opts.lock_timeout).await?;
        if r.is_none() {
            let _ = replica.release().await;
            return Err(anyhow!(
                "the state's region is {why} and the state replica {} holds no state yet \
                 (a replica gets its first copy from `standby init` or the next command that locks the state): \
                 run the {} once the backend's region answers",
                rloc.placed(),
                holder.operation
            ));
        }
        tracing::warn!(
            "the state's region is {why}: {} reads, locks and writes the state replica {} (its history entry says so)",
            holder.operation,
            rloc.placed()
        );
        Ok((S3Store::new(vec![replica], Some(rloc), r.as_ref()), r))
    }

    /// Makes both copies the newer one when one extends the other; refuses a pair that
    /// diverged, unless this run replaces the state anyway (`state push`).
    async fn reconcile(
        primary: ObjectStore,
        p: Option<State>,
        replica: ObjectStore,
        r: Option<State>,
        opts: &OpenOptions,
    ) -> Result<(S3Store, Option<State>)> {
        let copies = Copies::of(p.as_ref(), r.as_ref());
        let mut store = S3Store::new(vec![primary, replica], None, None);
        let state = match (copies, p, r) {
            (Copies::Same, p, _) => p,
            (Copies::PrimaryAhead, Some(p), r) => {
                tracing::info!(
                    "bringing the state replica {} up to serial {} (it was at {})",
                    store.copies[1].loc.placed(),
                    p.serial,
                    r.map_or("no state".into(), |r| format!("serial {}", r.serial))
                );
                store.save_replica(&p).await;
                Some(p)
            }
            (Copies::ReplicaAhead, p, Some(r)) => {
                if let Err(e) = store.copies[0].save(&r).await {
                    let _ = store.release().await;
                    return Err(e);
                }
                tracing::warn!(
                    "reconciled the state: {} was at {}, its replica {} at serial {} (written while the region was down): both are at serial {} now",
                    store.copies[0].loc.placed(),
                    p.map_or("no state".into(), |p| format!("serial {}", p.serial)),
                    store.copies[1].loc.placed(),
                    r.serial,
                    r.serial
                );
                Some(r)
            }
            (Copies::Diverged, Some(p), Some(_)) if opts.overwrite_diverged => Some(p),
            (_, p, r) => {
                let (p, r) = (p.expect("diverged"), r.expect("diverged"));
                let err = diverged(&store.copies[0].loc, &p, &store.copies[1].loc, &r);
                let _ = store.release().await;
                return Err(err);
            }
        };
        store.history_at_open = state.as_ref().map_or(0, |s| s.history.len());
        Ok((store, state))
    }

    pub(in crate::state) fn exists(&self) -> bool {
        self.copies[0].exists()
    }

    pub(in crate::state) fn holder(&self) -> Option<&LockHolder> {
        self.copies[0].holder()
    }

    /// Marks the history entries this run added as run on the replica, when it was.
    pub(in crate::state) fn stamp(&self, state: &mut State) {
        if let Some(rloc) = &self.on_replica {
            for entry in state.history.iter_mut().skip(self.history_at_open) {
                entry.state_replica = Some(rloc.placed());
            }
        }
    }

    /// Writes `state` to the primary, then the replica. A replica that cannot be written is
    /// left behind with a warning (the state itself was saved): the next command brings it
    /// up to date, or refuses the pair if another writer got there.
    pub(in crate::state) async fn save(&mut self, state: &State) -> Result<()> {
        self.copies[0].save(state).await?;
        self.save_replica(state).await;
        Ok(())
    }

    /// Writes `state` to the replica, if this run holds it; on a failure, warns and lets it
    /// go (its lock released) for the rest of the run.
    async fn save_replica(&mut self, state: &State) {
        if self.copies.len() < 2 {
            return;
        }
        if let Err(e) = self.copies[1].save(state).await {
            tracing::warn!(
                "{e:#}: the state replica stays behind until the next command brings it up to date"
            );
            if let Some(mut replica) = self.copies.pop() {
                if let Err(e) = replica.release().await {
                    tracing::warn!("{e:#}");
                }
            }
        }
    }

    /// Releases every lock held (the replica's after the primary's); the first error wins.
    pub(in crate::state) async fn release(&mut self) -> Result<()> {
        let mut result = Ok(());
        for copy in &mut self.copies {
            let released = copy.release().await;
            if result.is_ok() {
                result = released;
            }
        }
        result
    }
}

/// Whether `region` is `failed` in `state`.
fn failed_in(state: Option<&State>, region: &str) -> bool {
    state.is_some_and(|s| s.roles.get(region) == Some(&crate::config::Role::Failed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{HistoryEntry, Operation};

    fn entry(operation: Operation) -> HistoryEntry {
        HistoryEntry {
            operation,
            user: "u".into(),
            host: "h".into(),
            started_at: "2026-01-01T00:00:00Z".into(),
            duration_ms: 1,
            outcome: crate::state::RunOutcome::SUCCEEDED,
            steps: vec![],
            details: serde_json::Value::Null,
            interruptions: vec![],
            state_replica: None,
        }
    }

    #[test]
    fn the_copy_that_extends_the_other_wins_and_a_fork_is_diverged() {
        let mut base = State::new("prod");
        base.serial = 3;
        base.history.push(entry(Operation::Apply));
        let mut ahead = base.clone();
        ahead.serial = 5;
        ahead.history.push(entry(Operation::Promote {
            region: "us-west-2".into(),
        }));
        assert_eq!(Copies::of(Some(&base), Some(&base)), Copies::Same);
        assert_eq!(Copies::of(Some(&ahead), Some(&base)), Copies::PrimaryAhead);
        assert_eq!(Copies::of(Some(&base), Some(&ahead)), Copies::ReplicaAhead);
        assert_eq!(Copies::of(Some(&base), None), Copies::PrimaryAhead);
        assert_eq!(Copies::of(None, Some(&base)), Copies::ReplicaAhead);

        let mut same_serial = base.clone();
        same_serial.outputs.insert("x".into(), "y".into());
        assert_eq!(
            Copies::of(Some(&base), Some(&same_serial)),
            Copies::Diverged
        );
        let mut parted = ahead.clone();
        parted.history[0] = entry(Operation::Destroy);
        assert_eq!(Copies::of(Some(&base), Some(&parted)), Copies::Diverged);
        let mut other = ahead.clone();
        other.lineage = "another".into();
        assert_eq!(Copies::of(Some(&base), Some(&other)), Copies::Diverged);
    }
}
