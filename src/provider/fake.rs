//! An in-memory provider for fast unit tests of the engine.
//!
//! Invariant: it behaves like a perfectly consistent cloud: what was created is read back
//! exactly as desired, until something is changed behind the engine's back through `edit`.
//! Resources put at `unmanaged.*` addresses through `edit` are refreshed only when the scope
//! asks for unmanaged resources, as the AWS provider does.

use super::{ApplyContext, GlobalRead, Observed, Provider, Scope};
use crate::address::Address;
use crate::topology::Desired;
use anyhow::{bail, Result};
use async_trait::async_trait;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

#[derive(Default)]
pub struct FakeProvider {
    resources: Mutex<BTreeMap<Address, Observed>>,
    failing: Mutex<BTreeSet<Address>>,
    requests: AtomicU64,
    next_id: AtomicU64,
    lags: Mutex<BTreeMap<String, std::time::Duration>>,
    regions_called: Mutex<BTreeSet<String>>,
}

impl FakeProvider {
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes every action on `address` fail from now on.
    pub fn fail_on(&self, address: &str) {
        self.failing.lock().unwrap().insert(Address::new(address));
    }

    /// Changes or removes a resource out of band, as a person in the console would.
    pub fn edit(&self, address: &str, f: impl FnOnce(&mut Option<Observed>)) {
        let mut all = self.resources.lock().unwrap();
        let key = Address::new(address);
        let mut entry = all.remove(&key);
        f(&mut entry);
        if let Some(o) = entry {
            all.insert(key, o);
        }
    }

    /// Sets the `ReplicaLag` CloudWatch would report for the database `identifier`.
    pub fn set_lag(&self, identifier: &str, lag: std::time::Duration) {
        self.lags
            .lock()
            .unwrap()
            .insert(identifier.to_string(), lag);
    }

    /// Every region a call went to (refreshes, actions, CloudWatch); `global` for the rest.
    pub fn regions_called(&self) -> BTreeSet<String> {
        self.regions_called.lock().unwrap().clone()
    }

    fn called(&self, region: Option<&str>) {
        self.regions_called
            .lock()
            .unwrap()
            .insert(region.unwrap_or("global").to_string());
    }

    pub fn all(&self) -> Vec<Observed> {
        self.resources.lock().unwrap().values().cloned().collect()
    }

    fn check(&self, address: &Address, operation: &str) -> Result<()> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.called(address.region());
        if self.failing.lock().unwrap().contains(address) {
            bail!("{operation} failed for {address}: injected failure (request id fake-{address})");
        }
        Ok(())
    }
}

#[async_trait]
impl Provider for FakeProvider {
    async fn refresh(&self, scope: &Scope) -> Result<Vec<Observed>> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        for r in &scope.regions {
            self.called(Some(r));
        }
        Ok(self
            .resources
            .lock()
            .unwrap()
            .values()
            .filter(|o| match &o.region {
                Some(r) => scope.regions.contains(r),
                None => {
                    GlobalRead::control_plane(o.kind).is_some_and(|g| scope.global.contains(&g))
                }
            })
            .filter(|o| scope.include_unmanaged || !o.address.is_unmanaged())
            .cloned()
            .collect())
    }

    async fn create(&self, desired: &Desired, ctx: &dyn ApplyContext) -> Result<Observed> {
        self.check(&desired.address, "Create")?;
        super::resolve_refs(desired, ctx)?;
        let mut all = self.resources.lock().unwrap();
        if let Some(existing) = all.get(&desired.address) {
            return Ok(existing.clone());
        }
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut computed = serde_json::Map::new();
        computed.insert("arn".into(), format!("arn:fake:{}", desired.address).into());
        match desired.kind {
            crate::topology::Kind::AutoScalingGroup => {
                computed.insert("in_service".into(), desired.attrs["desired"].clone());
            }
            crate::topology::Kind::LoadBalancer => {
                let dns = format!(
                    "lb-{n}.{}.elb.example",
                    desired.region.as_deref().unwrap_or("")
                );
                computed.insert("dns_name".into(), dns.into());
                computed.insert("zone_id".into(), "ZFAKELB".into());
            }
            crate::topology::Kind::Database => {
                computed.insert("status".into(), "available".into());
            }
            _ => {}
        }
        let o = Observed {
            address: desired.address.clone(),
            kind: desired.kind,
            region: desired.region.clone(),
            id: format!("fake-{n}"),
            attrs: desired.attrs.clone(),
            computed,
            depends_on: vec![],
        };
        all.insert(desired.address.clone(), o.clone());
        Ok(o)
    }

    async fn update(
        &self,
        desired: &Desired,
        current: &Observed,
        _ctx: &dyn ApplyContext,
    ) -> Result<Observed> {
        self.check(&desired.address, "Update")?;
        let mut o = current.clone();
        if desired.attrs.get("stopped") == Some(&serde_json::Value::Bool(true)) {
            // A stop (a fence's, a restore's kept instance): the database itself is unchanged.
            o.computed.insert("status".into(), "stopped".into());
        } else {
            o.attrs = desired.attrs.clone();
        }
        if desired.kind == crate::topology::Kind::AutoScalingGroup {
            o.computed
                .insert("in_service".into(), desired.attrs["desired"].clone());
        }
        self.resources
            .lock()
            .unwrap()
            .insert(desired.address.clone(), o.clone());
        Ok(o)
    }

    async fn delete(&self, current: &Observed, _ctx: &dyn ApplyContext) -> Result<()> {
        self.check(&current.address, "Delete")?;
        self.resources.lock().unwrap().remove(&current.address);
        Ok(())
    }

    async fn replica_lag(
        &self,
        region: &str,
        identifier: &str,
    ) -> Result<Option<std::time::Duration>> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.called(Some(region));
        Ok(self.lags.lock().unwrap().get(identifier).copied())
    }

    fn brief(&self) -> &dyn Provider {
        self
    }

    fn request_count(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}
