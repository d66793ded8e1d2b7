//! What both ends of an Eyrie live session share, so that neither the camera nor the viewer
//! depends on the other: the `webrtcbin` set-up and SDP helpers ([`rtc`]), the reconnecting
//! MQTT link used for signalling ([`mqtt_link`]) and the pixel clock that test-pattern frames
//! carry ([`pixel_clock`]), and trusting the cloud a link pins ([`trust`]).

pub mod drop_log;
pub mod mqtt_link;
pub mod pixel_clock;
pub mod rtc;
pub mod trust;
