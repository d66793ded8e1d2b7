//! The local preview of camera mode.
//!
//! Before the camera runs (choosing a webcam, pairing), the preview opens the chosen
//! device directly. Once the camera runs, the capture pipeline owns the webcam, so the
//! preview decodes the camera's own sub stream out of its ring instead: what the preview
//! shows is then exactly what viewers get — including the privacy card when privacy mode
//! is on.
//!
//! ```text
//!  device:  v4l2src / pipewiresrc / videotestsrc ! videoconvert ! gtk4paintablesink
//!  ring:    [reader thread: rings.sub] ─► appsrc (H.264 AU) ! h264parse ! avdec_h264
//!                                          ! videoconvert ! gtk4paintablesink
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use eyrie_camera::capture::Rings;
use eyrie_camera::ring::{ReadError, StartAt};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gtk::gdk;

/// A running preview; [`Preview::stop`] (or drop) ends it.
pub struct Preview {
    pipeline: gst::Pipeline,
    stop: Arc<AtomicBool>,
}

impl Preview {
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

impl Drop for Preview {
    fn drop(&mut self) {
        self.stop();
    }
}

fn make(name: &str) -> anyhow::Result<gst::Element> {
    Ok(gst::ElementFactory::make(name).build()?)
}

fn sink() -> anyhow::Result<(gst::Element, gdk::Paintable)> {
    let sink = make("gtk4paintablesink")?;
    let paintable = sink.property::<gdk::Paintable>("paintable");
    Ok((sink, paintable))
}

/// Preview straight from a device (`None`: the test pattern).
pub fn from_device(device: Option<&gst::Device>) -> anyhow::Result<(Preview, gdk::Paintable)> {
    let pipeline = gst::Pipeline::with_name("eyrie-camera-preview");
    let src = match device {
        // A PipeWire camera through our own `pipewiresrc`: the one the device makes says
        // no media type, and WirePlumber links such a stream to nothing.
        Some(device) => match eyrie_camera::capture::pipewire::PipeWireNode::from_device(device) {
            Some(node) => eyrie_camera::capture::pipewire::element(Some(&node.name))?,
            None => device.create_element(None)?,
        },
        None => {
            let src = make("videotestsrc")?;
            src.set_property("is-live", true);
            src
        }
    };
    let convert = make("videoconvert")?;
    let (sink, paintable) = sink()?;
    pipeline.add_many([&src, &convert, &sink])?;
    gst::Element::link_many([&src, &convert, &sink])?;
    pipeline.set_state(gst::State::Playing)?;
    let stop = Arc::new(AtomicBool::new(false));
    Ok((Preview { pipeline, stop }, paintable))
}

/// Preview of the running camera's sub stream.
pub fn from_rings(rings: &Rings) -> anyhow::Result<(Preview, gdk::Paintable)> {
    let pipeline = gst::Pipeline::with_name("eyrie-camera-preview");
    let src = gst_app::AppSrc::builder()
        .caps(
            &gst::Caps::builder("video/x-h264")
                .field("stream-format", "byte-stream")
                .field("alignment", "au")
                .build(),
        )
        .is_live(true)
        .do_timestamp(true)
        .format(gst::Format::Time)
        .build();
    let parse = make("h264parse")?;
    let decode = make("avdec_h264")?;
    let convert = make("videoconvert")?;
    let (sink, paintable) = sink()?;
    sink.set_property("sync", false);
    pipeline.add_many([src.upcast_ref(), &parse, &decode, &convert, &sink])?;
    gst::Element::link_many([src.upcast_ref(), &parse, &decode, &convert, &sink])?;
    pipeline.set_state(gst::State::Playing)?;

    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let mut reader = rings.sub.reader(StartAt::NewestKeyframe);
    std::thread::Builder::new()
        .name("eyrie-preview".into())
        .spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                match reader.next_blocking(Duration::from_millis(500)) {
                    Ok(frame) => {
                        let buffer = gst::Buffer::from_slice(frame.data);
                        if src.push_buffer(buffer).is_err() {
                            break;
                        }
                    }
                    Err(ReadError::Timeout) => {}
                    Err(_) => break,
                }
            }
        })?;
    Ok((Preview { pipeline, stop }, paintable))
}
