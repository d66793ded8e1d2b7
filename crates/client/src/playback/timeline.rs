//! The recordings of one channel around the playhead, as the cloud lists them: sorted
//! segments with presigned GETs and the gaps between them. The player asks it which
//! segment holds an instant and whether the next one continues it.

use std::collections::HashMap;

use eyrie_protocol::api::{Clip, ClipStatus, PresignedUrl, Recording, RecordingStatus};
use uuid::Uuid;

use crate::api::ApiError;

/// Two segments closer than this continue each other (recorder timestamps are continuous).
pub const CONTIGUOUS_MS: i64 = 1_000;
/// How far ahead of the playhead one listing reaches.
pub const WINDOW_MS: i64 = 6 * 3_600_000;

/// A window of a channel's recordings.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    pub recordings: Vec<Recording>,
    pub end_ms: i64,
    /// Set when playing a finished clip: its segments are byte ranges of one object.
    pub clip: Option<ClipSource>,
}

/// Where a clip's segments are: `(offset, size)` of each recording in the clip object.
#[derive(Debug, Clone)]
pub struct ClipSource {
    pub clip_id: Uuid,
    pub url: PresignedUrl,
    pub ranges: HashMap<Uuid, (u64, u64)>,
}

impl Timeline {
    /// The segments of a finished clip, as a timeline over its object (which outlives the
    /// recordings it was cut from). `None` unless the clip is finished with a download URL.
    pub fn for_clip(clip: &Clip) -> Option<Self> {
        if clip.status != ClipStatus::Finished || clip.parts.is_empty() {
            return None;
        }
        let url = clip.download.clone()?;
        let recordings = clip
            .parts
            .iter()
            .map(|p| Recording {
                id: p.recording_id,
                channel_id: clip.channel_id,
                start_ms: p.start_ms,
                end_ms: p.end_ms,
                status: RecordingStatus::Complete,
                size: Some(p.size),
                sha256: None,
                event: false,
                key_id: p.key_id.clone(),
                download: None,
            })
            .collect();
        Some(Self {
            recordings,
            end_ms: clip.end_ms,
            clip: Some(ClipSource {
                clip_id: clip.id,
                url,
                ranges: clip
                    .parts
                    .iter()
                    .map(|p| (p.recording_id, (p.offset, p.size)))
                    .collect(),
            }),
        })
    }
}

impl Timeline {
    /// List `[from_ms - 1 min, from_ms + WINDOW_MS)` (following `next_start_ms` pages).
    pub async fn fetch(
        api: &crate::api::ApiClient,
        channel: Uuid,
        from_ms: i64,
    ) -> Result<Self, ApiError> {
        let end = from_ms + WINDOW_MS;
        let mut start = from_ms - 60_000;
        let mut recordings = Vec::new();
        loop {
            let page = api.recordings(channel, start, end).await?;
            recordings.extend(
                page.recordings
                    .into_iter()
                    .filter(|r| r.status == RecordingStatus::Complete),
            );
            match page.next_start_ms {
                Some(n) if n > start && recordings.len() < 50_000 => start = n,
                _ => break,
            }
        }
        recordings.sort_by_key(|r| r.start_ms);
        recordings.dedup_by_key(|r| r.id);
        Ok(Self {
            recordings,
            end_ms: end,
            clip: None,
        })
    }

    /// Index of the segment holding `t`, else of the first one after it.
    pub fn at_or_after(&self, t: i64) -> Option<usize> {
        self.recordings.iter().position(|r| r.end_ms > t)
    }

    /// Whether segment `i + 1` continues segment `i` without a gap.
    pub fn continues(&self, i: usize) -> bool {
        match (self.recordings.get(i), self.recordings.get(i + 1)) {
            (Some(a), Some(b)) => (b.start_ms - a.end_ms).abs() <= CONTIGUOUS_MS,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(start: i64, end: i64) -> Recording {
        Recording {
            id: Uuid::new_v4(),
            channel_id: Uuid::nil(),
            start_ms: start,
            end_ms: end,
            status: RecordingStatus::Complete,
            size: None,
            sha256: None,
            event: false,
            key_id: None,
            download: None,
        }
    }

    #[test]
    fn finds_and_chains() {
        let t = Timeline {
            recordings: vec![rec(0, 30_000), rec(30_010, 60_000), rec(90_000, 120_000)],
            end_ms: 0,
            clip: None,
        };
        assert_eq!(t.at_or_after(-5), Some(0));
        assert_eq!(t.at_or_after(45_000), Some(1));
        assert_eq!(t.at_or_after(70_000), Some(2));
        assert_eq!(t.at_or_after(120_000), None);
        assert!(t.continues(0));
        assert!(!t.continues(1));
        assert!(!t.continues(2));
    }
}
