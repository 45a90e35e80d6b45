//! The command line: clap definitions, one file per command, and all rendering.
//!
//! Invariant: commands are thin: they parse arguments, call one operation of the engine and
//! render its result; only this module prints. Exit codes: 0 success or no changes, 1 error,
//! 2 changes present (`plan --detailed-exitcode`).

mod apply;
pub mod check;
mod confirm;
mod converge;
mod destroy;
pub mod drift;
mod drill;
pub mod fmt;
mod graph;
mod init;
pub mod output;
mod plan;
mod promote;
mod rebuild;
pub mod render;
pub mod restore;
pub mod show;
mod state;
pub mod status;
mod validate;
pub mod version;

/// Progress lives with the Shell; its helpers keep their old path.
pub use crate::shell::progress;

use crate::ops::{self, Context};
use crate::provider::aws::settings as aws_settings;
use crate::shell::Shell;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

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
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// Retries and timeouts of every AWS call (the SDK's retries: exponential backoff with jitter).
#[derive(Debug, Args)]
#[command(next_help_heading = "AWS calls")]
pub struct AwsArgs {
    /// Retries of a throttled, failed or timed-out AWS call before giving up
    #[arg(long, global = true, value_name = "N", env = "STANDBY_MAX_RETRIES",
          default_value_t = aws_settings::DEFAULT_MAX_RETRIES,
          value_parser = clap::value_parser!(u32).range(0..=100))]
    pub max_retries: u32,
    /// How the SDK paces retries: standard, or adaptive (also slows down after throttling)
    #[arg(long, global = true, value_enum, env = "STANDBY_RETRY_MODE", default_value_t = RetryMode::Standard)]
    pub retry_mode: RetryMode,
    /// Give up connecting to an AWS endpoint after this long
    #[arg(long, global = true, value_name = "DURATION", env = "STANDBY_CONNECT_TIMEOUT",
          default_value = "5s", value_parser = timeout)]
    pub connect_timeout: std::time::Duration,
    /// Give up one attempt of an AWS call after this long (it is then retried)
    #[arg(long, global = true, value_name = "DURATION", env = "STANDBY_ATTEMPT_TIMEOUT",
          default_value = "30s", value_parser = timeout)]
    pub attempt_timeout: std::time::Duration,
    /// Give up an AWS call, retries included, after this long
    #[arg(long, global = true, value_name = "DURATION", env = "STANDBY_OPERATION_TIMEOUT",
          default_value = "2m", value_parser = timeout)]
    pub operation_timeout: std::time::Duration,
    /// Give up waiting for an RDS instance (create, replica, promote, modify, delete) after this long
    #[arg(long, global = true, value_name = "DURATION", env = "STANDBY_DB_WAIT_TIMEOUT",
          default_value = "60m", value_parser = timeout)]
    pub db_wait_timeout: std::time::Duration,
    /// Give up waiting for an EC2 instance to run or terminate after this long
    #[arg(long, global = true, value_name = "DURATION", env = "STANDBY_INSTANCE_WAIT_TIMEOUT",
          default_value = "10m", value_parser = timeout)]
    pub instance_wait_timeout: std::time::Duration,
    /// Keep retrying a new id not yet visible, or a delete refused while dependents drain, this long
    #[arg(long, global = true, value_name = "DURATION", env = "STANDBY_CONSISTENCY_TIMEOUT",
          default_value = "15m", value_parser = timeout)]
    pub consistency_timeout: std::time::Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RetryMode {
    Standard,
    Adaptive,
}

fn timeout(s: &str) -> Result<std::time::Duration, String> {
    match humantime::parse_duration(s) {
        Ok(d) if d.is_zero() => Err("a timeout must be longer than 0s".into()),
        Ok(d) => Ok(d),
        Err(e) => Err(format!("{e} (write it as 500ms, 10s or 2m)")),
    }
}

impl AwsArgs {
    pub fn settings(&self) -> aws_settings::AwsSettings {
        aws_settings::AwsSettings {
            max_retries: self.max_retries,
            adaptive: self.retry_mode == RetryMode::Adaptive,
            connect_timeout: self.connect_timeout,
            attempt_timeout: self.attempt_timeout,
            operation_timeout: self.operation_timeout,
            db_wait_timeout: self.db_wait_timeout,
            instance_wait_timeout: self.instance_wait_timeout,
            consistency_timeout: self.consistency_timeout,
        }
    }
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
    /// Show a saved plan, or the state, for people or (--json) machines
    Show(show::ShowArgs),
    /// Delete everything the environment manages (honours prevent_destroy)
    Destroy(destroy::DestroyArgs),
    /// Make a standby region the primary (failover)
    Promote(promote::PromoteArgs),
    /// Bring a failed or cold region back as a standby
    Rebuild(rebuild::RebuildArgs),
    /// Restore the primary's databases to an earlier point (corruption), keeping the old ones
    Restore(restore::RestoreArgs),
    /// Stand a test copy up in a region, check it, time it against the RTO, tear it down
    Drill(drill::DrillArgs),
    /// Regions, roles, instances, replica lag, replication, DNS, last promote and drill
    Status(status::StatusArgs),
    /// Compare live AWS with the state and the spec; exit 2 when something drifted
    Drift(drift::DriftArgs),
    /// Whether each standby could take over now; exit 2 when one is not ready
    Check(check::CheckArgs),
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
    /// Print standby's version and platform
    Version,
    /// Print a shell completion script: bash, zsh, fish, elvish or powershell
    Completions(version::CompletionsArgs),
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
    let cli = match parse(std::env::args_os().collect()) {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let shell = Shell::stdio(cli.global.no_color);
    init_logs(&cli.global);
    aws_settings::configure(cli.global.aws.settings());
    // Validate calls no AWS: it starts no async runtime (its threads cost it a tenth of its
    // time).
    let cli = match cli.command {
        Command::Validate(a) => {
            let result = validate::run(a, &cli.global, &shell);
            return ExitCode::from(exit_code(result, None, &shell));
        }
        command => Cli {
            command,
            global: cli.global,
        },
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            shell.error(&format!("cannot start the async runtime: {e}"));
            return ExitCode::from(1);
        }
    };
    let code = runtime.block_on(async {
        let connect: ops::Connect = Box::new(|| {
            Box::pin(async {
                let aws = crate::provider::aws::AwsProvider::from_env().await?;
                Ok(Arc::new(aws) as Arc<dyn crate::provider::Provider>)
            })
        });
        let cx = Context::connecting(connect, shell, ops::Cancel::ctrl_c());
        run_to_exit(cli, &cx).await
    });
    // The prompt's reader thread may still wait for a line: do not wait for it.
    runtime.shutdown_background();
    ExitCode::from(code)
}

/// Runs a parsed command line and shows its error: the exit code (0 success or no
/// changes, 1 error, 2 changes present, 130 interrupted).
pub async fn run_to_exit(cli: Cli, cx: &Context) -> u8 {
    let dr = DrCommand::of(&cli.command);
    // Ctrl-C outside the scopes that handle it themselves cancels the command: its future is
    // dropped, which releases the state lock it held (see `ops::cancel`).
    let result = tokio::select! {
        result = run(cli, cx) => result,
        () = cx.cancel.cancelled() => Err(ops::Interrupted.into()),
    };
    exit_code(result, dr, &cx.shell)
}

/// The exit code of a command's result, its error shown (with a DR command's hint).
fn exit_code(result: anyhow::Result<Outcome>, dr: Option<DrCommand>, shell: &Shell) -> u8 {
    match result {
        Ok(Outcome::Success) => 0,
        Ok(Outcome::ChangesPresent) => 2,
        Err(e) if e.downcast_ref::<ops::Interrupted>().is_some() => {
            shell.error(&e.to_string());
            130
        }
        Err(e) => {
            match e.downcast_ref::<Reported>() {
                Some(r) => shell.status(&r.0),
                None => shell.error(&format!("{e:#}")),
            }
            if let Some(hint) = dr.and_then(|dr| dr.unreachable_hint(&e)) {
                shell.status(&hint);
            }
            1
        }
    }
}

/// A promote or rebuild, which can go on without a region that is down.
struct DrCommand {
    verb: &'static str,
    region: String,
}

impl DrCommand {
    fn of(command: &Command) -> Option<DrCommand> {
        let (verb, region) = match command {
            Command::Promote(a) => ("promote", &a.region),
            Command::Rebuild(a) => ("rebuild", &a.region),
            _ => return None,
        };
        Some(DrCommand {
            verb,
            region: region.clone(),
        })
    }

    /// When the failure is a region that could not be reached: how to go on without it.
    fn unreachable_hint(&self, e: &anyhow::Error) -> Option<String> {
        use crate::provider::aws::error::AwsCallError;
        let call = e
            .chain()
            .find_map(|c| c.downcast_ref::<AwsCallError>())
            .filter(|c| c.unreachable && c.region != "global")?;
        let down = &call.region;
        if *down == self.region {
            return Some(format!(
                "help: region {down}, the one to {}, cannot be reached: choose another region",
                self.verb
            ));
        }
        Some(format!(
            "help: region {down} cannot be reached: if it is down, run the {} again with \
             `--assume-down {down}` (no request then goes to it)",
            self.verb
        ))
    }
}

/// Parses the command line; a usage error exits 1 (2 means "changes present"), with a hint
/// for a Terraform-style single-dash long flag (`-auto-approve`).
fn parse(args: Vec<std::ffi::OsString>) -> Result<Cli, ExitCode> {
    let err = match Cli::try_parse_from(&args) {
        Ok(cli) => return Ok(cli),
        Err(e) => e,
    };
    if !err.use_stderr() {
        // --help and --version
        let _ = err.print();
        return Err(ExitCode::SUCCESS);
    }
    match single_dash_flag(&args) {
        Some((given, meant)) => Shell::stdio(false).error(&format!(
            "unknown flag `{given}`: did you mean `{meant}`? (standby's long flags take two dashes)"
        )),
        None => {
            let _ = err.print();
        }
    }
    Err(ExitCode::from(1))
}

/// The first argument written like a Terraform flag, `-name` or `-name=value`, where
/// `--name` is a flag of standby's: the argument and its two-dash spelling.
fn single_dash_flag(args: &[std::ffi::OsString]) -> Option<(String, String)> {
    use clap::CommandFactory;
    let cmd = Cli::command();
    let mut longs = std::collections::BTreeSet::new();
    collect_longs(&cmd, &mut longs);
    args.iter()
        .skip(1)
        .filter_map(|a| a.to_str())
        .take_while(|a| *a != "--")
        .find_map(|a| {
            let rest = a.strip_prefix('-').filter(|r| !r.starts_with('-'))?;
            let name = rest.split('=').next()?;
            (name.len() > 1 && longs.contains(name)).then(|| (a.to_string(), format!("-{a}")))
        })
}

fn collect_longs(cmd: &clap::Command, into: &mut std::collections::BTreeSet<String>) {
    into.extend(
        cmd.get_arguments()
            .filter_map(|a| a.get_long().map(str::to_owned)),
    );
    for sub in cmd.get_subcommands() {
        collect_longs(sub, into);
    }
}

/// Runs one parsed command with `cx`.
pub async fn run(cli: Cli, cx: &Context) -> anyhow::Result<Outcome> {
    let g = &cli.global;
    match cli.command {
        Command::Validate(a) => validate::run(a, g, &cx.shell),
        Command::Plan(a) => plan::run(a, g, cx).await,
        Command::Apply(a) => apply::run(a, g, cx).await,
        Command::Show(a) => show::run(a, g, cx).await,
        Command::Destroy(a) => destroy::run(a, g, cx).await,
        Command::Promote(a) => promote::run(a, g, cx).await,
        Command::Rebuild(a) => rebuild::run(a, g, cx).await,
        Command::Restore(a) => restore::run(a, g, cx).await,
        Command::Status(a) => status::run(a, g, cx).await,
        Command::Drill(a) => drill::run(a, g, cx).await,
        Command::Drift(a) => drift::run(a, g, cx).await,
        Command::Check(a) => check::run(a, g, cx).await,
        Command::Fmt(a) => fmt::run(a, cx),
        Command::Graph(a) => graph::run(a, g, cx).await,
        Command::Output(a) => output::run(a, g, cx).await,
        Command::Init(a) => init::run(a, g, cx).await,
        Command::State(c) => state::run(c, g, cx).await,
        Command::Version => version::run(cx),
        Command::Completions(a) => version::completions(a, cx),
    }
}

/// Log lines on stderr, coloured as the Shell decided.
fn init_logs(g: &GlobalArgs) {
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
