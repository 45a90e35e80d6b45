//! `standby fmt`: the real binary rewriting spec files; no AWS involved.

use std::process::Command;

fn standby(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_standby"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const MESSY: &str = r#"# checkout in production
service "checkout" {
rto = "15m"   # objective
    rpo="5m"
tags = {
team = "payments"
}
}



cluster "web" {
  size = 6
  instance_type = "m6i.large" // the usual
  image = "ami-1"
}
"#;

#[test]
fn fmt_checks_then_rewrites_keeping_comments() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("main.hcl");
    std::fs::write(&file, MESSY).unwrap();

    let (code, stdout, _) = standby(tmp.path(), &["fmt", "--check", "."]);
    assert_eq!(code, 2, "--check exits 2 when a file is not formatted");
    assert!(stdout.contains("main.hcl"), "{stdout}");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        MESSY,
        "--check changes nothing"
    );

    let (code, _, stderr) = standby(tmp.path(), &["fmt"]);
    assert_eq!(code, 0, "{stderr}");
    let formatted = std::fs::read_to_string(&file).unwrap();
    insta::assert_snapshot!(formatted);
    assert!(formatted.contains("# objective") && formatted.contains("// the usual"));

    let (code, stdout, _) = standby(tmp.path(), &["fmt", "--check", "main.hcl"]);
    assert_eq!(
        (code, stdout.as_str()),
        (0, ""),
        "formatted files stay as they are"
    );
}

#[test]
fn fmt_refuses_a_file_that_does_not_parse() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("main.hcl"), "service \"a\" {\n").unwrap();
    let (code, _, stderr) = standby(tmp.path(), &["fmt"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("main.hcl"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("main.hcl")).unwrap(),
        "service \"a\" {\n"
    );
}

#[test]
fn fmt_diff_shows_each_change_and_check_keeps_the_files() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("main.hcl"), MESSY).unwrap();
    let (code, stdout, stderr) = standby(tmp.path(), &["fmt", "--check", "--diff", "main.hcl"]);
    assert_eq!(code, 2, "{stderr}");
    insta::assert_snapshot!(stdout);
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("main.hcl")).unwrap(),
        MESSY,
        "--check --diff changes nothing"
    );
    let (code, with_diff, _) = standby(tmp.path(), &["fmt", "--diff", "main.hcl"]);
    assert_eq!(
        (code, with_diff),
        (0, stdout),
        "--diff alone writes and shows the same diff"
    );
    assert_ne!(
        std::fs::read_to_string(tmp.path().join("main.hcl")).unwrap(),
        MESSY
    );
}

#[test]
fn fmt_recursive_reaches_nested_directories_and_skips_hidden_ones() {
    let tmp = tempfile::tempdir().unwrap();
    for dir in ["environments/prod", "modules/web", ".cache"] {
        std::fs::create_dir_all(tmp.path().join(dir)).unwrap();
        std::fs::write(tmp.path().join(dir).join("main.hcl"), MESSY).unwrap();
    }
    let (code, stdout, _) = standby(tmp.path(), &["fmt", "--check", "."]);
    assert_eq!(
        (code, stdout.as_str()),
        (0, ""),
        "without --recursive only PATH itself"
    );
    let (code, stdout, stderr) = standby(tmp.path(), &["fmt", "--recursive", "."]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        ["./environments/prod/main.hcl", "./modules/web/main.hcl"]
    );
    let (code, _, _) = standby(tmp.path(), &["fmt", "--check", "--recursive", "."]);
    assert_eq!(code, 0, "everything reached is formatted now");
    assert_eq!(
        std::fs::read_to_string(tmp.path().join(".cache/main.hcl")).unwrap(),
        MESSY,
        "hidden directories are left alone"
    );
}
