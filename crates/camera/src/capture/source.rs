//! Where pictures and sound come from.

use std::path::{Path, PathBuf};

use gstreamer as gst;
use gstreamer::prelude::*;

use super::{CaptureError, make, pipewire};

/// The capture source, as given to `--source`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The first that is there: a PipeWire camera, the V4L2 webcam, the test pattern.
    Auto,
    /// A moving test pattern with the capture time burned in, and a 440 Hz tone.
    Test,
    /// A V4L2 webcam (`/dev/video0` when no device is named) and the default microphone.
    V4l2(Option<PathBuf>),
    /// A PipeWire video source — the node of that `node.name` or `object.serial`, else
    /// the session manager's default camera — and the default microphone.
    PipeWire(Option<String>),
}

/// What `--source` takes, for its help and its error.
pub const SOURCE_SYNTAX: &str =
    "auto, test, v4l2, v4l2:/dev/videoN, pipewire or pipewire:<node name or serial>";

impl std::str::FromStr for Source {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => return Ok(Source::Auto),
            "test" => return Ok(Source::Test),
            "v4l2" => return Ok(Source::V4l2(None)),
            "pipewire" => return Ok(Source::PipeWire(None)),
            _ => {}
        }
        if let Some(dev) = s.strip_prefix("v4l2:") {
            if dev.starts_with('/') {
                return Ok(Source::V4l2(Some(PathBuf::from(dev))));
            }
            return Err(format!(
                "v4l2 source {s:?} needs a device path, such as v4l2:/dev/video0"
            ));
        }
        if let Some(node) = s.strip_prefix("pipewire:") {
            let node = node.trim();
            if !node.is_empty() && !node.chars().any(char::is_control) {
                return Ok(Source::PipeWire(Some(node.to_owned())));
            }
            return Err(format!(
                "pipewire source {s:?} needs a node name or serial, such as pipewire:{}",
                "v4l2_input.pci-0000_00_14.0-usb-0_1_1.0"
            ));
        }
        Err(format!("unknown source {s:?}: use {SOURCE_SYNTAX}"))
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Auto => f.write_str("auto"),
            Source::Test => f.write_str("test"),
            Source::V4l2(None) => f.write_str("v4l2"),
            Source::V4l2(Some(dev)) => write!(f, "v4l2:{}", dev.display()),
            Source::PipeWire(None) => f.write_str("pipewire"),
            Source::PipeWire(Some(node)) => write!(f, "pipewire:{node}"),
        }
    }
}

impl Source {
    /// The source to open: `auto` becomes the first camera that is there (PipeWire, then
    /// V4L2, then the test pattern); a V4L2 webcam that is not there, or PipeWire where no
    /// PipeWire daemon runs, falls back the same way. A named PipeWire node that is not
    /// there *yet* is kept: capture waits for it (it may be a program still starting).
    pub fn resolve(self) -> Source {
        self.resolve_with(pipewire::available())
    }

    /// [`Source::resolve`] on a machine where PipeWire is (`has_pipewire`) or is not there.
    fn resolve_with(self, has_pipewire: bool) -> Source {
        match self {
            Source::Auto => {
                let first = has_pipewire
                    .then(pipewire::video_sources)
                    .and_then(|nodes| nodes.into_iter().next());
                if let Some(node) = first {
                    tracing::info!(node = %node.name, "using the PipeWire camera {:?}", node.description);
                    Source::PipeWire(Some(node.name))
                } else {
                    Source::V4l2(None).resolve_with(has_pipewire)
                }
            }
            Source::V4l2(dev) => {
                let dev = dev.unwrap_or_else(|| PathBuf::from("/dev/video0"));
                if Path::new(&dev).exists() {
                    Source::V4l2(Some(dev))
                } else {
                    tracing::warn!(device = %dev.display(), "no webcam found; using the test pattern instead");
                    Source::Test
                }
            }
            Source::PipeWire(node) => {
                if has_pipewire {
                    Source::PipeWire(node)
                } else {
                    tracing::warn!(
                        "no PipeWire daemon (or no GStreamer PipeWire plugin); trying V4L2"
                    );
                    Source::V4l2(None).resolve_with(has_pipewire)
                }
            }
            Source::Test => Source::Test,
        }
    }

    /// A device that may vanish and come back (fed through [`super::feed::DeviceFeed`]).
    pub(super) fn is_device(&self) -> bool {
        matches!(self, Source::V4l2(_) | Source::PipeWire(_))
    }

    /// Only the test pattern carries the burned-in clocks (a webcam picture is left alone).
    pub(super) fn draws_clock(&self) -> bool {
        matches!(self, Source::Test)
    }

    /// The test pattern's element (devices come through the feed).
    pub(super) fn test_pattern() -> Result<gst::Element, CaptureError> {
        let src = make("videotestsrc")?;
        src.set_property("is-live", true);
        src.set_property_from_str("pattern", "ball");
        src.set_property_from_str("motion", "sweep");
        Ok(src)
    }

    pub(super) fn audio_elements(&self) -> Result<Vec<gst::Element>, CaptureError> {
        let src = make("audiotestsrc")?;
        src.set_property("is-live", true);
        src.set_property("volume", 0.2f64);
        src.set_property("freq", 440f64);
        // A webcam source uses the default microphone when there is one, else silence.
        // Only when one is listed: `autoaudiosrc` may otherwise pick a `pipewiresrc` that
        // nothing links, whose start never returns.
        if !matches!(self, Source::Test) {
            if microphone_present()
                && let Ok(mic) = gst::ElementFactory::make("autoaudiosrc").build()
            {
                return Ok(vec![mic]);
            }
            tracing::info!("no microphone found; recording silence");
            src.set_property_from_str("wave", "silence");
        }
        Ok(vec![src])
    }
}

/// The sources there are now, as `--source` values with what they are: PipeWire cameras
/// first, then V4L2 devices, then the test pattern.
pub fn list_sources() -> Vec<String> {
    let mut lines: Vec<String> = pipewire::video_sources()
        .into_iter()
        .map(|n| {
            let serial = n
                .serial
                .map(|s| format!(", serial {s}"))
                .unwrap_or_default();
            format!("pipewire:{}\t{} (PipeWire{serial})", n.name, n.description)
        })
        .collect();
    let mut v4l2: Vec<PathBuf> = std::fs::read_dir("/dev")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("video"))
                })
                .collect()
        })
        .unwrap_or_default();
    v4l2.sort();
    lines.extend(
        v4l2.iter()
            .map(|p| format!("v4l2:{}\tV4L2 device", p.display())),
    );
    lines.push("test\tTest pattern".into());
    lines
}

/// Whether any device provider lists a microphone.
fn microphone_present() -> bool {
    let monitor = gst::DeviceMonitor::new();
    monitor.add_filter(Some("Audio/Source"), None);
    !monitor.devices().is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_source_parses_and_prints_back() {
        for s in [
            "auto",
            "test",
            "v4l2",
            "v4l2:/dev/video2",
            "pipewire",
            "pipewire:eyrie-test-cam",
            "pipewire:57",
        ] {
            let source: Source = s.parse().unwrap();
            assert_eq!(source.to_string(), s);
        }
        assert_eq!(
            "pipewire:57".parse::<Source>(),
            Ok(Source::PipeWire(Some("57".into())))
        );
    }

    #[test]
    fn bad_sources_say_what_is_expected() {
        for (bad, says) in [
            ("webcam", "use auto, test"),
            ("pipewire:", "needs a node name or serial"),
            ("pipewire:  ", "needs a node name or serial"),
            ("pipewire:a\nb", "needs a node name or serial"),
            ("v4l2:", "needs a device path"),
            ("v4l2:video0", "needs a device path"),
            ("PipeWire", "unknown source"),
        ] {
            let e = bad.parse::<Source>().unwrap_err();
            assert!(e.contains(says), "{bad:?}: {e}");
        }
    }

    #[test]
    fn pipewire_is_first_and_waited_for_only_where_a_daemon_runs() {
        let named = Source::PipeWire(Some("cam".into()));
        // A named node not there yet is kept: capture waits for it.
        assert_eq!(named.clone().resolve_with(true), named);
        // No daemon: V4L2, else the test pattern — never a source that cannot work.
        for source in [named, Source::PipeWire(None), Source::Auto] {
            let resolved = source.clone().resolve_with(false);
            assert!(
                matches!(resolved, Source::V4l2(Some(_)) | Source::Test),
                "{source} → {resolved}"
            );
        }
        assert_eq!(Source::Test.resolve_with(true), Source::Test);
    }
}
