//! Desktop notifications for camera events.
//!
//! While the app runs, one task on the main loop asks the cloud every few seconds for
//! events that started since the last look, on every camera whose notifications are on
//! (`notifications-enabled`, minus the ids in `notify-disabled-cameras`), and decides per
//! camera:
//!
//! ```text
//!  new event ─┬─ do-not-disturb on ──────────────► dropped (the timeline has it)
//!             ├─ camera in its cool-down ────────► held (counted)
//!             └─ otherwise ──────────────────────► notified; the cool-down starts
//!  cool-down over with events held ──────────────► one summary: "N more events since …"
//! ```
//!
//! The cool-down is `notify-cooldown-seconds` per camera, so a busy camera raises at most
//! one notification in that time and nothing it saw is lost. A notification is a
//! `gio::Notification` — `GApplication` sends it to the shell (`org.gtk.Notifications`),
//! to the portal in Flatpak, or to `org.freedesktop.Notifications` — whose default action
//! opens the camera (`app.open-camera`) and whose button opens the timeline at the event
//! (`app.open-timeline`). Its icon is the snapshot the camera took nearest to the event,
//! decrypted through the one `SnapshotOpener` (`gio::BytesIcon` of the JPEG); without
//! one it has none. The snapshot is fetched on the runtime after the decision, so a slow
//! download never delays the next poll.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

use adw::prelude::*;
use eyrie_protocol::api::{Device, Event, EventKind};
use eyrie_protocol::clock::unix_ms;
use gtk::{gio, glib};
use uuid::Uuid;

use super::application::EyrieApplication;
use super::cloud::Cloud;
use crate::i18n::{gettext, gettext_f, ngettext_f};
use crate::spawn_tokio;

const POLL: Duration = Duration::from_secs(5);
/// How far from an event's start a snapshot may be taken to be its picture.
const SNAPSHOT_NEAR_MS: i64 = 10_000;
/// How long a notification waits for the camera's event snapshot to be uploaded.
const SNAPSHOT_WAIT: Duration = Duration::from_secs(4);

/// One camera's cool-down: when it last notified and what came since.
#[derive(Default)]
struct Cooldown {
    last_sent_ms: Option<i64>,
    held: Vec<Event>,
}

/// What to send: the event shown, and how many more it sums up (0 for a single event).
struct Outgoing {
    device: Device,
    event: Event,
    more: usize,
    since_ms: i64,
}

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
            let mut since = unix_ms();
            let mut seen = HashSet::new();
            let mut cooldowns: HashMap<Uuid, Cooldown> = HashMap::new();
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
                let cloud = Cloud::new(&session.server, Some(&session.token));
                let from = since;
                let looked_at = unix_ms();
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
                let (dnd, cooldown_ms) = app.settings().map_or((false, 60_000), |s| {
                    (
                        s.boolean("do-not-disturb"),
                        i64::from(s.uint("notify-cooldown-seconds")) * 1000,
                    )
                });
                let fresh: Vec<(Device, Event)> = result
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|(_, e)| seen.insert(e.id))
                    .collect();
                let now = unix_ms();
                for out in decide(&mut cooldowns, fresh, &devices, dnd, cooldown_ms, now) {
                    send(&app, &session, out);
                }
            }
        });
        p.replace(Some(handle));
    });
}

/// The notifications due now, with the cool-downs brought up to date.
fn decide(
    cooldowns: &mut HashMap<Uuid, Cooldown>,
    fresh: Vec<(Device, Event)>,
    devices: &[Device],
    dnd: bool,
    cooldown_ms: i64,
    now: i64,
) -> Vec<Outgoing> {
    let mut out = Vec::new();
    if dnd {
        for (device, event) in fresh {
            super::test_hooks::report(
                "notification-dropped",
                &serde_json::json!({ "device": device.id, "event": event.id, "why": "dnd" }),
            );
        }
        // Nothing held is announced after a quiet time either.
        cooldowns.values_mut().for_each(|c| c.held.clear());
        return out;
    }
    let cooling = |c: &Cooldown| c.last_sent_ms.is_some_and(|t| now - t < cooldown_ms);
    for (device, event) in fresh {
        let c = cooldowns.entry(device.id).or_default();
        if cooling(c) {
            super::test_hooks::report(
                "notification-held",
                &serde_json::json!({ "device": device.id, "event": event.id }),
            );
            c.held.push(event);
        } else {
            c.last_sent_ms = Some(now);
            out.push(Outgoing {
                device,
                event,
                more: 0,
                since_ms: now,
            });
        }
    }
    // Cool-downs that ended with events held: one summary each, starting the next.
    for device in devices {
        let Some(c) = cooldowns.get_mut(&device.id) else {
            continue;
        };
        if c.held.is_empty() || cooling(c) {
            continue;
        }
        let held = std::mem::take(&mut c.held);
        let since_ms = c.last_sent_ms.unwrap_or(now);
        c.last_sent_ms = Some(now);
        if let Some(last) = held.last() {
            out.push(Outgoing {
                device: device.clone(),
                event: last.clone(),
                more: held.len(),
                since_ms,
            });
        }
    }
    out
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

/// Fetch the event's snapshot (waiting a little for the camera's upload), then notify.
fn send(app: &EyrieApplication, session: &super::session::Session, out: Outgoing) {
    let cloud = Cloud::new(&session.server, Some(&session.token));
    let (device, channel, at) = (out.device.id, out.event.channel_id, out.event.start_ms);
    glib::spawn_future_local(glib::clone!(
        #[weak]
        app,
        async move {
            let picture = spawn_tokio!(async move {
                let deadline = tokio::time::Instant::now() + SNAPSHOT_WAIT;
                loop {
                    if let Some(p) = snapshot_near(&cloud, device, channel, at).await {
                        return Some(p);
                    }
                    if tokio::time::Instant::now() >= deadline {
                        return None;
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            })
            .await
            .ok()
            .flatten();
            notify(&app, &out, picture);
        }
    ));
}

/// The picture (decrypted JPEG or PNG) of the snapshot nearest to `at_ms`, if any.
async fn snapshot_near(cloud: &Cloud, device: Uuid, channel: Uuid, at_ms: i64) -> Option<Vec<u8>> {
    let list = cloud
        .api()
        .snapshots(channel, at_ms - SNAPSHOT_NEAR_MS, at_ms + SNAPSHOT_NEAR_MS)
        .await
        .ok()?;
    let snap = list
        .snapshots
        .iter()
        .filter(|s| s.download.is_some())
        .min_by_key(|s| (s.taken_at_ms - at_ms).abs())?;
    cloud
        .snapshot_opener(device)
        .await
        .ok()?
        .open(snap)
        .await
        .ok()
}

fn notify(app: &EyrieApplication, out: &Outgoing, picture: Option<Vec<u8>>) {
    let name = &out.device.name;
    let title = match out.event.kind {
        EventKind::Motion => gettext_f("Motion at {name}", &[("name", name)]),
        _ => gettext_f("Event at {name}", &[("name", name)]),
    };
    let body = if out.more == 0 {
        gettext("Open the camera to see what is happening")
    } else {
        let since = super::timeline::format_time(out.since_ms, true, false);
        ngettext_f(
            "{n} more event since {time}",
            "{n} more events since {time}",
            out.more as u64,
            &[("n", &out.more.to_string()), ("time", &since)],
        )
    };
    let notification = gio::Notification::new(&title);
    notification.set_body(Some(&body));
    let camera = out.device.id.to_string();
    notification.set_default_action_and_target_value("app.open-camera", Some(&camera.to_variant()));
    notification.add_button_with_target_value(
        &gettext("Show in Timeline"),
        "app.open-timeline",
        Some(&(camera.as_str(), out.event.start_ms).to_variant()),
    );
    let icon_bytes = picture.as_ref().map(Vec::len);
    if let Some(p) = picture {
        notification.set_icon(&gio::BytesIcon::new(&glib::Bytes::from_owned(p)));
    }
    notification.set_priority(gio::NotificationPriority::High);
    app.send_notification(Some(&format!("event-{camera}")), &notification);
    super::test_hooks::report(
        "notification",
        &serde_json::json!({
            "device": out.device.id, "event": out.event.id, "title": title, "body": body,
            "more": out.more, "icon_bytes": icon_bytes,
        }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use eyrie_protocol::api::RecordingPolicy;

    fn camera() -> Device {
        Device {
            id: Uuid::new_v4(),
            name: "porch".into(),
            store_mode: RecordingPolicy::Event,
            activated: true,
            online: true,
            last_seen_ms: None,
            dropped_segments: 0,
            channels: Vec::new(),
            created_ms: 0,
        }
    }

    fn event(start_ms: i64) -> Event {
        Event {
            id: Uuid::new_v4(),
            channel_id: Uuid::new_v4(),
            kind: EventKind::Motion,
            start_ms,
            end_ms: None,
        }
    }

    /// (event start, how many more) of what `decide` sends.
    fn sent(out: &[Outgoing]) -> Vec<(i64, usize)> {
        out.iter().map(|o| (o.event.start_ms, o.more)).collect()
    }

    #[test]
    fn a_cooldown_holds_events_and_sums_them_up_when_it_ends() {
        let cam = camera();
        let devices = [cam.clone()];
        let mut c = HashMap::new();
        let fresh = |starts: &[i64]| starts.iter().map(|&s| (cam.clone(), event(s))).collect();
        // The first is sent; the next two, within 60 s, are held.
        let out = decide(
            &mut c,
            fresh(&[1_000, 2_000]),
            &devices,
            false,
            60_000,
            1_000,
        );
        assert_eq!(sent(&out), [(1_000, 0)]);
        let out = decide(&mut c, fresh(&[30_000]), &devices, false, 60_000, 30_000);
        assert!(out.is_empty());
        // Still cooling: nothing; then one summary of both, from the first's time.
        assert!(decide(&mut c, fresh(&[]), &devices, false, 60_000, 60_999).is_empty());
        let out = decide(&mut c, fresh(&[]), &devices, false, 60_000, 61_000);
        assert_eq!(sent(&out), [(30_000, 2)]);
        assert_eq!(out[0].since_ms, 1_000);
        // The summary started the next cool-down.
        let out = decide(&mut c, fresh(&[62_000]), &devices, false, 60_000, 62_000);
        assert!(out.is_empty());
    }

    #[test]
    fn no_cooldown_sends_every_event_and_do_not_disturb_none() {
        let cam = camera();
        let devices = [cam.clone()];
        let mut c = HashMap::new();
        let fresh = |starts: &[i64]| starts.iter().map(|&s| (cam.clone(), event(s))).collect();
        let out = decide(&mut c, fresh(&[1_000]), &devices, false, 0, 1_000);
        let again = decide(&mut c, fresh(&[1_500]), &devices, false, 0, 1_500);
        assert_eq!(
            (sent(&out), sent(&again)),
            (vec![(1_000, 0)], vec![(1_500, 0)])
        );
        // Held events are forgotten by do not disturb, not announced after it.
        let mut c = HashMap::new();
        decide(&mut c, fresh(&[1_000]), &devices, false, 60_000, 1_000);
        decide(&mut c, fresh(&[2_000]), &devices, false, 60_000, 2_000);
        assert!(decide(&mut c, fresh(&[3_000]), &devices, true, 60_000, 3_000).is_empty());
        assert!(decide(&mut c, fresh(&[]), &devices, false, 60_000, 90_000).is_empty());
    }
}
