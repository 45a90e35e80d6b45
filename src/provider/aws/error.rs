//! AWS failures as one readable line: operation, region, address, AWS code, message, request
//! id, and what to do about it; the SDK's own structure only in the log (`-v`).
//!
//! Invariant: every SDK failure leaving the AWS provider goes through `AwsResultExt::op` (or
//! `failure`), so each message reads "RunInstances in us-east-1 failed for <address>: <code>:
//! <message> (request id <id>): <what to do>" whatever the service; "not found" answers are
//! told apart by code only. A failure to reach a region is an `AwsCallError` that says so, so
//! that the CLI can point at `--assume-down`.

use super::settings;
use aws_sdk_ec2::config::http::HttpResponse;
use aws_sdk_ec2::error::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_types::request_id::RequestId;
use std::error::Error;
use std::fmt::Display;

/// The SDK's error type for every service (they all share the smithy runtime's).
pub(crate) type AwsSdkError<E> = SdkError<E, HttpResponse>;

/// A failed AWS call, as the user reads it.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct AwsCallError {
    pub message: String,
    /// The region the call was signed for (`global` for Route 53 and IAM).
    pub region: String,
    /// The endpoint did not answer in time or could not be connected to.
    pub unreachable: bool,
}

/// Why a call failed, in the terms of what the user can do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    AccessDenied,
    ExpiredCredentials,
    RejectedCredentials,
    NoCredentials,
    Throttled,
    ServerError,
    ConnectionRefused,
    UnknownHost,
    ConnectTimeout,
    Timeout,
    Other,
}

const ACCESS_DENIED: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "AuthorizationError",
    "UnauthorizedAccess",
];
const EXPIRED: &[&str] = &[
    "ExpiredToken",
    "ExpiredTokenException",
    "TokenRefreshRequired",
    "RequestExpired",
];
const REJECTED: &[&str] = &[
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "AuthFailure",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "InvalidToken",
];
/// Throttling codes of the AWS SDKs' standard retry mode (aws-smithy-runtime's
/// `AwsErrorCodeClassifier`), retried by the SDK before the error comes here.
const THROTTLED: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "SlowDown",
    "PriorRequestNotComplete",
    "BandwidthLimitExceeded",
    "RequestThrottled",
    "EC2ThrottledException",
];

fn cause<E>(err: &AwsSdkError<E>) -> Cause
where
    E: ProvideErrorMetadata + Error + 'static,
{
    if let Some(code) = err.code() {
        let is = |codes: &[&str]| codes.contains(&code);
        return if is(ACCESS_DENIED) {
            Cause::AccessDenied
        } else if is(EXPIRED) {
            Cause::ExpiredCredentials
        } else if is(REJECTED) {
            Cause::RejectedCredentials
        } else if is(THROTTLED) {
            Cause::Throttled
        } else if status(err).is_some_and(|s| s >= 500) {
            Cause::ServerError
        } else {
            Cause::Other
        };
    }
    match err {
        SdkError::TimeoutError(_) => Cause::Timeout,
        SdkError::DispatchFailure(d) if d.is_timeout() => Cause::ConnectTimeout,
        SdkError::DispatchFailure(_) => {
            let chain = chain_text(err).to_lowercase();
            if chain.contains("credential") {
                Cause::NoCredentials
            } else if chain.contains("connection refused") {
                Cause::ConnectionRefused
            } else if chain.contains("dns error") || chain.contains("failed to lookup address") {
                Cause::UnknownHost
            } else {
                Cause::Other
            }
        }
        _ if status(err).is_some_and(|s| s >= 500) => Cause::ServerError,
        _ => Cause::Other,
    }
}

fn status<E>(err: &AwsSdkError<E>) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}

/// Every message of the error's source chain, joined.
fn chain_text(err: &(dyn Error + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut next = err.source();
    while let Some(e) = next {
        parts.push(e.to_string());
        next = e.source();
    }
    parts.join(": ")
}

/// The endpoint calls go to, for messages: the configured one, or AWS's.
fn endpoint() -> String {
    settings::endpoint()
        .map(|e| format!("the endpoint {e}"))
        .unwrap_or_else(|| "the AWS endpoint".into())
}

/// What to do about a failure of `cause` whose service message is `message`.
fn advice(cause: Cause, message: Option<&str>) -> Option<String> {
    let s = settings::settings();
    let dur = |d| humantime::format_duration(d).to_string();
    Some(match cause {
        Cause::AccessDenied => match message.and_then(denied_action) {
            Some(action) => format!("grant `{action}` to the IAM identity standby runs as"),
            None => "the IAM identity standby runs as lacks a permission for this call \
                     (`aws sts get-caller-identity` names the identity)"
                .into(),
        },
        Cause::ExpiredCredentials => "the AWS credentials have expired: run `aws sso login` \
                                      (or renew AWS_SESSION_TOKEN) and run standby again"
            .into(),
        Cause::RejectedCredentials => "AWS does not accept these credentials: check AWS_PROFILE \
                                       or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run `aws sso login`"
            .into(),
        Cause::NoCredentials => "no AWS credentials were found: run `aws sso login` (with AWS_PROFILE set), \
                                 or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            .into(),
        Cause::Throttled | Cause::ServerError => format!(
            "still failing after {} retries: run the command again later, or allow more with --max-retries",
            s.max_retries
        ),
        Cause::ConnectionRefused => format!(
            "nothing accepts connections at {}: check AWS_ENDPOINT_URL (unset it to use AWS)",
            endpoint()
        ),
        Cause::UnknownHost => format!(
            "the host of {} does not resolve: check AWS_ENDPOINT_URL and the region's name",
            endpoint()
        ),
        Cause::ConnectTimeout => format!(
            "no connection to {} within {} (--connect-timeout): the region may be unreachable",
            endpoint(),
            dur(s.connect_timeout)
        ),
        Cause::Timeout => format!(
            "no answer within {} (--operation-timeout; each attempt at most {}, --attempt-timeout): \
             the region may be unreachable",
            dur(s.operation_timeout),
            dur(s.attempt_timeout)
        ),
        Cause::Other => return None,
    })
}

/// The IAM action an access-denied message names: "... is not authorized to perform:
/// ec2:RunInstances on resource ..." (the wording of IAM's authorization errors).
fn denied_action(message: &str) -> Option<&str> {
    let rest = &message[message.find("perform: ")? + "perform: ".len()..];
    let action = rest
        .split_whitespace()
        .next()?
        .trim_end_matches([',', '.', ';']);
    action.contains(':').then_some(action)
}

/// The service's message without EC2's encoded authorization details (`-v` logs them).
fn short_message(message: &str) -> &str {
    message
        .split(" Encoded authorization failure message:")
        .next()
        .unwrap_or(message)
        .trim()
}

/// `<code>: <message> (request id <id>): <what to do>`, on one line; for a call that got no
/// answer, what happened instead of the code and message.
pub(crate) fn describe<E>(err: &AwsSdkError<E>) -> String
where
    E: ProvideErrorMetadata + Error + 'static,
{
    let cause = cause(err);
    let request_id = err
        .request_id()
        .or_else(|| err.meta().request_id())
        .map(str::to_owned);
    let message = err.message().map(short_message);
    let body = match (err.code(), message) {
        (Some(code), Some(msg)) => format!("{code}: {msg}"),
        (Some(code), None) => code.to_string(),
        (None, Some(msg)) => msg.to_string(),
        (None, None) => match cause {
            Cause::Timeout | Cause::ConnectTimeout => "timed out".to_string(),
            Cause::NoCredentials => "no credentials".to_string(),
            Cause::ConnectionRefused => "connection refused".to_string(),
            Cause::UnknownHost => "unknown host".to_string(),
            _ => DisplayErrorContext(err).to_string(),
        },
    };
    let mut line = match request_id {
        Some(id) => format!("{body} (request id {id})"),
        None => body,
    };
    if let Some(advice) = advice(cause, message) {
        line = format!("{line}: {advice}");
    }
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The error for a failed AWS call `op` made in `region` on behalf of `subject` (an
/// address, or a description of a batched read).
pub(crate) fn failure<E>(
    op: &str,
    region: &str,
    subject: &dyn Display,
    err: &AwsSdkError<E>,
) -> anyhow::Error
where
    E: ProvideErrorMetadata + Error + 'static,
{
    tracing::info!("{op} in {region} failed for {subject}: {err:?}");
    let unreachable = matches!(
        cause(err),
        Cause::Timeout | Cause::ConnectTimeout | Cause::ConnectionRefused | Cause::UnknownHost
    );
    anyhow::Error::new(AwsCallError {
        message: format!("{op} in {region} failed for {subject}: {}", describe(err)),
        region: region.to_string(),
        unreachable,
    })
}

/// The error code of a service answer, if the service answered.
/// A throttling answer (the SDK retried it already; a wait reads again later).
pub(crate) fn is_throttled<E: ProvideErrorMetadata>(err: &AwsSdkError<E>) -> bool {
    code(err).is_some_and(|c| THROTTLED.contains(&c))
}

pub(crate) fn code<E: ProvideErrorMetadata>(err: &AwsSdkError<E>) -> Option<&str> {
    err.code()
}

pub(crate) trait AwsResultExt<T, E> {
    /// Turns an SDK failure into the provider's error phrase.
    fn op(self, op: &str, region: &str, subject: &dyn Display) -> anyhow::Result<T>;

    /// `Ok(None)` when the service answered with one of `codes` (a "not found" answer),
    /// the provider's error phrase for any other failure.
    fn absent_if(
        self,
        codes: &[&str],
        op: &str,
        region: &str,
        subject: &dyn Display,
    ) -> anyhow::Result<Option<T>>;
}

impl<T, E> AwsResultExt<T, E> for Result<T, AwsSdkError<E>>
where
    E: ProvideErrorMetadata + Error + 'static,
{
    fn op(self, op: &str, region: &str, subject: &dyn Display) -> anyhow::Result<T> {
        self.map_err(|e| failure(op, region, subject, &e))
    }

    fn absent_if(
        self,
        codes: &[&str],
        op: &str,
        region: &str,
        subject: &dyn Display,
    ) -> anyhow::Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(e) if code(&e).is_some_and(|c| codes.contains(&c)) => Ok(None),
            Err(e) => Err(failure(op, region, subject, &e)),
        }
    }
}

/// The error for an SDK waiter that gave up or failed while waiting for `what`.
pub(crate) fn wait_failure(
    what: &str,
    region: &str,
    subject: &dyn Display,
    err: &(dyn Error + 'static),
) -> anyhow::Error {
    tracing::info!("waiting for {what} in {region} failed for {subject}: {err:?}");
    anyhow::anyhow!(
        "waiting for {what} in {region} failed for {subject}: {}",
        chain_text(err)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_denied_action_is_read_from_the_message() {
        let ec2 = "You are not authorized to perform this operation. User: arn:aws:iam::1:user/x \
                   is not authorized to perform: ec2:RunInstances on resource: arn:aws:ec2:us-east-1:1:instance/* \
                   because no identity-based policy allows the ec2:RunInstances action. \
                   Encoded authorization failure message: AbCdEf";
        assert_eq!(denied_action(ec2), Some("ec2:RunInstances"));
        assert!(!short_message(ec2).contains("AbCdEf"));
        let iam =
            "User: arn:aws:iam::1:user/x is not authorized to perform: iam:GetRole, no policy";
        assert_eq!(denied_action(iam), Some("iam:GetRole"));
        assert_eq!(denied_action("Access Denied"), None);
    }

    #[test]
    fn advice_names_the_fix() {
        let denied = advice(
            Cause::AccessDenied,
            Some("not authorized to perform: s3:PutObject on"),
        );
        assert_eq!(
            denied.as_deref(),
            Some("grant `s3:PutObject` to the IAM identity standby runs as")
        );
        assert!(advice(Cause::ExpiredCredentials, None)
            .unwrap()
            .contains("aws sso login"));
        assert!(advice(Cause::ConnectionRefused, None)
            .unwrap()
            .contains("AWS_ENDPOINT_URL"));
        assert!(advice(Cause::Other, None).is_none());
    }
}
