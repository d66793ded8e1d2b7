//! The viewer's sending half: every message to the camera leaves sealed (signalling
//! version 2, `docs/signalling.md` §7), and in the order of its sequence number.
//!
//! ```text
//!   session task (offer, candidates, heartbeats) ─┐
//!   LiveViewer (controls, bye)  ──────────────────┼─► lock ─► seal(seq n) ─► link queue ─► <prefix>/in/<viewer>
//!   LiveViewer::drop (bye) ───────────────────────┘
//! ```
//!
//! Several threads send, and the camera refuses a sequence number not above the last it
//! accepted, so sealing and queueing happen under one lock: the link publishes in queue
//! order, hence in sequence order. A restart ([`super::restart`]) swaps the link for a new
//! broker connection; the sealer, and so the sequence, goes on (what the old connection
//! still held is lost, which the camera's "above the last one" rule allows).

use std::sync::{Arc, Mutex};

use eyrie_protocol::signalling::{Sealer, ToCamera};

use crate::mqtt_link::Link;

pub(super) struct Outbox {
    link: Mutex<Arc<Link>>,
    topic: String,
    sealer: Mutex<Sealer<ToCamera>>,
}

impl Outbox {
    /// Sends to `topic` (`<prefix>/in/<viewer>`) for session `session_id` under ticket
    /// key `key`.
    pub fn new(link: Arc<Link>, topic: String, key: &[u8], session_id: &str) -> Self {
        Self {
            link: Mutex::new(link),
            topic,
            sealer: Mutex::new(Sealer::new(key, session_id)),
        }
    }

    /// Seal `msg` and queue it (queued while the broker is away; fails only if the
    /// link's queue is full or the message is too large to seal).
    pub fn send(&self, msg: &ToCamera) -> Result<(), String> {
        let mut sealer = self
            .sealer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let payload = sealer.seal(msg).map_err(|e| e.to_string())?;
        self.link()
            .try_publish(&self.topic, payload)
            .map_err(|e| e.to_string())
    }

    /// The broker connection messages leave by.
    pub fn link(&self) -> Arc<Link> {
        self.link
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Send by `link` from now on (the old one goes when its last holder lets go).
    pub fn set_link(&self, link: Arc<Link>) {
        *self
            .link
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = link;
    }
}
