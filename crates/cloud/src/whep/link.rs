//! The relay's broker connection: how it logs in (the embedded broker's front credential,
//! or a viewer login on an external broker), the subscription, and a `bye` that is out
//! before the connection closes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use eyrie_protocol::clock::unix_ms;
use eyrie_protocol::signalling::topics;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, TlsConfiguration, Transport};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::relay::Refusal;
use crate::state::AppState;

/// How the relay reaches the broker.
#[derive(Clone)]
pub enum BrokerAccess {
    /// The embedded rumqttd behind the front, on loopback, with the front's credential.
    Embedded {
        addr: SocketAddr,
        user: String,
        secret: Arc<str>,
    },
    /// An external broker, logged in to as the owner's viewer.
    External { host: String, port: u16, tls: bool },
}

/// What the relay's broker connection reports.
pub(super) enum LinkMsg {
    /// Connected and subscribed.
    Ready,
    Message(String, Bytes),
    Down(String),
}

/// One broker connection; dropping it disconnects.
pub(super) struct Link {
    client: AsyncClient,
    pub(super) rx: mpsc::UnboundedReceiver<LinkMsg>,
    task: tokio::task::JoinHandle<()>,
    /// QoS 1 publishes queued, and acknowledged by the broker: a `bye` must be out
    /// before the connection is dropped.
    queued: u64,
    acked: Arc<AtomicU64>,
}

impl Link {
    pub(super) fn publish(
        &mut self,
        topic: &str,
        payload: Vec<u8>,
    ) -> Result<(), rumqttc::ClientError> {
        self.client
            .try_publish(topic, QoS::AtLeastOnce, false, payload)?;
        self.queued += 1;
        Ok(())
    }

    /// Wait (at most 2 s) until the broker acknowledged everything queued, then drop.
    pub(super) async fn flush_and_close(self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while self.acked.load(Ordering::Relaxed) < self.queued
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        let _ = self.client.try_disconnect();
        self.task.abort();
    }
}

pub(super) async fn connect(state: &AppState, owner: Uuid, device: Uuid) -> Result<Link, Refusal> {
    let client_id = format!("eyrie-whep-{}", crate::crypto::random_token(9));
    let mut mo = match &state.whep.broker {
        BrokerAccess::Embedded { addr, user, secret } => {
            let mut mo = MqttOptions::new(client_id, addr.ip().to_string(), addr.port());
            mo.set_credentials(user.clone(), secret.to_string());
            mo
        }
        BrokerAccess::External { host, port, tls } => {
            eyrie_protocol::trust::check_mqtt(host, *tls)
                .map_err(|e| Refusal::Broker(e.to_string()))?;
            let mut mo = MqttOptions::new(client_id, host.clone(), *port);
            if *tls {
                let path = std::env::var_os("SSL_CERT_FILE")
                    .map(std::path::PathBuf::from)
                    .unwrap_or_else(|| "/etc/ssl/certs/ca-certificates.crt".into());
                let ca = std::fs::read(&path)
                    .map_err(|e| Refusal::Broker(format!("{}: {e}", path.display())))?;
                mo.set_transport(Transport::tls_with_config(TlsConfiguration::Simple {
                    ca,
                    alpn: None,
                    client_auth: None,
                }));
            }
            // A broker login for the owner's viewer, as a ticket answer makes one; it
            // lasts as long as a session may.
            let password = crate::crypto::random_token(24);
            let username = format!("viewer-{owner}");
            crate::db::live::add_viewer_login(
                &state.db,
                &crate::crypto::digest(&password),
                &username,
                &owner,
                unix_ms() + super::MAX_LIFETIME.as_millis() as i64 + 60_000,
            )
            .await
            .map_err(|e| Refusal::Broker(e.to_string()))?;
            mo.set_credentials(username, password);
            mo
        }
    };
    mo.set_keep_alive(Duration::from_secs(10));
    mo.set_clean_session(true);
    mo.set_max_packet_size(
        1024 * 1024,
        eyrie_protocol::signalling::MAX_MESSAGE_BYTES + 1024,
    );
    let prefix = crate::routes::live::topic_prefix(&device);
    let viewer = format!("viewer-{owner}");
    let subs = [topics::to_viewer(&prefix, &viewer), topics::status(&prefix)];
    Ok(spawn_link(mo, subs.to_vec()))
}

fn spawn_link(mo: MqttOptions, subs: Vec<String>) -> Link {
    let (client, mut eventloop) = AsyncClient::new(mo, 64);
    let acked = Arc::new(AtomicU64::new(0));
    let acks = acked.clone();
    let (tx, rx) = mpsc::unbounded_channel();
    let c = client.clone();
    let task = tokio::spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    for s in &subs {
                        let _ = c.try_subscribe(s.clone(), QoS::AtLeastOnce);
                    }
                }
                Ok(Event::Incoming(Packet::PubAck(_))) => {
                    acks.fetch_add(1, Ordering::Relaxed);
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    let _ = tx.send(LinkMsg::Ready);
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let _ = tx.send(LinkMsg::Message(p.topic, p.payload));
                }
                Ok(_) => {}
                Err(e) => {
                    if tx.send(LinkMsg::Down(e.to_string())).is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    });
    Link {
        client,
        rx,
        task,
        queued: 0,
        acked,
    }
}
