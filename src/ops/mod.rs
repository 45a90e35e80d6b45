//! The operations the commands run: each takes a `Context` (the provider, the `Shell` for
//! live progress and status lines, the Ctrl-C token) and returns a report; the CLI parses
//! arguments before and renders the report after.
//!
//! Invariant: an operation never reads the command line and never renders a report to
//! words; it writes to the Shell only what happens while it runs (progress, "stopping")
//! and never ends the process.

pub mod apply;
pub mod cancel;
pub mod dr;
pub mod drill;
mod history;
pub mod read;
pub mod state;

pub use cancel::{Cancel, Interrupted};

use crate::provider::Provider;
use crate::shell::Shell;
use anyhow::Result;
use futures::future::BoxFuture;
use std::sync::Arc;
use tokio::sync::OnceCell;

pub type Connect = Box<dyn Fn() -> BoxFuture<'static, Result<Arc<dyn Provider>>> + Send + Sync>;

/// What every operation runs with.
pub struct Context {
    pub shell: Shell,
    pub cancel: Cancel,
    provider: OnceCell<Arc<dyn Provider>>,
    connect: Option<Connect>,
}

impl Context {
    /// Operations against `provider` (the in-memory fake in tests).
    pub fn new(provider: Arc<dyn Provider>, shell: Shell, cancel: Cancel) -> Context {
        Context {
            shell,
            cancel,
            provider: OnceCell::new_with(Some(provider)),
            connect: None,
        }
    }

    /// Operations against a provider made by `connect` at first use, so that commands which
    /// need none (validate, fmt) never connect.
    pub fn connecting(connect: Connect, shell: Shell, cancel: Cancel) -> Context {
        Context {
            shell,
            cancel,
            provider: OnceCell::new(),
            connect: Some(connect),
        }
    }

    /// The provider, connected on first use.
    pub async fn provider(&self) -> Result<Arc<dyn Provider>> {
        let connect = || async {
            match &self.connect {
                Some(connect) => connect().await,
                None => anyhow::bail!("no provider to connect to"),
            }
        };
        self.provider.get_or_try_init(connect).await.cloned()
    }
}
