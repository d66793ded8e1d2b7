//! How long to wait before trying again: one back-off for every caller.
//!
//! Exponential with jitter: the first wait is `initial`, each later one doubles up to
//! `max`, and each is drawn uniformly from `[d/2, d]` so that clients that failed together
//! (every camera of a house when the Wi-Fi comes back) do not retry together.

use std::time::Duration;

use rand::Rng;

/// How a client repeats a request that failed with [`crate::Retry::Soon`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries in all, the first one included (1: never repeat).
    pub attempts: u32,
    /// The first wait; doubles up to `max`.
    pub initial: Duration,
    pub max: Duration,
}

impl RetryPolicy {
    /// Send each request once.
    pub const ONCE: Self = Self {
        attempts: 1,
        initial: Duration::ZERO,
        max: Duration::ZERO,
    };

    /// What the client does unless told otherwise: three tries over about a second, so a
    /// cloud that restarts or a dropped keep-alive connection costs a person nothing, and
    /// one that is down is reported within a second or two.
    pub const REQUESTS: Self = Self {
        attempts: 3,
        initial: Duration::from_millis(250),
        max: Duration::from_secs(1),
    };

    /// The waits of this policy, from the first.
    pub fn backoff(&self) -> Backoff {
        Backoff::new(self.initial, self.max)
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::REQUESTS
    }
}

/// Successive waits: doubling from `initial` to `max`, each jittered over `[d/2, d]`.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max: max.max(initial),
            next: initial,
        }
    }

    /// The next wait (and double the one after).
    pub fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(self.max);
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        if ms < 2 {
            return d;
        }
        Duration::from_millis(rand::rng().random_range(ms / 2..=ms))
    }

    /// Start again from `initial` (after a success).
    pub fn reset(&mut self) {
        self.next = self.initial;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_cap_with_jitter() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(500));
        let waits: Vec<u128> = (0..6).map(|_| b.next_delay().as_millis()).collect();
        let caps = [100, 200, 400, 500, 500, 500];
        for (w, cap) in waits.iter().zip(caps) {
            assert!(*w >= cap / 2 && *w <= cap, "{waits:?}");
        }
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }
}
