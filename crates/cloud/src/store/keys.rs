//! Object keys. They are built here only, from server-side ids, so a client never names
//! an object: everything of a device sits under `d/<device>/`, which is what deleting a
//! device removes.
//!
//! ```text
//!  d/<device>/c/<channel>/r/<yyyymmdd>/<start_ms:013>-<recording>   segments
//!  d/<device>/c/<channel>/clips/<clip>                              clips
//!  d/<device>/c/<channel>/snap/<snapshot>                           snapshots
//! ```

use uuid::Uuid;

/// A segment's key. The day folder bounds the reconciler's listings.
pub fn recording(device: &Uuid, channel: &Uuid, start_ms: i64, id: &Uuid) -> String {
    let day = time::OffsetDateTime::from_unix_timestamp(start_ms.div_euclid(1000))
        .map(|t| format!("{:04}{:02}{:02}", t.year(), u8::from(t.month()), t.day()))
        .unwrap_or_else(|_| "00000000".into());
    format!("d/{device}/c/{channel}/r/{day}/{start_ms:013}-{id}")
}

/// Prefix of one channel's recordings for one day (as in [`recording`]).
pub fn recording_day_prefix(key: &str) -> Option<&str> {
    key.rfind('/').map(|i| &key[..=i])
}

pub fn clip(device: &Uuid, channel: &Uuid, id: &Uuid) -> String {
    format!("d/{device}/c/{channel}/clips/{id}")
}

pub fn snapshot(device: &Uuid, channel: &Uuid, id: &Uuid) -> String {
    format!("d/{device}/c/{channel}/snap/{id}")
}

/// Everything of a device.
pub fn device_prefix(device: &Uuid) -> String {
    format!("d/{device}/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_segment_key_names_its_day_folder() {
        let (d, c, r) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        // 2024-03-01T00:00:30Z
        let key = recording(&d, &c, 1_709_251_230_000, &r);
        assert_eq!(key, format!("d/{d}/c/{c}/r/20240301/1709251230000-{r}"));
        assert_eq!(
            recording_day_prefix(&key),
            Some(format!("d/{d}/c/{c}/r/20240301/").as_str())
        );
        assert!(key.starts_with(&device_prefix(&d)));
    }
}
