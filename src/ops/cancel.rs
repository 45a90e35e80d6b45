//! Ctrl-C, in one place: either a scope that handles it itself (an apply stops scheduling,
//! saves and returns; a drill tears down what it made) or the whole command is cancelled,
//! its locks released, and `main` exits 130.
//!
//! Invariant: nothing but `main` ends the process. A cancelled command is a dropped future:
//! the `StateStore` it held releases its lock in `Drop` (for S3 through the bounded blocking
//! fallback), so no lock outlives a Ctrl-C this process saw. Which of the two a press means
//! is decided once, when it arrives, so a scope that ends right after it cannot turn it
//! into a cancellation.

use crate::shell::Shell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::watch;

/// The cancellation token of an operation: Ctrl-C presses, routed by one listener.
#[derive(Clone)]
pub struct Cancel {
    routes: Arc<Routes>,
}

struct Routes {
    /// Scopes that handle a press themselves (`defer`).
    deferred: AtomicUsize,
    /// Presses a scope handled.
    handled: watch::Sender<u64>,
    /// A press arrived outside every scope.
    cancelled: watch::Sender<bool>,
}

impl Routes {
    fn press(&self) {
        if self.deferred.load(Ordering::SeqCst) > 0 {
            self.handled.send_modify(|n| *n += 1);
        } else {
            self.cancelled.send_replace(true);
        }
    }
}

impl Cancel {
    fn new() -> Cancel {
        Cancel {
            routes: Arc::new(Routes {
                deferred: AtomicUsize::new(0),
                handled: watch::Sender::new(0),
                cancelled: watch::Sender::new(false),
            }),
        }
    }

    /// Listens to Ctrl-C for the rest of the process (needs a running Tokio runtime).
    pub fn ctrl_c() -> Cancel {
        let cancel = Cancel::new();
        let routes = cancel.routes.clone();
        tokio::spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                routes.press();
            }
        });
        cancel
    }

    /// A token pressed only through the returned `Press` (tests).
    pub fn manual() -> (Cancel, Press) {
        let cancel = Cancel::new();
        let press = Press(cancel.routes.clone());
        (cancel, press)
    }

    /// Resolves at the first press outside every `defer` scope.
    pub async fn cancelled(&self) {
        let mut cancelled = self.routes.cancelled.subscribe();
        // The sender lives in `routes`, which `self` holds: the channel cannot close.
        let _ = cancelled.wait_for(|c| *c).await;
    }

    /// While the returned scope lives, a press belongs to the caller: `note` is printed and
    /// the scope's `stop` turns true; the command is not cancelled.
    pub fn defer(&self, shell: &Shell, note: &'static str) -> Deferred {
        self.routes.deferred.fetch_add(1, Ordering::SeqCst);
        let (stop_tx, stop) = watch::channel(false);
        let mut handled = self.routes.handled.subscribe();
        let shell = shell.clone();
        let listener = tokio::spawn(async move {
            if handled.changed().await.is_ok() {
                shell.status(&format!("\n{note}"));
                let _ = stop_tx.send(true);
            }
        });
        Deferred {
            stop,
            listener,
            routes: self.routes.clone(),
        }
    }
}

/// Presses a `Cancel::manual` token, as Ctrl-C would.
pub struct Press(Arc<Routes>);

impl Press {
    pub fn press(&self) {
        self.0.press();
    }
}

/// A scope that handles Ctrl-C itself (`Cancel::defer`).
pub struct Deferred {
    /// Turns true at the first press.
    pub stop: watch::Receiver<bool>,
    listener: tokio::task::JoinHandle<()>,
    routes: Arc<Routes>,
}

impl Drop for Deferred {
    fn drop(&mut self) {
        self.listener.abort();
        self.routes.deferred.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A command cancelled by Ctrl-C; `main` exits 130 (128 + SIGINT), as a shell reports it.
#[derive(Debug, thiserror::Error)]
#[error("interrupted: stopped before finishing (a state lock it held was released)")]
pub struct Interrupted;
