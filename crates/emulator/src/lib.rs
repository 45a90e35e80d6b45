//! `Emulator`, a private moto server per test (or bench) on its own port, and SDK clients
//! that reach it or a proxy in front of it (`proxy`: the project's recording and
//! fault-injecting HTTP proxy). Shared by tests/it and benches/.
//!
//! Invariant: nothing is set process-wide (tests run in parallel): each test reaches its own
//! emulator through `endpoint()`, `env()` for child processes, or `sdk_config()`; the server
//! is killed by its PID when the `Emulator` drops. A missing moto fails loudly, never skips.

pub mod proxy;
pub mod strict;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const POLL: Duration = Duration::from_millis(50);
const ATTEMPTS: u32 = 400; // 20 s at most: moto imports a lot on its first start.

pub struct Emulator {
    child: Child,
    port: u16,
    log: tempfile::NamedTempFile,
}

impl Emulator {
    /// Starts `.venv/bin/moto_server` on 127.0.0.1 at a free port and waits until it
    /// answers HTTP.
    pub fn start() -> Emulator {
        let bin = moto_server();
        let mut last_error = String::new();
        // A free port can be taken between probing and binding: try a few.
        for _ in 0..3 {
            let port = free_port();
            let log = tempfile::NamedTempFile::new().expect("temporary log file");
            let child = Command::new(&bin)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(log.reopen().expect("log file"))
                .stderr(log.reopen().expect("log file"))
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
            let mut emulator = Emulator { child, port, log };
            match emulator.wait_ready() {
                Ok(()) => return emulator,
                Err(e) => last_error = e,
            }
        }
        panic!("moto did not start: {last_error}");
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        for _ in 0..ATTEMPTS {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "moto_server exited with {status}: {}",
                    self.log_text()
                ));
            }
            if answers_http(self.port) {
                return Ok(());
            }
            std::thread::sleep(POLL);
        }
        Err(format!(
            "no HTTP answer on port {} after {:?}: {}",
            self.port,
            POLL * ATTEMPTS,
            self.log_text()
        ))
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// `http://127.0.0.1:<port>`
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The environment a child process (the `standby` binary) needs to reach this emulator.
    pub fn env(&self) -> Vec<(String, String)> {
        env_for(&self.endpoint())
    }

    /// An SDK configuration for reading back through the SDK in `region`.
    pub async fn sdk_config(&self, region: &str) -> aws_types::SdkConfig {
        sdk_config_for(&self.endpoint(), region).await
    }

    pub async fn ec2(&self, region: &str) -> aws_sdk_ec2::Client {
        ec2_client(&self.sdk_config(region).await)
    }

    /// S3 with path-style addressing, as the emulator needs.
    pub async fn s3(&self, region: &str) -> aws_sdk_s3::Client {
        s3_client(&self.sdk_config(region).await)
    }

    pub async fn iam(&self) -> aws_sdk_iam::Client {
        iam_client(&self.sdk_config("us-east-1").await)
    }
}

/// The environment a child process (the `standby` binary) needs to reach AWS at `endpoint`
/// (an emulator or a proxy in front of one) with the test credentials.
pub fn env_for(endpoint: &str) -> Vec<(String, String)> {
    [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// An SDK configuration whose calls in `region` go to `endpoint` with the test credentials.
pub async fn sdk_config_for(endpoint: &str, region: &str) -> aws_types::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_types::region::Region::new(region.to_string()))
        .credentials_provider(aws_sdk_ec2::config::Credentials::new(
            "testing", "testing", None, None, "emulator",
        ))
        .load()
        .await
}

pub fn ec2_client(config: &aws_types::SdkConfig) -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::new(config)
}

/// S3 with path-style addressing, as the emulator needs.
pub fn s3_client(config: &aws_types::SdkConfig) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

fn iam_client(config: &aws_types::SdkConfig) -> aws_sdk_iam::Client {
    aws_sdk_iam::Client::new(config)
}

impl Drop for Emulator {
    fn drop(&mut self) {
        // `Child::kill` signals this process by its PID, nothing else.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn moto_server() -> PathBuf {
    // The emulator lives in the repository's `.venv`. The repository is found at run time
    // (cargo and nextest run tests and benches with the package's directory as
    // `CARGO_MANIFEST_DIR`): a build reused from another checkout must not look in that one.
    let runtime = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
    let start = runtime.unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    let found = start
        .ancestors()
        .map(|dir| dir.join(".venv/bin/moto_server"))
        .find(|bin| bin.exists());
    found.unwrap_or_else(|| {
        panic!(
            "moto is not installed: run scripts/test, or python3 -m venv .venv && \
             .venv/bin/pip install 'moto[server]==5.2.5' (looked in {} and above)",
            start.display()
        )
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free local port")
}

/// Whether `GET /moto-api/` answers with an HTTP status line.
fn answers_http(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), POLL) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.")
}
