//! Desktop notifications for camera events.
//!
//! While the app runs, one task on the main loop asks the cloud every few seconds for
//! events that started since the last look, on every camera whose notifications are on
//! (`notifications-enabled`, minus the ids in `notify-disabled-cameras`). Each new event
//! becomes a `gio::Notification` whose default action opens that camera
//! (`app.open-camera`).

use std::cell::RefCell;
use std::collections::HashSet;
use std::time::Duration;

use adw::prelude::*;
use eyrie_protocol::api::{Device, EventKind};
use gtk::{gio, glib};

use super::application::EyrieApplication;
use super::cloud::Cloud;
use crate::i18n::{gettext, gettext_f};
use crate::spawn_tokio;

const POLL: Duration = Duration::from_secs(5);

thread_local! {
    /// The cameras being watched, and the poller's source (one per process).
    static WATCHED: RefCell<Vec<Device>> = const { RefCell::new(Vec::new()) };
    static POLLER: RefCell<Option<glib::JoinHandle<()>>> = const { RefCell::new(None) };
}

/// Watch these cameras (replaces the previous list); starts the poller once.
pub fn watch(app: &EyrieApplication, devices: &[Device]) {
    WATCHED.with(|w| *w.borrow_mut() = devices.to_vec());
    POLLER.with(|p| {
        if p.borrow().is_some() {
            return;
        }
        let app = app.downgrade();
        let handle = glib::spawn_future_local(async move {
            let mut since = eyrie_protocol::clock::unix_ms();
            let mut seen = HashSet::new();
            loop {
                glib::timeout_future(POLL).await;
                let Some(app) = app.upgrade() else { break };
                let Some(session) = app.session() else {
                    continue;
                };
                let devices = WATCHED.with(|w| w.borrow().clone());
                let devices: Vec<Device> = devices
                    .into_iter()
                    .filter(|d| enabled_for(&app, &d.id.to_string()))
                    .collect();
                if devices.is_empty() {
                    continue;
                }
                let cloud = Cloud::new(&session.server, Some(&session.token));
                let from = since;
                let looked_at = eyrie_protocol::clock::unix_ms();
                let query = devices.clone();
                let result = spawn_tokio!(async move {
                    let mut out = Vec::new();
                    for d in query {
                        for ch in &d.channels {
                            if let Ok(events) = cloud.events_since(ch.id, from).await {
                                out.extend(events.into_iter().map(|e| (d.clone(), e)));
                            }
                        }
                    }
                    out
                })
                .await;
                since = looked_at - 2_000;
                for (device, event) in result.unwrap_or_default() {
                    if seen.insert(event.id) {
                        notify(&app, &device, event.kind);
                    }
                }
            }
        });
        p.replace(Some(handle));
    });
}

fn enabled_for(app: &EyrieApplication, id: &str) -> bool {
    let Some(settings) = app.settings() else {
        return true;
    };
    settings.boolean("notifications-enabled")
        && !settings
            .strv("notify-disabled-cameras")
            .iter()
            .any(|s| s.as_str() == id)
}

fn notify(app: &EyrieApplication, device: &Device, kind: EventKind) {
    let title = match kind {
        EventKind::Motion => gettext_f("Motion at {name}", &[("name", &device.name)]),
        _ => gettext_f("Event at {name}", &[("name", &device.name)]),
    };
    let notification = gio::Notification::new(&title);
    notification.set_body(Some(&gettext("Open the camera to see what is happening")));
    notification.set_default_action_and_target_value(
        "app.open-camera",
        Some(&device.id.to_string().to_variant()),
    );
    notification.set_priority(gio::NotificationPriority::High);
    app.send_notification(Some(&format!("event-{}", device.id)), &notification);
    super::test_hooks::report(
        "notification",
        &serde_json::json!({ "device": device.id, "title": title }),
    );
}
