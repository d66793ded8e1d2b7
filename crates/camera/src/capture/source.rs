//! Where pictures and sound come from.

use std::path::{Path, PathBuf};

use gstreamer as gst;
use gstreamer::prelude::*;

use super::{CaptureError, make};

/// The capture source, as given to `--source`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A moving test pattern with the capture time burned in, and a 440 Hz tone.
    Test,
    /// A V4L2 webcam (`/dev/video0` when no device is named) and the default microphone.
    V4l2(Option<PathBuf>),
    /// The PipeWire camera portal / default PipeWire video source and the default microphone.
    PipeWire,
}

impl std::str::FromStr for Source {
    type Err = String;
    /// `test`, `v4l2`, `v4l2:/dev/videoN`, `pipewire`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "test" => Ok(Source::Test),
            "v4l2" => Ok(Source::V4l2(None)),
            "pipewire" => Ok(Source::PipeWire),
            other => match other.strip_prefix("v4l2:") {
                Some(dev) if !dev.is_empty() => Ok(Source::V4l2(Some(PathBuf::from(dev)))),
                _ => Err(format!(
                    "unknown source {other:?}: use test, v4l2, v4l2:/dev/videoN or pipewire"
                )),
            },
        }
    }
}

impl Source {
    /// Fall back to the test pattern when the webcam is not there.
    pub fn resolve(self) -> Source {
        match &self {
            Source::V4l2(dev) => {
                let dev = dev.clone().unwrap_or_else(|| PathBuf::from("/dev/video0"));
                if Path::new(&dev).exists() {
                    Source::V4l2(Some(dev))
                } else {
                    tracing::warn!(device = %dev.display(), "no webcam found; using the test pattern instead");
                    Source::Test
                }
            }
            Source::PipeWire => {
                if gst::ElementFactory::find("pipewiresrc").is_some() {
                    self
                } else {
                    tracing::warn!("no PipeWire source element; using the test pattern instead");
                    Source::Test
                }
            }
            Source::Test => self,
        }
    }

    /// Only the test pattern carries the burned-in clocks (a webcam picture is left alone).
    pub(super) fn draws_clock(&self) -> bool {
        matches!(self, Source::Test)
    }

    pub(super) fn video_elements(&self) -> Result<Vec<gst::Element>, CaptureError> {
        Ok(match self {
            Source::Test => {
                let src = make("videotestsrc")?;
                src.set_property("is-live", true);
                src.set_property_from_str("pattern", "ball");
                src.set_property_from_str("motion", "sweep");
                vec![src]
            }
            Source::V4l2(dev) => {
                let src = make("v4l2src")?;
                if let Some(dev) = dev {
                    src.set_property("device", dev.to_string_lossy().as_ref());
                }
                vec![
                    src,
                    make("videoconvert")?,
                    make("videoscale")?,
                    make("videorate")?,
                ]
            }
            Source::PipeWire => {
                let src = make("pipewiresrc")?;
                vec![
                    src,
                    make("videoconvert")?,
                    make("videoscale")?,
                    make("videorate")?,
                ]
            }
        })
    }

    pub(super) fn audio_elements(&self) -> Result<Vec<gst::Element>, CaptureError> {
        let src = make("audiotestsrc")?;
        src.set_property("is-live", true);
        src.set_property("volume", 0.2f64);
        src.set_property("freq", 440f64);
        // A webcam source uses the default microphone when there is one, else silence.
        if !matches!(self, Source::Test) {
            if let Ok(mic) = gst::ElementFactory::make("autoaudiosrc").build() {
                return Ok(vec![mic]);
            }
            src.set_property_from_str("wave", "silence");
        }
        Ok(vec![src])
    }
}
