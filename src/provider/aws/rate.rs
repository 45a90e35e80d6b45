//! A token bucket: at most `per_second` calls a second, process-wide. Route 53 allows five
//! requests a second per account and answers `Throttling` (or `PriorRequestNotComplete`)
//! above it ("Quotas on API requests",
//! https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DNSLimitations.html#limits-api-requests);
//! the SDK's retry then takes those two codes as throttling (`error.rs`, THROTTLED).
//!
//! Invariant: at most `per_second` calls start in any one-second window (a burst of up to
//! that many goes at once, the next waits for the oldest to leave the window); a semaphore
//! would bound calls in flight, not calls a second.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug)]
pub(crate) struct Rate {
    per_second: usize,
    /// When the latest `per_second` calls started (or will), oldest first.
    slots: Mutex<VecDeque<Instant>>,
}

impl Rate {
    pub(crate) fn per_second(n: u32) -> Rate {
        Rate {
            per_second: n.max(1) as usize,
            slots: Mutex::new(VecDeque::new()),
        }
    }

    /// Waits for this call's slot.
    pub(crate) async fn take(&self) {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            self.book(&mut slots, Instant::now())
        };
        tokio::time::sleep_until(slot).await;
    }

    /// The slot of a call asked for at `now`, booked in `slots`.
    fn book(&self, slots: &mut VecDeque<Instant>, now: Instant) -> Instant {
        let slot = match slots.len().checked_sub(self.per_second) {
            Some(i) => (slots[i] + Duration::from_secs(1)).max(now),
            None => now,
        };
        slots.push_back(slot);
        while slots.len() > self.per_second {
            slots.pop_front();
        }
        slot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_calls_go_at_once_and_the_sixth_a_second_after_the_first() {
        let rate = Rate::per_second(5);
        let (mut slots, now) = (VecDeque::new(), Instant::now());
        let booked: Vec<Duration> = (0..7).map(|_| rate.book(&mut slots, now) - now).collect();
        let second = Duration::from_secs(1);
        assert_eq!(booked[..5], [Duration::ZERO; 5]);
        assert_eq!(booked[5..], [second, second]);
    }

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
