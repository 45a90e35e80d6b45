//! What apply, destroy, promote, rebuild and restore share around the plan they run: the
//! question before (after `refuse_blocked`), and the report after.

use super::{confirm, render, Reported};
use crate::ops::apply::{refuse_blocked, Prepared, Ran};
use crate::ops::Context;
use anyhow::Result;

/// Refuses a plan that deletes something protected, then asks; `None` (with `declined`
/// printed and the lock released) when the person did not approve.
pub(super) async fn approved(
    cx: &Context,
    prepared: Prepared,
    question: &str,
    auto_approve: bool,
    declined: &str,
) -> Result<Option<Prepared>> {
    let answer = match refuse_blocked(&prepared.plan) {
        Ok(()) => confirm::approve(&cx.shell, question, auto_approve).await,
        Err(e) => Err(e),
    };
    match answer {
        Ok(true) => Ok(Some(prepared)),
        Ok(false) => {
            cx.shell.status(declined);
            prepared.release(cx).await.map(|()| None)
        }
        Err(e) => prepared.release_with(cx, Err(e)).await,
    }
}

/// Shows how the run went; `Err` when it did not complete.
pub(super) fn finish(cx: &Context, ran: Ran) -> Result<Ran> {
    let op_name = ran.op.to_string();
    cx.shell.err(&render::apply_report(&ran.report, &op_name));
    if let Some(j) = &ran.stopped {
        cx.shell.status(&format!(
            "{} stopped at {}: run `{}` to finish it",
            j.operation,
            j.position(),
            j.resume
        ));
    }
    if ran.report.succeeded() {
        Ok(ran)
    } else {
        Err(Reported(format!("{op_name} did not complete")).into())
    }
}
