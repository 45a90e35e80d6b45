//! Why a plan replaces or deletes a resource: a closed set the engine decides on, never
//! text it compares.
//!
//! The words are also the plan file's form of a reason (`"reason": "destroy"`): `plan::file`
//! writes `Display` and reads `FromStr`, so saved plans read as they always did.

use crate::address::Address;
use crate::config::Role;
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeReason {
    /// Attributes that AWS cannot change in place: `` `cidr` cannot change in place ``.
    CannotUpdate(Vec<String>),
    /// A resource it refers to is replaced: `<parent> is replaced`.
    ParentReplaced(Address),
    /// `--replace`.
    ReplaceRequested,
    /// Gone from the spec.
    NotInSpec,
    /// Its region changes role: `region us-east-1 becomes failed`.
    RoleChange { region: String, role: Role },
    /// `standby destroy`.
    Destroy,
    /// A promote's fence: the failed primary's bucket stops replicating.
    Fence,
    /// A fence of a failed region that answers: its writable database stops, leaving a
    /// snapshot (`rebuild` replaces it later).
    FenceStop,
    /// `standby restore`: its source database is restored, so it follows the new instance.
    SourceRestored(Address),
    /// `standby restore --cleanup`: an instance a restore replaced and kept.
    KeptByRestore,
    /// A hosted-zone deletion that leaves the zone in AWS: only the state forgets it.
    ZoneKept(Box<ChangeReason>, ZoneKept),
}

/// Why a hosted zone stays in AWS when its environment lets go of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZoneKept {
    /// standby adopted it rather than created it.
    NotCreated,
    /// It holds records of others: the first few, and how many more.
    HoldsOthers { shown: Vec<String>, more: usize },
}

const CANNOT_UPDATE: &str = " cannot change in place";
const FENCE: &str = "fence: the failed primary's bucket stops replicating";
const FENCE_STOP: &str = "fence: the failed region's database stops after a final snapshot";
const RESTORED: &str = " is restored: it follows the new instance";
const KEPT: &str = "kept since a restore replaced it";
const NOT_CREATED: &str = "standby did not create the zone, so it stays: only the state forgets it";
const HOLDS: &str = "the zone holds records that are not this environment's (";
const HOLDS_END: &str = "), so it stays: only the state forgets it";

impl fmt::Display for ChangeReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChangeReason::CannotUpdate(keys) => {
                let each: Vec<String> = keys
                    .iter()
                    .map(|k| format!("`{k}`{CANNOT_UPDATE}"))
                    .collect();
                f.write_str(&each.join(", "))
            }
            ChangeReason::ParentReplaced(parent) => write!(f, "{parent} is replaced"),
            ChangeReason::ReplaceRequested => f.write_str("replace requested"),
            ChangeReason::NotInSpec => f.write_str("no longer in the spec"),
            ChangeReason::RoleChange { region, role } => {
                write!(f, "region {region} becomes {role}")
            }
            ChangeReason::Destroy => f.write_str("destroy"),
            ChangeReason::Fence => f.write_str(FENCE),
            ChangeReason::FenceStop => f.write_str(FENCE_STOP),
            ChangeReason::SourceRestored(source) => write!(f, "{source}{RESTORED}"),
            ChangeReason::KeptByRestore => f.write_str(KEPT),
            ChangeReason::ZoneKept(reason, ZoneKept::NotCreated) => {
                write!(f, "{reason}; {NOT_CREATED}")
            }
            ChangeReason::ZoneKept(reason, ZoneKept::HoldsOthers { shown, more }) => {
                let more = match more {
                    0 => String::new(),
                    n => format!(" and {n} more"),
                };
                write!(f, "{reason}; {HOLDS}{}{more}{HOLDS_END}", shown.join(", "))
            }
        }
    }
}

impl FromStr for ChangeReason {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if let Some((reason, note)) = s.split_once("; ") {
            let kept = match note
                .strip_prefix(HOLDS)
                .and_then(|n| n.strip_suffix(HOLDS_END))
            {
                _ if note == NOT_CREATED => ZoneKept::NotCreated,
                Some(list) => {
                    let (list, more) = list
                        .rsplit_once(" and ")
                        .and_then(|(l, n)| Some((l, n.strip_suffix(" more")?.parse().ok()?)))
                        .unwrap_or((list, 0));
                    let shown = list.split(", ").map(str::to_string).collect();
                    ZoneKept::HoldsOthers { shown, more }
                }
                None => return Err(format!("{note:?} is not a reason a zone stays")),
            };
            return Ok(ChangeReason::ZoneKept(Box::new(reason.parse()?), kept));
        }
        Ok(match s {
            "replace requested" => ChangeReason::ReplaceRequested,
            "no longer in the spec" => ChangeReason::NotInSpec,
            "destroy" => ChangeReason::Destroy,
            FENCE => ChangeReason::Fence,
            FENCE_STOP => ChangeReason::FenceStop,
            KEPT => ChangeReason::KeptByRestore,
            _ => {
                if let Some(source) = s.strip_suffix(RESTORED) {
                    return Ok(ChangeReason::SourceRestored(Address::new(source)));
                }
                if let Some(parent) = s.strip_suffix(" is replaced") {
                    return Ok(ChangeReason::ParentReplaced(Address::new(parent)));
                }
                if let Some((region, role)) = s
                    .strip_prefix("region ")
                    .and_then(|r| r.split_once(" becomes "))
                {
                    let role = serde_json::from_value(role.into()).map_err(|e| e.to_string())?;
                    let region = region.to_string();
                    return Ok(ChangeReason::RoleChange { region, role });
                }
                let keys = s
                    .split(", ")
                    .map(|k| {
                        k.strip_suffix(CANNOT_UPDATE)
                            .and_then(|k| k.strip_prefix('`')?.strip_suffix('`'))
                    })
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| format!("{s:?} is not a reason for a change"))?;
                ChangeReason::CannotUpdate(keys.into_iter().map(str::to_string).collect())
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_reads_back_from_its_words() {
        let all = [
            ChangeReason::CannotUpdate(vec!["cidr".into(), "engine".into()]),
            ChangeReason::ParentReplaced(Address::new("region.r.network.vpc")),
            ChangeReason::ReplaceRequested,
            ChangeReason::NotInSpec,
            ChangeReason::RoleChange {
                region: "us-east-1".into(),
                role: Role::WarmStandby,
            },
            ChangeReason::Destroy,
            ChangeReason::Fence,
            ChangeReason::FenceStop,
            ChangeReason::SourceRestored(Address::new("region.r.database.orders")),
            ChangeReason::KeptByRestore,
            ChangeReason::ZoneKept(Box::new(ChangeReason::Destroy), ZoneKept::NotCreated),
            ChangeReason::ZoneKept(
                Box::new(ChangeReason::NotInSpec),
                ZoneKept::HoldsOthers {
                    shown: vec!["a.example.com".into(), "b.example.com".into()],
                    more: 2,
                },
            ),
        ];
        for r in all {
            assert_eq!(r.to_string().parse::<ChangeReason>(), Ok(r.clone()), "{r}");
        }
        assert_eq!(
            ChangeReason::CannotUpdate(vec!["cidr".into()]).to_string(),
            "`cidr` cannot change in place"
        );
        assert!("whatever".parse::<ChangeReason>().is_err());
    }
}
