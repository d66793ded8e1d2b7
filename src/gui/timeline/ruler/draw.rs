//! How the ruler draws itself, bottom up: the band where recordings would be, the
//! future shaded, the tick labels, the recordings as bars, event markers, the selected
//! range, the playhead and "now" — all `GtkSnapshot` colour nodes and Pango layouts.
//!
//! ```text
//!  | 10:00      10:15      10:30   ░░│░░  ← labels, future shaded past "now"
//!  |████████  ██████████   ▲   ██  ░░│░░  ← recordings (runs), ▲ event, │ playhead
//! ```

use adw::prelude::*;
use adw::subclass::prelude::*;
use gtk::{gdk, glib, graphene};

use super::{EyrieRuler, format_time};

fn rgba(r: f32, g: f32, b: f32, a: f32) -> gdk::RGBA {
    gdk::RGBA::new(r, g, b, a)
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
        // Events.
        let ev = rgba(0.96, 0.47, 0.0, 1.0);
        for m in imp.markers.borrow().iter() {
            let end = m.end_ms.unwrap_or(m.start_ms);
            if end < vs || m.start_ms > ve {
                continue;
            }
            let (x0, x1) = (self.x_of(m.start_ms), self.x_of(end));
            snapshot.append_color(
                &gdk::RGBA::new(0.96, 0.47, 0.0, 0.35),
                &rect(x0, band_y - 6.0, x1.max(x0 + 2.0), 6.0),
            );
            snapshot.append_color(&ev, &rect(x0 - 1.5, band_y - 12.0, x0 + 1.5, 12.0 + band_h));
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
