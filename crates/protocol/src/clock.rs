//! Wall-clock time as the wire carries it: Unix milliseconds or seconds.
//!
//! Every role stamps messages, segments and rows with these; there is one helper so that
//! every timestamp in the system is read from the clock the same way.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, now (0 if the clock is set before 1970).
pub fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Seconds since the Unix epoch, now (0 if the clock is set before 1970).
pub fn unix_secs() -> i64 {
    unix_ms() / 1000
}

#[cfg(test)]
mod tests {
    #[test]
    fn seconds_and_milliseconds_agree() {
        let ms = super::unix_ms();
        let s = super::unix_secs();
        assert!(ms > 1_700_000_000_000, "{ms}");
        assert!((s - ms / 1000).abs() <= 1);
    }
}
