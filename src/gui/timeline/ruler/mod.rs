//! `EyrieRuler`: the horizontal time ruler of the timeline window.
//!
//! It shows a window of time (`start_ms`, `span_ms`, from one minute to one week) and
//! draws, from the bottom up: the recordings as bars (the gaps between them stay empty),
//! the activity track above them (an event with a duration as a bar, an instant as a dot)
//! and the snapshots below them (small squares), the selected range, the playhead and
//! "now". It only draws what it is given; the window loads recordings, events and
//! snapshots for the visible range and hands them in (recordings as merged runs), so a
//! week stays a few hundred rectangles.
//!
//! Input: a click or a drag plays from that instant (the playhead follows the pointer
//! while dragging and playback starts on release); Shift + drag selects a range for a
//! clip; the wheel zooms around the pointer; Shift + wheel or a horizontal scroll pans.
//! Hovering shows the time under the pointer, and over a marker its kind and snapshot
//! (loaded on demand by the window through [`EyrieRuler::set_hover_image`]): the
//! pointer's height picks the track, snapshots below the recordings, events above them.
//!
//! Drawing (draw.rs) uses `GtkSnapshot` colour nodes and Pango layouts (no cairo surface).

use std::cell::{Cell, RefCell};

use adw::prelude::*;
use adw::subclass::prelude::*;
use gtk::{gdk, glib};

use crate::i18n::gettext;

mod draw;

pub const MIN_SPAN_MS: f64 = 60_000.0;
pub const MAX_SPAN_MS: f64 = 7.0 * 86_400_000.0;
const HEIGHT: i32 = 96;
/// Pixels of pointer travel before a press becomes a drag.
const CLICK_SLOP: f64 = 4.0;

/// What a marker stands for: an event (on the activity track) or a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkerKind {
    Event(eyrie_protocol::api::EventKind),
    Snapshot,
}

/// A marker on the ruler: an event or a snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    pub id: uuid::Uuid,
    pub kind: MarkerKind,
    pub start_ms: i64,
    /// The end of an event with a duration (`None` while it goes on, and for snapshots).
    pub end_ms: Option<i64>,
    pub label: String,
}

type TimeFn = Box<dyn Fn(i64)>;
type RangeFn = Box<dyn Fn(Option<(i64, i64)>)>;
type ViewFn = Box<dyn Fn(i64, i64)>;
type MarkerFn = Box<dyn Fn(&Marker)>;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Drag {
    Scrub,
    Select(i64),
}

mod imp {
    use super::*;

    #[derive(Default)]
    pub struct EyrieRuler {
        pub start_ms: Cell<f64>,
        pub span_ms: Cell<f64>,
        pub runs: RefCell<Vec<(i64, i64)>>,
        pub markers: RefCell<Vec<Marker>>,
        pub playhead: Cell<Option<i64>>,
        pub scrub: Cell<Option<i64>>,
        pub selection: Cell<Option<(i64, i64)>>,
        pub drag: Cell<Option<Drag>>,
        pub drag_x: Cell<f64>,
        pub hover_x: Cell<Option<f64>>,
        pub hover_image: RefCell<Option<(uuid::Uuid, gdk::Texture)>>,
        /// What the last drawing put on the tracks, as reported (test-hooks only).
        pub drawn: RefCell<serde_json::Value>,
        pub on_seek: RefCell<Option<TimeFn>>,
        pub on_select: RefCell<Option<RangeFn>>,
        pub on_view: RefCell<Option<ViewFn>>,
        pub on_hover_marker: RefCell<Option<MarkerFn>>,
    }

    #[glib::object_subclass]
    impl ObjectSubclass for EyrieRuler {
        const NAME: &'static str = "EyrieRuler";
        type Type = super::EyrieRuler;
        type ParentType = gtk::Widget;

        fn class_init(klass: &mut Self::Class) {
            klass.set_css_name("eyrie-ruler");
            klass.set_accessible_role(gtk::AccessibleRole::Slider);
        }
    }

    impl ObjectImpl for EyrieRuler {
        fn constructed(&self) {
            self.parent_constructed();
            self.span_ms.set(3_600_000.0);
            self.start_ms
                .set(eyrie_protocol::clock::unix_ms() as f64 - 3_000_000.0);
            let obj = self.obj();
            obj.set_focusable(true);
            obj.set_has_tooltip(true);
            obj.set_hexpand(true);
            obj.setup_input();
        }
    }

    impl WidgetImpl for EyrieRuler {
        fn measure(&self, orientation: gtk::Orientation, _for_size: i32) -> (i32, i32, i32, i32) {
            match orientation {
                gtk::Orientation::Horizontal => (240, 800, -1, -1),
                _ => (HEIGHT, HEIGHT, -1, -1),
            }
        }

        fn snapshot(&self, snapshot: &gtk::Snapshot) {
            self.obj().draw(snapshot);
        }
    }
}

glib::wrapper! {
    pub struct EyrieRuler(ObjectSubclass<imp::EyrieRuler>)
        @extends gtk::Widget,
        @implements gtk::Accessible, gtk::Buildable, gtk::ConstraintTarget;
}

impl Default for EyrieRuler {
    fn default() -> Self {
        glib::Object::new()
    }
}

/// Local time of `ms` as text: seconds when asked, the weekday and date at day steps.
pub fn format_time(ms: i64, seconds: bool, day: bool) -> String {
    let Ok(t) = glib::DateTime::from_unix_local(ms.div_euclid(1000)) else {
        return String::new();
    };
    let fmt = if day {
        // Translators: the day under the timeline's ruler, in GLib's DateTime::format
        // codes: %a weekday, %e day of the month (%-d without padding), %b month; e.g.
        // "%a, %-d. %b" for German.
        gettext("%a %e %b")
    } else {
        // Times of day follow the locale's digits and the desktop's 12/24-hour setting.
        crate::i18n::time_format(seconds).to_owned()
    };
    t.format(&fmt)
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

impl EyrieRuler {
    pub fn new() -> Self {
        Self::default()
    }

    /// The visible range `[start, end)` in unix ms.
    pub fn view(&self) -> (i64, i64) {
        let imp = self.imp();
        let s = imp.start_ms.get();
        (s as i64, (s + imp.span_ms.get()) as i64)
    }

    /// Show `span_ms` (clamped to a minute … a week) starting at `start_ms`.
    pub fn set_view(&self, start_ms: f64, span_ms: f64) {
        let imp = self.imp();
        let span = span_ms.clamp(MIN_SPAN_MS, MAX_SPAN_MS);
        let now = eyrie_protocol::clock::unix_ms() as f64;
        // Never scroll further than a little past now.
        let start = start_ms.min(now + span * 0.1 - span);
        imp.start_ms.set(start);
        imp.span_ms.set(span);
        self.queue_draw();
        if let Some(f) = imp.on_view.borrow().as_ref() {
            let (a, b) = self.view();
            f(a, b);
        }
    }

    /// Zoom by `factor` (< 1 zooms in) keeping the instant at `x` in place.
    pub fn zoom(&self, factor: f64, x: Option<f64>) {
        let imp = self.imp();
        let width = f64::from(self.width().max(1));
        let x = x.unwrap_or(width / 2.0);
        let at = self.time_at(x) as f64;
        let span = (imp.span_ms.get() * factor).clamp(MIN_SPAN_MS, MAX_SPAN_MS);
        self.set_view(at - span * x / width, span);
    }

    /// Pan by a fraction of the visible span.
    pub fn pan(&self, fraction: f64) {
        let imp = self.imp();
        self.set_view(
            imp.start_ms.get() + imp.span_ms.get() * fraction,
            imp.span_ms.get(),
        );
    }

    /// Centre the view on `ms` if it is outside the middle 90 %.
    pub fn follow(&self, ms: i64) {
        let imp = self.imp();
        let (s, span) = (imp.start_ms.get(), imp.span_ms.get());
        let t = ms as f64;
        if t < s + span * 0.05 || t > s + span * 0.95 {
            self.set_view(t - span * 0.3, span);
        }
    }

    pub fn set_runs(&self, runs: Vec<(i64, i64)>) {
        self.imp().runs.replace(runs);
        self.queue_draw();
    }

    pub fn runs(&self) -> Vec<(i64, i64)> {
        self.imp().runs.borrow().clone()
    }

    pub fn set_markers(&self, markers: Vec<Marker>) {
        self.imp().markers.replace(markers);
        self.queue_draw();
    }

    pub fn set_playhead(&self, ms: Option<i64>) {
        if self.imp().playhead.replace(ms) != ms {
            self.queue_draw();
        }
    }

    pub fn selection(&self) -> Option<(i64, i64)> {
        self.imp().selection.get()
    }

    pub fn set_selection(&self, sel: Option<(i64, i64)>) {
        let imp = self.imp();
        imp.selection.set(sel);
        if let Some(f) = imp.on_select.borrow().as_ref() {
            f(sel);
        }
        self.queue_draw();
    }

    pub fn connect_seek(&self, f: impl Fn(i64) + 'static) {
        self.imp().on_seek.replace(Some(Box::new(f)));
    }

    pub fn connect_selection(&self, f: impl Fn(Option<(i64, i64)>) + 'static) {
        self.imp().on_select.replace(Some(Box::new(f)));
    }

    pub fn connect_view(&self, f: impl Fn(i64, i64) + 'static) {
        self.imp().on_view.replace(Some(Box::new(f)));
    }

    pub fn connect_hover_marker(&self, f: impl Fn(&Marker) + 'static) {
        self.imp().on_hover_marker.replace(Some(Box::new(f)));
    }

    /// The snapshot to show in the tooltip of marker `id`.
    pub fn set_hover_image(&self, id: uuid::Uuid, texture: gdk::Texture) {
        self.imp().hover_image.replace(Some((id, texture)));
        self.trigger_tooltip_query();
    }

    /// Unix ms under x (widget coordinates).
    pub fn time_at(&self, x: f64) -> i64 {
        let imp = self.imp();
        let w = f64::from(self.width().max(1));
        (imp.start_ms.get() + x / w * imp.span_ms.get()) as i64
    }

    fn x_of(&self, ms: i64) -> f64 {
        let imp = self.imp();
        let w = f64::from(self.width().max(1));
        (ms as f64 - imp.start_ms.get()) / imp.span_ms.get() * w
    }

    fn emit_seek(&self, ms: i64) {
        if let Some(f) = self.imp().on_seek.borrow().as_ref() {
            f(ms);
        }
    }

    /// The marker within 6 px of `x` on the track at height `y`: the snapshots below the
    /// recordings, the events above them.
    fn marker_near(&self, x: f64, y: f64) -> Option<Marker> {
        let snapshots = y > f64::from(self.height()) * draw::SNAPSHOT_TRACK;
        self.imp()
            .markers
            .borrow()
            .iter()
            .filter(|m| (m.kind == MarkerKind::Snapshot) == snapshots)
            .map(|m| ((self.x_of(m.start_ms) - x).abs(), m))
            .filter(|(d, _)| *d <= 6.0)
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, m)| m.clone())
    }

    fn setup_input(&self) {
        let drag = gtk::GestureDrag::new();
        drag.set_button(gdk::BUTTON_PRIMARY);
        drag.connect_drag_begin(glib::clone!(
            #[weak(rename_to = ruler)]
            self,
            move |g, x, _| {
                let imp = ruler.imp();
                let shift = g
                    .current_event_state()
                    .contains(gdk::ModifierType::SHIFT_MASK);
                imp.drag_x.set(x);
                imp.drag.set(Some(if shift {
                    Drag::Select(ruler.time_at(x))
                } else {
                    Drag::Scrub
                }));
                ruler.grab_focus();
            }
        ));
        drag.connect_drag_update(glib::clone!(
            #[weak(rename_to = ruler)]
            self,
            move |_, dx, _| {
                let imp = ruler.imp();
                if dx.abs() < CLICK_SLOP {
                    return;
                }
                let t = ruler.time_at(imp.drag_x.get() + dx);
                match imp.drag.get() {
                    Some(Drag::Scrub) => imp.scrub.set(Some(t)),
                    Some(Drag::Select(a)) => imp.selection.set(Some((a.min(t), a.max(t)))),
                    None => {}
                }
                ruler.queue_draw();
            }
        ));
        drag.connect_drag_end(glib::clone!(
            #[weak(rename_to = ruler)]
            self,
            move |_, dx, _| {
                let imp = ruler.imp();
                let t = ruler.time_at(imp.drag_x.get() + dx);
                imp.scrub.set(None);
                match imp.drag.take() {
                    Some(Drag::Select(a)) if dx.abs() >= CLICK_SLOP => {
                        ruler.set_selection(Some((a.min(t), a.max(t))));
                    }
                    Some(_) => ruler.emit_seek(t),
                    None => {}
                }
                ruler.queue_draw();
            }
        ));
        self.add_controller(drag);

        let scroll = gtk::EventControllerScroll::new(gtk::EventControllerScrollFlags::BOTH_AXES);
        scroll.connect_scroll(glib::clone!(
            #[weak(rename_to = ruler)]
            self,
            #[upgrade_or]
            glib::Propagation::Proceed,
            move |c, dx, dy| {
                let shift = c
                    .current_event_state()
                    .contains(gdk::ModifierType::SHIFT_MASK);
                if shift || dx.abs() > dy.abs() {
                    ruler.pan(if shift { dy } else { dx } * 0.1);
                } else {
                    ruler.zoom(1.25f64.powf(dy), ruler.imp().hover_x.get());
                }
                glib::Propagation::Stop
            }
        ));
        self.add_controller(scroll);

        let motion = gtk::EventControllerMotion::new();
        motion.connect_motion(glib::clone!(
            #[weak(rename_to = ruler)]
            self,
            move |_, x, _| ruler.imp().hover_x.set(Some(x))
        ));
        motion.connect_leave(glib::clone!(
            #[weak(rename_to = ruler)]
            self,
            move |_| ruler.imp().hover_x.set(None)
        ));
        self.add_controller(motion);

        self.connect_query_tooltip(|ruler, x, y, _, tooltip| {
            let (x, y) = (f64::from(x), f64::from(y));
            let imp = ruler.imp();
            let t = ruler.time_at(x);
            let secs = imp.span_ms.get() <= 3_600_000.0;
            let mut text = format_time(t, secs, false);
            if let Some(m) = ruler.marker_near(x, y) {
                text = format!("{} · {}", m.label, format_time(m.start_ms, true, false));
                let image = imp
                    .hover_image
                    .borrow()
                    .as_ref()
                    .filter(|(id, _)| *id == m.id)
                    .map(|(_, t)| t.clone());
                match image {
                    Some(texture) => {
                        crate::gui::test_hooks::report(
                            "timeline-hover",
                            &serde_json::json!({
                                "marker": m.id, "label": text,
                                "image": [texture.width(), texture.height()],
                            }),
                        );
                        let b = gtk::Box::new(gtk::Orientation::Vertical, 4);
                        let pic = gtk::Picture::for_paintable(&texture);
                        pic.set_size_request(240, 135);
                        b.append(&pic);
                        b.append(&gtk::Label::new(Some(&text)));
                        tooltip.set_custom(Some(&b));
                        return true;
                    }
                    None => {
                        if let Some(f) = imp.on_hover_marker.borrow().as_ref() {
                            f(&m);
                        }
                    }
                }
            }
            tooltip.set_text(Some(&text));
            true
        });

        let keys = gtk::EventControllerKey::new();
        keys.connect_key_pressed(glib::clone!(
            #[weak(rename_to = ruler)]
            self,
            #[upgrade_or]
            glib::Propagation::Proceed,
            move |_, key, _, _| {
                match key {
                    gdk::Key::plus | gdk::Key::equal | gdk::Key::KP_Add => ruler.zoom(0.5, None),
                    gdk::Key::minus | gdk::Key::KP_Subtract => ruler.zoom(2.0, None),
                    gdk::Key::Left => ruler.pan(-0.2),
                    gdk::Key::Right => ruler.pan(0.2),
                    gdk::Key::Escape => ruler.set_selection(None),
                    _ => return glib::Propagation::Proceed,
                }
                glib::Propagation::Stop
            }
        ));
        self.add_controller(keys);
        self.update_property(&[gtk::accessible::Property::Label(&gettext(
            "Timeline of recordings",
        ))]);
    }
}
