//! The integration tests: one binary (as cargo and rust-analyzer do), one module per area,
//! sharing `support`. Engine and config tests run in-process (`*_fake`, `config_*`,
//! `cli_snapshots`); emulator tests run the real `standby` binary or the AWS provider against
//! a private moto per test and read results back through the SDK.

mod apply_db_dns;
mod apply_emulator;
mod aws_errors;
mod aws_faults;
mod backups_emulator;
mod bucket_names;
mod check_emulator;
mod check_fake;
mod check_render;
mod check_signals;
mod cli_fake;
mod cli_snapshots;
mod cli_terraform;
mod cluster_groups;
mod config_diagnostics;
mod config_drift_ignore;
mod config_hostile;
mod config_load;
mod db_real_aws;
mod dr_emulator;
mod dr_fence;
mod dr_journal_fake;
mod dr_outage;
mod dr_preview;
mod dr_resume;
mod drift_emulator;
mod drift_fake;
mod drill_emulator;
mod engine_fake;
mod file_formats;
mod fmt_cli;
mod lifecycle_strict;
mod plan_placement;
mod provider_aws;
mod provider_aws_db_dns;
mod provider_aws_drill;
mod proxy_support;
mod readme_examples;
mod readme_quickstart;
mod request_budget;
mod restore_emulator;
mod state_checks;
mod state_replica;
mod state_s3;
mod strict_autoscaling;
mod strict_proxy;
mod strict_rds;
mod strict_waits;
mod support;
mod tags_isolation_emulator;
