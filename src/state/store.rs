//! An open state: the local file `state/<environment>.json` (with `.lock` and `.backup`
//! beside it) or an S3 object and its replica (see `s3/`), held under its lock while open for writing.
//!
//! Invariant: the local file on disk is always a complete state: writes go to a temp file
//! that is fsynced and renamed over the old one, after the old one was copied to `.backup`;
//! a remote write is conditional on the version last read. Every write bumps `serial`.

use super::backend::Backend;
use super::s3::S3Store;
use super::{file, LockHolder, State, StateLock};
use anyhow::{Context, Result};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// An environment's state, held under its lock while open for writing.
#[derive(Debug)]
pub struct StateStore {
    backend: Backend,
    state: State,
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    /// The OS lock; `None` once released.
    Local(Option<StateLock>),
    S3(S3Store),
}

impl StateStore {
    /// `state/<env>.json` beside `environments/`: for `…/environments/prod` that is
    /// `…/state/prod.json`; for any other directory `<parent>/state/<name>.json`.
    pub fn path_for(env_dir: &Path, environment: &str) -> PathBuf {
        let parent = env_dir.parent().unwrap_or(Path::new("."));
        let root = if parent.file_name().is_some_and(|n| n == "environments") {
            parent.parent().unwrap_or(Path::new("."))
        } else {
            parent
        };
        root.join("state").join(format!("{environment}.json"))
    }

    /// Reads the state without locking it (a plan or a status); `None` when there is none.
    pub fn read(path: &Path) -> Result<Option<State>> {
        let bytes = match fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read the state {}", path.display()))
            }
        };
        let state = file::read(&bytes).map_err(|e| {
            let restore = format!("restore it from {}", backup_path(path).display());
            e.at(path.display(), &restore)
        })?;
        Ok(Some(state))
    }

    /// Locks the state for `operation` and loads it (a new empty state when there is none).
    pub fn open(path: &Path, environment: &str, operation: &str) -> Result<StateStore> {
        let dir = path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let lock = StateLock::acquire(&lock_path(path), operation)?;
        let state = Self::read(path)?.unwrap_or_else(|| State::new(environment));
        Ok(StateStore {
            backend: Backend::Local {
                path: path.to_path_buf(),
            },
            state,
            inner: Inner::Local(Some(lock)),
        })
    }

    pub(super) fn remote(backend: Backend, state: State, store: S3Store) -> StateStore {
        StateStore {
            backend,
            state,
            inner: Inner::S3(store),
        }
    }

    /// The local state file; `None` for a remote backend.
    pub fn path(&self) -> Option<&Path> {
        match &self.backend {
            Backend::Local { path } => Some(path),
            Backend::S3(_) => None,
        }
    }

    /// Where the state lives.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// Who holds the lock: this process, while the store is open.
    pub fn holder(&self) -> Option<&LockHolder> {
        match &self.inner {
            Inner::Local(lock) => lock.as_ref().map(|l| &l.holder),
            Inner::S3(s) => s.holder(),
        }
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    pub fn state_mut(&mut self) -> &mut State {
        &mut self.state
    }

    /// Whether a state exists yet (a brand-new environment has none).
    pub fn exists(&self) -> bool {
        match (&self.backend, &self.inner) {
            (_, Inner::S3(s)) => s.exists(),
            (Backend::Local { path }, _) => path.exists(),
            (Backend::S3(_), Inner::Local(_)) => unreachable!("a local store has a local backend"),
        }
    }

    /// Bumps the serial and writes the state: atomically to the local file, or as a
    /// conditional put of the S3 object. On a failure the serial is as it was.
    pub async fn save(&mut self) -> Result<()> {
        self.state.serial += 1;
        let result = match (&mut self.inner, &self.backend) {
            (Inner::S3(s), _) => {
                s.stamp(&mut self.state);
                s.save(&self.state).await
            }
            (Inner::Local(lock), Backend::Local { path }) => {
                if lock.is_none() {
                    Err(anyhow::anyhow!(
                        "the lock of the state {} was released: open the state again to write it",
                        path.display()
                    ))
                } else {
                    save_local(path, &self.state)
                }
            }
            (Inner::Local(_), Backend::S3(_)) => unreachable!("a local store has a local backend"),
        };
        if result.is_err() {
            self.state.serial -= 1;
        }
        result
    }

    /// Releases the lock; the store can no longer be saved. Dropping the store releases it
    /// too (for S3 through a blocking fallback): call this on the normal paths.
    pub async fn release(&mut self) -> Result<()> {
        match &mut self.inner {
            Inner::Local(lock) => {
                lock.take();
                Ok(())
            }
            Inner::S3(s) => s.release().await,
        }
    }
}

/// Writes `state` to `path` atomically, keeping the previous file as `.backup`.
fn save_local(path: &Path, state: &State) -> Result<()> {
    let json = file::write(state);
    let tmp = path.with_extension("json.tmp");
    {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        f.set_permissions(fs::Permissions::from_mode(0o600))?;
        f.write_all(&json)?;
        f.sync_all()?;
    }
    if path.exists() {
        let backup = backup_path(path);
        fs::copy(path, &backup)
            .with_context(|| format!("cannot keep the backup {}", backup.display()))?;
        fs::set_permissions(&backup, fs::Permissions::from_mode(0o600))?;
    }
    fs::rename(&tmp, path)
        .with_context(|| format!("cannot replace the state {}", path.display()))?;
    if let Some(dir) = path.parent() {
        // The rename is durable only once the directory entry is.
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

pub fn lock_path(path: &Path) -> PathBuf {
    path.with_extension("json.lock")
}

pub fn backup_path(path: &Path) -> PathBuf {
    path.with_extension("json.backup")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_path_sits_beside_environments() {
        assert_eq!(
            StateStore::path_for(Path::new("/r/environments/prod"), "prod"),
            PathBuf::from("/r/state/prod.json")
        );
        assert_eq!(
            StateStore::path_for(Path::new("/t/prod"), "prod"),
            PathBuf::from("/t/state/prod.json")
        );
    }

    #[tokio::test]
    async fn save_is_atomic_private_and_keeps_a_backup() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/demo.json");
        let mut store = StateStore::open(&path, "demo", "apply").unwrap();
        assert_eq!(store.path(), Some(path.as_path()));
        store.save().await.unwrap();
        store.save().await.unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(StateStore::read(&path).unwrap().unwrap().serial, 2);
        assert_eq!(
            StateStore::read(&backup_path(&path))
                .unwrap()
                .unwrap()
                .serial,
            1
        );
        assert!(
            StateStore::open(&path, "demo", "apply").is_err(),
            "the lock is held"
        );
        drop(store);
        let fresh = StateStore::open(&path, "demo", "apply").unwrap();
        assert_eq!(fresh.state().serial, 2);
    }

    #[tokio::test]
    async fn a_released_store_frees_the_lock_and_refuses_to_save() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/demo.json");
        let mut store = StateStore::open(&path, "demo", "apply").unwrap();
        assert_eq!(store.holder().unwrap().operation, "apply");
        store.release().await.unwrap();
        assert!(store.holder().is_none());
        let err = store.save().await.unwrap_err().to_string();
        assert!(err.contains("was released"), "{err}");
        assert_eq!(store.state().serial, 0, "a failed save leaves the serial");
        StateStore::open(&path, "demo", "apply").expect("the lock is free");
    }
}
