//! How a recorded run, and each of its steps, ended.
//!
//! `Display` is how people read them; the state file's words are `file::words`'.

use std::fmt;

/// How a run ended: an apply, a DR operation, or a drill (whose verdict it is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    /// Everything done but `not_made` best-effort changes (Route 53 writes in an outage),
    /// which a later `standby apply` makes.
    Succeeded {
        not_made: usize,
    },
    /// Stopped by Ctrl-C or a signal.
    Interrupted,
    Failed,
    /// A DR operation left unfinished that a different one replaced.
    Abandoned,
    /// A drill ready within the RTO.
    Met,
    /// A drill ready, but later than the RTO.
    Missed,
}

impl RunOutcome {
    pub const SUCCEEDED: RunOutcome = RunOutcome::Succeeded { not_made: 0 };

    /// Whether the run did what it was for (a drill that missed its RTO still ran).
    pub fn completed(self) -> bool {
        !matches!(
            self,
            RunOutcome::Failed | RunOutcome::Interrupted | RunOutcome::Abandoned
        )
    }
}

impl fmt::Display for RunOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunOutcome::Succeeded { not_made: 0 } => f.write_str("succeeded"),
            RunOutcome::Succeeded { not_made: 1 } => f.write_str("succeeded, 1 change not made"),
            RunOutcome::Succeeded { not_made } => {
                write!(f, "succeeded, {not_made} changes not made")
            }
            RunOutcome::Interrupted => f.write_str("interrupted"),
            RunOutcome::Failed => f.write_str("failed"),
            RunOutcome::Abandoned => f.write_str("abandoned"),
            RunOutcome::Met => f.write_str("met"),
            RunOutcome::Missed => f.write_str("missed"),
        }
    }
}

/// How one step of a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepOutcome {
    Done,
    /// A best-effort change that failed and is left for a later `standby apply`.
    NotMade,
    Failed,
}

impl fmt::Display for StepOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StepOutcome::Done => "done",
            StepOutcome::NotMade => "not made",
            StepOutcome::Failed => "failed",
        })
    }
}
