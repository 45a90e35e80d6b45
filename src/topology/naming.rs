//! Deterministic AWS names and tags from service, environment, component and region.
//!
//! Invariant: a name depends only on those four, so a lost state finds its resources again;
//! S3 names are lower-case and at most 63 characters.

use super::resource::{Kind, OWNER, TAGS};
use crate::address::Address;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

pub const TAG_SERVICE: &str = "standby:service";
pub const TAG_ENVIRONMENT: &str = "standby:environment";
pub const TAG_ADDRESS: &str = "standby:address";
/// Tags under this prefix are standby's own: the spec cannot set them (a diagnostic), they
/// are not part of the managed `tags` attribute, and no user tag overrides them.
pub const TAG_PREFIX: &str = "standby:";
/// The tag AWS consoles show as the name: standby sets it to the deterministic name.
pub const TAG_NAME: &str = "Name";

/// Whether `key` is a tag standby sets itself (`Name` and `standby:*`), as opposed to a
/// user tag from `service.tags`.
pub fn is_own_tag(key: &str) -> bool {
    key == TAG_NAME || key.starts_with(TAG_PREFIX)
}

#[derive(Debug, Clone)]
pub struct Naming {
    pub service: String,
    pub environment: String,
    pub service_tags: BTreeMap<String, String>,
}

impl Naming {
    /// `checkout-prod-web-us-east-1` style names for regional resources.
    pub fn regional(&self, component: &str, region: &str) -> String {
        format!(
            "{}-{}-{}-{}",
            self.service, self.environment, component, region
        )
    }

    /// A globally unique, lower-case S3 bucket name of at most 63 characters.
    pub fn bucket(&self, component: &str, region: &str) -> String {
        let full = sanitize_bucket(&self.regional(component, region));
        if full.len() <= 63 {
            return full;
        }
        let hash = short_hash(&full);
        let keep = 63 - hash.len() - 1;
        format!("{}-{}", full[..keep].trim_end_matches('-'), hash)
    }

    /// A bucket name from the spec's `bucket_name` (checked in `config`: at most 48 characters
    /// of S3's alphabet): `<bucket_name>-<region>`.
    pub fn bucket_named(&self, bucket_name: &str, region: &str) -> String {
        format!("{bucket_name}-{region}")
    }

    /// Load balancer and target group names: letters, digits and hyphens, at most 32
    /// characters (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html,
    /// `Name`); a longer name keeps its start and a hash of the whole.
    pub fn elb(&self, component: &str, region: &str) -> String {
        let full = sanitize_bucket(&self.regional(component, region));
        if full.len() <= 32 {
            return full;
        }
        let hash = short_hash(&full);
        format!(
            "{}-{hash}",
            full[..32 - hash.len() - 1].trim_end_matches('-')
        )
    }

    /// IAM role names: at most 64 characters.
    pub fn role(&self, component: &str) -> String {
        let full = format!(
            "standby-{}-{}-{}-replication",
            self.service, self.environment, component
        );
        if full.len() <= 64 {
            return full;
        }
        let hash = short_hash(&full);
        format!("{}-{}", &full[..64 - hash.len() - 1], hash)
    }

    /// The user tags of `service.tags`: what the managed `tags` attribute holds. A drill's
    /// `standby:drill` marker travels in `service_tags` too but is standby's own.
    pub fn user_tags(&self) -> BTreeMap<String, String> {
        self.service_tags
            .iter()
            .filter(|(k, _)| !is_own_tag(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Adds what standby manages on every resource of `kind`: the user tags (on a kind that
    /// carries tags) and a record's owner.
    pub fn add_managed(&self, kind: Kind, attrs: &mut Map<String, Value>) {
        if kind.has_tags() {
            let tags = self
                .user_tags()
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect();
            attrs.insert(TAGS.into(), Value::Object(tags));
        }
        if kind == Kind::Record {
            let owner = format!("{}/{}", self.service, self.environment);
            attrs.insert(OWNER.into(), Value::String(owner));
        }
    }

    /// `Name`, the `standby:*` tags and the service's own tags; standby's own win.
    pub fn tags(&self, name: &str, address: &Address) -> BTreeMap<String, String> {
        let mut tags = self.service_tags.clone();
        tags.insert(TAG_NAME.into(), name.into());
        tags.insert(TAG_SERVICE.into(), self.service.clone());
        tags.insert(TAG_ENVIRONMENT.into(), self.environment.clone());
        tags.insert(TAG_ADDRESS.into(), address.to_string());
        tags
    }
}

fn sanitize_bucket(s: &str) -> String {
    let lowered: String = s
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    lowered.trim_matches('-').to_string()
}

/// Eight hex digits of SHA-256: enough to keep truncated names apart.
pub fn short_hash(s: &str) -> String {
    hex::encode(&Sha256::digest(s.as_bytes())[..4])
}

/// `<identifier>-<suffix>` within RDS's 63 characters, never ending in or doubling a hyphen.
pub fn derived_identifier(identifier: &str, suffix: &str) -> String {
    let room = 63 - suffix.len() - 1;
    let stem: String = identifier.chars().take(room).collect();
    format!("{}-{suffix}", stem.trim_end_matches('-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naming() -> Naming {
        Naming {
            service: "checkout".into(),
            environment: "prod".into(),
            service_tags: BTreeMap::new(),
        }
    }

    #[test]
    fn bucket_names_are_short_and_lower_case() {
        let n = naming();
        assert_eq!(
            n.bucket("Receipts", "us-east-1"),
            "checkout-prod-receipts-us-east-1"
        );
        let long = n.bucket(&"a".repeat(80), "eu-west-1");
        assert_eq!(long.len(), 63);
        assert_ne!(long, n.bucket(&"a".repeat(81), "eu-west-1"));
    }
}
