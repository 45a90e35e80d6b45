//! Who owns a DNS name. Route 53 records carry no tags, so every record standby manages has
//! an owner record beside it, as external-dns keeps its registry: a TXT record
//! `_standby-<set identifier>.<name>` (`_standby.<name>` for a record without one) holding
//! `"standby:owner=<service>/<environment>"`, changed in the same change batch as its record
//! (Route 53 applies a batch all or nothing).
//!
//! Invariant: an owner record is written and removed only together with its record, so
//! records of one name changed concurrently never race over a shared one.

use aws_sdk_route53::types::{ResourceRecord, ResourceRecordSet, RrType};
use std::collections::HashMap;

/// The label in front of the name an owner record is kept at: a TXT record of the name
/// itself could clash with the zone's own TXT records (SPF, verifications).
const LABEL: &str = "_standby";
const VALUE_PREFIX: &str = "standby:owner=";

/// `_standby-<set>.<name>` or `_standby.<name>`, without the final dot.
pub(crate) fn record_name(name: &str, set: Option<&str>) -> String {
    let name = name.trim_end_matches('.');
    match set {
        Some(set) => format!("{LABEL}-{set}.{name}"),
        None => format!("{LABEL}.{name}"),
    }
}

/// The owner record of the record `name` (`set`): `<service>/<environment>` as a quoted TXT
/// string.
pub(crate) fn txt_set(
    name: &str,
    set: Option<&str>,
    owner: &str,
    ttl: i64,
) -> anyhow::Result<ResourceRecordSet> {
    let value = format!("\"{VALUE_PREFIX}{owner}\"");
    Ok(ResourceRecordSet::builder()
        .name(record_name(name, set))
        .r#type(RrType::Txt)
        .ttl(ttl)
        .resource_records(ResourceRecord::builder().value(value).build()?)
        .build()?)
}

/// The record name (lower-case, without the final dot) and owner an owner record speaks
/// for; `None` for any other record.
pub(crate) fn owner_of(set: &ResourceRecordSet) -> Option<(String, String)> {
    if set.r#type() != &RrType::Txt {
        return None;
    }
    let full = set.name().trim_end_matches('.').to_ascii_lowercase();
    let (label, name) = full.split_once('.')?;
    if label != LABEL && !label.starts_with(&format!("{LABEL}-")) {
        return None;
    }
    let name = name.to_string();
    let value = set.resource_records().first()?.value().trim_matches('"');
    let owner = value.strip_prefix(VALUE_PREFIX)?;
    Some((name, owner.to_string()))
}

/// Record name (lower-case, without the final dot) to owner, from a zone's records.
pub(crate) fn owners(sets: &[ResourceRecordSet]) -> HashMap<String, String> {
    sets.iter().filter_map(owner_of).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_owner_record_reads_back_as_written() {
        let set = txt_set("API.example.com.", Some("us-east-1"), "checkout/prod", 60).unwrap();
        assert_eq!(set.name(), "_standby-us-east-1.API.example.com");
        assert_eq!(
            set.resource_records()[0].value(),
            "\"standby:owner=checkout/prod\""
        );
        assert_eq!(
            owner_of(&set),
            Some(("api.example.com".into(), "checkout/prod".into()))
        );
        let plain = txt_set("drill-1.example.com", None, "checkout/prod-drill-1", 60).unwrap();
        assert_eq!(owner_of(&plain).unwrap().0, "drill-1.example.com");
    }
}
