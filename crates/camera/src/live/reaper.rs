//! Closing sessions and the timeout reaper, without keeping the session table alive:
//! heartbeat silence, no media for too long, or an ICE/DTLS connection failed for longer
//! than [`super::RESTART_GRACE`] (no `restart` came) end a session exactly as a `bye` does; privacy mode going on ends every session with
//! `error privacy`.

use std::sync::{Arc, Mutex};

use gstreamer::prelude::*;
use gstreamer_webrtc as gst_webrtc;

use eyrie_protocol::signalling::{ErrorCode, PRIVACY_MESSAGE, ToViewer};

use super::{Inner, LiveConfig, LiveEvent, Outgoing, Wire, emit};

/// What the reaper task and `close` need, without keeping the table alive.
pub(super) struct WeakManager {
    pub(super) inner: std::sync::Weak<Mutex<Inner>>,
    pub(super) config: Arc<LiveConfig>,
    pub(super) events: tokio::sync::broadcast::Sender<LiveEvent>,
    pub(super) out: tokio::sync::mpsc::UnboundedSender<Outgoing>,
}

impl WeakManager {
    pub(super) fn close(&self, sid: &str, reason: &str, tell_viewer: bool) {
        let Some(inner) = self.inner.upgrade() else {
            return;
        };
        let mut inner = inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(s) = inner.sessions.remove(sid) else {
            return;
        };
        let n = inner.sessions.len();
        drop(inner);
        if tell_viewer {
            let _ = self.out.send(Outgoing {
                viewer: s.viewer.clone(),
                msg: ToViewer::Bye {
                    session_id: sid.to_owned(),
                    reason: reason.to_owned(),
                },
                wire: s.wire.clone(),
            });
        }
        // Dropping the media stops the feeder and sets the pipeline to NULL.
        drop(s);
        tracing::info!(session = sid, reason, viewers = n, "live video stop");
        emit(
            &self.events,
            LiveEvent::LiveStop {
                session_id: sid.to_owned(),
                reason: reason.to_owned(),
            },
        );
        emit(&self.events, LiveEvent::Viewers(n));
    }

    /// Privacy mode on: end every session with `error privacy`; off: accept offers again.
    pub(super) fn apply_privacy(&self, on: bool) {
        let Some(inner) = self.inner.upgrade() else {
            return;
        };
        let ended: Vec<(String, String, Wire)> = {
            let mut inner = inner
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if inner.privacy == on {
                return;
            }
            inner.privacy = on;
            if on {
                inner
                    .sessions
                    .iter()
                    .map(|(id, s)| (id.clone(), s.viewer.clone(), s.wire.clone()))
                    .collect()
            } else {
                Vec::new()
            }
        };
        tracing::info!(on, sessions_ended = ended.len(), "live: privacy mode");
        emit(&self.events, LiveEvent::Privacy { on });
        for (sid, viewer, wire) in ended {
            let _ = self.out.send(Outgoing {
                viewer,
                msg: ToViewer::Error {
                    session_id: sid.clone(),
                    code: ErrorCode::Privacy,
                    message: PRIVACY_MESSAGE.to_owned(),
                },
                wire,
            });
            self.close(&sid, PRIVACY_MESSAGE, false);
        }
    }

    pub(super) fn reap(&self) {
        let Some(inner) = self.inner.upgrade() else {
            return;
        };
        // Follow the privacy switch, if one is set.
        let follow = {
            let inner = inner
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            inner
                .privacy_source
                .as_ref()
                .map(|f| f())
                .filter(|on| *on != inner.privacy)
        };
        if let Some(on) = follow {
            self.apply_privacy(on);
        }
        let now_ms = eyrie_protocol::clock::unix_ms();
        let no_data_timeout_ms =
            i64::try_from(self.config.no_data_timeout.as_millis()).unwrap_or(i64::MAX);
        let mut expired = Vec::new();
        {
            let mut inner = inner
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for (id, s) in &mut inner.sessions {
                let idle = s.last_heard.elapsed();
                let no_data = now_ms.saturating_sub(
                    s.media
                        .last_data_ms
                        .load(std::sync::atomic::Ordering::Relaxed),
                );
                let failed_now = matches!(
                    s.media
                        .webrtc
                        .property::<gst_webrtc::WebRTCPeerConnectionState>("connection-state"),
                    gst_webrtc::WebRTCPeerConnectionState::Failed
                );
                // A failed connection is given a moment for the viewer's restart.
                s.failed_since = match (failed_now, s.failed_since) {
                    (false, _) => None,
                    (true, None) => Some(std::time::Instant::now()),
                    (true, since) => since,
                };
                let ice_failed = s
                    .failed_since
                    .is_some_and(|t| t.elapsed() >= super::RESTART_GRACE);
                if idle > self.config.heartbeat_timeout {
                    expired.push((id.clone(), "heartbeat timeout"));
                } else if no_data > no_data_timeout_ms {
                    expired.push((id.clone(), "no data"));
                } else if ice_failed {
                    expired.push((id.clone(), "connection failed"));
                }
            }
        }
        for (id, reason) in expired {
            self.close(&id, reason, true);
        }
    }
}
