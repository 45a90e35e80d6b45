//! Asking a person to approve a plan before anything changes.
//!
//! Invariant: without `--auto-approve` nothing is applied unless a person typed `yes` on a
//! terminal; without a terminal the command refuses instead of guessing. The answer is read
//! on a thread of its own, so that Ctrl-C at the prompt cancels the command (and releases its
//! lock) at once.

use crate::shell::Shell;
use anyhow::{anyhow, bail, Result};
use std::io::{BufRead, IsTerminal};

pub async fn approve(shell: &Shell, question: &str, auto_approve: bool) -> Result<bool> {
    if auto_approve {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        bail!("{question} needs approval: run it in a terminal and answer yes, or pass --auto-approve");
    }
    shell.prompt(question);
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("standby-prompt".into())
        .spawn(move || {
            let mut line = String::new();
            let read = std::io::stdin().lock().read_line(&mut line).map(|_| line);
            let _ = tx.send(read);
        })?;
    let line = rx
        .await
        .map_err(|_| anyhow!("the answer to the prompt could not be read"))??;
    Ok(line.trim() == "yes")
}
