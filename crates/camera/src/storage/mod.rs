//! Cloud storage: record the main stream, encrypt it, spool it, upload it.
//!
//! This is the seed's cloud-storage service (seed 000) on top of the rings the live side
//! already fills. Its design in one paragraph: a recorder thread reads the main-stream
//! ring (and the audio ring) and, following the store mode, events and privacy pause,
//! cuts it into MPEG-TS segments at keyframes; each segment is encrypted while it is
//! muxed (AES-256-GCM chunks, `docs/segment-format.md`) straight into a spool file on
//! disk; upload workers drain the spool oldest first through presigned PUTs and tell the
//! cloud size and SHA-256. Where the seed keeps 11 × bitrate of encrypted data in RAM and
//! loses it when the network is slow, we keep one 64 KiB chunk per writer in RAM and the
//! rest on disk, bounded in bytes, surviving restarts.
//!
//! ```text
//!  RingBuffer main ─► RingReader ─┐                        ┌─► Spool (disk, bounded) ─► Uploader ─► presigned PUT
//!  RingBuffer audio ─► RingReader ┴─► Recorder ─► SegmentMux ┘     pending/*.seg + .json     workers     + notice
//!        ▲ RecordingPolicy (heartbeat poll), events (manual, motion on the sub ring), pause/resume, audio
//!  RingBuffer sub ─► Motion (decode → gray 160×90 → frame difference) ─► event start/stop
//! ```
//!
//! [`CloudStorage`] is the API the seed lists: `init` (everything allocated here),
//! `uninit`, `store_mode`, `event_start`, `event_stop` (blocks until the event's last
//! segment is on disk, at most 30 s), `event_stop_async`, `status`, `set_audio`,
//! `set_pre_record`, `pause`/`resume`, plus `snapshot`.

pub mod cli;
pub mod link;
pub mod motion;
pub mod recorder;
pub mod sealing;
pub mod segmenter;
pub mod snapshot;
pub mod spool;
pub mod ts;
pub mod upload;

mod service;

pub use service::{CloudStorage, StorageConfig, StorageStatus};

/// A decoding pipeline fed by an `appsrc` named `src` and read by an `appsink` named
/// `sink` (motion detection, snapshots), parsed from `description` and set playing.
fn app_pipeline(
    description: &str,
) -> Result<
    (
        gstreamer::Pipeline,
        gstreamer_app::AppSrc,
        gstreamer_app::AppSink,
    ),
    String,
> {
    use gstreamer::prelude::*;
    let pipeline = gstreamer::parse::launch(description)
        .map_err(|e| e.to_string())?
        .downcast::<gstreamer::Pipeline>()
        .map_err(|_| "not a pipeline".to_owned())?;
    let src = pipeline
        .by_name("src")
        .and_then(|e| e.downcast::<gstreamer_app::AppSrc>().ok())
        .ok_or("no appsrc")?;
    let sink = pipeline
        .by_name("sink")
        .and_then(|e| e.downcast::<gstreamer_app::AppSink>().ok())
        .ok_or("no appsink")?;
    pipeline
        .set_state(gstreamer::State::Playing)
        .map_err(|e| e.to_string())?;
    Ok((pipeline, src, sink))
}

/// Why cloud storage failed or refused.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("recording: {0}")]
    Pipeline(String),
    #[error(transparent)]
    Spool(#[from] spool::SpoolError),
    #[error(transparent)]
    Api(#[from] link::ApiError),
    #[error("pre-record of {asked:?} is longer than the ring buffer ({ring:?})")]
    PreRecordTooLong {
        asked: std::time::Duration,
        ring: std::time::Duration,
    },
    #[error("cloud storage is not running")]
    NotRunning,
    #[error("event stop did not finish within {0:?}")]
    StopTimeout(std::time::Duration),
    #[error("snapshot: {0}")]
    Snapshot(String),
    #[error("no recording key yet: the pairing check has not finished")]
    NoKey,
    #[error("invalid recording key: {0}")]
    Key(#[from] eyrie_protocol::segment::SegmentError),
}
