//! The four component kinds (`cluster`, `database`, `bucket`, `dns`): their attributes,
//! their defaults, and decoding of evaluated attributes into typed settings.
//!
//! Invariant: settings are only produced when every attribute decoded cleanly; the
//! defaults documented on each `decode_*` function are the only ones applied.

use super::aws_names::{check_db_instance_class, check_instance_type};
use super::decoder::Decoder;
use super::schema::{self, Schema};
use super::spec::{
    BucketSettings, ClusterSettings, ComponentName, DatabaseSettings, DnsSettings, HealthCheck,
};
use hcl::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ComponentKind {
    Cluster,
    Database,
    Bucket,
    Dns,
}

impl ComponentKind {
    pub const ALL: [ComponentKind; 4] = [
        ComponentKind::Cluster,
        ComponentKind::Database,
        ComponentKind::Bucket,
        ComponentKind::Dns,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ComponentKind::Cluster => "cluster",
            ComponentKind::Database => "database",
            ComponentKind::Bucket => "bucket",
            ComponentKind::Dns => "dns",
        }
    }

    pub fn parse(s: &str) -> Option<ComponentKind> {
        ComponentKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The attributes and nested blocks a block of this kind (or an override of it) takes.
    pub fn schema(self) -> &'static Schema {
        match self {
            ComponentKind::Cluster => &schema::CLUSTER,
            ComponentKind::Database => &schema::DATABASE,
            ComponentKind::Bucket => &schema::BUCKET,
            ComponentKind::Dns => &schema::DNS,
        }
    }
}

/// Typed settings of any kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Settings {
    Cluster(ClusterSettings),
    Database(DatabaseSettings),
    Bucket(BucketSettings),
    Dns(DnsSettings),
}

impl Settings {
    pub fn decode(kind: ComponentKind, d: &mut Decoder) -> Option<Settings> {
        match kind {
            ComponentKind::Cluster => decode_cluster(d).map(Settings::Cluster),
            ComponentKind::Database => decode_database(d).map(Settings::Database),
            ComponentKind::Bucket => decode_bucket(d).map(Settings::Bucket),
            ComponentKind::Dns => decode_dns(d).map(Settings::Dns),
        }
    }

    /// What `cluster.web` evaluates to: every setting, defaults included, plus `name` and
    /// `address` (which lets `dns { cluster = ... }` find the cluster through locals and
    /// module outputs).
    pub fn to_value(&self, kind: ComponentKind, name: &ComponentName) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), Value::from(name.name.clone()));
        m.insert(
            "address".into(),
            Value::from(name.address(None, kind.as_str()).to_string()),
        );
        let mut put = |k: &str, v: Value| {
            m.insert(k.to_string(), v);
        };
        match self {
            Settings::Cluster(s) => {
                put("instance_type", s.instance_type.clone().into());
                put("size", u64::from(s.size).into());
                put("image", s.image.clone().into());
                put("port", u64::from(s.port).into());
                put(
                    "max_size",
                    s.max_size.map_or(Value::Null, |m| u64::from(m).into()),
                );
                put(
                    "min_healthy_percentage",
                    u64::from(s.min_healthy_percentage).into(),
                );
            }
            Settings::Database(s) => {
                put("engine", s.engine.clone().into());
                put("engine_version", s.engine_version.clone().into());
                put("instance_class", s.instance_class.clone().into());
                put("storage_gb", u64::from(s.storage_gb).into());
                put("backup", u64::from(s.backup_days).into());
                put("prevent_destroy", s.prevent_destroy.into());
            }
            Settings::Bucket(s) => {
                put("cold_storage_class", s.cold_storage_class.clone().into());
                put(
                    "replication_role_arn",
                    s.replication_role_arn
                        .clone()
                        .map_or(Value::Null, Value::from),
                );
                put(
                    "bucket_name",
                    s.bucket_name.clone().map_or(Value::Null, Value::from),
                );
            }
            Settings::Dns(s) => {
                put("zone", s.zone.clone().into());
                put("name", s.name.clone().into());
                put(
                    "cluster",
                    s.cluster.address(None, "cluster").to_string().into(),
                );
                put("ttl", u64::from(s.ttl).into());
                let hc = s.health_check.as_ref().map_or(Value::Null, |h| {
                    let mut o = Map::new();
                    o.insert("path".into(), h.path.clone().into());
                    o.insert("port".into(), u64::from(h.port).into());
                    o.insert("protocol".into(), h.protocol.clone().into());
                    Value::Object(o)
                });
                put("health_check", hc);
            }
        }
        Value::Object(m)
    }
}

/// Cluster: `size` (at least 1) and `image` are required; `instance_type` defaults to
/// `t3.micro` and `port` to 80; `max_size`, when given, is at least `size`;
/// `min_healthy_percentage` (of an instance refresh) is 0 to 100, 100 by default.
fn decode_cluster(d: &mut Decoder) -> Option<ClusterSettings> {
    let instance_type = d.string("instance_type", Some("t3.micro"));
    if let Err((message, help)) = check_instance_type(&instance_type) {
        d.invalid("instance_type", message, help);
    }
    let size = d.whole("size", None, 1, 10_000);
    let image = d.string("image", None);
    let port = d.port("port", Some(80));
    let max_size = d
        .has_value("max_size")
        .then(|| d.whole("max_size", None, 1, 10_000) as u32);
    if let Some(max) = max_size.filter(|m| *m < size as u32) {
        d.invalid(
            "max_size",
            format!("max_size {max} is below size {size}"),
            format!("give max_size {size} or more, or leave it out"),
        );
    }
    let min_healthy = d.whole(
        "min_healthy_percentage",
        Some(i64::from(crate::topology::MIN_HEALTHY_PERCENTAGE)),
        0,
        100,
    );
    d.done(ClusterSettings {
        instance_type,
        size: size as u32,
        image,
        port,
        max_size,
        min_healthy_percentage: min_healthy as u32,
    })
}

const ENGINES: &[&str] = &["postgres", "mysql", "mariadb"];

/// Database: `engine` (postgres, mysql or mariadb: the engines with cross-region read
/// replicas) and `instance_class` are required; `engine_version` defaults to "" (the
/// engine's default version), `storage_gb` to 20 (the RDS minimum), `backup` to 7 days and
/// `prevent_destroy` to true.
fn decode_database(d: &mut Decoder) -> Option<DatabaseSettings> {
    let engine = d.one_of("engine", None, ENGINES);
    let engine_version = d.string("engine_version", Some(""));
    let instance_class = d.string("instance_class", None);
    if d.has_value("instance_class") {
        if let Err((message, help)) = check_db_instance_class(&instance_class) {
            d.invalid("instance_class", message, help);
        }
    }
    let storage_gb = d.whole("storage_gb", Some(20), 20, 65_536);
    // RDS keeps automated backups 1 to 35 days; 0 would turn them off, and with them read
    // replicas and their replication (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html,
    // `BackupRetentionPeriod`).
    let backup = d.whole("backup", Some(7), 1, 35);
    let prevent_destroy = d.bool("prevent_destroy", Some(true));
    d.done(DatabaseSettings {
        engine,
        engine_version,
        instance_class,
        storage_gb: storage_gb as u32,
        backup_days: backup as u32,
        prevent_destroy,
    })
}

const STORAGE_CLASSES: &[&str] = &[
    "STANDARD",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER_IR",
    "GLACIER",
    "DEEP_ARCHIVE",
];

/// Bucket: `cold_storage_class` defaults to `GLACIER`; `replication_role_arn` is optional
/// (absent: the tool creates the replication role); `bucket_name` is optional (absent: the
/// names start `<service>-<environment>-<bucket>`).
fn decode_bucket(d: &mut Decoder) -> Option<BucketSettings> {
    let cold_storage_class = d.one_of("cold_storage_class", Some("GLACIER"), STORAGE_CLASSES);
    let replication_role_arn = d.optional_string("replication_role_arn");
    let bucket_name = d.optional_string("bucket_name");
    if let Some(name) = bucket_name.as_deref().filter(|n| !bucket_name_shape(n)) {
        d.invalid(
            "bucket_name",
            format!("invalid bucket_name `{name}`"),
            format!("S3 bucket names are lower-case letters, digits and hyphens, starting and ending with a letter or digit; standby appends `-<region>`, so `bucket_name` is 3 to {BUCKET_NAME_MAX} characters, such as `acme-checkout-receipts`"),
        );
    }
    d.done(BucketSettings {
        cold_storage_class,
        replication_role_arn,
        bucket_name,
    })
}

/// The longest `bucket_name`: S3's 63 characters less `-` and the longest region name
/// (`ap-southeast-7`, 14;
/// https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html).
const BUCKET_NAME_MAX: usize = 48;

fn bucket_name_shape(name: &str) -> bool {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    (3..=BUCKET_NAME_MAX).contains(&name.len())
        && edge(name.chars().next())
        && edge(name.chars().last())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

const PROTOCOLS: &[&str] = &["HTTP", "HTTPS", "TCP"];

/// DNS: `zone`, `name` (equal to the zone or inside it) and `cluster` (a reference such
/// as `cluster.web`) are required; `ttl` defaults to 60. The optional `health_check`
/// block defaults `path` to "/", `port` to the cluster's port and `protocol` to `HTTP`.
fn decode_dns(d: &mut Decoder) -> Option<DnsSettings> {
    let zone = d.string("zone", None).trim_end_matches('.').to_string();
    let name = d.string("name", None).trim_end_matches('.').to_string();
    if !zone.is_empty() && name != zone && !name.ends_with(&format!(".{zone}")) {
        d.invalid(
            "name",
            format!("`{name}` is not inside the zone `{zone}`"),
            format!("use a name ending in `.{zone}`"),
        );
    }
    let (cluster, cluster_port) = match d.get("cluster") {
        Some(v) => match cluster_reference(&v) {
            Some(found) => found,
            None => {
                d.invalid(
                    "cluster",
                    "`cluster` must reference a cluster".to_string(),
                    "write a reference such as `cluster = cluster.web`".to_string(),
                );
                (ComponentName::root(""), 80)
            }
        },
        None => {
            d.missing("cluster", "cluster.web");
            (ComponentName::root(""), 80)
        }
    };
    let ttl = d.whole("ttl", Some(60), 0, 2_147_483_647);
    let health_check = d.nested("health_check", |h| {
        let path = h.string("path", Some("/"));
        let port = h.port("port", Some(cluster_port));
        let protocol = h.one_of("protocol", Some("HTTP"), PROTOCOLS);
        h.done(HealthCheck {
            path,
            port,
            protocol,
        })
    });
    d.done(DnsSettings {
        zone,
        name,
        cluster,
        ttl: ttl as u32,
        health_check,
    })
}

/// The cluster a `cluster.web`-style value points at, and its port.
fn cluster_reference(v: &Value) -> Option<(ComponentName, u16)> {
    let obj = v.as_object()?;
    let address = obj.get("address")?.as_str()?;
    let port = obj
        .get("port")
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
        .unwrap_or(80);
    let mut parts: Vec<&str> = address.split('.').collect();
    let name = parts.pop()?;
    if parts.pop()? != "cluster" {
        return None;
    }
    let mut modules = Vec::new();
    for pair in parts.chunks(2) {
        match pair {
            ["module", m] => modules.push((*m).to_string()),
            _ => return None,
        }
    }
    Some((
        ComponentName {
            modules,
            name: name.to_string(),
        },
        port,
    ))
}
