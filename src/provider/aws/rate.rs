//! A token bucket: at most `per_second` calls a second, process-wide. Route 53 allows five
//! requests a second per account and answers `Throttling` (or `PriorRequestNotComplete`)
//! above it ("Quotas on API requests",
//! https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DNSLimitations.html#limits-api-requests);
//! the SDK's retry then takes those two codes as throttling (`error.rs`, THROTTLED).
//!
//! Invariant: calls are spaced, not merely bounded in number: a semaphore lets five quick
//! calls through in far less than a second.

use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug)]
pub(crate) struct Rate {
    every: Duration,
    /// When the next call may start.
    next: Mutex<Option<Instant>>,
}

impl Rate {
    pub(crate) fn per_second(n: u32) -> Rate {
        Rate {
            every: Duration::from_secs(1) / n.max(1),
            next: Mutex::new(None),
        }
    }

    /// Waits for this call's slot.
    pub(crate) async fn take(&self) {
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let slot = next.map_or(now, |n| n.max(now));
            *next = Some(slot + self.every);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn six_calls_take_at_least_a_second() {
        let rate = Rate::per_second(5);
        let started = Instant::now();
        for _ in 0..6 {
            rate.take().await;
        }
        assert!(
            started.elapsed() >= Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
    }
}
