//! Hostile and mistaken input to the spec loader: entries that are not regular files,
//! arithmetic that would overflow or divide by zero, NUL characters, oversized files, and
//! values AWS would refuse. Loads in the test process are snapshotted (paths shown relative
//! to the temporary directory, `[TMP]`); runs of the real binary show that nothing panics.

use standby::config::{load, VarInputs};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

const SERVICE: &str = r#"service "checkout" {
  rto = "15m"
  rpo = "5m"
}
"#;

const REGIONS: &str = r#"region "us-east-1" {
  role = "primary"
  cidr = "10.0.0.0/16"
}

region "us-west-2" {
  role = "warm-standby"
  cidr = "10.1.0.0/16"
}
"#;

/// A temporary repository with `environments/prod` holding `main.hcl` (a service and two
/// regions, unless replaced).
struct Env {
    tmp: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let env = Env {
            tmp: tempfile::tempdir().unwrap(),
        };
        env.write("main.hcl", format!("{SERVICE}\n{REGIONS}"));
        env
    }

    fn dir(&self) -> PathBuf {
        self.tmp.path().join("environments/prod")
    }

    /// Writes `rel`, relative to the environment directory.
    fn write(&self, rel: &str, text: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    fn diagnose(&self) -> String {
        self.diagnose_with(VarInputs::default())
    }

    fn diagnose_with(&self, vars: VarInputs) -> String {
        match load(&self.dir(), &vars) {
            Ok(_) => panic!("the spec loaded without diagnostics"),
            Err(d) => d
                .to_string()
                .replace(&self.tmp.path().display().to_string(), "[TMP]"),
        }
    }

    /// `standby validate` with `args` after the environment; exit code and stderr.
    fn validate(&self, args: &[&str]) -> (i32, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_standby"))
            .arg("validate")
            .arg(self.dir())
            .args(args)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.code().unwrap_or(-1), stderr)
    }
}

fn var_file(path: &Path) -> VarInputs {
    VarInputs {
        files: vec![path.to_path_buf()],
        ..VarInputs::default()
    }
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

#[test]
fn spec_entries_that_are_not_regular_files() {
    let env = Env::new();
    symlink("gone.hcl", env.dir().join("dangling.hcl")).unwrap();
    symlink("loop.hcl", env.dir().join("loop.hcl")).unwrap();
    std::fs::create_dir(env.dir().join("old.hcl")).unwrap();
    mkfifo(&env.dir().join("pipe.hcl"));
    insta::assert_snapshot!(env.diagnose());
}

#[test]
fn oversized_spec_file() {
    let env = Env::new();
    env.write("big.hcl", vec![b'#'; 8 * 1024 * 1024 + 1]);
    insta::assert_snapshot!(env.diagnose());
}

#[test]
fn arithmetic_that_cannot_be_computed() {
    let env = Env::new();
    env.write(
        "locals.hcl",
        "locals {\n  a = 1 / 0\n  b = 10 % (2 - 2)\n  c = 18446744073709551615 + 1\n  d = 1e308 * 10\n  e = -9223372036854775808 % -1 - 9223372036854775808 - 1\n}\n",
    );
    insta::assert_snapshot!(env.diagnose());
}

#[test]
fn nul_characters() {
    let env = Env::new();
    env.write(
        "cluster.hcl",
        "cluster \"web\" {\n  size  = 1\n  image = \"ami-1\\u0000\"\n}\n",
    );
    env.write("binary.hcl", "locals {\n  x = \"a\0b\"\n}\n");
    insta::assert_snapshot!(env.diagnose());
}

#[test]
fn file_refuses_devices_and_missing_files() {
    let env = Env::new();
    env.write(
        "locals.hcl",
        "locals {\n  zero    = file(\"/dev/zero\")\n  missing = file(\"motd.txt\")\n}\n",
    );
    insta::assert_snapshot!(env.diagnose());
}

#[test]
fn var_files_that_are_devices_or_too_large() {
    let env = Env::new();
    env.write("vars.hcl", "variable \"ami\" {\n  default = \"ami-1\"\n}\n");
    insta::assert_snapshot!(
        "var_file_device",
        env.diagnose_with(var_file(Path::new("/dev/zero")))
    );
    let big = env.tmp.path().join("big.tfvars");
    std::fs::write(&big, vec![b' '; 8 * 1024 * 1024 + 1]).unwrap();
    insta::assert_snapshot!("var_file_too_large", env.diagnose_with(var_file(&big)));
}

#[test]
fn regions_aws_does_not_have() {
    let env = Env::new();
    env.write(
        "more.hcl",
        r#"region "eu-west-9" {
  role = "cold-standby"
  cidr = "10.2.0.0/16"
}

region "us-gov-west-1" {
  role = "cold-standby"
  cidr = "10.3.0.0/16"
}

standby {
  backend "s3" {
    bucket = "state"
    key    = "prod.json"
    region = "us-east-7"
  }
}
"#,
    );
    insta::assert_snapshot!(env.diagnose());
}

#[test]
fn zones_of_another_region_or_listed_twice() {
    let env = Env::new();
    env.write(
        "eu.hcl",
        "region \"eu-west-1\" {\n  role  = \"cold-standby\"\n  cidr  = \"10.2.0.0/16\"\n  zones = [\"eu-west-1a\", \"us-east-1b\", \"eu-west-1a\", \"eu-west-1ab\"]\n}\n",
    );
    insta::assert_snapshot!(env.diagnose());
}

#[test]
fn overlapping_region_blocks() {
    let env = Env::new();
    env.write(
        "eu.hcl",
        "region \"eu-west-1\" {\n  role = \"cold-standby\"\n  cidr = \"10.0.128.0/17\"\n}\n",
    );
    insta::assert_snapshot!(env.diagnose());
}

#[test]
fn instance_types_and_classes_of_the_wrong_shape() {
    let env = Env::new();
    env.write(
        "components.hcl",
        r#"cluster "web" {
  size          = 1
  image         = "ami-1"
  instance_type = "large"
}

cluster "api" {
  size          = 1
  image         = "ami-1"
  instance_type = "db.m6i.large"
}

database "orders" {
  engine         = "postgres"
  instance_class = "r6g.large"
}

database "users" {
  engine         = "postgres"
  instance_class = "m6i"
}
"#,
    );
    insta::assert_snapshot!(env.diagnose());
}

#[test]
fn zero_recovery_objectives() {
    let env = Env::new();
    env.write(
        "main.hcl",
        format!("service \"checkout\" {{\n  rto = \"0s\"\n  rpo = \"0m\"\n}}\n\n{REGIONS}"),
    );
    insta::assert_snapshot!(env.diagnose());
}

#[test]
fn the_repository_specs_still_load() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let demo = load(&root.join("environments/demo"), &VarInputs::default());
    assert!(demo.is_ok(), "{}", demo.unwrap_err());
}

/// The real binary on each kind of hostile input: a diagnostic, exit 1, and no panic
/// message on stderr.
#[test]
fn the_binary_diagnoses_without_panicking() {
    let big = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(big.path(), vec![b' '; 8 * 1024 * 1024 + 1]).unwrap();
    let big_arg = big.path().to_str().unwrap();
    let cases: Vec<(&str, &str, Vec<&str>, &str)> = vec![
        (
            "1/0",
            "locals {\n  a = 1 / 0\n}\n",
            vec![],
            "division by zero",
        ),
        (
            "1 % 0",
            "locals {\n  a = 1 % 0\n}\n",
            vec![],
            "remainder by zero",
        ),
        (
            "file(/dev/zero)",
            "locals {\n  a = file(\"/dev/zero\")\n}\n",
            vec![],
            "is a character device, not a regular file",
        ),
        (
            "--var-file /dev/zero",
            "",
            vec!["--var-file", "/dev/zero"],
            "the var file is a character device",
        ),
        (
            "oversized --var-file",
            "",
            vec!["--var-file", big_arg],
            "over the limit of 8 MiB",
        ),
    ];
    for (name, extra, args, expected) in cases {
        let env = Env::new();
        env.write("extra.hcl", extra);
        let (code, stderr) = env.validate(&args);
        assert_eq!(code, 1, "{name}: {stderr}");
        assert!(stderr.contains(expected), "{name}: {stderr}");
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    }

    let env = Env::new();
    symlink("gone.hcl", env.dir().join("dangling.hcl")).unwrap();
    mkfifo(&env.dir().join("pipe.hcl"));
    let (code, stderr) = env.validate(&[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("which does not exist"), "{stderr}");
    assert!(stderr.contains("is a FIFO (named pipe)"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
