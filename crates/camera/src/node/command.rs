//! The owner's commands to a running node, their answers and why one was refused.
//!
//! These are the node's whole command vocabulary: `eyrie camera <command>` (through the
//! control socket's codec, [`crate::control`]), the camera-mode window and `eyrie demo`
//! all say the same [`Command`] and read the same [`Reply`] or [`CommandError`]; nobody
//! parses an answer line to learn what happened.

use std::time::Duration;

use eyrie_protocol::api::RecordingPolicy;

use crate::storage::{StorageError, StorageStatus};

/// Longest manual event `RecordNow` starts (an hour).
pub const MAX_RECORD_NOW: Duration = Duration::from_secs(3600);
/// Longest pre-record asked for (a day; the ring buffer refuses far less).
pub const MAX_PRE_RECORD: Duration = Duration::from_secs(86_400);

/// One command to the node.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Cloud storage's status (recording, uploading, how far behind).
    Status,
    /// The store mode the cloud set.
    StoreMode,
    /// Start a manual event.
    EventStart,
    /// Stop the manual event; with `wait`, answer once its last segment is spooled (≤ 30 s).
    EventStop { wait: bool },
    /// A manual event of this length, starting now.
    RecordNow(Duration),
    /// Record audio (true) or video only (false), from the next segment on.
    RecordAudio(bool),
    /// Time recorded before an event (refused above the ring buffer's length).
    PreRecord(Duration),
    /// Privacy mode on or off: capture, live sessions and recording together.
    Privacy(bool),
    /// Take a JPEG now and upload it.
    Snapshot,
}

/// What a command did.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// Done; nothing to tell.
    Done,
    Status(StorageStatus),
    StoreMode(RecordingPolicy),
    Snapshot(SnapshotOutcome),
}

/// Where a snapshot is when its command answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotOutcome {
    /// In the cloud.
    Uploaded,
    /// Spooled on disk; it goes up when the cloud can be reached.
    Queued,
}

/// Why a command was refused. Nothing changed, except where a variant says otherwise.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("{0}")]
    Invalid(String),
    /// Cloud storage could not start (the reason, when known). Privacy still works.
    #[error("cloud recording is not running{}", .0.as_deref().map(|r| format!(": {r}")).unwrap_or_default())]
    StorageOff(Option<String>),
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The snapshot was taken but the cloud refused it for good; it is gone.
    #[error("snapshot not uploaded and dropped: {0}")]
    SnapshotDropped(String),
    #[error("the camera is stopping")]
    Stopping,
    #[error("the command did not finish: {0}")]
    Aborted(String),
}

/// A number of seconds as a [`Duration`], at most `max`: refused unless finite and ≥ 0.
pub fn seconds(secs: f64, max: Duration) -> Result<Duration, CommandError> {
    if secs.is_finite() && secs >= 0.0 {
        Ok(Duration::from_secs_f64(secs.min(max.as_secs_f64())))
    } else {
        Err(CommandError::Invalid(format!(
            "not a number of seconds: {secs}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_refuse_what_is_not_a_duration_and_cap_the_rest() {
        assert_eq!(
            seconds(2.5, MAX_PRE_RECORD).unwrap(),
            Duration::from_millis(2500)
        );
        assert_eq!(seconds(1e12, MAX_RECORD_NOW).unwrap(), MAX_RECORD_NOW);
        for bad in [-1.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                seconds(bad, MAX_RECORD_NOW),
                Err(CommandError::Invalid(_))
            ));
        }
        assert_eq!(
            CommandError::StorageOff(Some("no key".into())).to_string(),
            "cloud recording is not running: no key"
        );
        assert_eq!(
            CommandError::StorageOff(None).to_string(),
            "cloud recording is not running"
        );
    }
}
