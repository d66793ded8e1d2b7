//! The video sink, and reading back what is on screen.
//!
//! `gtk4paintablesink` hands decoded frames to a `GdkPaintable` shown by the view's
//! `GtkPicture`. Every new frame invalidates the paintable's contents; the first one tells
//! the stream ([`super::stream`]) that video is playing (whatever the engine thinks), and
//! for tests and the benchmark the first frames are rendered back into a texture and their
//! pixels sampled, so a test sees what a person would see, not merely that a widget exists.
//! Snapshots use the same read-back.

use std::cell::Cell;
use std::rc::Rc;

use adw::prelude::*;
use adw::subclass::prelude::*;
use gtk::{gdk, glib, graphene};

use super::EyrieLiveView;
use crate::gui::test_hooks;

/// For the tests and the benchmark: report the first frames of `paintable` and every
/// 30th after, with their pixels sampled as rendered.
pub fn report_frames(view: &EyrieLiveView, paintable: &gdk::Paintable) {
    if !test_hooks::enabled() {
        return;
    }
    let frames = Rc::new(Cell::new(0u64));
    paintable.connect_invalidate_contents(glib::clone!(
        #[weak]
        view,
        move |paintable| {
            let n = frames.get() + 1;
            frames.set(n);
            if paintable.intrinsic_width() > 0 && (n <= 3 || n.is_multiple_of(30)) {
                report_frame(&view, paintable, n);
            }
        }
    ));
}

/// Render the current frame at its natural size.
pub fn current_frame(view: &EyrieLiveView) -> Option<gdk::Texture> {
    render(view.upcast_ref(), &view.imp().picture.paintable()?)
}

/// Render `paintable` at its natural size with the renderer of `widget`'s window.
pub fn render(widget: &gtk::Widget, paintable: &gdk::Paintable) -> Option<gdk::Texture> {
    let (w, h) = (paintable.intrinsic_width(), paintable.intrinsic_height());
    if w <= 0 || h <= 0 {
        return None;
    }
    let snapshot = gtk::Snapshot::new();
    paintable.snapshot(&snapshot, f64::from(w), f64::from(h));
    let node = snapshot.to_node()?;
    let renderer = widget.native()?.renderer()?;
    Some(renderer.render_texture(
        &node,
        Some(&graphene::Rect::new(0.0, 0.0, w as f32, h as f32)),
    ))
}

/// Pixel statistics of a frame: size, mean brightness, distinct colours on a grid, and a
/// checksum of the grid that changes when the picture changes.
pub fn pixel_stats(texture: &gdk::Texture) -> serde_json::Value {
    let (w, h) = (texture.width() as usize, texture.height() as usize);
    let stride = w * 4;
    let mut data = vec![0u8; stride * h];
    texture.download(&mut data, stride);
    let mut sum = 0u64;
    let mut samples = 0u64;
    let mut colours = std::collections::HashSet::new();
    let mut checksum = 0u64;
    for gy in 0..16 {
        for gx in 0..16 {
            let (x, y) = (gx * w / 16 + w / 32, gy * h / 16 + h / 32);
            let i = y * stride + x * 4;
            let Some(px) = data.get(i..i + 4) else {
                continue;
            };
            sum += (u64::from(px[0]) + u64::from(px[1]) + u64::from(px[2])) / 3;
            samples += 1;
            colours.insert([px[0] >> 4, px[1] >> 4, px[2] >> 4]);
            checksum = checksum
                .wrapping_mul(31)
                .wrapping_add(u64::from(u32::from_le_bytes([px[0], px[1], px[2], px[3]])));
        }
    }
    serde_json::json!({
        "width": w,
        "height": h,
        "mean": sum / samples.max(1),
        "colours": colours.len(),
        "checksum": checksum,
    })
}

fn report_frame(view: &EyrieLiveView, paintable: &gdk::Paintable, n: u64) {
    let Some(texture) = current_frame(view) else {
        return;
    };
    let mut data = pixel_stats(&texture);
    let since_start = view
        .stream()
        .started_at()
        .map(|t| t.elapsed().as_secs_f64() * 1000.0);
    data["n"] = n.into();
    data["paintable"] =
        serde_json::json!([paintable.intrinsic_width(), paintable.intrinsic_height()]);
    data["since_start_ms"] = serde_json::json!(since_start);
    test_hooks::report("frame", &data);
}
