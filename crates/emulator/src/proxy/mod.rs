//! `Proxy`, an HTTP proxy of the project's own between the SDK (or the
//! `standby` binary) and the emulator. moto has no latency or fault injection; this proxy
//! adds them, and records every AWS call it sees.
//!
//! ```text
//! SDK / standby ──HTTP/1.1──▶ Proxy (127.0.0.1:<free port>) ──HTTP/1.1──▶ moto
//! ```
//!
//! - Forwarding: method, path and query, headers (Authorization included, Host unchanged) and
//!   body go upstream as they came; the status, headers and body of the answer come back
//!   unchanged (the body is re-framed with `Content-Length`).
//! - Recording: every request becomes a [`Seen`], also those the proxy answers itself
//!   (refused or injected). `service` and `region` come from the SigV4 credential scope
//!   (`Credential=AKID/20260101/us-west-2/ec2/aws4_request`, header or presigned query);
//!   both are empty for unsigned requests.
//! - Operation names, in this order:
//!   1. `X-Amz-Target` (JSON protocols): the part after the last `.`
//!      (`DynamoDB_20120810.ListTables` gives `ListTables`);
//!   2. `Action=` in a form-encoded body or in the query (query protocols: EC2, RDS, IAM,
//!      CloudWatch): `DescribeInstances`;
//!   3. S3: the SDK's `x-id` query parameter when it sends one (`ListBuckets`, `PutObject`,
//!      `GetObject`, ...), otherwise `METHOD shape`, where the bucket is `bucket`, the key is
//!      `key` and the query keeps its parameter names only, sorted: `PUT bucket?replication`,
//!      `GET bucket?versioning`, `PUT bucket`, `GET bucket?list-type&prefix`;
//!   4. other REST protocols (Route 53): `METHOD path` without the query, each id-like
//!      segment (anything but lower-case words and the API date) written `{id}`:
//!      `GET /2013-04-01/hostedzone`, `POST /2013-04-01/hostedzone/{id}/rrset`.
//! - Faults, all changeable at any time from any thread: [`Proxy::refuse_region`] (HTTP 503
//!   "region X is down (standby test proxy)" for every request signed for that region),
//!   [`Proxy::refuse_service`] (the same for every request signed for one service, such as
//!   the global `route53`, `iam` and `sts`),
//!   [`Proxy::black_hole_region`] (requests signed for a region are never answered),
//!   [`Proxy::set_latency`] (a delay before each request is handled),
//!   [`Proxy::inject_failures`] (a deterministic, seeded share of requests answered without
//!   forwarding, alternately with a 500 internal error and a throttling error, in the error
//!   shape of the request's protocol, so that the SDK's standard retry retries them),
//!   [`Proxy::fail_operation`] (every request of one operation answered without forwarding
//!   with a non-retryable 400 error, such as RDS's `InvalidParameterCombination`),
//!   [`Proxy::answer_operation`] (every request of one operation answered with an error of
//!   the test's choosing, such as EC2's `UnauthorizedOperation`),
//!   [`Proxy::set_service_quota`] (Service Quotas' `GetServiceQuota` answers a value of the
//!   test's choosing), and
//!   [`Proxy::hold_operation`] (every request of one operation held unanswered, before or
//!   after it reached the emulator, until [`Proxy::release`]: a test kills the client while
//!   [`Proxy::wait_held`] says a request is held, at a point it chose, with no race).
//!
//! Invariant: the proxy runs on its own thread with its own tokio runtime, so it works the
//! same from synchronous tests and from any test runtime; dropping the `Proxy` stops the
//! thread and closes its connections.

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

mod classify;
mod handle;
mod server;
use classify::*;
use handle::*;
use server::*;

/// One request the proxy saw, with the status it answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The signing name from the credential scope: `ec2`, `s3`, `rds`, `iam`, `route53`,
    /// `monitoring` (CloudWatch) ...; empty when the request is not signed.
    pub service: String,
    /// The signing region from the credential scope (`us-east-1` for the global IAM and
    /// Route 53); empty when the request is not signed.
    pub region: String,
    /// See the module documentation for the naming scheme.
    pub operation: String,
    /// What the client got: upstream's status, 503 when refused, 500/400/503 when injected,
    /// 502 when upstream could not be reached, 0 when black-holed (no answer).
    pub status: u16,
}

/// When the proxy held one request: from its arrival (before any added latency) to its
/// answer. Benchmarks read the rounds a command made and its time waiting on AWS from these.
#[derive(Debug, Clone)]
pub struct Span {
    pub operation: String,
    pub region: String,
    pub start: std::time::Instant,
    pub end: std::time::Instant,
}

pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    /// `host:port` of the emulator.
    upstream: String,
    state: Mutex<State>,
    /// Signalled when a request starts being held.
    held_changed: std::sync::Condvar,
    /// Wakes held requests when an operation is released.
    released: tokio::sync::Notify,
}

#[derive(Default)]
struct State {
    seen: Vec<Seen>,
    spans: Vec<Span>,
    down: HashSet<String>,
    /// Services (signing names) every request of which is refused ([`Proxy::refuse_service`]).
    down_services: HashSet<String>,
    black_holes: HashSet<String>,
    refused: HashMap<String, usize>,
    latency: Duration,
    failures: Option<Failures>,
    injected: usize,
    /// Operations (as `Seen::operation` names them) every request of which is rejected.
    failed_operations: HashSet<String>,
    /// Operations answered with a given error ([`Proxy::answer_operation`]).
    answers: HashMap<String, Answer>,
    /// Operations held until released, and whether they reach the emulator first.
    held_operations: HashMap<String, Hold>,
    /// Requests held so far, per operation.
    held: HashMap<String, usize>,
    /// Service Quotas values by quota code ([`Proxy::set_service_quota`]).
    quotas: HashMap<String, f64>,
    /// Real-AWS behaviours modelled on top of moto ([`Proxy::strict`]).
    strict: Option<crate::strict::Strict>,
}

/// An error answer of the test's choosing: HTTP status, AWS error code, message.
#[derive(Clone)]
struct Answer {
    status: u16,
    code: String,
    message: String,
}

/// Where [`Proxy::hold_operation`] holds a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// Before forwarding: the emulator never sees it (AWS did not take the step).
    Before,
    /// After the emulator answered: the step was taken, the client never hears so.
    After,
}

struct Failures {
    rate: f64,
    rng: SplitMix64,
    /// Only requests signed for this service fail, when set.
    service: Option<String>,
}

/// splitmix64: small, seeded, good enough to pick which requests fail.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) as f64 / 2f64.powi(64)
    }
}

impl Proxy {
    /// Starts a proxy in front of `upstream` (an emulator endpoint such as
    /// `http://127.0.0.1:5000`) on a free port of 127.0.0.1; it accepts connections as soon
    /// as this returns.
    pub fn start(upstream: &str) -> Proxy {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        assert!(
            !upstream.contains('/') && !upstream.starts_with("https:"),
            "the proxy forwards to a plain http://host:port endpoint, not {upstream}"
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free local port");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking socket");
        let addr = listener.local_addr().expect("the proxy's address");
        let shared = Arc::new(Shared {
            upstream,
            state: Mutex::new(State::default()),
            held_changed: std::sync::Condvar::new(),
            released: tokio::sync::Notify::new(),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let in_thread = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("standby-test-proxy-{}", addr.port()))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("the proxy's tokio runtime");
                runtime.block_on(async move {
                    let listener = TcpListener::from_std(listener).expect("a tokio listener");
                    tokio::select! {
                        _ = stopped => {}
                        _ = accept_loop(listener, in_thread) => {}
                    }
                });
                // Dropping the runtime cancels the connection tasks and closes their sockets.
                runtime.shutdown_background();
            })
            .expect("the proxy thread starts");
        Proxy {
            addr,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:<port>`
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The environment a child process (the `standby` binary) needs to reach the emulator
    /// through this proxy; the same keys as `Emulator::env()`.
    pub fn env(&self) -> Vec<(String, String)> {
        crate::env_for(&self.endpoint())
    }

    /// An SDK configuration whose calls in `region` go through this proxy.
    pub async fn sdk_config(&self, region: &str) -> aws_types::SdkConfig {
        crate::sdk_config_for(&self.endpoint(), region).await
    }

    pub async fn ec2(&self, region: &str) -> aws_sdk_ec2::Client {
        crate::ec2_client(&self.sdk_config(region).await)
    }

    /// S3 with path-style addressing, as the emulator needs.
    pub async fn s3(&self, region: &str) -> aws_sdk_s3::Client {
        crate::s3_client(&self.sdk_config(region).await)
    }

    /// Strict mode: from now on, the real-AWS behaviours of [`crate::strict`] apply, with
    /// AWS's durations multiplied by `scale` (0.01: a 10-minute create takes 6 s).
    pub fn strict(&self, scale: f64) {
        self.state().strict = Some(crate::strict::Strict::new(scale));
    }

    /// Strict mode: from now on a scale-up of an Auto Scaling group in `region` launches
    /// nothing and fails on the account's vCPU limit (`autoscaling.insufficient-capacity`).
    pub fn exhaust_capacity(&self, region: &str) {
        if let Some(strict) = self.state().strict.as_mut() {
            strict.exhaust_capacity(region);
        }
    }

    /// Strict mode's opt-in rule `autoscaling.capacity-failure`: Auto Scaling groups in
    /// `region` launch at most `limit` instances and report the launches they could not make
    /// as failed scaling activities, as a region short of capacity or vCPU quota does.
    pub fn limit_capacity(&self, region: &str, limit: u32) {
        self.state()
            .strict
            .as_mut()
            .expect("limit_capacity is a strict-mode rule: call Proxy::strict first")
            .add(Box::new(crate::strict::CapacityFailure::new(region, limit)));
    }

    /// How often the strict-mode rule `rule` (`ec2.instance-pending` ...) fired.
    pub fn fired(&self, rule: &str) -> usize {
        self.state().strict.as_ref().map_or(0, |s| s.fired(rule))
    }

    /// Every request so far, in the order they were answered.
    pub fn seen(&self) -> Vec<Seen> {
        self.state().seen.clone()
    }

    /// When each request answered so far arrived and was answered.
    pub fn spans(&self) -> Vec<Span> {
        self.state().spans.clone()
    }

    /// Forgets the requests seen and the refused counts (not the fault settings).
    pub fn clear(&self) {
        let mut state = self.state();
        state.seen.clear();
        state.spans.clear();
        state.refused.clear();
        state.injected = 0;
    }

    /// Requests signed for `region`, refused ones included.
    pub fn count_region(&self, region: &str) -> usize {
        self.state()
            .seen
            .iter()
            .filter(|s| s.region == region)
            .count()
    }

    /// Requests for `service` (signing name) and `operation`, in any region.
    pub fn count_operation(&self, service: &str, operation: &str) -> usize {
        self.state()
            .seen
            .iter()
            .filter(|s| s.service == service && s.operation == operation)
            .count()
    }

    /// From now on every request signed for `region` is answered 503 "region X is down
    /// (standby test proxy)" without reaching the emulator; it is still recorded.
    pub fn refuse_region(&self, region: &str) {
        self.state().down.insert(region.to_string());
    }

    pub fn restore_region(&self, region: &str) {
        self.state().down.remove(region);
    }

    /// From now on every request signed for `service` (`route53`, `iam`, `sts` ...), in any
    /// region, is answered 503 without reaching the emulator: an impaired global control
    /// plane. It is still recorded.
    pub fn refuse_service(&self, service: &str) {
        self.state().down_services.insert(service.to_string());
    }

    pub fn restore_service(&self, service: &str) {
        self.state().down_services.remove(service);
    }

    /// From now on every request signed for `region` (Route 53 and IAM excepted, as with
    /// [`Proxy::refuse_region`]) is read and never answered: the connection stays open and
    /// silent, as with a black-holed endpoint. It is recorded with status 0.
    pub fn black_hole_region(&self, region: &str) {
        self.state().black_holes.insert(region.to_string());
    }

    /// Requests refused because `region` was down.
    pub fn refused_count(&self, region: &str) -> usize {
        self.state().refused.get(region).copied().unwrap_or(0)
    }

    /// A delay before every request is handled (forwarded, refused or failed).
    pub fn set_latency(&self, latency: Duration) {
        self.state().latency = latency;
    }

    /// From now on a share `rate` (0.0 ..= 1.0) of the requests, picked by a PRNG seeded with
    /// `seed`, is answered without forwarding: alternately HTTP 500 (internal error) and a
    /// throttling error, in the request protocol's error shape. `rate` 0 turns it off.
    pub fn inject_failures(&self, rate: f64, seed: u64) {
        self.set_failures(rate, seed, None);
    }

    /// Like [`Proxy::inject_failures`], for requests signed for `service` only.
    pub fn inject_failures_for(&self, service: &str, rate: f64, seed: u64) {
        self.set_failures(rate, seed, Some(service.to_string()));
    }

    /// Requests answered with an injected failure.
    pub fn injected_count(&self) -> usize {
        self.state().injected
    }

    /// From now on every request whose operation (as [`Seen::operation`] names it, e.g.
    /// `RestoreDBInstanceFromDBSnapshot`) is `operation` is answered without forwarding with
    /// a 400 error the SDK does not retry, in the request protocol's error shape; it is
    /// recorded with status 400.
    pub fn fail_operation(&self, operation: &str) {
        self.state().failed_operations.insert(operation.to_string());
    }

    /// From now on every request of `operation` is answered, without forwarding, with HTTP
    /// `status` and the AWS error `code` and `message` in the request protocol's error shape
    /// (an `AccessDenied` naming the missing action, an `ExpiredToken` ...); recorded with
    /// that status.
    pub fn answer_operation(&self, operation: &str, status: u16, code: &str, message: &str) {
        self.state().answers.insert(
            operation.to_string(),
            Answer {
                status,
                code: code.to_string(),
                message: message.to_string(),
            },
        );
    }

    /// From now on Service Quotas' `GetServiceQuota` of `quota_code` (such as EC2's
    /// `L-1216C47A`, the vCPUs of running On-Demand standard instances) answers `value` in
    /// every region, without forwarding: moto 5.2.5 knows only VPC quotas. Recorded with
    /// status 200.
    pub fn set_service_quota(&self, quota_code: &str, value: f64) {
        self.state().quotas.insert(quota_code.to_string(), value);
    }

    /// Stops every [`Proxy::fail_operation`].
    pub fn clear_failed_operations(&self) {
        self.state().failed_operations.clear();
    }

    /// From now on every request of `operation` is held unanswered, `Hold::Before` or
    /// `Hold::After` forwarding it, until [`Proxy::release`]; it is then answered with a 500
    /// internal error (what the emulator said is dropped), and recorded.
    pub fn hold_operation(&self, operation: &str, hold: Hold) {
        self.state()
            .held_operations
            .insert(operation.to_string(), hold);
    }

    /// Blocks until a request of `operation` is held; panics after `timeout`.
    pub fn wait_held(&self, operation: &str, timeout: Duration) {
        let guard = self.state();
        let (_guard, waited) = self
            .shared
            .held_changed
            .wait_timeout_while(guard, timeout, |s| {
                s.held.get(operation).is_none_or(|n| *n == 0)
            })
            .unwrap_or_else(|e| e.into_inner());
        assert!(
            !waited.timed_out(),
            "no request of {operation} was held within {timeout:?}"
        );
    }

    /// Stops holding `operation`: the requests held are answered.
    pub fn release(&self, operation: &str) {
        self.state().held_operations.remove(operation);
        self.shared.released.notify_waiters();
    }

    fn set_failures(&self, rate: f64, seed: u64, service: Option<String>) {
        assert!((0.0..=1.0).contains(&rate), "a failure rate is in 0..=1");
        self.state().failures = (rate > 0.0).then_some(Failures {
            rate,
            rng: SplitMix64(seed),
            service,
        });
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.shared.lock()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock must not hide its own failure.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}
