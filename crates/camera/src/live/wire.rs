//! How a live session's messages meet the wire: the signalling version its offer used
//! ([`Wire`]), the replies on their way to the publishing task ([`Outgoing`], sealed
//! there so sequence numbers leave in order), and the rate-limited log of what was
//! dropped ([`DropLog`]).
//!
//! ```text
//!   LiveManager / reaper / webrtcbin callbacks ── Outgoing{viewer, msg, wire} ──► link task
//!        ─► payload(): V1 → JSON · ClearV2 → JSON "v":2 (auth_failed only) · Sealed → box seq n
//!        ─► publish <prefix>/out/<viewer>
//! ```

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eyrie_protocol::signalling::{self, Sealer, SignallingError, ToViewer};

/// How replies of one offer go on the wire: in the version the offer used.
#[derive(Clone)]
pub enum Wire {
    /// Version 1, in clear.
    V1,
    /// Version 2 before the camera trusts the offer's key: only `error auth_failed`.
    ClearV2,
    /// Version 2: sealed with the session's camera → viewer key.
    Sealed(Arc<Mutex<Sealer<ToViewer>>>),
}

impl Wire {
    /// The camera → viewer side of a version-2 session under ticket key `key`.
    pub(super) fn sealed(key: &[u8], session_id: &str) -> Wire {
        Wire::Sealed(Arc::new(Mutex::new(Sealer::new(key, session_id))))
    }
}

/// A message to publish to a viewer.
pub struct Outgoing {
    /// The viewer's name: the `out` topic's last level.
    pub viewer: String,
    pub msg: ToViewer,
    pub wire: Wire,
}

impl Outgoing {
    /// The bytes to publish. Boxes are sealed here, by the one task that publishes, so
    /// their sequence numbers go out in order whichever thread queued the message.
    pub fn payload(&self) -> Result<Vec<u8>, SignallingError> {
        match &self.wire {
            Wire::V1 => Ok(self.msg.encode()),
            Wire::ClearV2 => Ok(signalling::clear_v2(&self.msg)),
            Wire::Sealed(sealer) => sealer
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .seal(&self.msg),
        }
    }
}

/// Logs dropped messages and refused offers without letting a flood fill the log or
/// cost the camera much: the first [`DropLog::BURST`] of every second, then one line
/// saying how many more there were (written with the first one of a later second).
#[derive(Debug)]
pub(super) struct DropLog {
    second: Instant,
    logged: u32,
    suppressed: u64,
}

impl Default for DropLog {
    fn default() -> Self {
        Self {
            second: Instant::now(),
            logged: 0,
            suppressed: 0,
        }
    }
}

impl DropLog {
    const BURST: u32 = 10;

    /// Whether this one gets its own line (else it is counted).
    pub(super) fn allow(&mut self) -> bool {
        if self.second.elapsed() >= Duration::from_secs(1) {
            if self.suppressed > 0 {
                tracing::warn!(
                    dropped = self.suppressed,
                    "more signalling messages dropped or refused without a log line"
                );
            }
            *self = DropLog::default();
        }
        if self.logged < Self::BURST {
            self.logged += 1;
            true
        } else {
            self.suppressed += 1;
            false
        }
    }

    pub(super) fn dropped(&mut self, viewer: &str, why: &str) {
        if self.allow() {
            tracing::warn!(viewer, "signalling message dropped: {why}");
        }
    }
}
