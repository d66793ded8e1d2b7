//! Topics, all under the device's prefix (`eyrie/<device_id>`).
//!
//! ```text
//!   <prefix>/in/<viewer>    viewer ──► camera   (the camera subscribes to <prefix>/in/+)
//!   <prefix>/out/<viewer>   camera ──► viewer
//!   <prefix>/status         camera ──► everyone (retained "online"/"offline", last will)
//! ```
//!
//! The viewer's name is its MQTT user name and the camera takes it from the topic a
//! message came in on ([`sender`]), never from the message, so broker ACLs decide who may
//! speak as whom.

/// What the camera subscribes to: every viewer's inbox to it.
pub fn device_inbox_filter(prefix: &str) -> String {
    format!("{prefix}/in/+")
}

/// Where viewer `viewer` (its MQTT user name) publishes to the camera.
pub fn to_device(prefix: &str, viewer: &str) -> String {
    format!("{prefix}/in/{viewer}")
}

/// Where the camera publishes to viewer `viewer` (and what that viewer subscribes to).
pub fn to_viewer(prefix: &str, viewer: &str) -> String {
    format!("{prefix}/out/{viewer}")
}

/// The device's retained presence topic: `online` / `offline` (last will).
pub fn status(prefix: &str) -> String {
    format!("{prefix}/status")
}

/// The viewer a message to the camera came from: the last level of `<prefix>/in/<viewer>`.
pub fn sender<'a>(prefix: &str, topic: &'a str) -> Option<&'a str> {
    let rest = topic.strip_prefix(prefix)?.strip_prefix("/in/")?;
    (!rest.is_empty() && !rest.contains(['/', '+', '#'])).then_some(rest)
}
