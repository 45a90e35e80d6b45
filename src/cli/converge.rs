//! What apply, destroy, promote and rebuild share around the plan they run: the question
//! before (after `refuse_blocked`), and the report after.

use super::{confirm, render, Reported};
use crate::apply::ApplyReport;
use crate::ops::apply::{refuse_blocked, Executed};
use crate::plan::Plan;
use crate::shell::Shell;
use anyhow::Result;

/// Refuses a plan that deletes something protected, then asks; `false` (with `declined`
/// printed) when the person did not approve.
pub(super) async fn approved(
    shell: &Shell,
    plan: &Plan,
    question: &str,
    auto_approve: bool,
    declined: &str,
) -> Result<bool> {
    refuse_blocked(plan)?;
    if confirm::approve(shell, question, auto_approve).await? {
        return Ok(true);
    }
    shell.status(declined);
    Ok(false)
}

/// Shows how the run went; `Err` when it did not complete.
pub(super) fn finish(shell: &Shell, executed: Executed, op_name: &str) -> Result<ApplyReport> {
    let Executed { report, stopped } = executed;
    shell.err(&render::apply_report(&report, op_name));
    if let Some(j) = stopped {
        shell.status(&format!(
            "{} stopped at {}: run `{}` to finish it",
            j.operation,
            j.position(),
            j.resume
        ));
    }
    if report.succeeded() {
        Ok(report)
    } else {
        Err(Reported(format!("{op_name} did not complete")).into())
    }
}
