//! One MQTT connection that keeps itself up: the signalling link of both the viewer and
//! the camera.
//!
//! rumqttc's event loop must be polled to make progress, and a failed poll means the
//! connection dropped; polling again reconnects. This task polls, and on every
//! (re)connection subscribes again (sessions are clean) and publishes the "connected"
//! messages (the camera's retained `online` presence), so callers never deal with broker
//! restarts: they see [`LinkEvent::Connected`] / [`LinkEvent::Disconnected`] and messages.
//! Back-off between attempts doubles from 200 ms to 5 s (refused logins: see below).
//!
//! Plain MQTT is refused to any host but loopback ([`eyrie_protocol::trust::check_mqtt`]).
//! TLS (`mqtts`, when the connection says `tls`): rustls, trusting only the CA
//! certificates given in [`LinkOptions::tls_ca`] (PEM) — a self-hosted cloud's own CA —
//! or, without one, the system's bundle (`$SSL_CERT_FILE`, else
//! `/etc/ssl/certs/ca-certificates.crt`). The broker's certificate must name the host
//! connected to (DNS name or IP address). A refused certificate is reported as a
//! [`LinkEvent::Disconnected`] whose text starts with [`TLS_REFUSED`], and the link keeps
//! retrying (the broker's certificate may be fixed meanwhile).
//!
//! A login the broker refuses (CONNACK return code 4, bad user name or password, or 5,
//! not authorized; MQTT 3.1.1 §3.2.2.3) is not a dropped network: it is reported as a
//! [`LinkEvent::Disconnected`] whose text starts with [`LOGIN_REFUSED`], logged as such,
//! and retried only slowly (from 5 s, doubling to a minute: the login may be fixed, e.g.
//! a device re-enrolled, but retrying it every few hundred milliseconds would only hammer
//! the broker). Callers that cannot wait — a viewer before its answer — give up on it.

use std::time::Duration;

use bytes::Bytes;
use rumqttc::{
    AsyncClient, ConnectReturnCode, ConnectionError, Event, LastWill, MqttOptions, Packet, QoS,
    TlsConfiguration, Transport,
};
use tokio::sync::mpsc;

use eyrie_protocol::api::MqttConnection;

/// What the link reports.
#[derive(Debug, Clone)]
pub enum LinkEvent {
    /// Connected (again); subscriptions are in place.
    Connected,
    /// The connection dropped; the link is retrying.
    Disconnected(String),
    /// A message on a subscribed topic.
    Message { topic: String, payload: Bytes },
}

/// How to set up the link.
#[derive(Debug, Clone, Default)]
pub struct LinkOptions {
    pub subscriptions: Vec<String>,
    /// Last will: (topic, payload), retained.
    pub will: Option<(String, String)>,
    /// Published (retained) after every connection.
    pub on_connect: Vec<(String, String)>,
    pub keep_alive: Option<Duration>,
    /// CA certificates (PEM) to trust for `mqtts`; `None`: the system's bundle.
    pub tls_ca: Option<Vec<u8>>,
    /// Retained messages under this topic prefix are not handed over but cleared (an
    /// empty retained publish): the camera's inbox, where nothing may stay.
    pub clear_retained: Option<String>,
}

/// The largest packet the link reads. Far above any signalling message (the receiver
/// drops those over 64 KiB), so one oversize message — a broker that does not apply
/// the documented limit, or retained junk — is read and dropped instead of failing the
/// connection, which would reconnect and be sent the same message forever.
pub const MAX_INCOMING_PACKET: usize = 1024 * 1024;

/// Start of the [`LinkEvent::Disconnected`] text when the broker's TLS certificate was
/// refused (unknown CA, wrong name, expired).
pub const TLS_REFUSED: &str = "broker TLS certificate refused";

/// Start of the [`LinkEvent::Disconnected`] text when the broker refused the login
/// (CONNACK return code 4 or 5), followed by the broker's reason.
pub const LOGIN_REFUSED: &str = "broker refused the login";

/// First wait after a refused login; it doubles up to [`REFUSED_BACKOFF_MAX`].
const REFUSED_BACKOFF_MIN: Duration = Duration::from_secs(5);
const REFUSED_BACKOFF_MAX: Duration = Duration::from_secs(60);
const BACKOFF_MIN: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// The [`LOGIN_REFUSED`] text when `e` is the broker refusing the login.
fn login_refusal(e: &ConnectionError) -> Option<String> {
    let ConnectionError::ConnectionRefused(code) = e else {
        return None;
    };
    let reason = match code {
        ConnectReturnCode::BadUserNamePassword => "bad user name or password",
        ConnectReturnCode::NotAuthorized => "not authorized",
        ConnectReturnCode::BadClientId => "client id rejected",
        ConnectReturnCode::RefusedProtocolVersion => "protocol version not accepted",
        ConnectReturnCode::ServiceUnavailable | ConnectReturnCode::Success => return None,
    };
    Some(format!("{LOGIN_REFUSED}: {reason}"))
}

/// A running link. Dropping it stops the task.
pub struct Link {
    pub client: AsyncClient,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Link {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Link {
    /// Publish a message (QoS 1); queued while disconnected.
    pub async fn publish(&self, topic: &str, payload: Vec<u8>) -> Result<(), rumqttc::ClientError> {
        self.client
            .publish(topic, QoS::AtLeastOnce, false, payload)
            .await
    }

    /// Publish without waiting (fails only if the request queue is full).
    pub fn try_publish(&self, topic: &str, payload: Vec<u8>) -> Result<(), rumqttc::ClientError> {
        self.client
            .try_publish(topic, QoS::AtLeastOnce, false, payload)
    }
}

/// Error starting a link.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("MQTT over TLS is not supported by this build")]
    TlsUnsupported,
    #[error("no CA certificates to check the broker with: {0}")]
    NoTrustRoots(String),
    #[error(transparent)]
    Plain(#[from] eyrie_protocol::trust::TrustError),
}

/// MQTT over TLS checked with `ca_pem`, or with the system's CA bundle (`SSL_CERT_FILE`,
/// else Debian's) when none is given. The error says which bundle could not be read.
pub fn tls_transport(ca_pem: Option<&[u8]>) -> Result<Transport, String> {
    let ca = match ca_pem {
        Some(pem) => pem.to_vec(),
        None => {
            let path = std::env::var_os("SSL_CERT_FILE")
                .map(std::path::PathBuf::from)
                .unwrap_or_else(|| "/etc/ssl/certs/ca-certificates.crt".into());
            std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?
        }
    };
    Ok(Transport::tls_with_config(TlsConfiguration::Simple {
        ca,
        alpn: None,
        client_auth: None,
    }))
}

/// Whether a connection error is the broker's certificate being refused.
fn tls_refusal(e: &ConnectionError) -> bool {
    let text = e.to_string();
    matches!(e, ConnectionError::Tls(_))
        && (text.contains("certificate") || text.contains("Certificate"))
}

/// Start a link; events arrive on the returned receiver.
pub fn start(
    conn: &MqttConnection,
    opts: LinkOptions,
) -> Result<(Link, mpsc::UnboundedReceiver<LinkEvent>), LinkError> {
    // Plain MQTT only to loopback: checked before the login leaves this machine.
    eyrie_protocol::trust::check_mqtt(&conn.host, conn.tls)?;
    let mut mo = MqttOptions::new(conn.client_id.clone(), conn.host.clone(), conn.port);
    if conn.tls {
        mo.set_transport(tls_transport(opts.tls_ca.as_deref()).map_err(LinkError::NoTrustRoots)?);
    }
    mo.set_credentials(conn.username.clone(), conn.password.clone());
    mo.set_keep_alive(opts.keep_alive.unwrap_or(Duration::from_secs(10)));
    mo.set_clean_session(true);
    mo.set_max_packet_size(
        MAX_INCOMING_PACKET,
        eyrie_protocol::signalling::MAX_MESSAGE_BYTES + 1024,
    );
    if let Some((topic, payload)) = &opts.will {
        mo.set_last_will(LastWill::new(
            topic,
            payload.clone(),
            QoS::AtLeastOnce,
            true,
        ));
    }
    let (client, mut eventloop) = AsyncClient::new(mo, 256);
    let (tx, rx) = mpsc::unbounded_channel();
    let c = client.clone();
    let task = tokio::spawn(async move {
        let mut backoff = BACKOFF_MIN;
        let mut connected = false;
        // The last refusal reported, so a refusal that repeats is said once.
        let mut refused: Option<String> = None;
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    connected = true;
                    refused = None;
                    backoff = BACKOFF_MIN;
                    for s in &opts.subscriptions {
                        let _ = c.subscribe(s.clone(), QoS::AtLeastOnce).await;
                    }
                    for (t, p) in &opts.on_connect {
                        let _ = c
                            .publish(t.clone(), QoS::AtLeastOnce, true, p.clone())
                            .await;
                    }
                    if tx.send(LinkEvent::Connected).is_err() {
                        break;
                    }
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {}
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if p.retain
                        && let Some(prefix) = &opts.clear_retained
                        && p.topic.starts_with(prefix.as_str())
                    {
                        if !p.payload.is_empty() {
                            tracing::warn!(topic = %p.topic, bytes = p.payload.len(), "retained message dropped and cleared");
                            let _ =
                                c.try_publish(p.topic.clone(), QoS::AtLeastOnce, true, Vec::new());
                        }
                        continue;
                    }
                    if tx
                        .send(LinkEvent::Message {
                            topic: p.topic.clone(),
                            payload: p.payload,
                        })
                        .is_err()
                    {
                        break;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    if let Some(why) = login_refusal(&e) {
                        backoff = backoff.clamp(REFUSED_BACKOFF_MIN, REFUSED_BACKOFF_MAX);
                        tracing::warn!("MQTT: {why}; trying again in {backoff:?}");
                        if refused.as_deref() != Some(why.as_str()) {
                            refused = Some(why.clone());
                            if tx.send(LinkEvent::Disconnected(why)).is_err() {
                                break;
                            }
                        }
                        connected = false;
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(REFUSED_BACKOFF_MAX);
                        continue;
                    }
                    if connected || backoff == BACKOFF_MIN {
                        let why = if tls_refusal(&e) {
                            format!("{TLS_REFUSED}: {e}")
                        } else {
                            e.to_string()
                        };
                        tracing::info!("MQTT link down: {why}; retrying");
                        if tx.send(LinkEvent::Disconnected(why)).is_err() {
                            break;
                        }
                    }
                    connected = false;
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            }
        }
    });
    Ok((Link { client, task }, rx))
}
