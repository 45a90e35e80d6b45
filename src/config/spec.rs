//! The evaluated spec: plain typed values, no HCL left in them.
//!
//! Invariant: a `Spec` is only ever built by the config loader after every diagnostic
//! passed, so the rest of the engine can trust it (one primary, valid CIDRs, durations).

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// The role a region plays. `Failed` only ever comes from state (after a promote).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Primary,
    WarmStandby,
    ColdStandby,
    Failed,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Primary => "primary",
            Role::WarmStandby => "warm-standby",
            Role::ColdStandby => "cold-standby",
            Role::Failed => "failed",
        }
    }

    /// Parses a role a user may write in a spec or on the command line.
    pub fn parse_declared(s: &str) -> Option<Role> {
        match s {
            "primary" => Some(Role::Primary),
            "warm-standby" => Some(Role::WarmStandby),
            "cold-standby" => Some(Role::ColdStandby),
            _ => None,
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone)]
pub struct Spec {
    /// The environment's name: the directory's base name.
    pub environment: String,
    pub env_dir: PathBuf,
    pub service: Service,
    /// In declaration order; exactly one has `Role::Primary`.
    pub regions: Vec<Region>,
    pub clusters: Vec<Component<ClusterSettings>>,
    pub databases: Vec<Component<DatabaseSettings>>,
    pub buckets: Vec<Component<BucketSettings>>,
    pub dns: Vec<Component<DnsSettings>>,
    pub outputs: BTreeMap<String, serde_json::Value>,
    pub backend: Option<Backend>,
    /// `drift { ignore "ADDRESS" { ... } }` rules, in declaration order.
    pub drift_ignores: Vec<DriftIgnore>,
}

#[derive(Debug, Clone)]
pub struct Service {
    pub name: String,
    pub rto: Duration,
    pub rpo: Duration,
    pub tags: BTreeMap<String, String>,
    /// How old the last successful drill of each standby may be (`check`); `None`: no policy.
    pub drill_every: Option<Duration>,
}

#[derive(Debug, Clone)]
pub struct Region {
    pub name: String,
    pub role: Role,
    pub cidr: Ipv4Net,
    /// Never empty: defaults to `<region>a` and `<region>b`.
    pub zones: Vec<String>,
    /// Share of each cluster kept running in a warm standby; default 0.5.
    pub capacity: f64,
}

/// A component with its settings and the per-region overrides merged over them.
#[derive(Debug, Clone)]
pub struct Component<S> {
    /// `web`, or `module.x.web` style path for module components: see `ComponentName`.
    pub name: ComponentName,
    pub settings: S,
    /// Region name to the settings with that region's override merged in.
    pub per_region: BTreeMap<String, S>,
}

impl<S> Component<S> {
    pub fn settings_in(&self, region: &str) -> &S {
        self.per_region.get(region).unwrap_or(&self.settings)
    }
}

/// A component's name with the modules it was instantiated through.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ComponentName {
    /// Module instance names from the root down: `["x"]` for `module.x.cluster.web`.
    pub modules: Vec<String>,
    pub name: String,
}

impl ComponentName {
    pub fn root(name: impl Into<String>) -> Self {
        ComponentName {
            modules: Vec::new(),
            name: name.into(),
        }
    }

    /// The component's address: `[region.<r>.][module.x.]cluster.web` for kind `cluster`.
    pub fn address(&self, region: Option<&str>, kind: &str) -> crate::address::Address {
        crate::address::Address::component(region, &self.modules, kind, &self.name)
    }

    /// A flat name for AWS resource names: `x-web`.
    pub fn slug(&self) -> String {
        let mut parts = self.modules.clone();
        parts.push(self.name.clone());
        parts.join("-")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClusterSettings {
    pub instance_type: String,
    pub size: u32,
    pub image: String,
    pub port: u16,
    /// The Auto Scaling group's maximum (headroom above `size`); `None`: `size`.
    pub max_size: Option<u32>,
    /// The share of the group's desired capacity an instance refresh keeps healthy while it
    /// replaces instances (0 to 100).
    pub min_healthy_percentage: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DatabaseSettings {
    pub engine: String,
    pub engine_version: String,
    pub instance_class: String,
    pub storage_gb: u32,
    /// `backup`: days of automated backups kept (RDS `BackupRetentionPeriod`), in the primary
    /// and replicated into each cold standby; default 7.
    pub backup_days: u32,
    /// Defaults to true for databases.
    pub prevent_destroy: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BucketSettings {
    /// Storage class of replicas in cold-standby regions; default `GLACIER`.
    pub cold_storage_class: String,
    /// An existing IAM role for replication; the tool creates one when absent.
    pub replication_role_arn: Option<String>,
    /// The start of the bucket names instead of `<service>-<environment>-<bucket>`: S3 names
    /// are global across accounts, so a name taken elsewhere needs one of the user's own.
    /// Each region's bucket is `<bucket_name>-<region>`.
    pub bucket_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DnsSettings {
    pub zone: String,
    pub name: String,
    /// The cluster whose instances the records point at.
    pub cluster: ComponentName,
    pub ttl: u32,
    pub health_check: Option<HealthCheck>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HealthCheck {
    pub path: String,
    pub port: u16,
    /// `HTTP`, `HTTPS` or `TCP`.
    pub protocol: String,
}

/// `standby { backend "s3" { ... } }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Backend {
    pub bucket: String,
    pub key: String,
    pub region: String,
    pub kms_key_id: Option<String>,
    /// `replica { bucket, region }`: a copy of the state in another region.
    pub replica: Option<BackendReplica>,
}

/// `replica { bucket, region }` inside the backend: every state write lands there too, under
/// the same key, so a promote can read, lock and write the state while the backend's region
/// is down.
#[derive(Debug, Clone, PartialEq)]
pub struct BackendReplica {
    pub bucket: String,
    pub region: String,
}

/// `drift { ignore "ADDRESS" { attributes, reason, until } }`: drift that `standby drift`
/// leaves out of its verdict (it still lists it, with the reason).
#[derive(Debug, Clone, PartialEq)]
pub struct DriftIgnore {
    /// An address prefix, matched as `--target` matches: the address and what lies inside.
    pub address: String,
    /// Managed attribute keys to ignore; empty: everything about the matched resources
    /// (changed attributes, missing, unmanaged, not applied).
    pub attributes: Vec<String>,
    /// Why this drift is accepted; required.
    pub reason: String,
    /// The last day the rule applies (inclusive, UTC); after it the drift is reported again.
    pub until: Option<time::Date>,
}

impl Spec {
    pub fn primary(&self) -> &Region {
        self.regions
            .iter()
            .find(|r| r.role == Role::Primary)
            .expect("the loader guarantees exactly one primary")
    }

    pub fn region(&self, name: &str) -> Option<&Region> {
        self.regions.iter().find(|r| r.name == name)
    }
}
