//! Errors a person can act on: the real binary against an endpoint that refuses connections,
//! one that accepts and never answers, no credentials, an access denial and expired
//! credentials (answered by the test proxy), a Terraform-style single-dash flag, and
//! `scripts/emulator` without the emulator installed. Each message is one line with the fix,
//! snapshotted as the user sees it.

use crate::support::proxy::Proxy;
use crate::support::workspace::{Run, Workspace};
use crate::support::Emulator;
use standby_emulator::env_for;
use std::process::Command;
use std::time::{Duration, Instant};

const SPEC: &str = r#"
service "checkout" {
  rto = "15m"
  rpo = "5m"
}

region "us-east-1" {
  role = "primary"
  cidr = "10.0.0.0/16"
}

cluster "web" {
  size  = 1
  image = "ami-12c6146b"
}
"#;

fn workspace(env: Vec<(String, String)>) -> Workspace {
    let ws = Workspace::new(env);
    ws.write("environments/prod/main.hcl", SPEC);
    ws
}

/// Stable across runs: the failing operation and region of a concurrent refresh, ports and
/// request ids replaced.
fn redact(text: &str, port: u16) -> String {
    let mut out = text.replace(&format!(":{port}"), ":[PORT]");
    if let (Some(start), Some(end)) = (out.find("error: "), out.find(" failed for ")) {
        out.replace_range(start + "error: ".len()..end, "[OPERATION] in [REGION]");
    }
    while let Some(i) = out.find("standby-proxy-") {
        let digits = out[i + 14..].bytes().take_while(u8::is_ascii_digit).count();
        out.replace_range(i..i + 14 + digits, "[REQUEST ID]");
    }
    out
}

fn failed_in_one_line(run: &Run) -> &str {
    assert_eq!(
        run.code, 1,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{}", run.stderr);
    assert!(!run.stderr.contains("ServiceError"), "{}", run.stderr);
    assert!(!run.stderr.contains("DispatchFailure"), "{}", run.stderr);
    errors[0]
}

fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn connection_refused_fails_at_once_and_points_at_the_endpoint() {
    let port = closed_port();
    let ws = workspace(env_for(&format!("http://127.0.0.1:{port}")));
    let started = Instant::now();
    let run = ws.run(&["plan", "environments/prod"]);
    let line = failed_in_one_line(&run);
    println!("connection refused reported after {:?}", started.elapsed());
    assert!(line.contains("check AWS_ENDPOINT_URL"), "{line}");
    insta::assert_snapshot!("connection_refused", redact(line, port));

    // The SDK's own structure is in the log at -v.
    let verbose = ws.run(&["plan", "environments/prod", "-v"]);
    assert_eq!(verbose.code, 1);
    assert!(
        verbose.stderr.contains("DispatchFailure"),
        "{}",
        verbose.stderr
    );
}

#[test]
fn no_credentials_says_how_to_get_some() {
    let port = closed_port();
    let ws = workspace(Vec::new());
    let home = tempfile::tempdir().unwrap();
    let mut cmd = ws.command(&["plan", "environments/prod"]);
    for key in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ] {
        cmd.env_remove(key);
    }
    cmd.env("HOME", home.path())
        .env("AWS_CONFIG_FILE", home.path().join("config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            home.path().join("credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}"));
    let run: Run = cmd.output().unwrap().into();
    let line = failed_in_one_line(&run);
    assert!(line.contains("aws sso login"), "{line}");
    insta::assert_snapshot!("no_credentials", redact(line, port));
}

#[test]
fn access_denied_names_the_missing_action() {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator.endpoint());
    proxy.answer_operation(
        "DescribeVpcs",
        403,
        "UnauthorizedOperation",
        "You are not authorized to perform this operation. User: arn:aws:iam::123456789012:user/ci \
         is not authorized to perform: ec2:DescribeVpcs because no identity-based policy allows \
         the ec2:DescribeVpcs action. Encoded authorization failure message: c2VjcmV0LWRldGFpbHM",
    );
    let ws = workspace(proxy.env());
    let run = ws.run(&["plan", "environments/prod"]);
    let line = failed_in_one_line(&run);
    assert!(line.contains("grant `ec2:DescribeVpcs`"), "{line}");
    assert!(!line.contains("c2VjcmV0LWRldGFpbHM"), "{line}");
    insta::assert_snapshot!("access_denied", redact(line, proxy.port()));

    let expired = Proxy::start(&emulator.endpoint());
    expired.answer_operation(
        "DescribeVpcs",
        400,
        "ExpiredToken",
        "The security token included in the request is expired",
    );
    let ws = workspace(expired.env());
    let run = ws.run(&["plan", "environments/prod"]);
    let line = failed_in_one_line(&run);
    insta::assert_snapshot!("expired_credentials", redact(line, expired.port()));
}

#[test]
fn a_single_dash_long_flag_gets_its_two_dash_spelling() {
    let ws = workspace(Vec::new());
    let run = ws.run(&["apply", "environments/prod", "-auto-approve"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    insta::assert_snapshot!("single_dash_flag", run.stderr);
    let run = ws.run(&["plan", "-target=region.us-east-1.network.vpc"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("did you mean `--target=region.us-east-1.network.vpc`?"),
        "{}",
        run.stderr
    );
    // Anything else is clap's own error, and a usage error exits 1 (2 means "changes").
    let run = ws.run(&["plan", "--no-such-flag"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("unexpected argument '--no-such-flag'"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("did you mean `-"), "{}", run.stderr);
}

#[test]
fn the_emulator_script_says_how_to_install_the_emulator() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("scripts")).unwrap();
    let script = dir.path().join("scripts/emulator");
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/emulator"),
        &script,
    )
    .unwrap();
    let run: Run = Command::new("bash").arg(&script).output().unwrap().into();
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.stdout, "");
    insta::assert_snapshot!("emulator_not_installed", run.stderr);
}

#[test]
fn a_black_holed_endpoint_fails_within_the_timeout_naming_the_region() {
    // Accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    let ws = workspace(env_for(&format!("http://127.0.0.1:{port}")));
    let started = Instant::now();
    let mut child = ws
        .command(&[
            "plan",
            "environments/prod",
            "--operation-timeout",
            "2s",
            "--attempt-timeout",
            "1s",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A guard against a hang, far above the configured timeout: not a speed goal.
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("standby hung on a black-holed endpoint");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let run: Run = child.wait_with_output().unwrap().into();
    println!(
        "black-holed endpoint reported after {:?}",
        started.elapsed()
    );
    let line = failed_in_one_line(&run);
    assert!(
        line.contains(" in us-east-1 failed for ") || line.contains(" in global failed for "),
        "{line}"
    );
    assert!(
        line.contains("no answer within 2s (--operation-timeout"),
        "{line}"
    );
}
