//! How a live session's messages meet the wire: the signalling version its offer used
//! ([`Wire`]), the replies on their way to the publishing task ([`Outgoing`], sealed
//! there so sequence numbers leave in order). What is dropped is logged through
//! [`eyrie_rtc::drop_log::DropLog`].
//!
//! ```text
//!   LiveManager / reaper / webrtcbin callbacks ── Outgoing{viewer, msg, wire} ──► link task
//!        ─► payload(): V1 → JSON · ClearV2 → JSON "v":2 (auth_failed only) · Sealed → box seq n
//!        ─► publish <prefix>/out/<viewer>
//! ```

use std::sync::{Arc, Mutex};

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
