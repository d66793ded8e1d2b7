//! Closing sessions and the timeout reaper, without keeping the session table alive:
//! heartbeat silence, no media for too long, or a failed ICE/DTLS connection end a
//! session exactly as a `bye` does.

use std::sync::{Arc, Mutex};

use gstreamer::prelude::*;
use gstreamer_webrtc as gst_webrtc;

use eyrie_protocol::signalling::Message;

use super::{Inner, LiveConfig, LiveEvent, Outgoing, emit};

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
            let _ = self.out.send((
                s.viewer.clone(),
                Message::Bye {
                    session_id: sid.to_owned(),
                    reason: reason.to_owned(),
                },
            ));
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

    pub(super) fn reap(&self) {
        let Some(inner) = self.inner.upgrade() else {
            return;
        };
        let now_ms = eyrie_rtc::pixel_clock::now_unix_ms();
        let mut expired = Vec::new();
        {
            let inner = inner
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for (id, s) in &inner.sessions {
                let idle = s.last_heard.elapsed();
                let no_data = now_ms.saturating_sub(
                    s.media
                        .last_data_ms
                        .load(std::sync::atomic::Ordering::Relaxed),
                );
                let ice_failed = matches!(
                    s.media
                        .webrtc
                        .property::<gst_webrtc::WebRTCPeerConnectionState>("connection-state"),
                    gst_webrtc::WebRTCPeerConnectionState::Failed
                );
                if idle > self.config.heartbeat_timeout {
                    expired.push((id.clone(), "heartbeat timeout"));
                } else if no_data > self.config.no_data_timeout.as_millis() as u64 {
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
