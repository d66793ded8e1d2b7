//! Camera events for the kiosk: which camera to bring to the front.
//!
//! The same source as the desktop notifications (`notifications.rs`): the cloud's event
//! list per channel (`GET /channels/{id}/events`), which cameras fill as they detect motion
//! or a person presses their event button. Every [`POLL`] the kiosk asks for events that
//! started since its last look, on the cameras it shows; each event not seen before calls
//! the callback with its camera's id. A failed look (cloud restarting) is simply repeated
//! at the next tick, from the same starting time, so no event is lost.

use std::collections::HashSet;
use std::time::Duration;

use eyrie_protocol::api::Device;
use gtk::glib;
use uuid::Uuid;

use crate::gui::cloud::Cloud;
use crate::gui::session::Session;
use crate::spawn_tokio;

pub const POLL: Duration = Duration::from_secs(3);

/// Poll events on `devices` until the returned handle is aborted.
pub fn watch(
    session: Session,
    devices: Vec<Device>,
    on_event: impl Fn(Uuid) + 'static,
) -> glib::JoinHandle<()> {
    glib::spawn_future_local(async move {
        let mut since = eyrie_protocol::clock::unix_ms();
        let mut seen = HashSet::new();
        loop {
            glib::timeout_future(POLL).await;
            let cloud = Cloud::new(&session.server, Some(&session.token));
            let query = devices.clone();
            let from = since;
            let looked_at = eyrie_protocol::clock::unix_ms();
            let result = spawn_tokio!(async move {
                let mut found = Vec::new();
                for device in query {
                    for channel in &device.channels {
                        match cloud.events_since(channel.id, from).await {
                            Ok(events) => found.extend(events.into_iter().map(|e| (device.id, e))),
                            Err(e) => return Err(e),
                        }
                    }
                }
                Ok(found)
            })
            .await;
            match result {
                Ok(Ok(found)) => {
                    // Overlap the next look a little: an event stamped just before this
                    // look may be stored just after it.
                    since = looked_at - 2_000;
                    for (device, event) in found {
                        if seen.insert(event.id) {
                            tracing::info!("kiosk: {:?} event on {device}", event.kind);
                            crate::gui::test_hooks::report(
                                "kiosk-event",
                                &serde_json::json!({ "camera": device.to_string(), "kind": format!("{:?}", event.kind) }),
                            );
                            on_event(device);
                        }
                    }
                }
                Ok(Err(e)) => tracing::debug!("kiosk: cannot list events: {e}"),
                Err(e) => tracing::debug!("kiosk: event task failed: {e}"),
            }
        }
    })
}
