//! Waiting on AWS, in one place: the poller (`until`) for state transitions (an RDS instance
//! `creating` … `available`, an instance `pending` before `running`, a deletion), and the
//! retry-until helper (`retry`) for AWS's documented windows of eventual consistency and
//! draining dependencies. Modelled on the Terraform AWS provider's `StateChangeConf`
//! options (hashicorp/terraform-provider-aws internal/tfresource/retry.go: `Delay`,
//! `ContinuousTargetOccurence`, `RetryWhenAWSErrCodeEquals`, `RetryWhenNewResourceNotFound`).
//!
//! Invariant: the SDK's waiters are not used: they read at once and stop at the first error
//! no acceptor matches (a throttle, a 5xx, a NotFound right after a create). Here a reading
//! that fails with one of those is one more reading, and only the per-kind maximum ends a
//! wait. What is waited for is listed in [`waiting`] for the progress display.

use super::emulator::Emulator;
use super::error::{self, AwsSdkError};
use super::settings::settings;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use std::collections::BTreeMap;
use std::error::Error;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How one kind of wait reads: after `delay`, every `interval`, done after `ready_run`
/// ready readings in a row, given up after `max`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Pace {
    pub delay: Duration,
    pub interval: Duration,
    pub ready_run: u32,
    pub max: Duration,
}

impl Pace {
    /// An RDS instance: AWS's waiter definition polls `DescribeDBInstances` every 30 s
    /// (aws-sdk rds 2014-10-31 waiters-1.json); a status repeats `available` twice, since
    /// right after a `ModifyDBInstance` it may still read `available` before `modifying`.
    pub(crate) fn database(emulator: Emulator) -> Pace {
        let p = Pace {
            delay: Duration::from_secs(30),
            interval: Duration::from_secs(30),
            ready_run: 2,
            max: settings().db_wait_timeout,
        };
        emulator.pace(p)
    }

    /// An EC2 instance or VPC: AWS's waiters poll every 15 s (ec2 2016-11-15 waiters-2.json).
    pub(crate) fn instance(emulator: Emulator) -> Pace {
        let p = Pace {
            delay: Duration::from_secs(5),
            interval: Duration::from_secs(15),
            ready_run: 2,
            max: settings().instance_wait_timeout,
        };
        emulator.pace(p)
    }

    /// A retried call in an eventual-consistency or dependency window: exponential backoff
    /// from 1 s to 30 s (no initial delay: the first attempt usually succeeds).
    pub(crate) fn window(emulator: Emulator, max: Duration) -> Pace {
        let p = Pace {
            delay: Duration::ZERO,
            interval: Duration::from_secs(1),
            ready_run: 1,
            max,
        };
        emulator.pace(p)
    }
}

/// One reading of what is waited for.
pub(crate) enum Reading<T> {
    /// In the wanted state, with what was read.
    Ready(T),
    /// Not yet: the state it is in, for the progress display and the timeout's message.
    NotYet(String),
}

/// What waits are running (subject to what is waited for), for the progress display.
static WAITING: Mutex<BTreeMap<String, String>> = Mutex::new(BTreeMap::new());

/// `address` → `what state it waits for (and the state read last)`.
pub fn waiting() -> BTreeMap<String, String> {
    WAITING.lock().map(|w| w.clone()).unwrap_or_default()
}

struct Listed(String);

impl Listed {
    fn new(subject: String, what: &str) -> Listed {
        note(&subject, what.to_string());
        Listed(subject)
    }
}

fn note(subject: &str, text: String) {
    if let Ok(mut w) = WAITING.lock() {
        w.insert(subject.to_string(), text);
    }
}

impl Drop for Listed {
    fn drop(&mut self) {
        if let Ok(mut w) = WAITING.lock() {
            w.remove(&self.0);
        }
    }
}

/// Reads with `read` at `pace` until `ready_run` readings in a row are ready; `what` names the
/// state waited for ("available"), `subject` the address. A reading that fails with an error
/// [`soft`] classified is retried; any other error ends the wait.
pub(crate) async fn until<T, F, Fut>(
    pace: Pace,
    what: &str,
    region: &str,
    subject: &crate::address::Address,
    mut read: F,
) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Reading<T>>>,
{
    let _listed = Listed::new(subject.to_string(), what);
    let started = Instant::now();
    tokio::time::sleep(pace.delay).await;
    let mut run = 0;
    let mut last = String::from("not read yet");
    loop {
        match read().await? {
            Reading::Ready(v) => {
                run += 1;
                if run >= pace.ready_run {
                    return Ok(v);
                }
            }
            Reading::NotYet(state) => {
                run = 0;
                note(&subject.to_string(), format!("{what} (now {state})"));
                last = state;
            }
        }
        if started.elapsed() + pace.interval > pace.max {
            anyhow::bail!(
                "waiting for {what} in {region} gave up for {subject} after {} (last seen: {last}); \
                 it may still get there: run the command again, or wait longer (--db-wait-timeout, --instance-wait-timeout)",
                humantime::format_duration(Duration::from_secs(pace.max.as_secs()))
            );
        }
        tokio::time::sleep(pace.interval).await;
    }
}

/// A failed reading: `Ok(NotYet)` for what a wait reads through (throttling, a 5xx, or one of
/// `not_found`, e.g. right after a create: AWS EC2 API "Eventual consistency",
/// https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html), else the error.
pub(crate) fn soft<T, E>(
    err: AwsSdkError<E>,
    not_found: &[&str],
    op: &str,
    region: &str,
    subject: &dyn std::fmt::Display,
) -> anyhow::Result<Reading<T>>
where
    E: ProvideErrorMetadata + Error + Send + Sync + 'static,
{
    if transient(&err) || error::code(&err).is_some_and(|c| not_found.contains(&c)) {
        let why = error::code(&err).unwrap_or("server error").to_string();
        Ok(Reading::NotYet(why))
    } else {
        Err(error::failure(op, region, subject, &err))
    }
}

/// Throttled or a server error: worth reading again.
fn transient<E: ProvideErrorMetadata + Error + 'static>(err: &AwsSdkError<E>) -> bool {
    error::is_throttled(err)
        || err
            .raw_response()
            .is_some_and(|r| r.status().as_u16() >= 500)
}

/// Calls `call` until it succeeds or fails with a code outside `codes`, with exponential
/// backoff, for at most `pace.max`: the documented windows (a new id not yet visible, a
/// dependency still draining). Terraform's `RetryWhenAWSErrCodeEquals`
/// (internal/tfresource/retry.go) does the same.
pub(crate) async fn retry<T, E, F, Fut>(
    pace: Pace,
    codes: &[&str],
    mut call: F,
) -> Result<T, AwsSdkError<E>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsSdkError<E>>>,
    E: ProvideErrorMetadata,
{
    let started = Instant::now();
    let mut delay = pace.interval;
    loop {
        match call().await {
            Err(e)
                if error::code(&e).is_some_and(|c| codes.contains(&c))
                    && started.elapsed() + delay <= pace.max =>
            {
                tracing::info!(code = error::code(&e), "retrying in {delay:?}");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(pace.interval * 30);
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr() -> crate::address::Address {
        crate::address::Address::new("database.main")
    }

    fn quick(ready_run: u32) -> Pace {
        Pace {
            delay: Duration::ZERO,
            interval: Duration::from_millis(1),
            ready_run,
            max: Duration::from_secs(5),
        }
    }

    #[tokio::test]
    async fn a_wait_needs_a_run_of_ready_readings() {
        let mut readings = vec![true, false, true, true].into_iter();
        let mut count = 0;
        let out = until(quick(2), "available", "r", &addr(), || {
            count += 1;
            let ready = readings.next().unwrap();
            async move {
                Ok(if ready {
                    Reading::Ready(count)
                } else {
                    Reading::NotYet("modifying".into())
                })
            }
        })
        .await
        .unwrap();
        assert_eq!(out, 4);
        assert!(waiting().is_empty());
    }

    #[tokio::test]
    async fn a_wait_gives_up_after_its_maximum_naming_the_last_state() {
        let pace = Pace {
            max: Duration::from_millis(20),
            ..quick(1)
        };
        let err = until(pace, "available", "eu-west-1", &addr(), || async {
            Ok(Reading::<()>::NotYet("creating".into()))
        })
        .await
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("waiting for available in eu-west-1 gave up for database.main"),
            "{err}"
        );
        assert!(err.contains("last seen: creating"), "{err}");
    }
}
