//! Specs the integration tests share, put together from the blocks in `tests/it/specs/`:
//! the DR environment (the reliability bench runs it too) and the pieces most tests build
//! their own spec from. Each piece starts with a blank line, so they join as written
//! (`[SERVICE, REGIONS, rest].concat()`).

/// The named files of `tests/it/specs/`, joined.
macro_rules! pieces {
    ($($piece:literal),+) => {
        concat!($(include_str!(concat!("../specs/", $piece, ".hcl"))),+)
    };
}

/// The checkout service in three regions: primary us-east-1, warm standby us-west-2 at half
/// capacity, cold standby eu-west-1; a web cluster of four behind health-checked failover
/// DNS, an orders database and a receipts bucket.
pub const DR: &str = pieces!(
    "service",
    "primary",
    "dr/warm_standby",
    "cold_standby",
    "dr/web",
    "dr/database",
    "dr/receipts_and_api"
);

/// `DR` without its database (for tests that add one of their own, or none).
pub const DR_WITHOUT_DATABASE: &str = pieces!(
    "service",
    "primary",
    "dr/warm_standby",
    "cold_standby",
    "dr/web",
    "dr/receipts_and_api"
);

/// The checkout service, RTO 15 minutes and RPO 5.
pub const SERVICE: &str = pieces!("service");

/// A primary in us-east-1 and a warm standby in us-west-2.
pub const REGIONS: &str = pieces!("primary", "warm_standby");

/// A cold standby in eu-west-1, after `REGIONS`.
pub const COLD_STANDBY: &str = pieces!("cold_standby");

/// `api.example.com` in front of the web cluster: failover records with a TTL of 60 and an
/// HTTPS health check.
pub const API_DNS: &str = pieces!("api_dns");

/// `spec` with its one `from` replaced by `to`; panics when `from` is not there exactly once,
/// so a variant cannot silently stop differing from the spec it is made from.
pub fn replace_once(spec: &str, from: &str, to: &str) -> String {
    assert_eq!(spec.matches(from).count(), 1, "{from:?} once in the spec");
    spec.replacen(from, to, 1)
}
