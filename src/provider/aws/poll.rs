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
use futures::future::{BoxFuture, FutureExt, Shared};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::error::Error;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
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
#[derive(Clone)]
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
    tokio::time::sleep(on_grid(pace.delay, pace.interval)).await;
    let mut run = 0;
    let mut last = String::from("not read yet");
    let mut interval = pace.interval;
    loop {
        match read().await? {
            Reading::Ready(v) => {
                run += 1;
                if run >= pace.ready_run {
                    return Ok(v);
                }
                // Confirming a ready reading: at the base interval.
                interval = pace.interval;
            }
            Reading::NotYet(state) => {
                run = 0;
                note(&subject.to_string(), format!("{what} (now {state})"));
                last = state;
                interval = backed_off(interval, pace.interval);
            }
        }
        if started.elapsed() + interval > pace.max {
            anyhow::bail!(
                "waiting for {what} in {region} gave up for {subject} after {} (last seen: {last}); \
                 it may still get there: run the command again, or wait longer (--db-wait-timeout, --instance-wait-timeout)",
                humantime::format_duration(Duration::from_secs(pace.max.as_secs()))
            );
        }
        tokio::time::sleep(on_grid(interval, pace.interval)).await;
    }
}

/// The interval after another not-ready reading: half as long again, up to twice the base
/// (Terraform's `StateChangeConf`, terraform-plugin-sdk helper/retry/state.go, also grows
/// its wait between reads unless given a fixed `PollInterval`), so a long wait costs fewer
/// reads while its end is seen at most one doubled interval late.
fn backed_off(interval: Duration, base: Duration) -> Duration {
    (interval * 3 / 2).min(base * 2)
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

/// What one batched describe read: by id, each resource it found; `NotYet` when the read
/// failed in a way [`soft`] retries (every waiter reads again).
pub(crate) type Found<V> = Reading<HashMap<String, V>>;
type Round<V> = Shared<BoxFuture<'static, Result<Arc<Found<V>>, Arc<anyhow::Error>>>>;

/// Reads of many resources of one kind in one region, due together, made as one describe
/// (RDS `DescribeDBInstances` with a `db-instance-id` filter of many identifiers, Auto
/// Scaling `DescribeAutoScalingGroups` of many names, ELB `DescribeLoadBalancers`): resources
/// that finish together are polled together. Waits read on a grid shared by every wait of
/// the same interval ([`until`]), so their reads fall due at the same instants; a read joins
/// the round being gathered, or starts one that gathers for [`GATHER`].
pub(crate) struct Batch<V> {
    gathering: Mutex<(BTreeSet<String>, Option<Round<V>>)>,
}

/// How long a round waits for the other reads due at the same grid point.
const GATHER: Duration = Duration::from_millis(20);

impl<V: Clone + Send + Sync + 'static> Batch<V> {
    pub(crate) fn new() -> Arc<Batch<V>> {
        Arc::new(Batch {
            gathering: Mutex::new((BTreeSet::new(), None)),
        })
    }

    /// `id` as the round it joins read it: `describe` reads every id of a round (the first
    /// caller's `describe` is the one made).
    pub(crate) async fn read<F, Fut>(
        self: &Arc<Self>,
        id: &str,
        describe: F,
    ) -> anyhow::Result<Reading<Option<V>>>
    where
        F: FnOnce(Vec<String>) -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<Found<V>>> + Send + 'static,
    {
        let round = {
            let mut g = self.gathering.lock().unwrap_or_else(|e| e.into_inner());
            g.0.insert(id.to_string());
            match &g.1 {
                Some(round) => round.clone(),
                None => {
                    let round = self.clone().round(describe);
                    g.1 = Some(round.clone());
                    round
                }
            }
        };
        match &*round.await.map_err(|e| anyhow::anyhow!("{e:#}"))? {
            Reading::Ready(found) => Ok(Reading::Ready(found.get(id).cloned())),
            Reading::NotYet(why) => Ok(Reading::NotYet(why.clone())),
        }
    }

    fn round<F, Fut>(self: Arc<Self>, describe: F) -> Round<V>
    where
        F: FnOnce(Vec<String>) -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<Found<V>>> + Send + 'static,
    {
        async move {
            tokio::time::sleep(GATHER).await;
            let ids = {
                let mut g = self.gathering.lock().unwrap_or_else(|e| e.into_inner());
                g.1 = None;
                std::mem::take(&mut g.0).into_iter().collect()
            };
            describe(ids).await.map(Arc::new).map_err(Arc::new)
        }
        .boxed()
        .shared()
    }
}

/// When this process's wait grid starts.
static EPOCH: OnceLock<Instant> = OnceLock::new();

/// How long to sleep for a reading at least about `at_least` from now: to the nearest point
/// of a grid of `grid` steps from [`EPOCH`], at least half a step from now, so that every
/// wait of one interval reads at the same instants (and [`Batch`] makes them one read).
fn on_grid(at_least: Duration, grid: Duration) -> Duration {
    let since = EPOCH.get_or_init(Instant::now).elapsed();
    grid_sleep(since, at_least, grid)
}

fn grid_sleep(since: Duration, at_least: Duration, grid: Duration) -> Duration {
    if at_least.is_zero() || grid.is_zero() {
        return at_least;
    }
    let earliest = since + at_least.saturating_sub(grid / 2);
    let steps = earliest.as_nanos().div_ceil(grid.as_nanos());
    let point = grid.saturating_mul(u32::try_from(steps).unwrap_or(u32::MAX));
    point.saturating_sub(since)
}

/// Calls `call` until it succeeds/// Calls `call` until it succeeds or fails with a code outside `codes`, with exponential
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

    #[test]
    fn waits_started_apart_read_on_the_same_grid_points() {
        let (ms, grid) = (Duration::from_millis, Duration::from_millis(300));
        // Two waits, 300 ms delay, started at 40 ms and 170 ms: first reads at 300 ms (the
        // point nearest 340 ms) and at 600 ms (nearest 470 ms), then every 300 ms.
        assert_eq!(ms(40) + grid_sleep(ms(40), grid, grid), ms(300));
        assert_eq!(ms(170) + grid_sleep(ms(170), grid, grid), ms(600));
        // After a reading answered 30 ms past a point, the next is the next point.
        assert_eq!(ms(630) + grid_sleep(ms(630), grid, grid), ms(900));
        // A backed-off interval skips points, still on the grid.
        assert_eq!(ms(630) + grid_sleep(ms(630), ms(450), grid), ms(1200));
        assert_eq!(grid_sleep(ms(630), Duration::ZERO, grid), Duration::ZERO);
    }

    #[test]
    fn a_not_ready_reading_backs_off_to_twice_the_interval() {
        let base = Duration::from_secs(30);
        let mut interval = base;
        let seen: Vec<u64> = (0..4)
            .map(|_| {
                interval = backed_off(interval, base);
                interval.as_secs()
            })
            .collect();
        assert_eq!(seen, [45, 60, 60, 60]);
    }

    #[tokio::test]
    async fn reads_due_together_are_one_describe() {
        let batch: Arc<Batch<u32>> = Batch::new();
        let calls = Arc::new(Mutex::new(Vec::new()));
        let read = |id: &'static str| {
            let (batch, calls) = (batch.clone(), calls.clone());
            async move {
                batch
                    .read(id, move |ids: Vec<String>| async move {
                        calls.lock().unwrap().push(ids.clone());
                        Ok(Reading::Ready(
                            ids.iter()
                                .filter(|i| *i != "c")
                                .map(|i| (i.clone(), 7))
                                .collect(),
                        ))
                    })
                    .await
            }
        };
        let (a, b, c) = tokio::join!(read("a"), read("b"), read("c"));
        assert!(matches!(a.unwrap(), Reading::Ready(Some(7))));
        assert!(matches!(b.unwrap(), Reading::Ready(Some(7))));
        assert!(matches!(c.unwrap(), Reading::Ready(None)));
        assert_eq!(*calls.lock().unwrap(), [vec!["a", "b", "c"]]);
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
