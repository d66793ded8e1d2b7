//! The embedded MQTT broker (rumqttd) for signalling, with every login checked.
//!
//! ```text
//!  MQTT client ─► rumqttd (own threads + runtimes) ─ auth handler ─► mpsc ─► cloud runtime
//!                                                   ◄── oneshot(bool) ── check_mqtt_login (DB)
//! ```
//!
//! rumqttd runs its servers on their own threads and runtimes, so the auth handler does not
//! touch the database pool itself: it forwards (user, password) over a channel to a task
//! on the cloud's runtime and awaits the answer. rumqttd checks logins only (no topic
//! ACLs); the end-to-end wall is the signed ticket the camera verifies (`docs/signalling.md`).

use std::net::SocketAddr;

use tokio::sync::{mpsc, oneshot};

use crate::state::AppState;

/// A login to check.
pub struct LoginCheck {
    pub username: String,
    pub password: String,
    pub reply: oneshot::Sender<bool>,
}

/// Start rumqttd on `listen` (port 0: a free port is picked); returns the bound address
/// and the receiver of login checks, to be served by [`serve_logins`].
pub fn start(listen: SocketAddr) -> anyhow::Result<(SocketAddr, mpsc::Receiver<LoginCheck>)> {
    let addr = if listen.port() == 0 {
        let probe = std::net::TcpListener::bind(listen)?;
        probe.local_addr()?
    } else {
        listen
    };
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
                    "max_payload_size": 262_144,
                    "max_inflight_count": 100,
                    "dynamic_filters": true
                }
            }
        }
    }))?;
    let (tx, rx) = mpsc::channel::<LoginCheck>(256);
    if let Some(server) = config.v4.as_mut().and_then(|v| v.get_mut("1")) {
        server.set_auth_handler(
            move |_client_id: String, username: String, password: String| {
                let tx = tx.clone();
                async move {
                    let (reply, answer) = oneshot::channel();
                    if tx
                        .send(LoginCheck {
                            username,
                            password,
                            reply,
                        })
                        .await
                        .is_err()
                    {
                        return false;
                    }
                    answer.await.unwrap_or(false)
                }
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
    Ok((addr, rx))
}

/// Answer the broker's login checks until the broker goes away.
pub async fn serve_logins(state: AppState, mut rx: mpsc::Receiver<LoginCheck>) {
    while let Some(check) = rx.recv().await {
        let ok =
            crate::routes::live::check_mqtt_login(&state, &check.username, &check.password).await;
        if !ok {
            tracing::info!(username = %check.username, "MQTT login refused");
        }
        let _ = check.reply.send(ok);
    }
}
