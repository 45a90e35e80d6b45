//! The state lock: one writer per environment, naming its holder to everybody else.
//!
//! Invariant: the lock is an OS file lock on `<state>.lock`, so the kernel releases it when
//! the holder exits in any way (kill -9 included); the file's content names the holder.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockHolder {
    pub id: String,
    pub user: String,
    pub host: String,
    pub pid: u32,
    pub operation: String,
    /// RFC 3339.
    pub since: String,
}

impl LockHolder {
    pub fn current(operation: &str) -> Self {
        LockHolder {
            id: uuid::Uuid::new_v4().to_string(),
            user: std::env::var("USER").unwrap_or_else(|_| "unknown".into()),
            host: hostname::get()
                .map(|h| h.to_string_lossy().into_owned())
                .unwrap_or_else(|_| "unknown".into()),
            pid: std::process::id(),
            operation: operation.to_string(),
            since: super::history::now_rfc3339(),
        }
    }
}

impl LockHolder {
    /// Whether the holder is a process still running on this host, which releases the lock
    /// when it exits (so it must be stopped, not unlocked).
    pub fn running_here(&self) -> bool {
        let here = hostname::get().is_ok_and(|h| h.to_string_lossy() == self.host);
        here && process_exists(self.pid)
    }
}

/// Whether process `pid` exists on this host.
#[cfg(unix)]
fn process_exists(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 sends nothing; kill(2) only checks that the process exists.
    let found = unsafe { libc::kill(pid, 0) } == 0;
    found || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Elsewhere, assume it does: refusing is the safe side.
#[cfg(not(unix))]
fn process_exists(_pid: u32) -> bool {
    true
}

impl std::fmt::Display for LockHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}@{} (pid {}, {} since {}, lock id {})",
            self.user, self.host, self.pid, self.operation, self.since, self.id
        )
    }
}

/// A held lock; released when dropped.
#[derive(Debug)]
pub struct StateLock {
    file: File,
    pub holder: LockHolder,
    pub path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
#[error("the state is locked by {holder}: wait for that operation to finish, or stop it")]
pub struct Locked {
    pub holder: String,
}

impl StateLock {
    pub fn acquire(path: &Path, operation: &str) -> Result<StateLock> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .with_context(|| format!("cannot open the lock file {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut content = String::new();
                let _ = file.read_to_string(&mut content);
                let holder = serde_json::from_str::<LockHolder>(&content)
                    .map(|h| h.to_string())
                    .unwrap_or_else(|_| "another process".into());
                return Err(Locked { holder }.into());
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", path.display()))
            }
        }
        let holder = LockHolder::current(operation);
        file.set_len(0)?;
        file.seek(SeekFrom::Start(0))?;
        file.write_all(serde_json::to_string_pretty(&holder)?.as_bytes())?;
        file.sync_all()?;
        Ok(StateLock {
            file,
            holder,
            path: path.to_path_buf(),
        })
    }
}

/// Who holds the lock file at `path` now, if anybody (the lock is not taken).
pub fn current_holder(path: &Path) -> Option<LockHolder> {
    let mut file = OpenOptions::new().read(true).write(true).open(path).ok()?;
    match file.try_lock() {
        Ok(()) => {
            let _ = file.unlock();
            None
        }
        Err(_) => {
            let mut content = String::new();
            let _ = file.read_to_string(&mut content);
            serde_json::from_str(&content).ok()
        }
    }
}

/// A local lock whose holder still runs on this host is not stale.
pub fn refuse_running(holder: &LockHolder) -> Result<()> {
    if holder.running_here() {
        anyhow::bail!(
            "the lock is held by process {} on this host, which is still running: stop it \
             (`kill {}`) and the lock is released when it exits",
            holder.pid,
            holder.pid
        );
    }
    Ok(())
}

/// Breaks the lock at `path` held under `id` by a process that cannot release it: one on
/// another host (a shared file system keeps a lost client's lock until its lease ends) or in
/// another container. The lock file is removed, so the next writer locks a new one; a holder
/// still running on this host is refused: stopping it releases the lock.
pub fn force_unlock(path: &Path, id: &str) -> Result<LockHolder> {
    let Some(holder) = current_holder(path) else {
        anyhow::bail!(
            "{} is not locked: there is nothing to unlock",
            path.display()
        );
    };
    if holder.id != id {
        anyhow::bail!(
            "lock id {id} is not the current lock of {}: it is held by {holder}",
            path.display()
        );
    }
    refuse_running(&holder)?;
    std::fs::remove_file(path)
        .with_context(|| format!("cannot remove the lock file {}", path.display()))?;
    Ok(holder)
}

impl Drop for StateLock {
    fn drop(&mut self) {
        // Clearing the content tells readers nobody holds it; the OS lock goes with the file.
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.lock");
        let first = StateLock::acquire(&p, "apply").unwrap();
        let err = StateLock::acquire(&p, "apply").unwrap_err().to_string();
        assert!(err.contains(&first.holder.id), "{err}");
        assert!(err.contains("apply"), "{err}");
        drop(first);
        StateLock::acquire(&p, "plan").unwrap();
    }
}
