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
//!        ▲ StoreMode (heartbeat poll), events (manual, motion on the sub ring), pause/resume, audio
//!  RingBuffer sub ─► Motion (decode → gray 160×90 → frame difference) ─► event start/stop
//! ```
//!
//! [`CloudStorage`] is the API the seed lists: `init` (everything allocated here),
//! `uninit`, `store_mode`, `event_start`, `event_stop` (blocks until the event's last
//! segment is on disk, at most 30 s), `event_stop_async`, `status`, `set_audio`,
//! `set_pre_record`, `pause`/`resume`, plus `snapshot`.

pub mod cli;
pub mod cloud;
pub mod motion;
pub mod recorder;
pub mod segmenter;
pub mod snapshot;
pub mod spool;
pub mod ts;
pub mod upload;

mod service;

pub use service::{CloudStorage, StorageConfig, StorageStatus};

/// Why cloud storage failed or refused.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("recording: {0}")]
    Pipeline(String),
    #[error(transparent)]
    Spool(#[from] spool::SpoolError),
    #[error(transparent)]
    Api(#[from] cloud::ApiError),
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
    #[error("invalid recording key: {0}")]
    Key(#[from] eyrie_protocol::segment::SegmentError),
}
