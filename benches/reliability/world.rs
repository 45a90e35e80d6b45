//! One trial's world: a private emulator, optionally behind the project's fault-injecting
//! proxy, and a repository-shaped temp dir holding the DR spec, in which the real `standby`
//! binary runs. Nothing is shared between trials, so they run in parallel.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use standby_emulator::proxy::Proxy;
use standby_emulator::Emulator;

/// The environment directory every command gets.
pub const ENV: &str = "environments/prod";
/// Three regions (primary, warm and cold standby), a cluster, a database with a replica, a
/// replicated bucket and health-checked failover DNS: every kind of resource apply creates.
/// The DR integration tests run the same spec (`DR` in tests/it/support/specs.rs).
const SPEC: &str = concat!(
    include_str!("../../tests/it/specs/service.hcl"),
    include_str!("../../tests/it/specs/primary.hcl"),
    include_str!("../../tests/it/specs/dr/warm_standby.hcl"),
    include_str!("../../tests/it/specs/cold_standby.hcl"),
    include_str!("../../tests/it/specs/dr/web.hcl"),
    include_str!("../../tests/it/specs/dr/database.hcl"),
    include_str!("../../tests/it/specs/dr/receipts_and_api.hcl"),
);

/// The `standby` binary the trials run: `--standby`, else the one cargo built with the bench.
pub static BINARY: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

pub struct World {
    pub emulator: Emulator,
    pub proxy: Option<Proxy>,
    dir: tempfile::TempDir,
}

/// What a finished command left.
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.code == 0
    }

    /// The first error line of stderr, else the last line of stderr or stdout (a plan's
    /// summary): why a command failed.
    pub fn cause(&self) -> String {
        let lines = || {
            self.stderr
                .lines()
                .chain(self.stdout.lines())
                .map(str::trim)
        };
        let error = lines().find(|l| l.starts_with("error") || l.contains(" failed"));
        let last = || lines().rfind(|l| !l.is_empty());
        let line = error.or_else(last).unwrap_or("(no output)");
        format!("exit {}: {line}", self.code)
    }
}

/// Where a kill landed: after how many progress lines, and whether the command had
/// already finished (then the kill hit nothing).
pub struct Killed {
    pub lines: usize,
    pub finished: bool,
}

impl World {
    pub fn new(proxied: bool) -> World {
        let emulator = Emulator::start();
        let proxy = proxied.then(|| Proxy::start(&emulator.endpoint()));
        let dir = tempfile::tempdir().expect("a temp dir");
        let spec = dir.path().join(ENV).join("main.hcl");
        std::fs::create_dir_all(spec.parent().unwrap()).expect("the environment dir");
        std::fs::write(&spec, SPEC).expect("the spec is written");
        World {
            emulator,
            proxy,
            dir,
        }
    }

    /// The endpoint the binary reaches: the proxy when there is one.
    pub fn endpoint(&self) -> String {
        match &self.proxy {
            Some(p) => p.endpoint(),
            None => self.emulator.endpoint(),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let binary = BINARY.get_or_init(|| env!("CARGO_BIN_EXE_standby").into());
        let mut c = Command::new(binary);
        c.args(args)
            .current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .envs(standby_emulator::env_for(&self.endpoint()))
            .stdin(Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Outcome {
        let out = self.command(args).output().expect("standby runs");
        Outcome {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Starts `args`, waits for `lines` progress lines (`...: create started`, `... done
    /// after 0.3s`) on stderr and `delay` more, then sends SIGKILL.
    pub fn kill_after(&self, args: &[&str], lines: usize, delay: Duration) -> Killed {
        let mut child = self
            .command(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("standby starts");
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut seen = 0;
        let mut line = String::new();
        while seen < lines && err.read_line(&mut line).unwrap_or(0) > 0 {
            if is_progress(&line) {
                seen += 1;
            }
            line.clear();
        }
        std::thread::sleep(delay);
        let finished = child.try_wait().ok().flatten().is_some();
        // `Child::kill` sends SIGKILL to this child's PID.
        let _ = child.kill();
        let _ = child.wait();
        Killed {
            lines: seen,
            finished,
        }
    }

    /// The state file as JSON; `None` when it is absent or not JSON.
    pub fn state(&self) -> Option<serde_json::Value> {
        let path = self.dir.path().join("state/prod.json");
        let text = std::fs::read_to_string(path).ok()?;
        serde_json::from_str(&text).ok()
    }
}

/// A line the engine prints when an action starts or ends.
pub fn is_progress(line: &str) -> bool {
    let line = line.trim_end();
    line.ends_with(" started") || line.contains(" done after ")
}

/// How many progress lines a command printed: counted on a complete run, it is the range
/// the kill points are spread over.
pub fn progress_lines(stderr: &str) -> usize {
    stderr.lines().filter(|l| is_progress(l)).count()
}
