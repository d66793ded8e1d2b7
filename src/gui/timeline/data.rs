//! What the ruler shows, loaded from the cloud for a range: the recordings merged into
//! contiguous runs (a week of 30-second segments becomes a few runs, so memory stays
//! bounded whatever the zoom) and the markers of the events and snapshots.

use eyrie_client::api::ApiClient;
use eyrie_client::playback::timeline::CONTIGUOUS_MS;
use eyrie_protocol::api::{Event, EventKind, RecordingStatus, SnapshotStatus};
use uuid::Uuid;

use super::ruler::{Marker, MarkerKind};
use crate::i18n::gettext;

/// The cloud lists at most a week per call.
const MAX_LIST_MS: i64 = 7 * 86_400_000 - 1;
/// Pages followed per chunk before giving up (a page is many segments).
const MAX_PAGES: usize = 200;

#[derive(Debug, Default)]
pub struct Loaded {
    pub from_ms: i64,
    pub to_ms: i64,
    pub runs: Vec<(i64, i64)>,
    pub markers: Vec<Marker>,
}

pub fn kind_label(kind: EventKind) -> String {
    match kind {
        EventKind::Motion => gettext("Motion"),
        EventKind::Manual => gettext("Manual event"),
        EventKind::Sound => gettext("Sound"),
        EventKind::Unknown => gettext("Event"),
    }
}

/// Load `[from_ms, to_ms)`.
pub async fn load(
    api: &ApiClient,
    channel: Uuid,
    from_ms: i64,
    to_ms: i64,
) -> Result<Loaded, eyrie_client::api::ApiError> {
    let mut runs: Vec<(i64, i64)> = Vec::new();
    let mut markers = Vec::new();
    let mut chunk = from_ms;
    while chunk < to_ms {
        let chunk_end = (chunk + MAX_LIST_MS).min(to_ms);
        let mut start = chunk;
        for _ in 0..MAX_PAGES {
            let page = api.recordings(channel, start, chunk_end).await?;
            for r in page
                .recordings
                .iter()
                .filter(|r| r.status == RecordingStatus::Complete)
            {
                match runs.last_mut() {
                    Some(last) if r.start_ms - last.1 <= CONTIGUOUS_MS && r.end_ms >= last.0 => {
                        last.1 = last.1.max(r.end_ms);
                    }
                    _ => runs.push((r.start_ms, r.end_ms)),
                }
            }
            match page.next_start_ms {
                Some(n) if n > start => start = n,
                _ => break,
            }
        }
        let events = api.events(channel, chunk, chunk_end).await?;
        markers.extend(events.events.into_iter().map(|e| Marker {
            id: e.id,
            kind: MarkerKind::Event(e.kind),
            start_ms: e.start_ms,
            end_ms: e.end_ms,
            label: kind_label(e.kind),
        }));
        let snapshots = api.snapshots(channel, chunk, chunk_end).await?;
        markers.extend(
            snapshots
                .snapshots
                .into_iter()
                .filter(|s| s.status == SnapshotStatus::Complete)
                .map(|s| Marker {
                    id: s.id,
                    kind: MarkerKind::Snapshot,
                    start_ms: s.taken_at_ms,
                    end_ms: None,
                    label: gettext("Snapshot"),
                }),
        );
        chunk = chunk_end;
    }
    runs.sort_unstable();
    markers.sort_by_key(|m| m.start_ms);
    markers.dedup_by_key(|m| m.id);
    Ok(Loaded {
        from_ms,
        to_ms,
        runs,
        markers,
    })
}

/// The events of the channel since local midnight, oldest first.
pub async fn today(
    api: &ApiClient,
    channel: Uuid,
    midnight_ms: i64,
) -> Result<Vec<Event>, eyrie_client::api::ApiError> {
    let now = eyrie_protocol::clock::unix_ms();
    let mut events = api.events(channel, midnight_ms, now + 60_000).await?.events;
    // Events overlapping the range: one that began before midnight is yesterday's.
    events.retain(|e| e.start_ms >= midnight_ms);
    events.sort_by_key(|e| e.start_ms);
    Ok(events)
}

/// The nearest snapshot image (JPEG) to `at_ms` within ten seconds, if any.
pub async fn snapshot_near(
    api: &ApiClient,
    device: Uuid,
    channel: Uuid,
    at_ms: i64,
) -> Option<Vec<u8>> {
    let list = api
        .snapshots(channel, at_ms - 10_000, at_ms + 10_000)
        .await
        .ok()?;
    let snap = list
        .snapshots
        .iter()
        .filter(|s| s.download.is_some())
        .min_by_key(|s| (s.taken_at_ms - at_ms).abs())?;
    let opener = eyrie_client::snapshot::SnapshotOpener::new(api, device)
        .await
        .ok()?;
    opener.open(snap).await.ok()
}
