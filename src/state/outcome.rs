//! How a recorded run, and each of its steps, ended.
//!
//! The words are the state file's form (`"outcome": "succeeded"`): `Display` and `FromStr`
//! here are that format's conversion, so histories written before read as they were.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How a run ended: an apply, a DR operation, or a drill (whose verdict it is).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
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

impl FromStr for RunOutcome {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let not_made = |rest: &str| {
            rest.strip_suffix(" changes not made")
                .or_else(|| rest.strip_suffix(" change not made"))
                .and_then(|n| n.parse().ok())
        };
        Ok(match s {
            "succeeded" => RunOutcome::SUCCEEDED,
            "interrupted" => RunOutcome::Interrupted,
            "failed" => RunOutcome::Failed,
            "abandoned" => RunOutcome::Abandoned,
            "met" => RunOutcome::Met,
            "missed" => RunOutcome::Missed,
            _ => match s.strip_prefix("succeeded, ").and_then(not_made) {
                Some(not_made) => RunOutcome::Succeeded { not_made },
                None => return Err(format!("{s:?} is not an outcome standby records")),
            },
        })
    }
}

/// How one step of a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
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

impl FromStr for StepOutcome {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            // Drills wrote `ok`, and a promote's gate step its verdict, before steps had
            // closed outcomes: both were steps that ended well.
            "done" | "ok" => StepOutcome::Done,
            "not made" => StepOutcome::NotMade,
            "failed" => StepOutcome::Failed,
            // Any other words are a passed RPO gate's verdict (a refused gate records nothing).
            _ => StepOutcome::Done,
        })
    }
}

macro_rules! words {
    ($t:ty) => {
        impl From<$t> for String {
            fn from(o: $t) -> String {
                o.to_string()
            }
        }

        impl TryFrom<String> for $t {
            type Error = String;

            fn try_from(s: String) -> Result<Self, String> {
                s.parse()
            }
        }
    };
}
words!(RunOutcome);
words!(StepOutcome);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_reads_back_from_its_words() {
        for o in [
            RunOutcome::SUCCEEDED,
            RunOutcome::Succeeded { not_made: 1 },
            RunOutcome::Succeeded { not_made: 3 },
            RunOutcome::Interrupted,
            RunOutcome::Failed,
            RunOutcome::Abandoned,
            RunOutcome::Met,
            RunOutcome::Missed,
        ] {
            assert_eq!(o.to_string().parse::<RunOutcome>(), Ok(o));
        }
        for o in [StepOutcome::Done, StepOutcome::NotMade, StepOutcome::Failed] {
            assert_eq!(o.to_string().parse::<StepOutcome>(), Ok(o));
        }
        assert_eq!("ok".parse::<StepOutcome>(), Ok(StepOutcome::Done));
        let gate = "replica lag 0s in us-west-2 is within the rpo of 15m";
        assert_eq!(gate.parse::<StepOutcome>(), Ok(StepOutcome::Done));
        assert!("maybe".parse::<RunOutcome>().is_err());
    }
}
