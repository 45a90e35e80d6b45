//! AWS failures as one readable phrase: operation, region, address, AWS message, request id.
//!
//! Invariant: every SDK failure leaving the AWS provider goes through `AwsResultExt::op`, so
//! each message reads "RunInstances in us-east-1 failed for <address>: <code>: <message>
//! (request id <id>)" whatever the service; "not found" answers are told apart by code only.

use aws_sdk_ec2::config::http::HttpResponse;
use aws_sdk_ec2::error::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_types::request_id::RequestId;
use std::fmt::Display;

/// The SDK's error type for every service (they all share the smithy runtime's).
pub(crate) type AwsSdkError<E> = SdkError<E, HttpResponse>;

/// `<code>: <message> (request id <id>)`, or the SDK's own description when the service
/// did not answer (timeouts, connection failures).
pub(crate) fn describe<E>(err: &AwsSdkError<E>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let request_id = err
        .request_id()
        .or_else(|| err.meta().request_id())
        .map(str::to_owned);
    let body = match (err.code(), err.message()) {
        (Some(code), Some(msg)) => format!("{code}: {msg}"),
        (Some(code), None) => code.to_string(),
        (None, Some(msg)) => msg.to_string(),
        (None, None) => DisplayErrorContext(err).to_string(),
    };
    match request_id {
        Some(id) => format!("{body} (request id {id})"),
        None => body,
    }
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
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    anyhow::anyhow!("{op} in {region} failed for {subject}: {}", describe(err))
}

/// The error code of a service answer, if the service answered.
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
    E: ProvideErrorMetadata + std::error::Error + 'static,
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
    err: &(dyn std::error::Error + 'static),
) -> anyhow::Error {
    anyhow::anyhow!(
        "waiting for {what} in {region} failed for {subject}: {}",
        DisplayErrorContext(err)
    )
}
