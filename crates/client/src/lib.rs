//! Eyrie viewer engine without widgets (filled by the "Live preview" issue).

pub mod api;
pub mod live;
pub mod playback;
pub mod snapshot;

// Shared with the camera; re-exported so viewer code keeps its paths.
pub use eyrie_rtc::{mqtt_link, pixel_clock, rtc};
