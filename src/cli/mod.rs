//! The command line: clap definitions, one file per command, and all rendering.
//!
//! Invariant: commands are thin: they parse arguments, call one operation of the engine and
//! render its result; only this module prints. Exit codes: 0 success or no changes, 1 error,
//! 2 changes present (`plan --detailed-exitcode`).

mod apply;
mod confirm;
mod destroy;
pub mod drift;
mod drill;
mod fmt;
mod graph;
mod init;
mod output;
mod plan;
mod progress;
mod promote;
mod rebuild;
pub mod render;
mod state;
mod status;
mod validate;

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "standby",
    version,
    about = "Terraform-style provisioning for disaster recovery on AWS",
    long_about = "Lays one service out over a primary, a warm-standby and a cold-standby region, \
                  diffs that layout against live AWS and converges it."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Log line format
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    /// Set a variable: --var name=value (repeatable)
    #[arg(long = "var", value_name = "NAME=VALUE", global = true)]
    pub vars: Vec<String>,
    /// Read variables from an HCL file of `name = value` lines (repeatable)
    #[arg(long = "var-file", value_name = "FILE", global = true)]
    pub var_files: Vec<PathBuf>,
    /// No colours (NO_COLOR is honoured too)
    #[arg(long, global = true)]
    pub no_color: bool,
    /// Wait this long for a held state lock (90s, 5m) instead of failing at once
    #[arg(long, global = true, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub lock_timeout: Option<std::time::Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the spec; no AWS calls
    Validate(validate::ValidateArgs),
    /// Show what apply would change
    Plan(plan::PlanArgs),
    /// Converge AWS to the spec, or execute a saved plan
    Apply(apply::ApplyArgs),
    /// Delete everything the environment manages (honours prevent_destroy)
    Destroy(destroy::DestroyArgs),
    /// Make a standby region the primary (failover)
    Promote(promote::PromoteArgs),
    /// Bring a failed or cold region back as a standby
    Rebuild(rebuild::RebuildArgs),
    /// Stand a test copy up in a region, check it, time it against the RTO, tear it down
    Drill(drill::DrillArgs),
    /// Regions, roles, instances, replica lag, replication, DNS, last promote and drill
    Status(status::StatusArgs),
    /// Compare live AWS with the state and the spec; exit 2 when something drifted
    Drift(drift::DriftArgs),
    /// Rewrite spec files in the canonical layout, comments kept
    Fmt(fmt::FmtArgs),
    /// Print the resource dependency graph as DOT
    Graph(graph::GraphArgs),
    /// Print the environment's outputs
    Output(output::OutputArgs),
    /// Set up the state backend; with --migrate-state, copy the state to a changed backend
    Init(init::InitArgs),
    /// Inspect and edit the state without touching AWS
    #[command(subcommand)]
    State(state::StateCommand),
}

/// An error that has already been shown to the user in full (diagnostics).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Reported(pub String);

/// Exit status of a command that did not fail.
pub enum Outcome {
    Success,
    ChangesPresent,
}

/// Parses the command line, runs the command and maps the result to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_output(&cli.global);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::ChangesPresent) => ExitCode::from(2),
        Err(e) => {
            match e.downcast_ref::<Reported>() {
                Some(r) => eprintln!("{}", r.0),
                None => eprintln!("{} {e:#}", render::error_prefix()),
            }
            ExitCode::from(1)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let g = &cli.global;
    match cli.command {
        Command::Validate(a) => validate::run(a, g),
        Command::Plan(a) => plan::run(a, g).await,
        Command::Apply(a) => apply::run(a, g).await,
        Command::Destroy(a) => destroy::run(a, g).await,
        Command::Promote(a) => promote::run(a, g).await,
        Command::Rebuild(a) => rebuild::run(a, g).await,
        Command::Status(a) => status::run(a, g).await,
        Command::Drill(a) => drill::run(a, g).await,
        Command::Drift(a) => drift::run(a, g).await,
        Command::Fmt(a) => fmt::run(a),
        Command::Graph(a) => graph::run(a, g).await,
        Command::Output(a) => output::run(a, g).await,
        Command::Init(a) => init::run(a, g).await,
        Command::State(c) => state::run(c, g).await,
    }
}

fn init_output(g: &GlobalArgs) {
    if g.no_color || std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        console::set_colors_enabled(false);
        console::set_colors_enabled_stderr(false);
    }
    let default = match g.verbose {
        0 => "warn",
        1 => "warn,standby=info",
        2 => "info,standby=debug",
        _ => "debug,standby=trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match g.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder
            .with_ansi(console::colors_enabled_stderr())
            .try_init(),
    };
}

/// The environment directory argument shared by most commands.
#[derive(Debug, Args, Clone)]
pub struct EnvArg {
    /// Environment directory (default: the current directory)
    #[arg(value_name = "ENV", default_value = ".")]
    pub env: PathBuf,
}

impl GlobalArgs {
    /// Variable inputs from the flags and the process environment.
    pub fn var_inputs(&self) -> anyhow::Result<crate::config::VarInputs> {
        let cli = self
            .vars
            .iter()
            .map(|kv| {
                kv.split_once('=')
                    .map(|(k, v)| (k.trim().to_string(), v.to_string()))
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "--var {kv:?} is not NAME=VALUE: write it as --var {kv}=value"
                        )
                    })
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(crate::config::VarInputs {
            cli,
            files: self.var_files.clone(),
            env: Vec::new(),
        }
        .with_process_env())
    }

    /// Loads the environment, turning diagnostics into a reported error.
    pub fn load(&self, env: &std::path::Path) -> anyhow::Result<crate::environment::Environment> {
        let mut env = crate::environment::Environment::load(env, &self.var_inputs()?)
            .map_err(|d| Reported(render::diagnostics(&d)))?;
        env.lock_timeout = self.lock_timeout;
        Ok(env)
    }
}
