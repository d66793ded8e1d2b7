//! Stitched playback of cloud recordings, and clips.
//!
//! The cloud stores a channel as encrypted 30-second MPEG-TS [`Segment`](eyrie_protocol::api::Recording)s
//! and hands out presigned GETs; the client stitches them (seed 001: "the client is
//! responsible for stitching segments together"). The design:
//!
//! - A [`Player`] owns one *display* pipeline for its whole life (the caller's sink never
//!   changes) and, per seek, one short-lived *run*: a fetch task that downloads and
//!   decrypts the contiguous segments from the playhead on (at most [`PREFETCH`] ahead, a
//!   tampered one is never fed), a decode pipeline fed with their concatenated TS (their
//!   timestamps continue each other, so a boundary is invisible to the demuxer), and a
//!   presenter thread that maps every decoded frame to wall-clock time (segment start +
//!   PTS offset), drops frames before the seek target (exact seeks) and paces frames at
//!   1/2/4/8× onto the display pipeline.
//! - A seek, a gap, a skipped segment or the end of a chain drops the run (aborting its
//!   downloads) and starts a new one; gaps and skips are announced as typed [`Notice`]s.
//! - Memory is bounded by design: [`PREFETCH`] decrypted segments, the decode appsrc's
//!   byte limit and a few decoded frames — whatever the length of the timeline.
//!
//! [`clip`] creates clips, polls them and exports them to MP4 without re-encoding.

pub mod clip;
pub(crate) mod fetch;
mod player;
mod run;
pub mod timeline;

pub use clip::{ExportProgress, ExportReport, create_clip, export_clip, poll_clip};
pub use fetch::KeyRing;
pub use player::{Player, PlayerState};
pub use timeline::Timeline;

/// How many decrypted segments may wait ahead of the one being decoded.
pub const PREFETCH: usize = 2;

/// Why a segment was not played.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// It failed authentication or used an unknown key.
    Tampered,
    /// The object store no longer has it.
    Missing,
    /// Its presigned URL was refused twice (refetched once).
    Expired,
    /// Network error.
    Unreachable,
}

/// What the player tells its owner, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A segment could not be played and was skipped.
    SegmentSkipped {
        recording_id: uuid::Uuid,
        start_ms: i64,
        reason: SkipReason,
    },
    /// There were no recordings in `[from_ms, to_ms)`; playback jumped over them.
    GapSkipped { from_ms: i64, to_ms: i64 },
    /// The first frame after a seek is on screen.
    SeekDone { target_ms: i64, frame_ms: i64 },
    /// No more recordings after `at_ms` (the caller may go back to live).
    EndOfRecordings { at_ms: i64 },
    /// Something failed that playback cannot go on from.
    Error(String),
}

/// Why a playback or export call failed.
#[derive(Debug, thiserror::Error)]
pub enum PlaybackError {
    #[error(transparent)]
    Api(#[from] crate::api::ApiError),
    #[error("GStreamer element {0} is missing")]
    MissingElement(String),
    #[error("GStreamer: {0}")]
    Gst(String),
    #[error("no recording at or after this time")]
    NothingToPlay,
    #[error("clip is not finished ({0:?})")]
    ClipNotFinished(eyrie_protocol::api::ClipStatus),
    #[error("segment refused: {0}")]
    Segment(#[from] eyrie_protocol::segment::SegmentError),
    #[error("export cancelled")]
    Cancelled,
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}

impl From<gstreamer::glib::BoolError> for PlaybackError {
    fn from(e: gstreamer::glib::BoolError) -> Self {
        Self::Gst(e.to_string())
    }
}

impl From<gstreamer::StateChangeError> for PlaybackError {
    fn from(e: gstreamer::StateChangeError) -> Self {
        Self::Gst(e.to_string())
    }
}

pub(crate) fn make(factory: &str) -> Result<gstreamer::Element, PlaybackError> {
    gstreamer::ElementFactory::make(factory)
        .build()
        .map_err(|_| PlaybackError::MissingElement(factory.to_string()))
}

/// Send a pad this pipeline does not play (audio, data) into a new `fakesink`, so the
/// demuxer or decoder does not stall on it.
pub(crate) fn discard_pad(pipeline: &gstreamer::Pipeline, pad: &gstreamer::Pad) {
    use gstreamer::prelude::*;
    let Ok(fake) = gstreamer::ElementFactory::make("fakesink")
        .property("sync", false)
        .property("async", false)
        .build()
    else {
        return;
    };
    let _ = pipeline.add(&fake);
    let _ = fake.sync_state_with_parent();
    if let Some(sinkpad) = fake.static_pad("sink") {
        let _ = pad.link(&sinkpad);
    }
}
