//! Commands run in-process against the in-memory provider, through the same `cli::run_to_exit`
//! `main` calls, with a buffered Shell: exactly what each prints, on which stream, and its
//! exit code.

use crate::support::specs::{API_DNS, REGIONS, SERVICE};
use clap::Parser;
use standby::cli::{run_to_exit, Cli};
use standby::ops::{Cancel, Context};
use standby::provider::fake::FakeProvider;
use standby::provider::Provider;
use standby::shell::Shell;
use std::sync::Arc;

const WORKLOAD: &str = r#"
cluster "web" {
  instance_type = "t3.micro"
  size          = 2
  image         = "ami-12c6146b"
  port          = 443
}

bucket "receipts" {}

output "api" {
  value = "api.example.com"
}
"#;

/// The seed environment in a temporary directory, and the in-memory AWS it runs against.
struct Seed {
    _dir: tempfile::TempDir,
    env: String,
    provider: Arc<FakeProvider>,
}

impl Seed {
    fn new() -> Seed {
        let dir = tempfile::tempdir().unwrap();
        let env_dir = dir.path().join("environments/prod");
        std::fs::create_dir_all(&env_dir).unwrap();
        let spec = [SERVICE, REGIONS, WORKLOAD, API_DNS].concat();
        std::fs::write(env_dir.join("main.hcl"), spec).unwrap();
        Seed {
            env: env_dir.to_str().unwrap().to_string(),
            _dir: dir,
            provider: Arc::new(FakeProvider::new()),
        }
    }

    /// The seed, applied one action at a time (so the fake's ids are always the same).
    async fn applied() -> Seed {
        let seed = Seed::new();
        let apply = seed
            .run(&["apply", "--auto-approve", "--parallelism", "1"])
            .await;
        assert_eq!(apply.code, 0, "{apply}");
        seed
    }

    /// `standby ARGS ENV`.
    async fn run(&self, args: &[&str]) -> Printed {
        let mut args = args.to_vec();
        args.push(&self.env);
        standby(&self.provider, &args).await
    }
}

/// What one command printed and how it exited.
struct Printed {
    code: u8,
    stdout: String,
    stderr: String,
}

impl std::fmt::Display for Printed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `standby ARGS` against `provider`; durations are replaced by `[time]`.
async fn standby(provider: &Arc<FakeProvider>, args: &[&str]) -> Printed {
    let cli = Cli::try_parse_from(std::iter::once("standby").chain(args.iter().copied()))
        .unwrap_or_else(|e| panic!("{e}"));
    let (shell, captured) = Shell::buffered();
    let (cancel, _press) = Cancel::manual();
    let p: Arc<dyn Provider> = provider.clone();
    let cx = Context::new(p, shell, cancel);
    let code = run_to_exit(cli, &cx).await;
    Printed {
        code,
        stdout: captured.stdout(),
        stderr: redact(&captured.stderr()),
    }
}

/// Durations (`0.1s`, a promote's `48ms`) as `[time]`, and the estimate of the time left
/// dropped: the only parts of the output that vary from run to run.
fn redact(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let line = match (line.find(", about "), line.rfind(" left)")) {
            (Some(a), Some(b)) if a < b => format!("{}{}", &line[..a], &line[b + 5..]),
            _ => line.to_string(),
        };
        let line = match (line.find(" is the primary after "), line.find(" (rto ")) {
            (Some(a), Some(b)) if a < b => {
                format!("{} is the primary after [time]{}", &line[..a], &line[b..])
            }
            _ => line,
        };
        let words: Vec<String> = line.split(' ').map(duration).collect();
        out.push_str(&words.join(" "));
        out.push('\n');
    }
    out
}

/// `0.1s` or `0.1s.` as `[time]` or `[time].`; other words as they are.
fn duration(word: &str) -> String {
    match word.split_once('s') {
        Some((n, rest)) if !n.is_empty() && n.chars().all(|c| c.is_ascii_digit() || c == '.') => {
            format!("[time]{rest}")
        }
        _ => word.to_string(),
    }
}

#[tokio::test]
async fn plan_of_the_seed_spec_prints_the_plan_on_stdout() {
    let seed = Seed::new();
    let plan = seed.run(&["plan"]).await;
    assert_eq!(plan.code, 0, "{plan}");
    assert_eq!(plan.stderr, "", "a plan prints nothing on stderr");
    insta::assert_snapshot!(plan.to_string());
    let detailed = seed.run(&["plan", "--detailed-exitcode"]).await;
    assert_eq!(detailed.code, 2, "{detailed}");
    assert!(seed.provider.all().is_empty(), "a plan creates nothing");
}

#[tokio::test]
async fn apply_prints_progress_and_the_outputs_then_a_plan_and_status_are_clean() {
    let seed = Seed::new();
    let plan = seed.run(&["plan"]).await;
    let mut apply = seed
        .run(&["apply", "--auto-approve", "--parallelism", "1"])
        .await;
    assert_eq!(apply.code, 0, "{apply}");
    assert!(!seed.provider.all().is_empty(), "the apply created them");
    // The plan first, as `plan` prints it (snapshot above); then what the apply adds.
    let after_plan = apply.stdout.strip_prefix(&plan.stdout).map(str::to_owned);
    apply.stdout = after_plan.unwrap_or_else(|| panic!("apply shows the plan first: {apply}"));
    insta::assert_snapshot!("apply", apply.to_string());
    let again = seed.run(&["plan", "--detailed-exitcode"]).await;
    assert_eq!(again.code, 0, "{again}");
    insta::assert_snapshot!("plan_after_apply", again.to_string());
    let status = seed.run(&["status"]).await;
    assert_eq!(status.code, 0, "{status}");
    insta::assert_snapshot!("status", status.to_string());
}

#[tokio::test]
async fn a_failure_is_one_error_line_on_stderr_and_exit_1() {
    let seed = Seed::new();
    let promote = seed.run(&["promote", "us-west-2", "--auto-approve"]).await;
    assert_eq!(promote.code, 1);
    assert_eq!(promote.stdout, "");
    assert_eq!(
        promote.stderr,
        "error: environment prod has no state yet: apply it before promoting\n"
    );
    assert!(
        seed.provider.regions_called().is_empty(),
        "nothing was read"
    );
}

#[tokio::test]
async fn promote_runs_its_stages_and_status_shows_the_new_primary() {
    let seed = Seed::applied().await;
    let args = [
        "promote",
        "us-west-2",
        "--auto-approve",
        "--parallelism",
        "1",
    ];
    let preview = seed.run(&["promote", "us-west-2", "--json"]).await;
    assert_eq!(preview.code, 0, "{preview}");
    let mut plan: serde_json::Value = serde_json::from_str(&preview.stdout).expect("json");
    plan["state_lineage"] = "[lineage]".into();
    insta::assert_snapshot!("promote_json", serde_json::to_string_pretty(&plan).unwrap());
    let promote = seed.run(&args).await;
    assert_eq!(promote.code, 0, "{promote}");
    insta::assert_snapshot!("promote", promote.to_string());
    let status = seed.run(&["status"]).await;
    assert_eq!(status.code, 0, "{status}");
    // Who promoted, when and how long it took vary: that line is checked apart.
    let (last, rest): (Vec<&str>, Vec<&str>) = status
        .stdout
        .lines()
        .partition(|l| l.starts_with("last promote: "));
    assert!(
        last[0].starts_with("last promote: promote us-west-2 by "),
        "{status}"
    );
    assert!(last[0].ends_with(", succeeded)"), "{status}");
    insta::assert_snapshot!("status_after_promote", rest.join("\n"));
    let json = seed.run(&["status", "--json"]).await;
    assert_eq!(json.code, 0, "{json}");
    let mut doc: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    redact_times(&mut doc["last_promote"]);
    insta::assert_snapshot!("status_json_after_promote", doc.to_string());
}

/// Who ran an operation, where, when and how long its steps took vary from run to run.
fn redact_times(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                match k.as_str() {
                    "user" | "host" | "started_at" | "finished_at" | "duration_ms" => {
                        *x = "[redacted]".into()
                    }
                    _ => redact_times(x),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_times),
        _ => {}
    }
}

#[tokio::test]
async fn destroy_deletes_everything_the_apply_made() {
    let seed = Seed::applied().await;
    let destroy = seed.run(&["destroy", "--auto-approve"]).await;
    assert_eq!(destroy.code, 0, "{destroy}");
    assert!(destroy
        .stdout
        .contains("0 to add, 0 to change, 0 to replace, 27 to destroy."));
    let last = destroy.stderr.lines().last().unwrap_or_default();
    assert_eq!(last, "destroy complete: 27 steps in [time].");
    assert!(seed.provider.all().is_empty(), "{:?}", seed.provider.all());
    let again = seed.run(&["destroy", "--auto-approve"]).await;
    assert_eq!(again.code, 0, "{again}");
    assert_eq!(again.stderr, "", "nothing to destroy runs nothing");
}

#[tokio::test]
async fn ctrl_c_inside_a_scope_that_handles_it_stops_that_scope_and_outside_cancels() {
    use futures::FutureExt;
    let (shell, captured) = Shell::buffered();
    let (cancel, press) = Cancel::manual();
    let mut cancelled = Box::pin(cancel.cancelled());
    assert!((&mut cancelled).now_or_never().is_none(), "not pressed yet");
    let mut deferred = cancel.defer(&shell, "stopping: saving the state");
    press.press();
    deferred.stop.changed().await.unwrap();
    assert!(*deferred.stop.borrow(), "the scope is told to stop");
    drop(deferred);
    // Looked at only now, after the scope ended (as a busy runtime may): the press was the
    // scope's, not a cancellation.
    assert!(
        (&mut cancelled).now_or_never().is_none(),
        "a press a scope handled does not cancel the command"
    );
    assert_eq!(captured.stderr(), "\nstopping: saving the state\n");
    press.press();
    assert!(
        (&mut cancelled).now_or_never().is_some(),
        "outside every scope a press cancels the command"
    );
}
