//! standby: Terraform-style provisioning for disaster recovery on AWS.
//!
//! The pipeline is config -> topology -> plan -> apply, with state and providers beside it;
//! see README.md, "Architecture".

pub mod address;
pub mod apply;
pub mod check;
pub mod cli;
pub mod config;
pub mod dr;
pub mod environment;
pub mod graph;
pub mod ops;
pub mod plan;
pub mod private_file;
pub mod provider;
pub mod report;
pub mod shell;
pub mod state;
pub mod topology;
