//! Stepping down to SD when a viewer's link cannot carry HD.
//!
//! The main stream is encoded once for everybody at ~2 Mbit/s; a camera behind a 1 Mbit/s
//! uplink cannot send it, and without a change the viewer's picture stops for good
//! (every packet past the line's rate is dropped, keyframes never arrive whole). The
//! encoder cannot slow down for one viewer without slowing down every other one and the
//! recording, but the sub stream (~500 kbit/s) is already there. So a session that shows
//! HD switches itself to SD — exactly what the viewer's `set_stream` would do — when its
//! viewer's RTCP receiver reports say the link is overloaded, and the viewer is told
//! with the `state` message it knows (`docs/signalling.md`, "When the link is too slow").
//!
//! ```text
//!  every 250 ms, each session: webrtcbin get-stats ─► remote-inbound-rtp (the viewer's RRs)
//!     new losses and fraction lost ≥ 10 %, or round trip ≥ 1 s ─► FeedCmd::SetStream(Sd)
//!     (+ a keyframe of the sub stream at once) ─► `state` {stream: sd} to the viewer ─► LiveEvent::StreamChanged
//! ```
//!
//! Random loss of a few percent (a poor Wi-Fi) is NACK's to repair and must not cost the
//! viewer HD, hence 10 %: an uplink overloaded by HD loses far more (half the packets at
//! 2 Mbit/s over 1 Mbit/s). It never switches back up by itself — probing for room would
//! mean overloading the line again; a viewer's own `set_stream hd` is obeyed, and the
//! camera steps down again if the link still cannot carry it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gstreamer as gst;
use gstreamer::prelude::*;

use eyrie_protocol::signalling::Stream;

use super::{Inner, LiveEvent, LiveManager, Outgoing, emit, lock_shown, session};

/// How often HD sessions' receiver reports are read.
const TICK: Duration = Duration::from_millis(250);
/// A receiver report with new losses and at least this fraction lost steps down.
const MAX_FRACTION_LOST: f64 = 0.10;
/// A round trip this long (a queue filling up before it drops) steps down too.
const MAX_ROUND_TRIP_S: f64 = 1.0;

/// What the viewer's latest receiver reports say, over every stream of the session.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Reports {
    fraction_lost: f64,
    packets_lost: i64,
    round_trip_s: f64,
}

impl Reports {
    /// Whether `self`, read after `before`, says the link cannot carry the stream.
    fn overloaded(&self, before: Option<Reports>) -> bool {
        let new_losses = self.packets_lost > before.map_or(0, |b| b.packets_lost);
        (new_losses && self.fraction_lost >= MAX_FRACTION_LOST)
            || self.round_trip_s >= MAX_ROUND_TRIP_S
    }
}

impl LiveManager {
    /// Starts the task that watches HD sessions' receiver reports (needs a tokio
    /// runtime); it ends with the manager.
    pub(super) fn watch_links(&self) {
        let inner = Arc::downgrade(&self.inner);
        let out = self.out.clone();
        let events = self.events.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(TICK);
            let mut last: HashMap<String, Reports> = HashMap::new();
            loop {
                tick.tick().await;
                let Some(table) = inner.upgrade() else { break };
                // Every session's reports are followed, so that one switched back to HD
                // is judged by reports newer than the ones that stepped it down.
                let sessions: Vec<(String, gst::Element, bool)> = lock(&table)
                    .sessions
                    .iter()
                    .map(|(id, s)| {
                        let hd = lock_shown(&s.shown).stream == Stream::Hd;
                        (id.clone(), s.media.webrtc.clone(), hd)
                    })
                    .collect();
                drop(table);
                last.retain(|id, _| sessions.iter().any(|(s, ..)| s == id));
                for (id, webrtc, hd) in sessions {
                    let Some(now) = receiver_reports(&webrtc).await else {
                        continue;
                    };
                    let before = last.insert(id.clone(), now);
                    if hd
                        && now.overloaded(before)
                        && let Some(table) = inner.upgrade()
                    {
                        step_down(&table, &out, &events, &id, now);
                    }
                }
            }
        });
    }
}

fn lock(table: &Mutex<Inner>) -> std::sync::MutexGuard<'_, Inner> {
    table
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Switches session `sid` to SD (if it still shows HD) and tells its viewer.
fn step_down(
    table: &Mutex<Inner>,
    out: &tokio::sync::mpsc::UnboundedSender<Outgoing>,
    events: &tokio::sync::broadcast::Sender<LiveEvent>,
    sid: &str,
    reports: Reports,
) {
    let inner = lock(table);
    let Some(s) = inner.sessions.get(sid) else {
        return;
    };
    let mut shown = lock_shown(&s.shown);
    if shown.stream != Stream::Hd {
        return;
    }
    let _ = s.media.feed.send(session::FeedCmd::SetStream(Stream::Sd));
    shown.stream = Stream::Sd;
    tracing::warn!(
        session = sid,
        fraction_lost = reports.fraction_lost,
        round_trip_s = reports.round_trip_s,
        "the viewer's link cannot carry HD: switched to SD"
    );
    let _ = out.send(Outgoing {
        viewer: s.viewer.clone(),
        msg: shown.message(sid),
        wire: s.wire.clone(),
    });
    drop(shown);
    drop(inner);
    emit(
        events,
        LiveEvent::StreamChanged {
            session_id: sid.to_owned(),
            stream: Stream::Sd,
        },
    );
}

/// The session's `remote-inbound-rtp` stats (what the viewer's receiver reports said),
/// worst over its streams; `None` before the first report or when `webrtcbin` does not
/// answer within a second.
async fn receiver_reports(webrtc: &gst::Element) -> Option<Reports> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let promise = gst::Promise::with_change_func(move |reply| {
        let _ = tx.send(reply.ok().flatten().map(ToOwned::to_owned));
    });
    webrtc.emit_by_name::<()>("get-stats", &[&None::<gst::Pad>, &promise]);
    let stats = tokio::time::timeout(Duration::from_secs(1), rx)
        .await
        .ok()?
        .ok()??;
    let mut reports: Option<Reports> = None;
    for (_, value) in stats.iter() {
        let Ok(s) = value.get::<gst::Structure>() else {
            continue;
        };
        // Only `remote-inbound-rtp` entries carry it.
        if !s.has_field("fraction-lost") {
            continue;
        }
        let r = reports.get_or_insert_with(Reports::default);
        r.fraction_lost = r.fraction_lost.max(number(&s, "fraction-lost"));
        r.packets_lost += number(&s, "packets-lost") as i64;
        r.round_trip_s = r.round_trip_s.max(number(&s, "round-trip-time"));
    }
    reports
}

/// A numeric field whatever its integer or float type (GStreamer versions differ); 0
/// when missing.
fn number(s: &gst::StructureRef, field: &str) -> f64 {
    s.get::<f64>(field)
        .ok()
        .or_else(|| s.get::<i64>(field).ok().map(|n| n as f64))
        .or_else(|| s.get::<i32>(field).ok().map(f64::from))
        .or_else(|| s.get::<u32>(field).ok().map(f64::from))
        .or_else(|| s.get::<u64>(field).ok().map(|n| n as f64))
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_heavy_new_loss_or_a_long_round_trip_steps_down() {
        let r = |fraction_lost, packets_lost, round_trip_s| Reports {
            fraction_lost,
            packets_lost,
            round_trip_s,
        };
        // Random loss of a bad Wi-Fi: NACK's job.
        assert!(!r(0.03, 40, 0.05).overloaded(Some(r(0.02, 30, 0.05))));
        // An overloaded uplink.
        assert!(r(0.45, 400, 0.3).overloaded(Some(r(0.0, 10, 0.05))));
        assert!(r(0.45, 400, 0.3).overloaded(None));
        // The same old report again (no new losses): nothing new to act on.
        assert!(!r(0.45, 400, 0.3).overloaded(Some(r(0.45, 400, 0.3))));
        // A queue filling up before it drops anything.
        assert!(r(0.0, 0, 1.2).overloaded(None));
    }
}
