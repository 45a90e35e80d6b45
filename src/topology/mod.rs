//! Topology: expands a spec and the regions' roles into the desired resources, as the
//! role table in DESIGN.md says.
//!
//! Invariant: expansion is deterministic: the same spec and roles give the same addresses,
//! names, tags and attributes, in the same order.

mod backups;
mod cluster;
mod database;
mod drill;
mod expand;
mod naming;
mod pin;
pub mod reads;
mod resource;

pub use cluster::MIN_HEALTHY_PERCENTAGE;
pub use drill::{drill_environment, expand_drill};
pub use expand::{cluster_size, effective_roles, expand, naming, subnet_address};
pub use naming::{
    is_own_tag, short_hash, Naming, TAG_ADDRESS, TAG_ENVIRONMENT, TAG_NAME, TAG_PREFIX, TAG_SERVICE,
};
pub use pin::{check_unique_names, name_attr, pin_names};
pub use resource::{Binding, Desired, Kind, ATTRIBUTE_KEYS, NAME_KEY, OWNER, TAGS, UNKNOWN};
