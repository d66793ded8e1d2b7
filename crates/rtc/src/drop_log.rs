//! A rate-limited log of dropped signalling messages, for both ends: whoever can write
//! into a receiver's topic (a device login, the broker's operator) must not be able to
//! fill its log with one line per junk message.

use std::time::{Duration, Instant};

/// Logs dropped signalling messages (and a camera's refused offers) without letting a
/// flood fill the log or cost the receiver much: the first [`DropLog::BURST`] of every
/// second, then one line saying how many more there were (written with the first one of
/// a later second).
#[derive(Debug)]
pub struct DropLog {
    second: Instant,
    logged: u32,
    suppressed: u64,
}

impl Default for DropLog {
    fn default() -> Self {
        Self {
            second: Instant::now(),
            logged: 0,
            suppressed: 0,
        }
    }
}

impl DropLog {
    const BURST: u32 = 10;

    /// Whether this one gets its own line (else it is counted).
    pub fn allow(&mut self) -> bool {
        if self.second.elapsed() >= Duration::from_secs(1) {
            if self.suppressed > 0 {
                tracing::warn!(
                    dropped = self.suppressed,
                    "more signalling messages dropped or refused without a log line"
                );
            }
            *self = DropLog::default();
        }
        if self.logged < Self::BURST {
            self.logged += 1;
            true
        } else {
            self.suppressed += 1;
            false
        }
    }

    pub fn dropped(&mut self, from: &str, why: &str) {
        if self.allow() {
            tracing::warn!(from, "signalling message dropped: {why}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_gets_ten_lines_a_second() {
        let mut log = DropLog::default();
        let lines = (0..1000).filter(|_| log.allow()).count();
        assert_eq!(lines, 10);
        assert_eq!(log.suppressed, 990);
    }
}
