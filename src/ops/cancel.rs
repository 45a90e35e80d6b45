//! Ctrl-C, in one place: either a scope that handles it itself (an apply stops scheduling,
//! saves and returns; a drill tears down what it made) or the whole command is cancelled,
//! its locks released, and `main` exits 130.
//!
//! Invariant: nothing but `main` ends the process. A cancelled command is a dropped future:
//! the `StateStore` it held releases its lock in `Drop` (for S3 through the bounded blocking
//! fallback), so no lock outlives a Ctrl-C this process saw.

use crate::shell::Shell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::watch;

/// The cancellation token of an operation: Ctrl-C presses, counted by one listener.
#[derive(Clone)]
pub struct Cancel {
    presses: watch::Receiver<u64>,
    /// Scopes that handle a press themselves (`defer`).
    deferred: Arc<AtomicUsize>,
}

impl Cancel {
    /// Listens to Ctrl-C for the rest of the process (needs a running Tokio runtime).
    pub fn ctrl_c() -> Cancel {
        let (tx, presses) = watch::channel(0);
        tokio::spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                tx.send_modify(|n| *n += 1);
            }
        });
        Cancel {
            presses,
            deferred: Arc::default(),
        }
    }

    /// A token pressed only through the returned `Press` (tests), never once it is dropped.
    pub fn manual() -> (Cancel, Press) {
        let (tx, presses) = watch::channel(0);
        let cancel = Cancel {
            presses,
            deferred: Arc::default(),
        };
        (cancel, Press(tx))
    }

    /// Resolves at the first press outside every `defer` scope; never when the signal cannot
    /// be listened to.
    pub async fn cancelled(&self) {
        let mut presses = self.presses.clone();
        presses.borrow_and_update();
        loop {
            if presses.changed().await.is_err() {
                return std::future::pending().await;
            }
            if self.deferred.load(Ordering::SeqCst) == 0 {
                return;
            }
        }
    }

    /// While the returned scope lives, a press belongs to the caller: `note` is printed and
    /// the scope's `stop` turns true; the command is not cancelled.
    pub fn defer(&self, shell: &Shell, note: &'static str) -> Deferred {
        self.deferred.fetch_add(1, Ordering::SeqCst);
        let (stop_tx, stop) = watch::channel(false);
        let mut presses = self.presses.clone();
        presses.borrow_and_update();
        let shell = shell.clone();
        let listener = tokio::spawn(async move {
            if presses.changed().await.is_ok() {
                shell.status(&format!("\n{note}"));
                let _ = stop_tx.send(true);
            }
        });
        Deferred {
            stop,
            listener,
            deferred: self.deferred.clone(),
        }
    }
}

/// Presses a `Cancel::manual` token, as Ctrl-C would.
pub struct Press(watch::Sender<u64>);

impl Press {
    pub fn press(&self) {
        self.0.send_modify(|n| *n += 1);
    }
}

/// A scope that handles Ctrl-C itself (`Cancel::defer`).
pub struct Deferred {
    /// Turns true at the first press.
    pub stop: watch::Receiver<bool>,
    listener: tokio::task::JoinHandle<()>,
    deferred: Arc<AtomicUsize>,
}

impl Drop for Deferred {
    fn drop(&mut self) {
        self.listener.abort();
        self.deferred.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A command cancelled by Ctrl-C; `main` exits 130 (128 + SIGINT), as a shell reports it.
#[derive(Debug, thiserror::Error)]
#[error("interrupted: stopped before finishing (a state lock it held was released)")]
pub struct Interrupted;
