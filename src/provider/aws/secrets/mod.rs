//! `Secrets`: the Secrets Manager secrets holding databases' master passwords, one per
//! database in its home region, replicated to every other region of the spec.
//!
//! Invariant: the password is generated here, sent only in `CreateSecret` and read back only
//! to create a primary database; it is never returned in an `Observed`, logged or reported
//! (`Password` prints as `***`). A secret is found again by its deterministic name and
//! adopted only when its tags name this resource; one scheduled for deletion by a destroy is
//! restored (with the password the destroyed database's final snapshot still has).

mod refresh;

use super::attrs::{map, str_attr};
use super::emulator::Emulator;
use super::error::AwsResultExt;
use super::poll::{self, Pace};
use super::tags;
use super::{region_of, AwsProvider};
use crate::address::Address;
use crate::provider::{ApplyContext, Observed, Scope};
use crate::topology::{Desired, Kind, TAG_ADDRESS};
use anyhow::{anyhow, bail};
use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput;
use aws_sdk_secretsmanager::types::{ReplicaRegionType, StatusType, Tag};
use aws_sdk_secretsmanager::Client;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Days a deleted secret stays restorable: the minimum (DeleteSecret,
/// `RecoveryWindowInDays`), since the final snapshot of the destroyed database still has
/// this password.
const RECOVERY_WINDOW_DAYS: i64 = 7;
const NOT_FOUND: &[&str] = &["ResourceNotFoundException"];
/// Length of a generated password: within every engine's limit (Oracle's 30 is the lowest:
/// https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html,
/// `MasterUserPassword`).
const PASSWORD_LEN: usize = 28;
/// Letters and digits only: RDS refuses `/`, `"`, `@` and spaces (CreateDBInstance,
/// `MasterUserPassword`), and some engines more.
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A master password: printed as `***` whatever formats it.
pub(crate) struct Password(String);

impl Password {
    /// A random password of letters and digits (about 166 bits), starting with a letter.
    fn generate() -> anyhow::Result<Password> {
        let mut out = String::with_capacity(PASSWORD_LEN);
        while out.len() < PASSWORD_LEN {
            let mut bytes = [0u8; 64];
            getrandom::getrandom(&mut bytes)
                .map_err(|e| anyhow!("no randomness for a database password: {e}"))?;
            // Rejection sampling keeps every character equally likely.
            for b in bytes
                .into_iter()
                .filter(|b| (*b as usize) < 4 * ALPHABET.len())
            {
                let c = ALPHABET[b as usize % ALPHABET.len()];
                if out.len() < PASSWORD_LEN && (!out.is_empty() || c.is_ascii_alphabetic()) {
                    out.push(c as char);
                }
            }
        }
        Ok(Password(out))
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// The Secrets Manager API of one region.
pub(crate) struct Secrets {
    pub(crate) client: Client,
    pub(crate) region: String,
    /// Bounds concurrent reads (shared by every region's `Secrets`).
    pub(crate) limit: Arc<Semaphore>,
    pub(crate) emulator: Emulator,
}

impl Secrets {
    pub(crate) async fn create(&self, d: &Desired) -> anyhow::Result<Observed> {
        let (r, a) = (self.region.as_str(), &d.address);
        let name = str_attr(d, "name")?;
        match self.describe(name, a).await? {
            Some(live) => {
                ensure_ours(&live, d, r)?;
                // Scheduled for deletion by a destroy: a secret of that name cannot be
                // created until it is gone, and its password is the final snapshot's
                // (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_RestoreSecret.html).
                if live.deleted_date().is_some() {
                    self.client
                        .restore_secret()
                        .secret_id(name)
                        .send()
                        .await
                        .op("RestoreSecret", r, a)?;
                }
            }
            None => {
                let password = Password::generate()?;
                let replicas = replica_regions(d)?
                    .iter()
                    .map(|r| ReplicaRegionType::builder().region(r).build())
                    .collect();
                self.client
                    .create_secret()
                    .name(name)
                    .description(format!("standby: master password of {a}"))
                    .secret_string(password.expose())
                    .set_add_replica_regions(Some(replicas))
                    .set_tags(Some(secret_tags(d)))
                    .send()
                    .await
                    .op("CreateSecret", r, a)?;
            }
        }
        self.update(d).await
    }

    /// Tags and replica regions as desired; what the secret holds never changes.
    pub(crate) async fn update(&self, d: &Desired) -> anyhow::Result<Observed> {
        let (r, a) = (self.region.as_str(), &d.address);
        let name = str_attr(d, "name")?;
        // Right after CreateSecret the new secret may not be visible yet.
        let live = poll::retry(self.consistency(), NOT_FOUND, || {
            self.client.describe_secret().secret_id(name).send()
        })
        .await
        .op("DescribeSecret", r, a)?;
        self.client
            .tag_resource()
            .secret_id(name)
            .set_tags(Some(secret_tags(d)))
            .send()
            .await
            .op("TagResource", r, a)?;
        let want: BTreeSet<String> = replica_regions(d)?.into_iter().collect();
        let have: BTreeSet<String> = live_replicas(&live).into_iter().collect();
        let missing: Vec<ReplicaRegionType> = want
            .difference(&have)
            .map(|r| ReplicaRegionType::builder().region(r).build())
            .collect();
        if !missing.is_empty() {
            self.client
                .replicate_secret_to_regions()
                .secret_id(name)
                .set_add_replica_regions(Some(missing))
                .send()
                .await
                .op("ReplicateSecretToRegions", r, a)?;
        }
        let extra: Vec<String> = have.difference(&want).cloned().collect();
        if !extra.is_empty() {
            self.remove_replicas(name, extra, a).await?;
        }
        let live = self
            .describe(name, a)
            .await?
            .ok_or_else(|| anyhow!("{a}: the secret {name} in {r} disappeared; run apply again"))?;
        let mut o = observed(&live, a.clone(), r);
        o.depends_on = d.dependencies().cloned().collect();
        Ok(o)
    }

    /// Removes the replicas (deleted at once), then schedules the secret's deletion: a
    /// replicated secret cannot be deleted
    /// (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_DeleteSecret.html).
    pub(crate) async fn delete(&self, current: &Observed) -> anyhow::Result<()> {
        let (r, a) = (self.region.as_str(), &current.address);
        let Some(live) = self.describe(&current.id, a).await? else {
            return Ok(());
        };
        if live.deleted_date().is_some() {
            return Ok(());
        }
        let replicas = live_replicas(&live);
        if !replicas.is_empty() {
            self.remove_replicas(&current.id, replicas, a).await?;
        }
        self.client
            .delete_secret()
            .secret_id(&current.id)
            .recovery_window_in_days(RECOVERY_WINDOW_DAYS)
            .send()
            .await
            .absent_if(NOT_FOUND, "DeleteSecret", r, a)?;
        Ok(())
    }

    /// The password in `name` (the replica of this region, or the secret itself).
    /// A replica is made asynchronously after `CreateSecret`, so it is read until it exists
    /// (https://docs.aws.amazon.com/secretsmanager/latest/userguide/create-manage-multi-region-secrets.html).
    pub(crate) async fn password(&self, name: &str, a: &Address) -> anyhow::Result<Password> {
        let out = poll::retry(self.consistency(), NOT_FOUND, || {
            self.client.get_secret_value().secret_id(name).send()
        })
        .await
        .op("GetSecretValue", &self.region, a)?;
        out.secret_string()
            .map(|s| Password(s.to_string()))
            .ok_or_else(|| anyhow!("{a}: the secret {name} in {} holds no text; restore it or delete it and the database", self.region))
    }

    /// How long a just-made secret or replica may stay invisible (`--consistency-timeout`).
    fn consistency(&self) -> Pace {
        Pace::window(
            self.emulator,
            super::settings::settings().consistency_timeout,
        )
    }

    async fn remove_replicas(
        &self,
        name: &str,
        regions: Vec<String>,
        a: &Address,
    ) -> anyhow::Result<()> {
        self.client
            .remove_regions_from_replication()
            .secret_id(name)
            .set_remove_replica_regions(Some(regions))
            .send()
            .await
            .op("RemoveRegionsFromReplication", &self.region, a)?;
        Ok(())
    }

    /// The secret `name`, also when scheduled for deletion; `None` when there is none.
    async fn describe(
        &self,
        name: &str,
        a: &Address,
    ) -> anyhow::Result<Option<DescribeSecretOutput>> {
        self.client
            .describe_secret()
            .secret_id(name)
            .send()
            .await
            .absent_if(NOT_FOUND, "DescribeSecret", &self.region, a)
    }
}

fn replica_regions(d: &Desired) -> anyhow::Result<Vec<String>> {
    let Some(Value::Array(regions)) = d.attrs.get("replica_regions") else {
        bail!(
            "{}: attribute `replica_regions` must be a list of regions",
            d.address
        );
    };
    regions
        .iter()
        .map(|r| {
            r.as_str().map(str::to_string).ok_or_else(|| {
                anyhow!(
                    "{}: attribute `replica_regions` holds a non-region {r}",
                    d.address
                )
            })
        })
        .collect()
}

fn live_replicas(live: &DescribeSecretOutput) -> Vec<String> {
    let mut regions: Vec<String> = live
        .replication_status()
        .iter()
        // A failed replica (a secret of that name already there, say) is none: the next
        // apply replicates again and reports why it cannot.
        .filter(|s| s.status() != Some(&StatusType::Failed))
        .filter_map(|s| s.region().map(str::to_string))
        .collect();
    regions.sort();
    regions
}

/// The regions whose replica is `InSync` (DescribeSecret `ReplicationStatus`:
/// https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_ReplicationStatusType.html).
fn replicas_in_sync(live: &DescribeSecretOutput) -> Vec<String> {
    let mut regions: Vec<String> = live
        .replication_status()
        .iter()
        .filter(|s| s.status() == Some(&StatusType::InSync))
        .filter_map(|s| s.region().map(str::to_string))
        .collect();
    regions.sort();
    regions
}

fn secret_tags(d: &Desired) -> Vec<Tag> {
    d.tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
        .collect()
}

/// A secret of this name is adopted only when its tags say it is this resource.
fn ensure_ours(live: &DescribeSecretOutput, d: &Desired, region: &str) -> anyhow::Result<()> {
    let a = &d.address;
    let name = live.name().unwrap_or_default();
    let live = tag_map(live.tags());
    let ours = tags::owner(&d.tags).unwrap_or_default();
    if let Some(owner) = tags::owner(&live).filter(|o| *o != ours) {
        let what = format!("the secret {name} in {region}");
        let fix = "rename the environment (or the service) so the names differ";
        bail!("{}", tags::conflict(a, &what, &owner, &ours, fix));
    }
    match live.get(TAG_ADDRESS) {
        Some(owner) if owner == a.as_str() => Ok(()),
        owner => bail!(
            "{a}: the secret {name} already exists in {region} and belongs to {}; delete it or rename the database in the spec",
            owner.map(String::as_str).unwrap_or("nothing standby manages")
        ),
    }
}

/// A secret as `Observed`: its name and replica regions, never what it holds.
fn observed(live: &DescribeSecretOutput, address: Address, region: &str) -> Observed {
    let name = live.name().unwrap_or_default();
    let mut o = Observed {
        address,
        kind: Kind::DbSecret,
        region: Some(region.to_string()),
        id: name.to_string(),
        attrs: map([
            ("name", json!(name)),
            ("replica_regions", json!(live_replicas(live))),
        ]),
        computed: map([
            ("arn", json!(live.arn().unwrap_or_default())),
            ("replicas_in_sync", json!(replicas_in_sync(live))),
        ]),
        depends_on: Vec::new(),
    };
    let tags = tag_map(live.tags());
    tags::observe(&mut o, tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    o
}

/// The secrets family's handler: one secret per database, in its home region.
pub(super) struct SecretsFamily;

#[async_trait::async_trait]
impl super::handler::KindHandler for SecretsFamily {
    async fn refresh(&self, p: &AwsProvider, scope: &Scope) -> anyhow::Result<Vec<Observed>> {
        refresh::refresh(scope, &|r: &str| p.secrets(r)).await
    }

    async fn create(
        &self,
        p: &AwsProvider,
        d: &Desired,
        _ctx: &dyn ApplyContext,
    ) -> anyhow::Result<Observed> {
        p.secrets(region_of(&d.address, d.region.as_deref())?)
            .create(d)
            .await
    }

    async fn update(
        &self,
        p: &AwsProvider,
        d: &Desired,
        _current: &Observed,
        _ctx: &dyn ApplyContext,
    ) -> anyhow::Result<Observed> {
        p.secrets(region_of(&d.address, d.region.as_deref())?)
            .update(d)
            .await
    }

    async fn delete(&self, p: &AwsProvider, current: &Observed) -> anyhow::Result<()> {
        p.secrets(region_of(&current.address, current.region.as_deref())?)
            .delete(current)
            .await
    }
}

/// Where a database of `region` reads the password of `secret`: its own region's replica
/// when there is one, else the secret's home.
pub(crate) fn read_region<'a>(secret: &'a Observed, region: &'a str) -> &'a str {
    let home = secret.region.as_deref().unwrap_or(region);
    let replicated = secret
        .attrs
        .get("replica_regions")
        .and_then(Value::as_array)
        .is_some_and(|rs| rs.iter().any(|r| r.as_str() == Some(region)));
    if replicated {
        region
    } else {
        home
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_letters_and_digits_of_the_set_length_and_differ() {
        let a = Password::generate().unwrap();
        let b = Password::generate().unwrap();
        assert_eq!(a.expose().len(), PASSWORD_LEN);
        assert!(a.expose().bytes().all(|c| ALPHABET.contains(&c)));
        assert!(a.expose().as_bytes()[0].is_ascii_alphabetic());
        assert_ne!(a.expose(), b.expose());
        assert_eq!(format!("{a:?}"), "***");
    }
}
