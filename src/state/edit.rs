//! Edits of the state that touch no AWS resource: `state mv`, `state rm`, `state push`, and
//! the checks of a migration between backends.
//!
//! Invariant: these functions only rearrange what the state records (addresses, references,
//! the whole document); they never invent a resource, and they refuse rather than mix two
//! states of different lineages.

use super::check::{self, Expected};
use super::State;
use crate::address::Address;
use crate::provider::Observed;
use anyhow::{bail, Result};

/// Renames `from` (a resource, or everything inside it such as `module.x` or
/// `region.us-east-1.cluster.web`) to `to`, and every `depends_on` reference to a renamed
/// address. Returns the renames made. Refuses when nothing matches or a new address is
/// taken.
pub fn rename(state: &mut State, from: &Address, to: &Address) -> Result<Vec<(Address, Address)>> {
    if from == to {
        bail!("{from} and {to} are the same address: nothing to move");
    }
    let renames: Vec<(Address, Address)> = state
        .resources
        .iter()
        .filter_map(|r| Some((r.address.clone(), r.address.moved(from, to)?)))
        .collect();
    if renames.is_empty() {
        bail!("{from} is not in the state: `standby state list` shows the addresses");
    }
    for (old, new) in &renames {
        if state.get(new).is_some() && !renames.iter().any(|(o, _)| o == new) {
            bail!("cannot move {old} to {new}: {new} is already in the state (remove it first with `standby state rm {new}`)");
        }
    }
    let map = |a: &Address| {
        renames
            .iter()
            .find(|(o, _)| o == a)
            .map(|(_, n)| n.clone())
            .unwrap_or_else(|| a.clone())
    };
    let resources: Vec<Observed> = std::mem::take(&mut state.resources)
        .into_iter()
        .map(|mut r| {
            r.address = map(&r.address);
            for d in &mut r.depends_on {
                *d = map(d);
            }
            r
        })
        .collect();
    state.set_resources(resources);
    Ok(renames)
}

/// Removes `address` (a resource or everything inside it) from the state, leaving the AWS
/// resources as they are. Returns what was forgotten; refuses when nothing matches.
pub fn forget(state: &mut State, address: &Address) -> Result<Vec<Observed>> {
    let (gone, kept): (Vec<Observed>, Vec<Observed>) = std::mem::take(&mut state.resources)
        .into_iter()
        .partition(|r| address.contains(&r.address));
    state.resources = kept;
    if gone.is_empty() {
        bail!("{address} is not in the state: `standby state list` shows the addresses");
    }
    Ok(gone)
}

/// What a `state push` may do: the serial to save with (minus the bump of the write), and
/// the checks `--force` overrides, each a phrase to show.
#[derive(Debug, PartialEq)]
pub struct Push {
    pub serial: u64,
    pub overrides: Vec<String>,
}

/// Checks that `pushed` may replace `current` (`state push`): this environment's service,
/// environment and lineage (`want.lineage`: the current state's, else the recorded one) and a
/// newer serial, unless `force`; a state that does not hold together is refused even then, as
/// every command would refuse it. The serial is `max(current, pushed)`.
pub fn check_push(
    current: Option<&State>,
    pushed: &State,
    want: &Expected,
    force: bool,
) -> Result<Push> {
    let broken = check::broken(pushed, &want.regions);
    if !broken.is_empty() {
        bail!(
            "refusing to push a state that does not hold together: {}; fix the file first \
             (--force does not help: every command would refuse the state)",
            broken.join("; ")
        );
    }
    let mut mismatches = check::foreign(pushed, want);
    if let Some(current) = current.filter(|c| c.lineage == pushed.lineage) {
        if pushed.serial <= current.serial {
            mismatches.push(format!(
                "its serial {} is not newer than the current serial {}",
                pushed.serial, current.serial
            ));
        }
    }
    if !mismatches.is_empty() && !force {
        bail!(
            "refusing to push the state: {}; pull the current state and push a newer version of it, \
             or pass --force to replace the state anyway",
            mismatches.join("; ")
        );
    }
    Ok(Push {
        serial: pushed.serial.max(current.map(|c| c.serial).unwrap_or(0)),
        overrides: mismatches,
    })
}

/// Checks that `source` may be copied over `destination` when migrating between backends:
/// the destination is empty, or holds the same lineage at a serial no newer.
pub fn check_migration(source: &State, destination: Option<&State>) -> Result<()> {
    let Some(dest) = destination else {
        return Ok(());
    };
    if dest.lineage != source.lineage {
        bail!(
            "the destination already holds a state of another lineage ({}, the source's is {}): refusing to overwrite it; \
             move that object away or choose another key",
            dest.lineage,
            source.lineage
        );
    }
    if dest.serial > source.serial {
        bail!(
            "the destination holds a newer serial ({}) of this state than the source ({}): refusing to go back; \
             the destination is already the current state",
            dest.serial,
            source.serial
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::Kind;

    fn obs(a: &str, deps: &[&str]) -> Observed {
        Observed {
            address: Address::new(a),
            kind: Kind::Instance,
            region: Some("r".into()),
            id: format!("id-{a}"),
            attrs: Default::default(),
            computed: Default::default(),
            depends_on: deps.iter().map(|d| Address::new(*d)).collect(),
        }
    }

    fn state() -> State {
        let mut s = State::new("prod");
        s.service = "checkout".into();
        s.set_resources(vec![
            obs("region.r.network.vpc", &[]),
            obs(
                "region.r.cluster.web.instance[0]",
                &["region.r.network.vpc"],
            ),
            obs(
                "region.r.cluster.web.instance[1]",
                &["region.r.network.vpc"],
            ),
            obs("dns.api.record.r", &["region.r.cluster.web.instance[0]"]),
        ]);
        s
    }

    #[test]
    fn rename_moves_an_address_and_its_references() {
        let mut s = state();
        let moved = rename(
            &mut s,
            &"region.r.network.vpc".into(),
            &"region.r.network.main".into(),
        )
        .unwrap();
        assert_eq!(moved.len(), 1);
        assert!(s.get(&"region.r.network.vpc".into()).is_none());
        assert!(s.get(&"region.r.network.main".into()).is_some());
        let web = s.get(&"region.r.cluster.web.instance[0]".into()).unwrap();
        assert_eq!(web.depends_on, vec![Address::new("region.r.network.main")]);
    }

    #[test]
    fn rename_moves_everything_inside_a_prefix() {
        let mut s = state();
        rename(
            &mut s,
            &"region.r.cluster.web".into(),
            &"region.r.cluster.front".into(),
        )
        .unwrap();
        assert!(s
            .get(&"region.r.cluster.front.instance[1]".into())
            .is_some());
        let rec = s.get(&"dns.api.record.r".into()).unwrap();
        assert_eq!(
            rec.depends_on,
            vec![Address::new("region.r.cluster.front.instance[0]")]
        );
        assert!(s.resources.windows(2).all(|w| w[0].address < w[1].address));
    }

    #[test]
    fn rename_refuses_a_missing_source_or_a_taken_destination() {
        let mut s = state();
        let before = s.clone();
        let err = rename(&mut s, &"region.r.nope".into(), &"region.r.x".into()).unwrap_err();
        assert!(err.to_string().contains("is not in the state"), "{err}");
        let err = rename(
            &mut s,
            &"region.r.cluster.web.instance[0]".into(),
            &"region.r.cluster.web.instance[1]".into(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("already in the state"), "{err}");
        assert_eq!(s, before, "a refused move changes nothing");
    }

    #[test]
    fn forget_removes_only_what_lies_inside() {
        let mut s = state();
        let gone = forget(&mut s, &"region.r.cluster.web".into()).unwrap();
        assert_eq!(gone.len(), 2);
        assert_eq!(s.resources.len(), 2);
        assert!(forget(&mut s, &"region.r.cluster.web".into()).is_err());
    }

    fn want(lineage: &str) -> Expected<'static> {
        Expected {
            location: "state/prod.json".into(),
            service: "checkout",
            environment: "prod",
            regions: ["r"].into(),
            lineage: Some(lineage.to_string()),
        }
    }

    #[test]
    fn push_needs_the_same_lineage_and_a_newer_serial_unless_forced() {
        let mut current = state();
        current.serial = 5;
        let want = want(&current.lineage);
        let mut pushed = current.clone();
        pushed.serial = 5;
        let err = check_push(Some(&current), &pushed, &want, false).unwrap_err();
        assert!(err.to_string().contains("not newer"), "{err}");
        pushed.serial = 7;
        let ok = check_push(Some(&current), &pushed, &want, false).unwrap();
        assert_eq!(
            ok,
            Push {
                serial: 7,
                overrides: vec![]
            }
        );
        let mut other = State::new("prod");
        other.serial = 9;
        let err = check_push(Some(&current), &other, &want, false).unwrap_err();
        assert!(err.to_string().contains("lineage"), "{err}");
        pushed.serial = 2;
        let forced = check_push(Some(&current), &pushed, &want, true).unwrap();
        assert_eq!(forced.serial, 5);
        assert!(forced.overrides[0].contains("serial 2 is not newer than the current serial 5"));
        let fresh = Expected {
            lineage: None,
            ..want.clone()
        };
        assert_eq!(check_push(None, &pushed, &fresh, false).unwrap().serial, 2);
    }

    #[test]
    fn push_of_another_environment_needs_force_and_a_broken_state_never_goes() {
        let current = state();
        let want = want(&current.lineage);
        let mut staging = current.clone();
        staging.serial = 1;
        staging.environment = "staging".into();
        let err = check_push(Some(&current), &staging, &want, false).unwrap_err();
        assert!(err.to_string().contains("environment `staging`"), "{err}");
        let forced = check_push(Some(&current), &staging, &want, true).unwrap();
        assert_eq!(forced.overrides.len(), 1, "{:?}", forced.overrides);
        let mut two = current.clone();
        two.serial = 1;
        two.roles = [
            ("r".to_string(), crate::config::Role::Primary),
            ("s".to_string(), crate::config::Role::Primary),
        ]
        .into();
        let err = check_push(Some(&current), &two, &want, true).unwrap_err();
        assert!(err.to_string().contains("2 primary regions"), "{err}");
    }

    #[test]
    fn migration_refuses_another_lineage_or_going_back() {
        let mut source = state();
        source.serial = 3;
        assert!(check_migration(&source, None).is_ok());
        let mut dest = source.clone();
        assert!(check_migration(&source, Some(&dest)).is_ok());
        dest.serial = 4;
        assert!(check_migration(&source, Some(&dest)).is_err());
        let other = State::new("prod");
        let err = check_migration(&source, Some(&other))
            .unwrap_err()
            .to_string();
        assert!(err.contains("another lineage"), "{err}");
    }
}
