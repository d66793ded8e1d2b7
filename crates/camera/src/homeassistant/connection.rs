//! The connection to the user's broker: its options (TLS, login, last will, packet
//! sizes) and the task that polls it, reconnects, and tells the controller what happened.
//!
//! rumqttc makes progress only while its event loop is polled, and a failed poll means
//! the connection dropped; polling again reconnects. A refused login (CONNACK) is told
//! apart from a dropped network and retried slowly; the two back-offs are separate, and
//! both start again from the bottom after a connection.

use std::time::Duration;

use bytes::Bytes;
use rumqttc::{
    ConnectReturnCode, ConnectionError, Event, EventLoop, LastWill, MqttOptions, Packet, QoS,
};
use tokio::sync::mpsc;

use super::discovery::{self, Topics};
use super::{HomeAssistantError, HomeAssistantSettings};

/// Largest message the camera reads (commands and Home Assistant's status are words).
const MAX_INCOMING: usize = 64 * 1024;
/// Largest message it sends (a JPEG snapshot of the main stream).
const MAX_OUTGOING: usize = 8 * 1024 * 1024;
const BACKOFF_MIN: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
const REFUSED_BACKOFF_MIN: Duration = Duration::from_secs(5);
const REFUSED_BACKOFF_MAX: Duration = Duration::from_secs(60);

/// What the poll task tells the controller.
pub(super) enum Link {
    Up,
    Down(String),
    Refused(String),
    Message {
        topic: String,
        payload: Bytes,
        retain: bool,
    },
}

pub(super) fn options(
    settings: &HomeAssistantSettings,
    topics: &Topics,
    node_id: &str,
) -> Result<MqttOptions, HomeAssistantError> {
    let b = &settings.broker;
    let client_id = format!("{node_id}-{:04x}", rand::random::<u16>());
    let mut mo = MqttOptions::new(client_id, b.host.clone(), b.port);
    if b.tls {
        mo.set_transport(
            eyrie_rtc::mqtt_link::tls_transport(settings.ca_pem.as_deref())
                .map_err(HomeAssistantError::NoTrustRoots)?,
        );
    }
    if let Some(user) = &b.username {
        mo.set_credentials(user.clone(), b.password.clone().unwrap_or_default());
    }
    mo.set_keep_alive(Duration::from_secs(15));
    mo.set_clean_session(true);
    mo.set_max_packet_size(MAX_INCOMING, MAX_OUTGOING);
    mo.set_request_channel_capacity(64);
    mo.set_last_will(LastWill::new(
        topics.availability(),
        discovery::OFFLINE,
        QoS::AtLeastOnce,
        true,
    ));
    Ok(mo)
}

/// The words for a CONNACK refusal (MQTT 3.1.1 §3.2.2.3), when `e` is one.
fn refusal(e: &ConnectionError) -> Option<&'static str> {
    match e {
        ConnectionError::ConnectionRefused(code) => match code {
            ConnectReturnCode::BadUserNamePassword => Some("bad user name or password"),
            // What mosquitto answers a wrong password with (MQTT 3.1.1).
            ConnectReturnCode::NotAuthorized => {
                Some("not authorized (check the user name and password)")
            }
            ConnectReturnCode::BadClientId => Some("client id rejected"),
            ConnectReturnCode::RefusedProtocolVersion => Some("protocol version not accepted"),
            ConnectReturnCode::ServiceUnavailable => Some("service unavailable"),
            ConnectReturnCode::Success => None,
        },
        _ => None,
    }
}

/// Poll `eventloop` until the controller goes away or a disconnect it asked for has
/// left; what happens arrives on the returned channel.
pub(super) fn poll(
    mut eventloop: EventLoop,
) -> (tokio::task::JoinHandle<()>, mpsc::UnboundedReceiver<Link>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        let mut dropped = BACKOFF_MIN;
        let mut refused = REFUSED_BACKOFF_MIN;
        loop {
            let told = match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    (dropped, refused) = (BACKOFF_MIN, REFUSED_BACKOFF_MIN);
                    tx.send(Link::Up)
                }
                Ok(Event::Incoming(Packet::Publish(p))) => tx.send(Link::Message {
                    topic: p.topic,
                    payload: p.payload,
                    retain: p.retain,
                }),
                Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => {
                    // Asked by stop(): let the DISCONNECT leave, then end.
                    let _ =
                        tokio::time::timeout(Duration::from_millis(200), eventloop.poll()).await;
                    break;
                }
                Ok(_) => Ok(()),
                Err(e) => {
                    let (link, wait) = match refusal(&e) {
                        Some(reason) => {
                            let wait = refused;
                            refused = (refused * 2).min(REFUSED_BACKOFF_MAX);
                            (Link::Refused(reason.to_owned()), wait)
                        }
                        None => {
                            let wait = dropped;
                            dropped = (dropped * 2).min(BACKOFF_MAX);
                            (Link::Down(e.to_string()), wait)
                        }
                    };
                    let told = tx.send(link);
                    tokio::time::sleep(wait).await;
                    told
                }
            };
            if told.is_err() {
                break;
            }
        }
    });
    (task, rx)
}
