//! The camera's integration tests, one binary (each test binary links GStreamer and the
//! whole camera; one link instead of six): live sessions against mosquitto and the
//! embedded cloud, the camera node, and the segment writer against ffprobe and decodebin.
//! `common` holds the broker, camera and viewer set-up they share.

#[macro_use]
mod common;

mod homeassistant;
mod interop;
mod live_cloud;
mod live_loopback;
mod live_mosquitto;
mod live_restart;
mod live_tls;
mod login_refused;
mod node;
mod private_signalling;
mod tenants;
mod ts_interop;
