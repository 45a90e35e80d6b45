//! Ctrl-C: either a scope that handles it itself (an apply stops scheduling, saves and
//! returns) or the whole command is cancelled, its locks released, and `main` exits 130.
//!
//! Invariant: nothing but `cli::main` ends the process. A cancelled command is a dropped
//! future: the `StateStore` it held releases its lock in `Drop` (for S3 through the bounded
//! blocking fallback), so no lock outlives a Ctrl-C this process saw.

use std::sync::atomic::{AtomicUsize, Ordering};

static DEFERRED_INTERRUPTS: AtomicUsize = AtomicUsize::new(0);

/// While the returned scope lives, Ctrl-C belongs to the caller (apply stops scheduling,
/// lets in-flight actions finish, saves and returns; the lock is released afterwards).
/// Outside such a scope, Ctrl-C cancels the command (see `interrupted`).
pub fn defer_interrupts() -> InterruptScope {
    DEFERRED_INTERRUPTS.fetch_add(1, Ordering::SeqCst);
    InterruptScope(())
}

pub struct InterruptScope(());

impl Drop for InterruptScope {
    fn drop(&mut self) {
        DEFERRED_INTERRUPTS.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Resolves at the first Ctrl-C that arrives outside every `defer_interrupts` scope; never
/// when the signal cannot be listened to.
pub async fn interrupted() {
    loop {
        if tokio::signal::ctrl_c().await.is_err() {
            return std::future::pending().await;
        }
        if DEFERRED_INTERRUPTS.load(Ordering::SeqCst) == 0 {
            return;
        }
    }
}

/// A command cancelled by Ctrl-C; `main` exits 130 (128 + SIGINT), as a shell reports it.
#[derive(Debug, thiserror::Error)]
#[error("interrupted: stopped before finishing (a state lock it held was released)")]
pub struct Interrupted;
