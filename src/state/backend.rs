//! Where an environment's state lives: a local file (`state/<env>.json`) or an S3 object;
//! reading it, opening it under its lock, and the record of the backend `init` set up.
//!
//! Invariant: every access to an environment's state goes through a `Backend`, so a state is
//! read and written in exactly one place; the record `state/<env>.backend.json` names the
//! remote backend last initialized, so removing the backend block cannot silently start a
//! fresh local state.

use super::s3::{self, S3Location};
use super::{LockHolder, State, StateStore};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How `Backend::open` takes the state.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// How long to wait for a held lock (`--lock-timeout`); `None` fails at once.
    pub lock_timeout: Option<Duration>,
    /// When the state may be read, locked and written in the backend's replica alone.
    pub failover: Failover,
    /// `state push`: a state and replica that diverged are opened anyway (the push writes
    /// both) instead of refused.
    pub overwrite_diverged: bool,
}

/// When a command runs on the backend's replica alone (with a replica; README, "The replica").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Failover {
    /// The backend's region is needed (every command but those below).
    #[default]
    Never,
    /// A promote or rebuild, with the regions it assumes down (`--assume-down`): the replica
    /// when the backend's region is one of them or does not answer.
    AssumeDown(BTreeSet<String>),
    /// `apply`: the replica when the backend's region does not answer and the replica's state
    /// holds that region `failed` (a promote with `--assume-down` ran there; the apply
    /// finishes what the outage left undone).
    IfFailed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Backend {
    /// `state/<env>.json` with `.backup` and an OS-locked `.lock` beside it.
    Local { path: PathBuf },
    /// An object in a versioned bucket, locked by `<key>.lock`.
    S3(S3Location),
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backend::Local { path } => write!(f, "{}", path.display()),
            Backend::S3(loc) => write!(f, "{loc}"),
        }
    }
}

impl Backend {
    /// The same place (an S3 backend whose KMS key changed has not moved).
    pub fn same_place(&self, other: &Backend) -> bool {
        match (self, other) {
            (Backend::Local { path: a }, Backend::Local { path: b }) => a == b,
            (Backend::S3(a), Backend::S3(b)) => a.same_object(b),
            _ => false,
        }
    }

    /// Reads the state without locking it (a plan, a status); `None` when there is none.
    /// With a replica: the newer copy when one extends the other, the replica when the
    /// backend's region does not answer; a pair that diverged is refused.
    pub async fn read(&self) -> Result<Option<State>> {
        match self {
            Backend::Local { path } => StateStore::read(path),
            Backend::S3(loc) => s3::read_pair(loc).await,
        }
    }

    /// Reads one copy as it is, without locking or comparing it (`state pull`): the state,
    /// or with `replica` its replica.
    pub async fn read_copy(&self, replica: bool) -> Result<Option<State>> {
        let loc = match (self, replica) {
            (_, false) => return self.read_primary().await,
            (Backend::S3(loc), true) => loc.replica_location(),
            (Backend::Local { .. }, true) => None,
        };
        let Some(loc) = loc else {
            bail!("the state {self} has no replica: add `replica {{ bucket, region }}` to the backend block to keep one");
        };
        Ok(s3::read(&s3::client(&loc.region).await, &loc)
            .await?
            .map(|(s, _)| s))
    }

    async fn read_primary(&self) -> Result<Option<State>> {
        match self {
            Backend::Local { path } => StateStore::read(path),
            Backend::S3(loc) => Ok(s3::read(&s3::client(&loc.region).await, loc)
                .await?
                .map(|(s, _)| s)),
        }
    }

    /// Locks the state for `operation` and loads it (a new empty state when there is none);
    /// a held lock fails at once, or is waited for up to `opts.lock_timeout`.
    pub async fn open(
        &self,
        environment: &str,
        operation: &str,
        opts: &OpenOptions,
    ) -> Result<StateStore> {
        match self {
            // The OS lock cannot outlive its holder; with a timeout, poll it like the S3 lock.
            Backend::Local { path } => {
                let deadline = std::time::Instant::now() + opts.lock_timeout.unwrap_or_default();
                let mut wait = Duration::from_millis(250);
                loop {
                    match StateStore::open(path, environment, operation) {
                        Err(e) if e.downcast_ref::<super::lock::Locked>().is_some() => {
                            let left =
                                deadline.saturating_duration_since(std::time::Instant::now());
                            if left.is_zero() {
                                return Err(e);
                            }
                            tokio::time::sleep(wait.min(left)).await;
                            wait = (wait * 2).min(Duration::from_secs(5));
                        }
                        other => return other,
                    }
                }
            }
            Backend::S3(loc) => s3::open(loc, environment, operation, opts).await,
        }
    }

    /// Who holds the lock now, if anybody.
    pub async fn lock_holder(&self) -> Result<Option<LockHolder>> {
        match self {
            Backend::Local { path } => {
                Ok(super::lock::current_holder(&super::store::lock_path(path)))
            }
            Backend::S3(loc) => s3::holder_of(loc).await,
        }
    }

    /// Removes a stuck lock whose id is `id` (`standby state unlock`).
    pub async fn force_unlock(&self, id: &str) -> Result<LockHolder> {
        match self {
            Backend::Local { path } => {
                super::lock::force_unlock(&super::store::lock_path(path), id)
            }
            Backend::S3(loc) => s3::force_unlock(loc, id).await,
        }
    }
}

/// `state/<env>.backend.json` beside the local state file `local`.
pub fn record_path(local: &Path) -> PathBuf {
    local.with_extension("backend.json")
}

/// The record file: the remote backend, and the lineage of the state last opened there (so
/// that an object replaced by another state is noticed).
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    #[serde(flatten)]
    backend: Backend,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lineage: Option<String>,
}

fn read_record(local: &Path) -> Result<Option<Record>> {
    let path = record_path(local);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).with_context(|| {
            format!(
                "{} is not a backend record: run `standby init` again",
                path.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn write_record(local: &Path, record: &Record) -> Result<()> {
    let path = record_path(local);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(&path, serde_json::to_vec_pretty(record)?)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The remote backend recorded for the environment whose local state path is `local`;
/// `None` when none is (the state is local).
pub fn recorded(local: &Path) -> Result<Option<Backend>> {
    Ok(read_record(local)?.map(|r| r.backend))
}

/// The lineage of the state last opened through the recorded remote backend, if any.
pub fn recorded_lineage(local: &Path) -> Result<Option<String>> {
    Ok(read_record(local)?.and_then(|r| r.lineage))
}

/// Records `backend` as the environment's (a local backend removes the record); a lineage
/// already recorded is kept (a migration keeps the lineage).
pub fn record(local: &Path, backend: &Backend) -> Result<()> {
    match backend {
        Backend::Local { .. } => {
            let path = record_path(local);
            match std::fs::remove_file(&path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(e).with_context(|| format!("cannot remove {}", path.display())),
            }
        }
        Backend::S3(_) => {
            let lineage = read_record(local).ok().flatten().and_then(|r| r.lineage);
            write_record(
                local,
                &Record {
                    backend: backend.clone(),
                    lineage,
                },
            )
        }
    }
}

/// Records `lineage` as the one of the state in the recorded remote backend; nothing when
/// there is no record (a local state).
pub fn record_lineage(local: &Path, lineage: &str) -> Result<()> {
    match read_record(local)? {
        Some(r) if r.lineage.as_deref() != Some(lineage) => write_record(
            local,
            &Record {
                lineage: Some(lineage.to_string()),
                ..r
            },
        ),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_round_trips_and_a_local_backend_removes_it() {
        let dir = tempfile::tempdir().unwrap();
        let local = dir.path().join("state/prod.json");
        assert_eq!(recorded(&local).unwrap(), None);
        let s3 = Backend::S3(S3Location {
            bucket: "b".into(),
            key: "prod.json".into(),
            region: "us-east-1".into(),
            kms_key_id: None,
            replica: None,
        });
        record(&local, &s3).unwrap();
        assert_eq!(
            record_path(&local),
            dir.path().join("state/prod.backend.json")
        );
        assert_eq!(recorded(&local).unwrap(), Some(s3.clone()));
        assert_eq!(recorded_lineage(&local).unwrap(), None);
        record_lineage(&local, "l-1").unwrap();
        record(&local, &s3).unwrap();
        assert_eq!(recorded(&local).unwrap(), Some(s3.clone()));
        assert_eq!(recorded_lineage(&local).unwrap().as_deref(), Some("l-1"));
        record(
            &local,
            &Backend::Local {
                path: local.clone(),
            },
        )
        .unwrap();
        assert_eq!(recorded(&local).unwrap(), None);
        assert_eq!(s3.to_string(), "s3://b/prod.json");
    }

    #[test]
    fn a_changed_kms_key_is_the_same_place() {
        let a = S3Location {
            bucket: "b".into(),
            key: "k".into(),
            region: "r".into(),
            kms_key_id: None,
            replica: None,
        };
        let b = S3Location {
            kms_key_id: Some("alias/x".into()),
            ..a.clone()
        };
        assert!(Backend::S3(a.clone()).same_place(&Backend::S3(b)));
        let moved = S3Location {
            key: "other".into(),
            ..a.clone()
        };
        assert!(!Backend::S3(a).same_place(&Backend::S3(moved)));
    }

    #[tokio::test]
    async fn local_backend_reads_opens_and_refuses_unlock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/demo.json");
        let b = Backend::Local { path: path.clone() };
        assert!(b.read().await.unwrap().is_none());
        let mut store = b
            .open("demo", "apply", &OpenOptions::default())
            .await
            .unwrap();
        assert!(!store.exists());
        store.save().await.unwrap();
        assert!(store.exists());
        let holder = b.lock_holder().await.unwrap().expect("held");
        assert_eq!(holder.operation, "apply");
        let err = b.force_unlock(&holder.id).await.unwrap_err().to_string();
        assert!(err.contains("still running: stop it"), "{err}");
        let t = std::time::Instant::now();
        let err = b
            .open(
                "demo",
                "apply",
                &OpenOptions {
                    lock_timeout: Some(Duration::from_millis(600)),
                    ..OpenOptions::default()
                },
            )
            .await
            .unwrap_err()
            .to_string();
        assert!(t.elapsed() >= Duration::from_millis(600));
        assert!(err.contains("the state is locked by"), "{err}");
        store.release().await.unwrap();
        assert!(b.lock_holder().await.unwrap().is_none());
        assert_eq!(b.read().await.unwrap().unwrap().serial, 1);
    }
}
