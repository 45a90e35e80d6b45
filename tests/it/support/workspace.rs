//! Test support: `Workspace`, a repository-shaped temp dir (environments/, modules/, state/)
//! in which tests run the real `standby` binary against an emulator.
//!
//! Invariant: every command a test runs gets the emulator's environment explicitly; nothing
//! is set process-wide, so tests run in parallel.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, Output, Stdio};

pub struct Workspace {
    pub dir: tempfile::TempDir,
    pub env: Vec<(String, String)>,
}

/// What a finished command left: exit code and both streams.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Workspace {
    /// An empty workspace whose commands reach the emulator through `env`.
    pub fn new(env: Vec<(String, String)>) -> Workspace {
        Workspace {
            dir: tempfile::tempdir().expect("temp dir"),
            env,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `rel` (creating directories) with `text`.
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    pub fn state_path(&self, name: &str) -> PathBuf {
        self.dir.path().join("state").join(format!("{name}.json"))
    }

    pub fn state(&self, name: &str) -> serde_json::Value {
        let text = std::fs::read_to_string(self.state_path(name)).expect("the state exists");
        serde_json::from_str(&text).expect("the state is valid JSON")
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_standby"));
        c.args(args)
            .current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG");
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c.stdin(Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.command(args).output().expect("standby runs").into()
    }

    /// Starts a command with stderr piped, for tests that act while it runs.
    pub fn spawn(&self, args: &[&str]) -> (Child, BufReader<ChildStderr>) {
        let mut child = self
            .command(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("standby starts");
        let err = BufReader::new(child.stderr.take().unwrap());
        (child, err)
    }
}

/// Reads stderr lines until one satisfies `pred` (or the stream ends); returns all read.
pub fn read_until(
    err: &mut BufReader<ChildStderr>,
    mut pred: impl FnMut(&str) -> bool,
) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    while err.read_line(&mut line).unwrap_or(0) > 0 {
        let done = pred(&line);
        lines.push(std::mem::take(&mut line));
        if done {
            break;
        }
    }
    lines
}

/// The permission bits of `path`, to check that private files are 0600.
pub fn file_mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    meta.permissions().mode() & 0o777
}
