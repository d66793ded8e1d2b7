//! The PipeWire video sources this machine has, as GStreamer's PipeWire device provider
//! (`pipewiredeviceprovider`, from `gstreamer1.0-pipewire`) sees them.
//!
//! A PipeWire camera is a node (`media.class = Video/Source`) published by the session
//! manager (WirePlumber's V4L2 or libcamera monitor) or by any other program. A node is
//! named by its `node.name` — stable across restarts of the program that publishes it —
//! and by its `object.serial`, which is new every time the node appears. `--source
//! pipewire:<selector>` takes either; `pipewiresrc target-object=` takes the same, so the
//! selector goes to the element unchanged and the picker's choice is reproducible.

use std::path::PathBuf;

use gstreamer as gst;
use gstreamer::prelude::*;

/// One PipeWire video source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipeWireNode {
    /// `node.name`: what `--source pipewire:` is given by default.
    pub name: String,
    /// `object.serial`: unique while the node exists, new when it comes back.
    pub serial: Option<String>,
    /// What people read (`node.description`, else the name).
    pub description: String,
}

impl PipeWireNode {
    /// Whether `selector` (a node name or an object serial) names this node.
    pub fn matches(&self, selector: &str) -> bool {
        self.name == selector || self.serial.as_deref() == Some(selector)
    }

    /// The node a PipeWire [`gst::Device`] stands for (`None` for other providers' devices).
    pub fn from_device(device: &gst::Device) -> Option<Self> {
        let props = device.properties()?;
        let name = props.get::<String>("node.name").ok()?;
        // The V4L2 provider's devices carry no `node.name`; only PipeWire nodes do.
        let serial = props
            .get::<String>("object.serial")
            .ok()
            .or_else(|| {
                props
                    .get::<u64>("object.serial")
                    .ok()
                    .map(|s| s.to_string())
            })
            .or_else(|| {
                props
                    .get::<i32>("object.serial")
                    .ok()
                    .map(|s| s.to_string())
            });
        let description = props
            .get::<String>("node.description")
            .unwrap_or_else(|_| device.display_name().to_string());
        Some(Self {
            name,
            serial,
            description,
        })
    }
}

/// The socket of the PipeWire daemon this process would talk to: `PIPEWIRE_REMOTE` (a
/// name or a path) in `PIPEWIRE_RUNTIME_DIR`, else in `XDG_RUNTIME_DIR`, `pipewire-0` by
/// default — the rules of `pw_context_connect`.
pub fn daemon_socket() -> Option<PathBuf> {
    let remote = std::env::var("PIPEWIRE_REMOTE").unwrap_or_else(|_| "pipewire-0".into());
    if remote.starts_with('/') {
        return Some(PathBuf::from(remote));
    }
    let dir =
        std::env::var_os("PIPEWIRE_RUNTIME_DIR").or_else(|| std::env::var_os("XDG_RUNTIME_DIR"))?;
    Some(PathBuf::from(dir).join(remote))
}

/// Whether a PipeWire daemon is there and GStreamer can read from it.
pub fn available() -> bool {
    gst::ElementFactory::find("pipewiresrc").is_some()
        && daemon_socket().is_some_and(|p| p.exists())
}

/// The PipeWire video sources there are now (empty without PipeWire). Asks the daemon
/// once (a round trip, a few milliseconds).
pub fn video_sources() -> Vec<PipeWireNode> {
    if !available() {
        return Vec::new();
    }
    let Some(provider) = gst::DeviceProviderFactory::by_name("pipewiredeviceprovider") else {
        return Vec::new();
    };
    provider
        .devices()
        .into_iter()
        .filter(|d| d.has_classes("Video/Source"))
        .filter_map(|d| PipeWireNode::from_device(&d))
        .collect()
}

/// Whether the node `selector` names (any video source for `None`) is there now.
pub fn present(selector: Option<&str>) -> bool {
    let nodes = video_sources();
    match selector {
        Some(sel) => nodes.iter().any(|n| n.matches(sel)),
        None => !nodes.is_empty(),
    }
}

/// A `pipewiresrc` for `selector` (the session manager's default camera for `None`).
///
/// The stream says it wants video from a camera: WirePlumber links a stream only to a
/// node of its media type, and `pipewiresrc` alone announces none.
pub fn element(selector: Option<&str>) -> Result<gst::Element, glib::BoolError> {
    let src = gst::ElementFactory::make("pipewiresrc").build()?;
    if let Some(sel) = selector {
        src.set_property("target-object", sel);
    }
    let props = gst::Structure::builder("props")
        .field("media.type", "Video")
        .field("media.category", "Capture")
        .field("media.role", "Camera")
        .build();
    src.set_property("stream-properties", props);
    src.set_property("client-name", "Eyrie camera");
    Ok(src)
}
