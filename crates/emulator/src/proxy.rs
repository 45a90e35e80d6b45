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
//!   [`Proxy::black_hole_region`] (requests signed for a region are never answered),
//!   [`Proxy::set_latency`] (a delay before each request is handled),
//!   [`Proxy::inject_failures`] (a deterministic, seeded share of requests answered without
//!   forwarding, alternately with a 500 internal error and a throttling error, in the error
//!   shape of the request's protocol, so that the SDK's standard retry retries them),
//!   [`Proxy::fail_operation`] (every request of one operation answered without forwarding
//!   with a non-retryable 400 error, such as RDS's `InvalidParameterCombination`),
//!   [`Proxy::answer_operation`] (every request of one operation answered with an error of
//!   the test's choosing, such as EC2's `UnauthorizedOperation`), and
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
    down: HashSet<String>,
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

    /// How often the strict-mode rule `rule` (`ec2.instance-pending` ...) fired.
    pub fn fired(&self, rule: &str) -> usize {
        self.state().strict.as_ref().map_or(0, |s| s.fired(rule))
    }

    /// Every request so far, in the order they were answered.
    pub fn seen(&self) -> Vec<Seen> {
        self.state().seen.clone()
    }

    /// Forgets the requests seen and the refused counts (not the fault settings).
    pub fn clear(&self) {
        let mut state = self.state();
        state.seen.clear();
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
            .wait_timeout_while(guard, timeout, |s| s.held.get(operation).is_none_or(|n| *n == 0))
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
        self.state().failures = (rate > 0.0).then(|| Failures {
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

// ---------------------------------------------------------------------------------------
// The server: a small HTTP/1.1 server (keep-alive, Content-Length and chunked bodies,
// `Expect: 100-continue`), so that hyper's `server` feature is not needed: enabling it
// would change hyper's features and rebuild the whole AWS SDK for the tests.

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((socket, _)) => {
                let _ = socket.set_nodelay(true);
                tokio::spawn(serve_connection(socket, shared.clone()));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// A request as it came from the client.
struct Request {
    method: String,
    /// Origin form: path and query.
    target: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Bytes,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

/// An answer for the client.
struct Response {
    status: u16,
    reason: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Bytes,
}

fn header<'a>(headers: &'a [(String, Vec<u8>)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| std::str::from_utf8(v).ok())
        .map(str::trim)
}

const MAX_HEAD: usize = 1 << 20;

async fn serve_connection(mut socket: TcpStream, shared: Arc<Shared>) {
    let mut buf = Vec::with_capacity(16 * 1024);
    loop {
        let request = match read_request(&mut socket, &mut buf).await {
            Ok(Some(r)) => r,
            Ok(None) | Err(_) => return,
        };
        let close = request
            .header("connection")
            .is_some_and(|c| c.eq_ignore_ascii_case("close"));
        let head = request.method == "HEAD";
        let response = handle(&shared, request).await;
        if write_response(&mut socket, &response, head).await.is_err() || close {
            return;
        }
    }
}

/// The next request on the connection; `None` when the client closed it between requests.
async fn read_request(socket: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<Option<Request>> {
    let head_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_HEAD {
            return Err(invalid("request head too large"));
        }
        if read_more(socket, buf).await? == 0 {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err(invalid("connection closed inside a request head"))
            };
        }
    };
    let mut slots = [httparse::EMPTY_HEADER; 256];
    let mut parsed = httparse::Request::new(&mut slots);
    match parsed.parse(&buf[..head_end]) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return Err(invalid("malformed request head")),
    }
    let method = parsed.method.unwrap_or("GET").to_string();
    let target = parsed.path.unwrap_or("/").to_string();
    let headers: Vec<(String, Vec<u8>)> = parsed
        .headers
        .iter()
        .map(|h| (h.name.to_string(), h.value.to_vec()))
        .collect();
    buf.drain(..head_end);

    if header(&headers, "expect").is_some_and(|e| e.eq_ignore_ascii_case("100-continue")) {
        socket.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
    }
    let chunked = header(&headers, "transfer-encoding")
        .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
    let body = if chunked {
        read_chunked(socket, buf).await?
    } else {
        let len = match header(&headers, "content-length") {
            Some(v) => v
                .parse::<usize>()
                .map_err(|_| invalid("bad Content-Length"))?,
            None => 0,
        };
        read_exact(socket, buf, len).await?
    };
    Ok(Some(Request {
        method,
        target,
        headers,
        body,
    }))
}

async fn read_more(socket: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<usize> {
    let mut chunk = [0u8; 16 * 1024];
    let n = socket.read(&mut chunk).await?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

/// Takes `len` bytes from the front of `buf`, reading more as needed.
async fn read_exact(socket: &mut TcpStream, buf: &mut Vec<u8>, len: usize) -> io::Result<Bytes> {
    while buf.len() < len {
        if read_more(socket, buf).await? == 0 {
            return Err(invalid("connection closed inside a request body"));
        }
    }
    Ok(Bytes::from(buf.drain(..len).collect::<Vec<u8>>()))
}

/// Takes one CRLF-terminated line (without the CRLF) from the front of `buf`.
async fn read_line(socket: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<Vec<u8>> {
    loop {
        if let Some(i) = find(buf, b"\r\n") {
            let line = buf[..i].to_vec();
            buf.drain(..i + 2);
            return Ok(line);
        }
        if buf.len() > MAX_HEAD || read_more(socket, buf).await? == 0 {
            return Err(invalid("bad chunked body"));
        }
    }
}

async fn read_chunked(socket: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<Bytes> {
    let mut body = Vec::new();
    loop {
        let line = read_line(socket, buf).await?;
        let size = std::str::from_utf8(&line)
            .ok()
            .and_then(|l| usize::from_str_radix(l.split(';').next()?.trim(), 16).ok())
            .ok_or_else(|| invalid("bad chunk size"))?;
        if size == 0 {
            // Trailers, up to the empty line.
            while !read_line(socket, buf).await?.is_empty() {}
            return Ok(Bytes::from(body));
        }
        body.extend_from_slice(&read_exact(socket, buf, size).await?);
        if !read_line(socket, buf).await?.is_empty() {
            return Err(invalid("bad chunk end"));
        }
    }
}

async fn write_response(socket: &mut TcpStream, r: &Response, head: bool) -> io::Result<()> {
    let bodyless = head || r.status == 204 || r.status == 304 || r.status < 200;
    let mut out = format!("HTTP/1.1 {} {}\r\n", r.status, r.reason).into_bytes();
    for (k, v) in &r.headers {
        let hop = ["connection", "keep-alive", "transfer-encoding"]
            .iter()
            .any(|h| k.eq_ignore_ascii_case(h));
        // A HEAD answer keeps upstream's Content-Length (the size of what GET would send).
        if hop || (!head && k.eq_ignore_ascii_case("content-length")) {
            continue;
        }
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v);
        out.extend_from_slice(b"\r\n");
    }
    if !bodyless {
        out.extend_from_slice(format!("content-length: {}\r\n", r.body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    if !bodyless {
        out.extend_from_slice(&r.body);
    }
    socket.write_all(&out).await?;
    socket.flush().await
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

// ---------------------------------------------------------------------------------------
// Handling: record, refuse, inject, forward.

#[derive(Clone)]
enum Fault {
    Down,
    Internal,
    Throttle,
    /// A non-retryable rejection ([`Proxy::fail_operation`]).
    Rejected,
    /// [`Proxy::answer_operation`]
    Answer(Answer),
}

async fn handle(shared: &Shared, request: Request) -> Response {
    let (service, region) = credential_scope(&request).unwrap_or_default();
    let operation = operation(&request, &service);

    let latency = shared.lock().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let global = matches!(service.as_str(), "route53" | "iam" | "sts");
    if !global && shared.lock().black_holes.contains(&region) {
        shared.lock().seen.push(Seen {
            service: service.clone(),
            region: region.clone(),
            operation: operation.clone(),
            status: 0,
        });
        std::future::pending::<()>().await;
    }

    let hold = shared.lock().held_operations.get(&operation).copied();
    if let Some(hold) = hold {
        let response = hold_until_released(shared, &request, &operation, &service, &region, hold).await;
        shared.lock().seen.push(Seen {
            service,
            region,
            operation,
            status: response.status,
        });
        return response;
    }

    let fault = {
        let mut state = shared.lock();
        // Route 53 and IAM are global: signed for us-east-1 but not served from it, so a
        // region outage does not take them down (DESIGN.md, "DR operations").
        if state.down.contains(&region) && !global {
            *state.refused.entry(region.clone()).or_default() += 1;
            Some(Fault::Down)
        } else if let Some(answer) = state.answers.get(&operation) {
            Some(Fault::Answer(answer.clone()))
        } else if state.failed_operations.contains(&operation) {
            Some(Fault::Rejected)
        } else {
            let fail = match &mut state.failures {
                Some(f) if f.service.as_ref().is_none_or(|s| *s == service) => {
                    f.rng.next_f64() < f.rate
                }
                _ => false,
            };
            if fail {
                state.injected += 1;
                Some(if state.injected % 2 == 1 {
                    Fault::Internal
                } else {
                    Fault::Throttle
                })
            } else {
                None
            }
        }
    };

    let call = shared.lock().strict.is_some().then(|| strict_call(&request, &service, &region, &operation));
    let fault = fault.or_else(|| {
        let refusal = shared.lock().strict.as_mut()?.before(call.as_ref()?)?;
        Some(Fault::Answer(Answer { status: refusal.status, code: refusal.code, message: refusal.message }))
    });
    let response = match fault {
        Some(fault) => fault_response(fault, &request, &service, &region),
        None => match forward(&shared.upstream, &request).await {
            Ok(r) => match (&call, shared.lock().strict.as_mut()) {
                (Some(call), Some(strict)) => strict_reply(strict, call, r),
                _ => r,
            },
            Err(e) => Response {
                status: 502,
                reason: "Bad Gateway".into(),
                headers: vec![("content-type".into(), b"text/plain".to_vec())],
                body: Bytes::from(format!(
                    "standby test proxy: upstream {} failed: {e}",
                    shared.upstream
                )),
            },
        },
    };
    shared.lock().seen.push(Seen {
        service,
        region,
        operation,
        status: response.status,
    });
    response
}

/// The call as strict-mode rules see it.
fn strict_call(request: &Request, service: &str, region: &str, operation: &str) -> crate::strict::Call {
    let mut params: std::collections::BTreeMap<String, String> = query_pairs(query(&request.target)).collect();
    if request.header("content-type").is_some_and(|t| t.starts_with("application/x-www-form-urlencoded")) {
        params.extend(query_pairs(&String::from_utf8_lossy(&request.body)));
    }
    crate::strict::Call {
        service: service.to_string(),
        region: region.to_string(),
        operation: operation.to_string(),
        params,
        body: request.body.to_vec(),
    }
}

/// moto's answer after the strict-mode rules rewrote it.
fn strict_reply(strict: &mut crate::strict::Strict, call: &crate::strict::Call, mut r: Response) -> Response {
    let mut reply = crate::strict::Reply { status: r.status, body: String::from_utf8_lossy(&r.body).into_owned() };
    strict.after(call, &mut reply);
    if reply.body.as_bytes() != r.body.as_ref() {
        r.body = Bytes::from(reply.body);
    }
    r
}

/// Holds a request of a held operation (forwarding it first with `Hold::After`) until the
/// test releases the operation; answers with an internal error.
async fn hold_until_released(
    shared: &Shared,
    request: &Request,
    operation: &str,
    service: &str,
    region: &str,
    hold: Hold,
) -> Response {
    if hold == Hold::After {
        let _ = forward(&shared.upstream, request).await;
    }
    *shared.lock().held.entry(operation.to_string()).or_default() += 1;
    shared.held_changed.notify_all();
    loop {
        // Registered before the check, so a release between the two is not missed.
        let released = shared.released.notified();
        if !shared.lock().held_operations.contains_key(operation) {
            break;
        }
        released.await;
    }
    fault_response(Fault::Internal, request, service, region)
}

async fn forward(upstream: &str, request: &Request) -> Result<Response, String> {
    // A fresh upstream connection per request: nothing to go stale between tests' calls.
    let stream = TcpStream::connect(upstream)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(connection);

    let mut builder = http::Request::builder()
        .method(request.method.as_str())
        .uri(request.target.as_str());
    let mut framed = false;
    for (k, v) in &request.headers {
        let lower = k.to_ascii_lowercase();
        match lower.as_str() {
            // The body was read whole: it goes on with a Content-Length.
            "content-length" | "transfer-encoding" => framed = true,
            "connection" | "keep-alive" | "expect" | "proxy-connection" => {}
            _ => builder = builder.header(k.as_str(), v.as_slice()),
        }
    }
    if framed || !request.body.is_empty() {
        builder = builder.header("content-length", request.body.len());
    }
    let upstream_request = builder
        .body(Full::new(request.body.clone()))
        .map_err(|e| format!("request: {e}"))?;
    let answer = sender
        .send_request(upstream_request)
        .await
        .map_err(|e| format!("send: {e}"))?;
    let (parts, body) = answer.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|e| format!("body: {e}"))?
        .to_bytes();
    Ok(Response {
        status: parts.status.as_u16(),
        reason: parts.status.canonical_reason().unwrap_or("").to_string(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.as_bytes().to_vec()))
            .collect(),
        body,
    })
}

// ---------------------------------------------------------------------------------------
// What a request is: credential scope and operation.

/// `(service, region)` from `Credential=AKID/DATE/REGION/SERVICE/aws4_request`, in the
/// Authorization header or in a presigned URL's `X-Amz-Credential`.
fn credential_scope(request: &Request) -> Option<(String, String)> {
    let scope = match request.header("authorization") {
        Some(auth) => {
            let rest = &auth[auth.find("Credential=")? + "Credential=".len()..];
            rest.split([',', ' ']).next()?.to_string()
        }
        None => query_pairs(query(&request.target))
            .find(|(k, _)| k == "X-Amz-Credential")?
            .1
            .to_string(),
    };
    let parts: Vec<&str> = scope.split('/').collect();
    match parts.as_slice() {
        [.., region, service, "aws4_request"] => Some((service.to_string(), region.to_string())),
        _ => None,
    }
}

fn operation(request: &Request, service: &str) -> String {
    if let Some(target) = request.header("x-amz-target") {
        return target.rsplit('.').next().unwrap_or(target).to_string();
    }
    let form = request
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    let body = if form {
        std::str::from_utf8(&request.body).unwrap_or("")
    } else {
        ""
    };
    let query = query(&request.target);
    if let Some((_, action)) = query_pairs(body)
        .chain(query_pairs(query))
        .find(|(k, _)| k == "Action")
    {
        return action;
    }
    let path = request.target.split('?').next().unwrap_or("/");
    if service == "s3" {
        if let Some((_, id)) = query_pairs(query).find(|(k, _)| k == "x-id") {
            return id;
        }
        let segments: Vec<&str> = path.trim_start_matches('/').splitn(2, '/').collect();
        let mut shape = match segments.as_slice() {
            [""] => "/".to_string(),
            [_] | [_, ""] => "bucket".to_string(),
            _ => "bucket/key".to_string(),
        };
        let mut keys: Vec<String> = query_pairs(query).map(|(k, _)| k).collect();
        keys.sort();
        keys.dedup();
        if !keys.is_empty() {
            shape = format!("{shape}?{}", keys.join("&"));
        }
        return format!("{} {shape}", request.method);
    }
    let elided: Vec<&str> = path
        .split('/')
        .map(|s| if id_like(s) { "{id}" } else { s })
        .collect();
    format!("{} {}", request.method, elided.join("/"))
}

/// Anything but a lower-case word or an API date (`2013-04-01`) is an id.
fn id_like(segment: &str) -> bool {
    let word = segment
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b == b'-' || b == b'_');
    let date = segment.len() == 10
        && segment.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    !(word || date)
}

fn query(target: &str) -> &str {
    target.split_once('?').map(|(_, q)| q).unwrap_or("")
}

/// `k=v&k2=v2` with percent-decoding (`+` is a space, as in forms).
fn query_pairs(text: &str) -> impl Iterator<Item = (String, String)> + '_ {
    text.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(k), decode(v))
    })
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------------------------------
// Answers of the proxy's own, in the error shape of each protocol.

#[derive(Clone, Copy, PartialEq)]
enum Protocol {
    /// EC2 query: `<Response><Errors><Error>`.
    Ec2,
    /// AWS query (RDS, IAM, CloudWatch ...) and REST-XML (Route 53): `<ErrorResponse>`.
    ErrorResponse,
    /// S3 REST-XML: a bare `<Error>`.
    S3,
    /// awsJson 1.0 / 1.1: `{"__type": ...}` and `x-amzn-ErrorType`.
    Json,
}

fn protocol(request: &Request, service: &str) -> Protocol {
    if request.header("x-amz-target").is_some() {
        Protocol::Json
    } else if service == "ec2" {
        Protocol::Ec2
    } else if service == "s3" {
        Protocol::S3
    } else {
        Protocol::ErrorResponse
    }
}

fn fault_response(fault: Fault, request: &Request, service: &str, region: &str) -> Response {
    let protocol = protocol(request, service);
    // (status, code, SOAP-style fault type)
    let (status, code, kind) = match (&fault, protocol) {
        (Fault::Down, _) => (503, "ServiceUnavailable", "Receiver"),
        (Fault::Internal, Protocol::Ec2 | Protocol::S3) => (500, "InternalError", "Receiver"),
        (Fault::Internal, _) => (500, "InternalFailure", "Receiver"),
        (Fault::Throttle, Protocol::Ec2) => (400, "RequestLimitExceeded", "Sender"),
        (Fault::Throttle, Protocol::S3) => (503, "SlowDown", "Sender"),
        (Fault::Throttle, Protocol::Json) => (400, "ThrottlingException", "Sender"),
        (Fault::Throttle, Protocol::ErrorResponse) => (400, "Throttling", "Sender"),
        (Fault::Rejected, Protocol::S3) => (400, "InvalidRequest", "Sender"),
        (Fault::Rejected, Protocol::Json) => (400, "ValidationException", "Sender"),
        (Fault::Rejected, _) => (400, "InvalidParameterCombination", "Sender"),
        (Fault::Answer(a), _) => (a.status, a.code.as_str(), "Sender"),
    };
    let message = match &fault {
        Fault::Down => format!("region {region} is down (standby test proxy)"),
        Fault::Internal => "injected internal error (standby test proxy)".to_string(),
        Fault::Throttle => "injected throttling (standby test proxy)".to_string(),
        Fault::Rejected => "injected by the standby test proxy".to_string(),
        Fault::Answer(a) => a.message.clone(),
    };
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    let request_id = format!("standby-proxy-{}", NEXT_ID.fetch_add(1, Ordering::Relaxed));
    let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    let (content_type, body) = match protocol {
        Protocol::Ec2 => (
            "text/xml".to_string(),
            format!(
                "{xml}<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message>\
                 </Error></Errors><RequestID>{request_id}</RequestID></Response>"
            ),
        ),
        Protocol::ErrorResponse => (
            "text/xml".to_string(),
            format!(
                "{xml}<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code>\
                 <Message>{message}</Message></Error><RequestId>{request_id}</RequestId>\
                 </ErrorResponse>"
            ),
        ),
        Protocol::S3 => (
            "application/xml".to_string(),
            format!(
                "{xml}<Error><Code>{code}</Code><Message>{message}</Message>\
                 <RequestId>{request_id}</RequestId></Error>"
            ),
        ),
        Protocol::Json => (
            request
                .header("content-type")
                .unwrap_or("application/x-amz-json-1.1")
                .to_string(),
            format!("{{\"__type\":\"{code}\",\"message\":\"{message}\"}}"),
        ),
    };
    let mut headers = vec![
        ("content-type".to_string(), content_type.into_bytes()),
        (
            "x-amzn-requestid".to_string(),
            request_id.clone().into_bytes(),
        ),
        ("x-amz-request-id".to_string(), request_id.into_bytes()),
    ];
    if protocol == Protocol::Json {
        headers.push(("x-amzn-errortype".to_string(), code.as_bytes().to_vec()));
    }
    Response {
        status,
        reason: http::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("")
            .to_string(),
        headers,
        body: Bytes::from(body),
    }
}
