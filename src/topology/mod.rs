//! Topology: expands a spec and the regions' roles into the desired resources, as the
//! role table in DESIGN.md says.
//!
//! Invariant: expansion is deterministic: the same spec and roles give the same addresses,
//! names, tags and attributes, in the same order.

mod drill;
mod expand;
mod naming;
mod resource;

pub use drill::{drill_environment, expand_drill};
pub use expand::{cluster_size, effective_roles, expand, naming, subnet_address};
pub use naming::{short_hash, Naming, TAG_ADDRESS, TAG_ENVIRONMENT, TAG_SERVICE};
pub use resource::{Binding, Desired, Kind, ATTRIBUTE_KEYS, UNKNOWN};
