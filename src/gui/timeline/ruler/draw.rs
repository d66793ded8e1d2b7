//! How the ruler draws itself, bottom up: the band where recordings would be, the
//! future shaded, the tick labels, the recordings as bars, the activity track above them
//! (events: bars with a duration, dots for instants) and the snapshots below them
//! (squares), the selected range, the playhead and "now" — all `GtkSnapshot` colour
//! nodes (rounded clips for the dots) and Pango layouts. With the `test-hooks` feature
//! each change of what the tracks show is reported (`timeline-markers`).
//!
//! ```text
//!  | 10:00      10:15      10:30   ░░│░░  ← labels, future shaded past "now"
//!  |   ━━━━━    ●        ●━━       ░░│░░  ← activity track: events (bars, dots)
//!  |████████  ██████████   █████   ░░│░░  ← recordings (runs), │ playhead
//!  |    ▪              ▪           ░░│░░  ← snapshots
//! ```

use adw::prelude::*;
use adw::subclass::prelude::*;
use gtk::{gdk, glib, graphene, gsk};

use super::{EyrieRuler, MarkerKind, format_time};
use crate::gui::test_hooks;
use eyrie_protocol::api::EventKind;

/// Where the snapshot track begins, as a share of the ruler's height (below the
/// recordings band, which ends at 0.45 + 0.32).
pub(super) const SNAPSHOT_TRACK: f64 = 0.77;

/// Height of the activity track and size of its dots and snapshot squares (px).
const DOT: f32 = 8.0;

fn rgba(r: f32, g: f32, b: f32, a: f32) -> gdk::RGBA {
    gdk::RGBA::new(r, g, b, a)
}

/// A filled rectangle with rounded corners of `radius`.
fn rounded(snapshot: &gtk::Snapshot, r: &graphene::Rect, radius: f32, colour: &gdk::RGBA) {
    let radius = radius.min(r.width() / 2.0).min(r.height() / 2.0);
    let corner = graphene::Size::new(radius, radius);
    snapshot.push_rounded_clip(&gsk::RoundedRect::new(*r, corner, corner, corner, corner));
    snapshot.append_color(colour, r);
    snapshot.pop();
}

/// The marker's kind as the report names it.
fn kind_name(kind: MarkerKind) -> &'static str {
    match kind {
        MarkerKind::Snapshot => "snapshot",
        MarkerKind::Event(EventKind::Motion) => "motion",
        MarkerKind::Event(EventKind::Manual) => "manual",
        MarkerKind::Event(EventKind::Sound) => "sound",
        MarkerKind::Event(EventKind::Unknown) => "event",
    }
}

/// Tick spacing (ms) and whether labels need seconds, for a span drawn over `width` px.
fn tick_step(span_ms: f64, width: f64) -> (i64, bool) {
    const STEPS: [i64; 15] = [
        1_000,
        5_000,
        10_000,
        30_000,
        60_000,
        300_000,
        600_000,
        1_800_000,
        3_600_000,
        10_800_000,
        21_600_000,
        43_200_000,
        86_400_000,
        172_800_000,
        604_800_000,
    ];
    let per_px = span_ms / width.max(1.0);
    let step = STEPS
        .iter()
        .copied()
        .find(|s| *s as f64 / per_px >= 90.0)
        .unwrap_or(604_800_000);
    (step, step < 60_000)
}

impl EyrieRuler {
    pub(super) fn draw(&self, snapshot: &gtk::Snapshot) {
        let imp = self.imp();
        let (w, h) = (self.width() as f32, self.height() as f32);
        if w <= 0.0 {
            return;
        }
        #[allow(deprecated)] // GtkWidget::color() needs GTK 4.10
        let fg = self.style_context().color();
        let dim = gdk::RGBA::new(fg.red(), fg.green(), fg.blue(), 0.12);
        let rect = |x0: f64, y: f32, x1: f64, hh: f32| {
            let (a, b) = (x0.max(-2.0) as f32, x1.min(f64::from(w) + 2.0) as f32);
            graphene::Rect::new(a, y, (b - a).max(1.0), hh)
        };
        // Background band where recordings would be.
        let band_y = h * 0.45;
        let band_h = h * 0.32;
        snapshot.append_color(&dim, &graphene::Rect::new(0.0, band_y, w, band_h));
        // The future.
        let now_x = self.x_of(eyrie_protocol::clock::unix_ms());
        if now_x < f64::from(w) {
            snapshot.append_color(
                &gdk::RGBA::new(fg.red(), fg.green(), fg.blue(), 0.06),
                &rect(now_x.max(0.0), 0.0, f64::from(w), h),
            );
        }
        // Ticks and labels.
        let (step, secs) = tick_step(imp.span_ms.get(), f64::from(w));
        let (vs, ve) = self.view();
        let offset = glib::DateTime::now_local()
            .map(|d| d.utc_offset().as_milliseconds())
            .unwrap_or(0);
        let mut t = (vs + offset).div_euclid(step) * step - offset;
        let tick = gdk::RGBA::new(fg.red(), fg.green(), fg.blue(), 0.45);
        while t <= ve {
            let x = self.x_of(t);
            snapshot.append_color(&tick, &graphene::Rect::new(x as f32, 0.0, 1.0, h * 0.18));
            let day = step >= 86_400_000
                || ((t + offset).rem_euclid(86_400_000) == 0 && step >= 3_600_000);
            let layout = self.create_pango_layout(Some(&format_time(t, secs, day)));
            snapshot.save();
            snapshot.translate(&graphene::Point::new(x as f32 + 3.0, h * 0.18 - 2.0));
            snapshot.append_layout(&layout, &tick);
            snapshot.restore();
            t += step;
        }
        // Recordings.
        let rec = rgba(0.21, 0.52, 0.89, 1.0);
        for &(s, e) in imp.runs.borrow().iter() {
            if e < vs || s > ve {
                continue;
            }
            let (x0, x1) = (self.x_of(s), self.x_of(e));
            snapshot.append_color(&rec, &rect(x0, band_y, x1.max(x0 + 1.0), band_h));
        }
        // The activity track above the recordings: events with a duration as bars,
        // instants (and events still going on) as dots; snapshots below, as squares.
        let mut drawn = Vec::new();
        let track_y = band_y - DOT - 2.0;
        let snap_y = band_y + band_h + 2.0;
        for m in imp.markers.borrow().iter() {
            let end = m.end_ms.unwrap_or(m.start_ms).max(m.start_ms);
            if end < vs || m.start_ms > ve {
                continue;
            }
            let (x0, x1) = (self.x_of(m.start_ms), self.x_of(end));
            let shape = match m.kind {
                MarkerKind::Snapshot => {
                    let r = graphene::Rect::new(x0 as f32 - DOT / 2.0, snap_y, DOT, DOT);
                    rounded(snapshot, &r, 1.5, &rgba(0.15, 0.64, 0.41, 1.0));
                    "square"
                }
                MarkerKind::Event(_) if end > m.start_ms => {
                    let half = f64::from(DOT / 2.0);
                    let r = rect(x0 - half, track_y, x1.max(x0) + half, DOT);
                    rounded(snapshot, &r, DOT / 2.0, &rgba(0.96, 0.47, 0.0, 0.85));
                    "bar"
                }
                MarkerKind::Event(_) => {
                    let r = graphene::Rect::new(x0 as f32 - DOT / 2.0, track_y, DOT, DOT);
                    rounded(snapshot, &r, DOT / 2.0, &rgba(0.96, 0.47, 0.0, 1.0));
                    "dot"
                }
            };
            if test_hooks::enabled() {
                drawn.push(serde_json::json!({
                    "id": m.id, "kind": kind_name(m.kind), "shape": shape,
                    "start_ms": m.start_ms, "end_ms": m.end_ms,
                    "x0": x0.round(), "x1": x1.round(),
                }));
            }
        }
        if test_hooks::enabled() {
            // Where the ruler is in its window's surface (X11: the window), for the pointer.
            let origin = self.native().and_then(|native| {
                let (sx, sy) = native.surface_transform();
                let p = self.compute_point(&native, &graphene::Point::new(0.0, 0.0))?;
                Some([f64::from(p.x()) + sx, f64::from(p.y()) + sy])
            });
            let drawn = serde_json::json!({
                "markers": drawn, "view": [vs, ve], "width": w, "origin": origin,
                "tracks": { "events": track_y + DOT / 2.0, "snapshots": snap_y + DOT / 2.0 },
            });
            if *imp.drawn.borrow() != drawn {
                test_hooks::report("timeline-markers", &drawn);
                imp.drawn.replace(drawn);
            }
        }
        // Selection.
        if let Some((a, b)) = imp.selection.get() {
            let (x0, x1) = (self.x_of(a), self.x_of(b));
            snapshot.append_color(&rgba(0.55, 0.35, 0.85, 0.3), &rect(x0, 0.0, x1, h));
            for x in [x0, x1] {
                snapshot.append_color(
                    &rgba(0.55, 0.35, 0.85, 1.0),
                    &rect(x - 1.0, 0.0, x + 1.0, h),
                );
            }
        }
        // Now.
        if (0.0..f64::from(w)).contains(&now_x) {
            snapshot.append_color(&tick, &rect(now_x, 0.0, now_x + 1.0, h));
        }
        // Playhead (or where a drag would play from).
        if let Some(p) = imp.scrub.get().or(imp.playhead.get()) {
            let x = self.x_of(p);
            snapshot.append_color(
                &rgba(0.88, 0.11, 0.14, 1.0),
                &rect(x - 1.0, 0.0, x + 1.0, h),
            );
        }
    }
}
