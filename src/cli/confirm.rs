//! Asking a person to approve a plan before anything changes.
//!
//! Invariant: without `--auto-approve` nothing is applied unless a person typed `yes` on a
//! terminal; without a terminal the command refuses instead of guessing.

use anyhow::{bail, Result};
use std::io::{BufRead, IsTerminal, Write};

pub fn approve(question: &str, auto_approve: bool) -> Result<bool> {
    if auto_approve {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        bail!("{question} needs approval: run it in a terminal and answer yes, or pass --auto-approve");
    }
    eprint!("{question}? Only 'yes' is accepted: ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim() == "yes")
}
