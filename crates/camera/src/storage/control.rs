//! The local control channel: commands to a running `eyrie camera`.
//!
//! A running camera listens on a Unix socket, `<state dir>/control.sock` (mode 0600, so
//! only the camera's own user may talk to it). `eyrie camera [--state-dir D] <command>`
//! connects, writes one line and prints the one-line answer; anything that can write a
//! line to a Unix socket (`socat`, a script) can do the same. Why a socket and not MQTT:
//! these are the owner's commands on the owner's machine, they must work when the cloud
//! is unreachable, and file permissions are the access control.
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
use std::sync::Arc;
use std::time::Duration;

use clap::Subcommand;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use super::{CloudStorage, StorageStatus};

/// How long `snapshot` waits for its upload before answering `ok queued`.
const SNAPSHOT_WAIT: Duration = Duration::from_secs(10);

/// Longest command line accepted.
const MAX_LINE: u64 = 1024;

/// Why a control command failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("no camera is running with state dir {0} (cannot connect to its control socket: {1})")]
    NotRunning(PathBuf, String),
    #[error("control socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Refused(String),
}

/// Commands to a running camera (`eyrie camera <command>`).
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

impl ControlCommand {
    /// The protocol line for this command.
    pub fn to_line(&self) -> String {
        let onoff = |s: &OnOff| if *s == OnOff::On { "on" } else { "off" };
        match self {
            Self::Status => "status".into(),
            Self::StoreMode => "store-mode".into(),
            Self::EventStart => "event-start".into(),
            Self::EventStop { no_wait: false } => "event-stop".into(),
            Self::EventStop { no_wait: true } => "event-stop async".into(),
            Self::RecordNow { secs } => format!("record-now {secs}"),
            Self::Audio { state } => format!("audio {}", onoff(state)),
            Self::PreRecord { secs } => format!("pre-record {secs}"),
            Self::Privacy { state } => format!("privacy {}", onoff(state)),
            Self::Snapshot => "snapshot".into(),
        }
    }

    /// Parse a protocol line.
    pub fn parse(line: &str) -> Result<Self, String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let secs = |w: Option<&&str>, default: Option<f64>| -> Result<f64, String> {
            match (w, default) {
                (None, Some(d)) => Ok(d),
                (None, None) => Err("missing seconds".into()),
                (Some(w), _) => match w.parse::<f64>() {
                    Ok(s) if s.is_finite() && s >= 0.0 => Ok(s),
                    _ => Err(format!("not a number of seconds: {w:?}")),
                },
            }
        };
        let onoff = |w: Option<&&str>| match w.copied() {
            Some("on") => Ok(OnOff::On),
            Some("off") => Ok(OnOff::Off),
            _ => Err("say on or off".to_string()),
        };
        match words.first().copied() {
            Some("status") => Ok(Self::Status),
            Some("store-mode") => Ok(Self::StoreMode),
            Some("event-start") => Ok(Self::EventStart),
            Some("event-stop") => Ok(Self::EventStop {
                no_wait: words.get(1) == Some(&"async"),
            }),
            Some("record-now") => Ok(Self::RecordNow {
                secs: secs(words.get(1), Some(10.0))?,
            }),
            Some("audio") => Ok(Self::Audio {
                state: onoff(words.get(1))?,
            }),
            Some("pre-record") => Ok(Self::PreRecord {
                secs: secs(words.get(1), None)?,
            }),
            Some("privacy") => Ok(Self::Privacy {
                state: onoff(words.get(1))?,
            }),
            Some("snapshot") => Ok(Self::Snapshot),
            Some(other) => Err(format!("unknown command {other:?}")),
            None => Err("empty command".into()),
        }
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

/// What a command acts on: cloud storage, and the privacy notice of live view.
pub struct ControlTarget {
    pub storage: Arc<CloudStorage>,
    /// Called with true/false when privacy mode goes on/off (blanks live view).
    pub privacy: Box<dyn Fn(bool) + Send + Sync>,
}

impl ControlTarget {
    /// Carry out one command; the answer line without its newline.
    pub async fn execute(self: &Arc<Self>, cmd: ControlCommand) -> String {
        let st = &self.storage;
        let done = |r: Result<(), super::StorageError>| match r {
            Ok(()) => "ok".to_string(),
            Err(e) => format!("error {e}"),
        };
        match cmd {
            ControlCommand::Status => format!("ok {}", status_json(&st.status())),
            ControlCommand::StoreMode => format!("ok {}", st.store_mode().as_str()),
            ControlCommand::EventStart => done(st.event_start()),
            ControlCommand::EventStop { no_wait: true } => done(st.event_stop_async()),
            ControlCommand::EventStop { no_wait: false } => {
                let s = st.clone();
                match tokio::task::spawn_blocking(move || s.event_stop()).await {
                    Ok(r) => done(r),
                    Err(e) => format!("error {e}"),
                }
            }
            ControlCommand::RecordNow { secs } => {
                if let Err(e) = st.event_start() {
                    return format!("error {e}");
                }
                let s = st.clone();
                let d = Duration::from_secs_f64(secs.clamp(0.0, 3600.0));
                tokio::spawn(async move {
                    tokio::time::sleep(d).await;
                    if let Err(e) = s.event_stop_async() {
                        tracing::warn!(%e, "record-now: could not stop the event");
                    }
                });
                "ok".into()
            }
            ControlCommand::Audio { state } => done(st.set_audio(state == OnOff::On)),
            ControlCommand::PreRecord { secs } => {
                done(st.set_pre_record(Duration::from_secs_f64(secs.clamp(0.0, 86_400.0))))
            }
            ControlCommand::Privacy { state } => {
                let on = state == OnOff::On;
                (self.privacy)(on);
                done(if on { st.pause() } else { st.resume() })
            }
            ControlCommand::Snapshot => {
                // Listen before taking it, so a fast upload is not missed.
                let mut outcomes = st.upload_outcomes();
                let s = st.clone();
                let name = match tokio::task::spawn_blocking(move || s.snapshot()).await {
                    Ok(Ok(name)) => name,
                    Ok(Err(e)) => return format!("error {e}"),
                    Err(e) => return format!("error {e}"),
                };
                let Some(outcomes) = outcomes.as_mut() else {
                    return "ok queued".into();
                };
                let ended = async {
                    loop {
                        match outcomes.recv().await {
                            Ok((n, r)) if n == name => return Some(r),
                            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                            Err(_) => return None,
                        }
                    }
                };
                match tokio::time::timeout(SNAPSHOT_WAIT, ended).await {
                    Ok(Some(Ok(()))) => "ok uploaded".into(),
                    Ok(Some(Err(e))) => format!("error snapshot not uploaded and dropped: {e}"),
                    // Offline or slow: it stays spooled and goes up when it can.
                    Ok(None) | Err(_) => "ok queued".into(),
                }
            }
        }
    }
}

/// Listen on `path` until the task is aborted. A stale socket file is replaced.
pub fn serve(
    path: &Path,
    target: Arc<ControlTarget>,
) -> Result<tokio::task::JoinHandle<()>, ControlError> {
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    tracing::info!(socket = %path.display(), "control socket listening");
    Ok(tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let t = target.clone();
            tokio::spawn(async move {
                if let Err(e) = answer(stream, &t).await {
                    tracing::debug!(%e, "control connection");
                }
            });
        }
    }))
}

async fn answer(stream: UnixStream, target: &Arc<ControlTarget>) -> std::io::Result<()> {
    let (rd, mut wr) = stream.into_split();
    let mut line = String::new();
    BufReader::new(rd.take(MAX_LINE))
        .read_line(&mut line)
        .await?;
    let reply = match ControlCommand::parse(line.trim()) {
        Ok(cmd) => {
            tracing::info!(command = %cmd.to_line(), "control command");
            target.execute(cmd).await
        }
        Err(e) => format!("error {e}"),
    };
    wr.write_all(reply.as_bytes()).await?;
    wr.write_all(b"\n").await?;
    wr.shutdown().await
}

/// Send one command to the camera running with `state_dir`; the answer's value on `ok`.
pub async fn send(state_dir: &Path, cmd: &ControlCommand) -> Result<String, ControlError> {
    let path = socket_path(state_dir);
    let mut stream = UnixStream::connect(&path)
        .await
        .map_err(|e| ControlError::NotRunning(state_dir.to_path_buf(), e.to_string()))?;
    stream.write_all(cmd.to_line().as_bytes()).await?;
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
    use super::*;

    #[test]
    fn every_command_round_trips_through_its_line() {
        for c in [
            ControlCommand::Status,
            ControlCommand::StoreMode,
            ControlCommand::EventStart,
            ControlCommand::EventStop { no_wait: false },
            ControlCommand::EventStop { no_wait: true },
            ControlCommand::RecordNow { secs: 5.0 },
            ControlCommand::Audio { state: OnOff::Off },
            ControlCommand::PreRecord { secs: 2.5 },
            ControlCommand::Privacy { state: OnOff::On },
            ControlCommand::Snapshot,
        ] {
            assert_eq!(ControlCommand::parse(&c.to_line()), Ok(c));
        }
        assert!(ControlCommand::parse("pre-record -1").is_err());
        assert!(ControlCommand::parse("audio maybe").is_err());
        assert!(ControlCommand::parse("rm -rf").is_err());
    }
}
