//! Tickets fetched before the click.
//!
//! A live view cannot start without a ticket from the cloud, and asking for one is a
//! round trip on the path of the first frame. The camera grid therefore asks for one
//! ticket per online camera as soon as it lists them ([`prefetch`]); opening a camera
//! takes that ticket ([`take`]) — waiting for it if the request is still under way — or
//! asks for a fresh one when there is none, it failed, or it is about to expire.
//!
//! Tickets are single-use (the camera refuses a nonce it has seen), so a taken ticket
//! leaves the cache; an unused one simply expires. Each slot is a `OnceCell` shared by the
//! prefetching task and the taker, so a click during the prefetch waits for that request
//! instead of sending a second one.
//!
//! ```text
//!  camera grid ──prefetch(id)──► spawn_tokio: POST …/tickets ──► slot[id]
//!  live view   ──take(id)──────► slot[id] (ready, pending: wait, none/stale: fetch)
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use eyrie_protocol::api::TicketResponse;
use tokio::sync::OnceCell;
use uuid::Uuid;

use crate::gui::cloud::{Cloud, CloudError};
use crate::spawn_tokio;

/// A ticket with less life left than this is not used (signalling and a retry fit in it).
const MIN_LIFE_SECS: i64 = 30;

type Slot = Arc<OnceCell<Option<TicketResponse>>>;

fn slots() -> std::sync::MutexGuard<'static, HashMap<(String, Uuid), Slot>> {
    static SLOTS: OnceLock<Mutex<HashMap<(String, Uuid), Slot>>> = OnceLock::new();
    SLOTS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn usable(ticket: &TicketResponse) -> bool {
    ticket.expires_at - eyrie_protocol::clock::unix_secs() >= MIN_LIFE_SECS
}

/// Ask for a ticket for `device` in the background, unless a usable one is cached or on
/// its way. `server` keys the cache so that another account's ticket is never used.
pub fn prefetch(cloud: &Cloud, server: &str, device: Uuid) {
    let slot: Slot = {
        let mut slots = slots();
        let key = (server.to_owned(), device);
        match slots.get(&key) {
            Some(slot) if slot.get().is_none_or(|t| t.as_ref().is_some_and(usable)) => {
                return;
            }
            _ => {}
        }
        let slot = Slot::default();
        slots.insert(key, slot.clone());
        slot
    };
    let cloud = cloud.clone();
    spawn_tokio!(async move {
        slot.get_or_init(|| async {
            match cloud.ticket(device).await {
                Ok(t) => Some(t),
                Err(e) => {
                    tracing::debug!("ticket prefetch for {device} failed: {e}");
                    None
                }
            }
        })
        .await;
    });
}

/// A usable ticket for `device`: the prefetched one, or a fresh one.
pub async fn take(cloud: &Cloud, server: &str, device: Uuid) -> Result<TicketResponse, CloudError> {
    let slot = slots().remove(&(server.to_owned(), device));
    if let Some(slot) = slot
        && let Some(ticket) = slot.get_or_init(|| async { None }).await
        && usable(ticket)
    {
        return Ok(ticket.clone());
    }
    cloud.ticket(device).await
}

/// Forget every cached ticket (sign-out).
pub fn clear() {
    slots().clear();
}
