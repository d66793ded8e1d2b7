//! Eyrie viewer engine without widgets (filled by the "Live preview" issue).

pub mod api;
pub mod live;
pub mod mqtt_link;
pub mod pixel_clock;
pub mod playback;
pub mod rtc;
