//! The embedded MQTT broker for signalling: rumqttd behind a front of our own that
//! enforces the topic rights of `docs/signalling.md` per login.
//!
//! ```text
//!  client ─(TLS)─► front (cloud runtime) ──────────────► rumqttd on 127.0.0.1:<random>
//!                  · CONNECT: login checked (DB),        (own threads and runtimes;
//!                    client id → "<login>|<client id>",   accepts only the front's
//!                    will checked, front's credential     random credential)
//!                  · PUBLISH: topic + retain checked,
//!                    refused → connection closed
//!                  · SUBSCRIBE: each filter checked,
//!                    refused → SUBACK 0x80
//!                  · packets > MAX_PACKET, a viewer over
//!                    its publish budget → closed
//! ```
//!
//! Why a front and not another broker: rumqttd 0.20 checks logins but has no topic ACLs
//! and no hook on publish or subscribe. Writing a whole broker (sessions, QoS 1 retries,
//! retained messages, wills, keep-alive) would be more code to get right than reading
//! four packet types on the way in. The front parses MQTT 3.1.1 framing only
//! ([`packet`]), applies [`acl`] and passes everything else through untouched; rumqttd
//! does the broker's work. Because the front is the only client rumqttd accepts (its
//! listener is on loopback and wants a credential made at start), no connection can
//! skip the checks. MQTT 3.1.1 has no way to refuse a PUBLISH, so a forbidden one ends
//! the connection (clients of ours never send one); a forbidden subscription is
//! answered with the failure code 0x80 and delivers nothing.
//!
//! Viewers' rights follow ownership: `viewer-<user>` writes `eyrie/<device>/in/<itself>`
//! and reads `eyrie/<device>/status` only for devices its user owns (looked up at
//! CONNECT and again when a topic names a device not known yet, at most once a second).
//!
//! A viewer's publishes are also rate-limited (token buckets in [`front`]: 50 messages/s,
//! bursts of 200, 256 KiB/s), so even the owner's own login cannot flood a camera.
//!
//! Size: the largest signalling message is 64 KiB
//! ([`eyrie_protocol::signalling::MAX_MESSAGE_BYTES`]); a packet may carry that plus
//! 512 bytes of topic and header, so it always fits the 64 KiB + 1 KiB both our MQTT
//! clients accept and a camera can never be sent a packet it must refuse (which would
//! make it reconnect and be sent it again). Only devices retain, and only their
//! presence, so retained state is bounded by the number of devices.

mod acl;
pub mod dynsec;
mod front;
mod packet;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::state::AppState;
use crate::tls::Tls;

/// The largest remaining length of a client packet the front accepts.
pub const MAX_PACKET: usize = eyrie_protocol::signalling::MAX_MESSAGE_BYTES + 512;

/// The user name of the front's own login to rumqttd.
const INTERNAL_USER: &str = "eyrie-front";

/// rumqttd, listening on loopback for the front only.
pub struct Inside {
    pub addr: SocketAddr,
    secret: Arc<str>,
}

impl Inside {
    /// How the cloud's own WHEP relay logs in to rumqttd (loopback, the front's credential).
    pub fn relay_access(&self) -> crate::whep::BrokerAccess {
        crate::whep::BrokerAccess::Embedded {
            addr: self.addr,
            user: INTERNAL_USER.to_owned(),
            secret: self.secret.clone(),
        }
    }
}

/// Start rumqttd on a free loopback port, accepting only a credential made now.
pub fn start_inside() -> anyhow::Result<Inside> {
    let addr = std::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?.local_addr()?;
    let secret: Arc<str> = crate::crypto::random_token(32).into();
    let mut config: rumqttd::Config = serde_json::from_value(serde_json::json!({
        "id": 0,
        "router": {
            "id": 0,
            "max_connections": 10010,
            "max_outgoing_packet_count": 200,
            "max_segment_size": 10_485_760,
            "max_segment_count": 10
        },
        "v4": {
            "1": {
                "name": "eyrie-v4",
                "listen": addr.to_string(),
                "next_connection_delay_ms": 1,
                "connections": {
                    "connection_timeout_ms": 60000,
                    "max_payload_size": MAX_PACKET,
                    "max_inflight_count": 100,
                    "dynamic_filters": true
                }
            }
        }
    }))?;
    let want = secret.clone();
    if let Some(server) = config.v4.as_mut().and_then(|v| v.get_mut("1")) {
        server.set_auth_handler(
            move |_client_id: String, username: String, password: String| {
                let ok = username == INTERNAL_USER && password == *want;
                async move { ok }
            },
        );
    }
    std::thread::Builder::new()
        .name("eyrie-mqtt".into())
        .spawn(move || {
            let mut broker = rumqttd::Broker::new(config);
            if let Err(e) = broker.start() {
                tracing::error!("embedded MQTT broker stopped: {e}");
            }
        })?;
    Ok(Inside { addr, secret })
}

/// Serve the broker's public listener: TLS (when on), then the front, for every
/// connection, until the task is dropped.
pub async fn serve(listener: TcpListener, tls: Option<Tls>, state: AppState, inside: Inside) {
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("broker accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let (tls, state, secret) = (tls.clone(), state.clone(), inside.secret.clone());
        let addr = inside.addr;
        tokio::spawn(async move {
            if let Some(io) = crate::tls::accept(tcp, tls.as_ref(), peer).await {
                front::serve(io, peer, state, addr, secret).await;
            }
        });
    }
}
