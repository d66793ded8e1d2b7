//! Sound for the live view: the camera's audio out of the speakers, and the microphone
//! for talk with its level measured on the way.
//!
//! ```text
//!  camera audio ─► volume (mute) ─► autoaudiosink
//!  autoaudiosrc | audiotestsrc ─► audioconvert ─► S16LE ─► [probe: peak level] ─► (engine: opusenc … valve)
//! ```
//!
//! Without a working sound output (a headless test machine) the camera's audio is simply
//! not played. `EYRIE_TALK_SOURCE=test` talks with a 440 Hz tone instead of the microphone
//! (tests and the demo on machines without one).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use gstreamer as gst;
use gstreamer::prelude::*;

use super::engine::LiveEvent;

/// A sink bin for the camera's audio and its volume element, or `None` without a sound
/// output.
pub fn output() -> (Option<gst::Element>, Option<gst::Element>) {
    let make = || -> Result<(gst::Element, gst::Element), anyhow::Error> {
        if !have_sound_server() {
            anyhow::bail!("no sound card or sound server");
        }
        let out = gst::ElementFactory::make("autoaudiosink").build()?;
        if out.set_state(gst::State::Ready).is_err() {
            let _ = out.set_state(gst::State::Null);
            anyhow::bail!("no sound output");
        }
        let _ = out.set_state(gst::State::Null);
        let bin = gst::Bin::with_name("eyrie-audio-out");
        let convert = gst::ElementFactory::make("audioconvert").build()?;
        let volume = gst::ElementFactory::make("volume").build()?;
        bin.add_many([&convert, &volume, &out])?;
        gst::Element::link_many([&convert, &volume, &out])?;
        let pad = convert
            .static_pad("sink")
            .ok_or_else(|| anyhow::anyhow!("no sink pad"))?;
        bin.add_pad(&gst::GhostPad::with_target(&pad)?)?;
        Ok((bin.upcast(), volume))
    };
    match make() {
        Ok((bin, volume)) => (Some(bin), Some(volume)),
        Err(e) => {
            tracing::info!("camera audio will not be played: {e}");
            (None, None)
        }
    }
}

/// The talk source bin; reports the microphone's peak level (0–1) while `talking`.
pub fn talk_source(
    talking: Arc<AtomicBool>,
    events: async_channel::Sender<LiveEvent>,
) -> Option<gst::Element> {
    let make = || -> Result<gst::Element, anyhow::Error> {
        let test = std::env::var("EYRIE_TALK_SOURCE").is_ok_and(|v| v == "test");
        if !test && !have_sound_server() {
            anyhow::bail!("no sound card or sound server");
        }
        let src = if test {
            gst::ElementFactory::make("audiotestsrc")
                .property("is-live", true)
                .property("freq", 440.0f64)
                .build()?
        } else {
            gst::ElementFactory::make("autoaudiosrc").build()?
        };
        let convert = gst::ElementFactory::make("audioconvert").build()?;
        let caps = gst::ElementFactory::make("capsfilter")
            .property(
                "caps",
                gst::Caps::builder("audio/x-raw")
                    .field("format", "S16LE")
                    .build(),
            )
            .build()?;
        let bin = gst::Bin::with_name("eyrie-talk-source");
        bin.add_many([&src, &convert, &caps])?;
        gst::Element::link_many([&src, &convert, &caps])?;
        let pad = caps
            .static_pad("src")
            .ok_or_else(|| anyhow::anyhow!("no src pad"))?;
        let last = std::sync::Mutex::new(std::time::Instant::now());
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            let due = last
                .lock()
                .map(|l| l.elapsed() >= std::time::Duration::from_millis(100))
                .unwrap_or(true);
            if !talking.load(Ordering::Relaxed) || !due {
                return gst::PadProbeReturn::Ok;
            }
            if let Some(buffer) = info.buffer()
                && let Ok(map) = buffer.map_readable()
            {
                let peak = map
                    .chunks_exact(2)
                    .map(|s| i16::from_le_bytes([s[0], s[1]]).unsigned_abs())
                    .max()
                    .unwrap_or(0);
                if let Ok(mut l) = last.lock() {
                    *l = std::time::Instant::now();
                }
                let _ = events.try_send(LiveEvent::MicLevel(f64::from(peak) / f64::from(i16::MAX)));
            }
            gst::PadProbeReturn::Ok
        });
        bin.add_pad(&gst::GhostPad::with_target(&pad)?)?;
        Ok(bin.upcast())
    };
    match make() {
        Ok(bin) => Some(bin),
        Err(e) => {
            tracing::info!("no microphone for talk: {e}");
            None
        }
    }
}

/// Whether sound can work here at all (a sound card, or a PulseAudio/PipeWire socket).
fn have_sound_server() -> bool {
    let runtime = std::env::var_os("XDG_RUNTIME_DIR").map(std::path::PathBuf::from);
    std::path::Path::new("/dev/snd").exists()
        || runtime.is_some_and(|d| d.join("pulse/native").exists() || d.join("pipewire-0").exists())
}
