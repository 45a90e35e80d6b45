//! How every AWS client of the process retries and times out: the provider's and the S3
//! state backend's. Set once from the command line (`--max-retries`, `--retry-mode`,
//! `--connect-timeout`, `--attempt-timeout`, `--operation-timeout` and their `STANDBY_*`
//! variables); tests and benchmarks get the defaults.
//!
//! Invariant: retries are the SDK's (exponential backoff with full jitter, a retry quota, and
//! in adaptive mode a client-side rate limiter); nothing in standby loops around a call.

use aws_config::retry::{RetryConfig, RetryMode};
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use aws_sdk_ec2::config::interceptors::InterceptorContext;
use aws_sdk_ec2::config::retry::{ClassifyRetry, RetryAction};
use aws_types::region::Region;
use aws_types::SdkConfig;
use std::sync::OnceLock;
use std::time::Duration;

/// Retries and timeouts of every AWS call.
#[derive(Debug, Clone, PartialEq)]
pub struct AwsSettings {
    /// Retries after the first attempt. Terraform's AWS provider allows 25 by default
    /// (`max_retries`, hashicorp/terraform-provider-aws website/docs/index.html.markdown).
    pub max_retries: u32,
    /// `standard`, or `adaptive` (standard plus a client-side rate limiter that slows down
    /// after throttling), as the AWS SDKs define them.
    pub adaptive: bool,
    /// Establishing a TCP (and TLS) connection.
    pub connect_timeout: Duration,
    /// One attempt of a call, from sending to the parsed answer.
    pub attempt_timeout: Duration,
    /// A call with all its retries and their backoff.
    pub operation_timeout: Duration,
    /// The longest wait for an RDS instance (create, replica, promote, modify, delete).
    pub db_wait_timeout: Duration,
    /// The longest wait for an EC2 instance to run or terminate, or a VPC to be available.
    pub instance_wait_timeout: Duration,
    /// The longest retry of a delete refused while dependents drain (`DependencyViolation`)
    /// and of a call to a just-created id not yet visible (eventual consistency).
    pub consistency_timeout: Duration,
}

pub const DEFAULT_MAX_RETRIES: u32 = 25;
/// Attempts of a call whose caller falls back: the AWS SDKs' own default for standard retries
/// (https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html).
pub const BRIEF_ATTEMPTS: u32 = 3;
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(120);
pub const DEFAULT_DB_WAIT_TIMEOUT: Duration = Duration::from_secs(60 * 60);
pub const DEFAULT_INSTANCE_WAIT_TIMEOUT: Duration = Duration::from_secs(10 * 60);
pub const DEFAULT_CONSISTENCY_TIMEOUT: Duration = Duration::from_secs(15 * 60);

impl Default for AwsSettings {
    fn default() -> Self {
        AwsSettings {
            max_retries: DEFAULT_MAX_RETRIES,
            adaptive: false,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            attempt_timeout: DEFAULT_ATTEMPT_TIMEOUT,
            operation_timeout: DEFAULT_OPERATION_TIMEOUT,
            db_wait_timeout: DEFAULT_DB_WAIT_TIMEOUT,
            instance_wait_timeout: DEFAULT_INSTANCE_WAIT_TIMEOUT,
            consistency_timeout: DEFAULT_CONSISTENCY_TIMEOUT,
        }
    }
}

impl AwsSettings {
    pub fn retry_config(&self) -> RetryConfig {
        let mode = if self.adaptive {
            RetryMode::Adaptive
        } else {
            RetryMode::Standard
        };
        RetryConfig::standard()
            .with_retry_mode(mode)
            .with_max_attempts(self.max_retries.saturating_add(1))
    }

    /// For calls whose caller falls back when they fail (`Provider::brief`): at most
    /// `BRIEF_ATTEMPTS` attempts, so a refusal gives up within seconds instead of retrying
    /// until the operation timeout; a throttling blip is still retried.
    pub fn brief_retry_config(&self) -> RetryConfig {
        let retry = self.retry_config();
        let attempts = retry.max_attempts().min(BRIEF_ATTEMPTS);
        retry.with_max_attempts(attempts)
    }

    pub fn timeout_config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect_timeout)
            .operation_attempt_timeout(self.attempt_timeout)
            .operation_timeout(self.operation_timeout)
            .build()
    }
}

static SETTINGS: OnceLock<AwsSettings> = OnceLock::new();
/// The endpoint URL in use (`AWS_ENDPOINT_URL`), for error messages.
static ENDPOINT: OnceLock<Option<String>> = OnceLock::new();

/// Sets the process's settings; the first call wins (the CLI makes it before any client).
pub fn configure(settings: AwsSettings) {
    let _ = SETTINGS.set(settings);
}

pub fn settings() -> &'static AwsSettings {
    SETTINGS.get_or_init(AwsSettings::default)
}

/// The custom endpoint every client uses, if one is configured.
pub fn endpoint() -> Option<&'static str> {
    ENDPOINT.get().and_then(|e| e.as_deref())
}

/// The default chain (credentials, profiles, SSO, `AWS_REGION`, `AWS_ENDPOINT_URL` ...) with
/// standby's retries and timeouts, in `region` when given.
pub async fn load(region: Option<&str>) -> SdkConfig {
    let s = settings();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(s.retry_config())
        .timeout_config(s.timeout_config());
    if let Some(r) = region {
        loader = loader.region(Region::new(r.to_string()));
    }
    let sdk = loader.load().await;
    let _ = ENDPOINT.set(sdk.endpoint_url().map(str::to_owned));
    sdk
}

/// A retry classifier for every client: a connection that nothing accepts (refused, or a host
/// name that does not exist) is not retried. Nothing listens there (a wrong
/// `AWS_ENDPOINT_URL`, a region that is down), and 25 retries with backoff would only hide
/// that behind the operation timeout. Every other failure is classified as the SDK does.
#[derive(Debug)]
pub struct NothingListens;

impl ClassifyRetry for NothingListens {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let Some(Err(err)) = ctx.output_or_error() else {
            return RetryAction::NoActionIndicated;
        };
        let Some(conn) = err.as_connector_error().filter(|c| c.is_io()) else {
            return RetryAction::NoActionIndicated;
        };
        let mut refused = false;
        let mut text = String::new();
        let mut next: Option<&(dyn std::error::Error + 'static)> = Some(conn);
        while let Some(e) = next {
            refused |= e
                .downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused);
            text.push_str(&e.to_string());
            next = e.source();
        }
        // getaddrinfo's "not known" answers (NXDOMAIN); EAI_AGAIN ("temporary failure") is
        // retried.
        let no_such_host = text.contains("Name or service not known")
            || text.contains("nodename nor servname provided");
        if refused || no_such_host {
            RetryAction::RetryForbidden
        } else {
            RetryAction::NoActionIndicated
        }
    }

    fn name(&self) -> &'static str {
        "standby: nothing listens at the endpoint"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_retry_25_times_with_every_timeout_set() {
        let s = AwsSettings::default();
        let retry = s.retry_config();
        assert_eq!(retry.max_attempts(), 26);
        assert_eq!(retry.mode(), RetryMode::Standard);
        let t = s.timeout_config();
        assert_eq!(t.connect_timeout(), Some(Duration::from_secs(5)));
        assert_eq!(t.operation_attempt_timeout(), Some(Duration::from_secs(30)));
        assert_eq!(t.operation_timeout(), Some(Duration::from_secs(120)));
        let adaptive = AwsSettings {
            adaptive: true,
            ..s
        };
        assert_eq!(adaptive.retry_config().mode(), RetryMode::Adaptive);
        assert_eq!(s.brief_retry_config().max_attempts(), 3);
        let none = AwsSettings {
            max_retries: 0,
            ..AwsSettings::default()
        };
        assert_eq!(none.brief_retry_config().max_attempts(), 1);
    }
}
