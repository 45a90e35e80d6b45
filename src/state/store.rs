//! Local state files: `state/<environment>.json` with `.lock` and `.backup` beside it.
//!
//! Invariant: the file on disk is always a complete state: writes go to a temp file that is
//! fsynced and renamed over the old one, after the old one was copied to `.backup`.

use super::{State, StateLock, FORMAT_VERSION};
use anyhow::{bail, Context, Result};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// An environment's state file, held under its lock while open for writing.
#[derive(Debug)]
pub struct StateStore {
    path: PathBuf,
    state: State,
    _lock: StateLock,
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
        let state: State = serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "the state {} is not valid: restore it from {}",
                path.display(),
                backup_path(path).display()
            )
        })?;
        if state.format_version > FORMAT_VERSION {
            bail!(
                "the state {} has format version {}, newer than this standby understands ({}): upgrade standby",
                path.display(),
                state.format_version,
                FORMAT_VERSION
            );
        }
        Ok(Some(state))
    }

    /// Locks the state for `operation` and loads it (a new empty state when there is none).
    pub fn open(path: &Path, environment: &str, operation: &str) -> Result<StateStore> {
        let dir = path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let lock = StateLock::acquire(&lock_path(path), operation)?;
        let state = Self::read(path)?.unwrap_or_else(|| State::new(environment));
        Ok(StateStore {
            path: path.to_path_buf(),
            state,
            _lock: lock,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    pub fn state_mut(&mut self) -> &mut State {
        &mut self.state
    }

    /// Whether a state file exists yet (a brand-new environment has none).
    pub fn exists(&self) -> bool {
        self.path.exists()
    }

    /// Bumps the serial and writes the state atomically.
    pub fn save(&mut self) -> Result<()> {
        self.state.serial += 1;
        let json = serde_json::to_vec_pretty(&self.state)?;
        let tmp = self.path.with_extension("json.tmp");
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
        if self.path.exists() {
            let backup = backup_path(&self.path);
            fs::copy(&self.path, &backup)
                .with_context(|| format!("cannot keep the backup {}", backup.display()))?;
            fs::set_permissions(&backup, fs::Permissions::from_mode(0o600))?;
        }
        fs::rename(&tmp, &self.path)
            .with_context(|| format!("cannot replace the state {}", self.path.display()))?;
        if let Some(dir) = self.path.parent() {
            // The rename is durable only once the directory entry is.
            if let Ok(d) = fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
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

    #[test]
    fn save_is_atomic_private_and_keeps_a_backup() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/demo.json");
        let mut store = StateStore::open(&path, "demo", "apply").unwrap();
        store.save().unwrap();
        store.save().unwrap();
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
}
