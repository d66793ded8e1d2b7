//! The control socket: the node's commands, one line each way, for `eyrie camera <command>`.
//!
//! A running camera listens on a Unix socket, `<state dir>/control.sock` (mode 0600, so
//! only the camera's own user may talk to it). `eyrie camera [--state-dir D] <command>`
//! connects, writes one line and prints the one-line answer; anything that can write a
//! line to a Unix socket (`socat`, a script) can do the same. Why a socket and not MQTT:
//! these are the owner's commands on the owner's machine, they must work when the cloud
//! is unreachable, and file permissions are the access control.
//!
//! This module is only a codec: a line becomes a [`node::Command`] ([`decode`]), the node
//! carries it out ([`NodeHandle::execute`]) and its typed answer becomes a line
//! ([`answer_line`]). What a command means lives in the node, once, for every front end.
//!
//! Protocol (documented in `docs/camera-storage.md`): the client sends one line of at most
//! 1 KiB — a command word and its arguments separated by spaces — and the camera answers
//! one line, `ok`, `ok <value>` or `error <message>`, then closes the connection.
//!
//! | line                  | seed 000 call                              |
//! |-----------------------|--------------------------------------------|
//! | `status`              | get status (`ok {json}`)                   |
//! | `store-mode`          | get store mode (`ok continuous`)           |
//! | `event-start`         | event start                                |
//! | `event-stop`          | event stop, synchronous (≤ 30 s)           |
//! | `event-stop async`    | event stop, asynchronous                   |
//! | `record-now [SECS]`   | manual event of SECS seconds (default 10)  |
//! | `audio on` / `off`    | set audio                                  |
//! | `pre-record SECS`     | set pre-record time (refused above ring)   |
//! | `privacy on` / `off`  | pause / resume (+ live privacy notice)     |
//! | `snapshot`            | take and upload a JPEG (`ok uploaded`, `ok queued` while offline, `error` when dropped) |

use std::path::{Path, PathBuf};

use clap::Subcommand;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use crate::node::{
    self, Command, CommandError, MAX_PRE_RECORD, MAX_RECORD_NOW, NodeHandle, Reply, SnapshotOutcome,
};
use crate::storage::StorageStatus;

/// Longest command line accepted.
const MAX_LINE: u64 = 1024;

/// Why talking to a camera's control socket failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("no camera is running with state dir {0} (cannot connect to its control socket: {1})")]
    NotRunning(PathBuf, String),
    #[error("a camera is already running with this state dir (its control socket {0} answers)")]
    InUse(PathBuf),
    #[error("control socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Refused(String),
}

/// Commands to a running camera, as `eyrie camera <command>` spells them.
#[derive(Debug, Clone, PartialEq, Subcommand)]
pub enum ControlCommand {
    /// Print the cloud-storage status as JSON (recording, uploading, how far behind).
    Status,
    /// Print the store mode the cloud set (continuous, event or none).
    StoreMode,
    /// Start a manual event (event store mode records from the pre-record point).
    EventStart,
    /// Stop the manual event; waits (at most 30 s) until it is spooled unless --async.
    EventStop {
        /// Return at once instead of waiting for the last segment.
        #[arg(long = "async")]
        no_wait: bool,
    },
    /// Record an event of SECS seconds now (manual trigger).
    RecordNow {
        #[arg(default_value_t = 10.0)]
        secs: f64,
    },
    /// Record audio (on) or video only (off), from the next segment on.
    Audio { state: OnOff },
    /// Seconds recorded before an event (refused above the ring buffer's length).
    PreRecord { secs: f64 },
    /// Privacy mode: on pauses recording and shows a privacy notice to live viewers.
    Privacy { state: OnOff },
    /// Take a JPEG snapshot now and upload it.
    Snapshot,
}

/// `on` or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

impl TryFrom<ControlCommand> for Command {
    type Error = CommandError;

    fn try_from(c: ControlCommand) -> Result<Self, CommandError> {
        let on = |s: OnOff| s == OnOff::On;
        Ok(match c {
            ControlCommand::Status => Command::Status,
            ControlCommand::StoreMode => Command::StoreMode,
            ControlCommand::EventStart => Command::EventStart,
            ControlCommand::EventStop { no_wait } => Command::EventStop { wait: !no_wait },
            ControlCommand::RecordNow { secs } => {
                Command::RecordNow(node::seconds(secs, MAX_RECORD_NOW)?)
            }
            ControlCommand::Audio { state } => Command::RecordAudio(on(state)),
            ControlCommand::PreRecord { secs } => {
                Command::PreRecord(node::seconds(secs, MAX_PRE_RECORD)?)
            }
            ControlCommand::Privacy { state } => Command::Privacy(on(state)),
            ControlCommand::Snapshot => Command::Snapshot,
        })
    }
}

/// The protocol line for a command.
pub fn encode(command: &Command) -> String {
    let onoff = |on: bool| if on { "on" } else { "off" };
    match command {
        Command::Status => "status".into(),
        Command::StoreMode => "store-mode".into(),
        Command::EventStart => "event-start".into(),
        Command::EventStop { wait: true } => "event-stop".into(),
        Command::EventStop { wait: false } => "event-stop async".into(),
        Command::RecordNow(d) => format!("record-now {}", d.as_secs_f64()),
        Command::RecordAudio(on) => format!("audio {}", onoff(*on)),
        Command::PreRecord(d) => format!("pre-record {}", d.as_secs_f64()),
        Command::Privacy(on) => format!("privacy {}", onoff(*on)),
        Command::Snapshot => "snapshot".into(),
    }
}

/// A protocol line as a command; a bad line is refused with the reason.
pub fn decode(line: &str) -> Result<Command, CommandError> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let invalid = CommandError::Invalid;
    let secs = |w: Option<&&str>, max| -> Result<std::time::Duration, CommandError> {
        let w = w.ok_or_else(|| invalid("missing seconds".into()))?;
        let s: f64 = w
            .parse()
            .map_err(|_| invalid(format!("not a number of seconds: {w:?}")))?;
        node::seconds(s, max)
    };
    let onoff = |w: Option<&&str>| match w.copied() {
        Some("on") => Ok(true),
        Some("off") => Ok(false),
        _ => Err(invalid("say on or off".into())),
    };
    match words.first().copied() {
        Some("status") => Ok(Command::Status),
        Some("store-mode") => Ok(Command::StoreMode),
        Some("event-start") => Ok(Command::EventStart),
        Some("event-stop") => Ok(Command::EventStop {
            wait: words.get(1) != Some(&"async"),
        }),
        Some("record-now") if words.len() == 1 => {
            Ok(Command::RecordNow(std::time::Duration::from_secs(10)))
        }
        Some("record-now") => Ok(Command::RecordNow(secs(words.get(1), MAX_RECORD_NOW)?)),
        Some("audio") => Ok(Command::RecordAudio(onoff(words.get(1))?)),
        Some("pre-record") => Ok(Command::PreRecord(secs(words.get(1), MAX_PRE_RECORD)?)),
        Some("privacy") => Ok(Command::Privacy(onoff(words.get(1))?)),
        Some("snapshot") => Ok(Command::Snapshot),
        Some(other) => Err(invalid(format!("unknown command {other:?}"))),
        None => Err(invalid("empty command".into())),
    }
}

/// The answer line (without its newline) for what the node said.
pub fn answer_line(result: &Result<Reply, CommandError>) -> String {
    match result {
        Ok(Reply::Done) => "ok".into(),
        Ok(Reply::Status(s)) => format!("ok {}", status_json(s)),
        Ok(Reply::StoreMode(m)) => format!("ok {}", m.as_str()),
        Ok(Reply::Snapshot(SnapshotOutcome::Uploaded)) => "ok uploaded".into(),
        Ok(Reply::Snapshot(SnapshotOutcome::Queued)) => "ok queued".into(),
        Err(e) => format!("error {e}"),
    }
}

/// The socket path for a state dir.
pub fn socket_path(state_dir: &Path) -> PathBuf {
    state_dir.join("control.sock")
}

/// The status as one JSON object (the `status` answer).
pub fn status_json(s: &StorageStatus) -> serde_json::Value {
    serde_json::json!({
        "store_mode": s.store_mode.as_str(),
        "recording": s.recording,
        "paused": s.paused,
        "event_active": s.event_active,
        "uploading": s.uploading,
        "queued": s.queued,
        "bytes_behind": s.bytes_behind,
        "oldest_pending_age_s": s.oldest_pending_age.map(|d| d.as_secs_f64()),
        "dropped": s.dropped,
        "dropped_bytes": s.dropped_bytes,
        "uploaded": s.uploaded,
        "segments_recorded": s.segments_recorded,
        "frames_skipped": s.frames_skipped,
        "last_error": s.last_error,
    })
}

/// Listen on `path` until the task is aborted. A stale socket file is replaced; one a
/// camera still answers on is not.
pub fn serve(path: &Path, node: NodeHandle) -> Result<tokio::task::JoinHandle<()>, ControlError> {
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(ControlError::InUse(path.to_owned()));
    }
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    tracing::info!(socket = %path.display(), "control socket listening");
    Ok(tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let node = node.clone();
            tokio::spawn(async move {
                if let Err(e) = answer(stream, &node).await {
                    tracing::debug!(%e, "control connection");
                }
            });
        }
    }))
}

async fn answer(stream: UnixStream, node: &NodeHandle) -> std::io::Result<()> {
    let (rd, mut wr) = stream.into_split();
    let mut line = String::new();
    BufReader::new(rd.take(MAX_LINE))
        .read_line(&mut line)
        .await?;
    let result = match decode(line.trim()) {
        Ok(command) => node.execute(command).await,
        Err(e) => Err(e),
    };
    wr.write_all(answer_line(&result).as_bytes()).await?;
    wr.write_all(b"\n").await?;
    wr.shutdown().await
}

/// Send one command to the camera running with `state_dir`; the answer's value on `ok`.
pub async fn send(state_dir: &Path, command: &Command) -> Result<String, ControlError> {
    let path = socket_path(state_dir);
    let mut stream = UnixStream::connect(&path)
        .await
        .map_err(|e| ControlError::NotRunning(state_dir.to_path_buf(), e.to_string()))?;
    stream.write_all(encode(command).as_bytes()).await?;
    stream.write_all(b"\n").await?;
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply).await?;
    let reply = reply.trim_end();
    if reply == "ok" {
        Ok(String::new())
    } else if let Some(v) = reply.strip_prefix("ok ") {
        Ok(v.to_string())
    } else if let Some(e) = reply.strip_prefix("error ") {
        Err(ControlError::Refused(e.to_string()))
    } else {
        Err(ControlError::Refused(format!(
            "unexpected answer {reply:?}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn every_command_round_trips_through_its_line() {
        for c in [
            Command::Status,
            Command::StoreMode,
            Command::EventStart,
            Command::EventStop { wait: true },
            Command::EventStop { wait: false },
            Command::RecordNow(Duration::from_secs(5)),
            Command::RecordAudio(false),
            Command::PreRecord(Duration::from_millis(2500)),
            Command::Privacy(true),
            Command::Snapshot,
        ] {
            assert_eq!(decode(&encode(&c)).ok(), Some(c));
        }
        assert_eq!(
            decode("record-now").ok(),
            Some(Command::RecordNow(Duration::from_secs(10)))
        );
        for bad in [
            "pre-record -1",
            "pre-record",
            "record-now soon",
            "record-now NaN",
            "audio maybe",
            "rm -rf",
            "",
        ] {
            let e = decode(bad).expect_err(bad);
            assert!(matches!(e, CommandError::Invalid(_)), "{bad}: {e}");
            assert!(answer_line(&Err(e)).starts_with("error "), "{bad}");
        }
    }

    #[test]
    fn the_command_line_form_becomes_the_same_command() {
        let cli = ControlCommand::EventStop { no_wait: true };
        assert_eq!(
            Command::try_from(cli).ok(),
            Some(Command::EventStop { wait: false })
        );
        let cli = ControlCommand::RecordNow { secs: -3.0 };
        assert!(Command::try_from(cli).is_err());
        let cli = ControlCommand::PreRecord { secs: 1e9 };
        assert_eq!(
            Command::try_from(cli).ok(),
            Some(Command::PreRecord(MAX_PRE_RECORD))
        );
    }

    #[test]
    fn typed_answers_become_the_documented_lines() {
        assert_eq!(answer_line(&Ok(Reply::Done)), "ok");
        assert_eq!(
            answer_line(&Ok(Reply::StoreMode(
                eyrie_protocol::api::RecordingPolicy::Continuous
            ))),
            "ok continuous"
        );
        assert_eq!(
            answer_line(&Ok(Reply::Snapshot(SnapshotOutcome::Queued))),
            "ok queued"
        );
        assert_eq!(
            answer_line(&Err(CommandError::SnapshotDropped("410".into()))),
            "error snapshot not uploaded and dropped: 410"
        );
    }
}
