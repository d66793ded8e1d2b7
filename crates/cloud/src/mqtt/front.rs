//! One client connection through the front: log in, bind the client id, then check every
//! PUBLISH and SUBSCRIBE on the way in and pass everything else through both ways.
//!
//! ```text
//!  client ─► read packet (≤ MAX_PACKET) ─► PUBLISH: rights? ─ no ─► close
//!                                        ─► SUBSCRIBE: allowed filters ─► rumqttd
//!                                              (forbidden ones: 0x80 merged into the SUBACK)
//!  client ◄─ SUBACK rewritten / injected ◄─ every packet from rumqttd
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::acl::{Login, Rights, Verdict};
use super::packet::{self, Connect, Packet, Publish, Subscribe};
use super::{INTERNAL_USER, MAX_PACKET};
use crate::state::AppState;

/// A client must send CONNECT this soon after the TCP (and TLS) handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The owned-device set is looked up again at most this often.
const REFRESH_EVERY: Duration = Duration::from_secs(1);

/// What a viewer may publish: a session needs an offer, a few dozen candidates, a
/// heartbeat every 10 s and the odd control, so these leave room for several sessions
/// and still keep a flood from the owner's own login off the camera.
const VIEWER_MSGS_PER_S: f64 = 50.0;
const VIEWER_MSG_BURST: f64 = 200.0;
const VIEWER_BYTES_PER_S: f64 = 256.0 * 1024.0;
const VIEWER_BYTE_BURST: f64 = 1024.0 * 1024.0;

/// Token buckets for a viewer's messages and bytes.
struct Budget {
    msgs: f64,
    bytes: f64,
    at: Instant,
}

impl Budget {
    fn new() -> Budget {
        Budget {
            msgs: VIEWER_MSG_BURST,
            bytes: VIEWER_BYTE_BURST,
            at: Instant::now(),
        }
    }

    /// Take one message of `len` bytes; false when over budget.
    fn spend(&mut self, len: usize) -> bool {
        let dt = self.at.elapsed().as_secs_f64();
        self.at = Instant::now();
        self.msgs = (self.msgs + dt * VIEWER_MSGS_PER_S).min(VIEWER_MSG_BURST);
        self.bytes = (self.bytes + dt * VIEWER_BYTES_PER_S).min(VIEWER_BYTE_BURST);
        let len = len as f64;
        if self.msgs < 1.0 || self.bytes < len {
            return false;
        }
        self.msgs -= 1.0;
        self.bytes -= len;
        true
    }
}

/// The devices `login`'s user owns (none for a device, or if the lookup fails).
async fn owned(state: &AppState, login: Login) -> std::collections::HashSet<uuid::Uuid> {
    match login {
        Login::Device(_) => Default::default(),
        Login::Viewer(u) => crate::db::devices::list_for_owner(&state.db, &u)
            .await
            .map(|rows| rows.into_iter().map(|d| d.id).collect())
            .unwrap_or_default(),
    }
}

/// Rights with a refresh of the owned set when a check names a device not in it (a camera
/// paired after the connection was made).
struct Checker {
    state: AppState,
    rights: Rights,
    refreshed: Instant,
}

impl Checker {
    async fn check(&mut self, verdict: impl Fn(&Rights) -> Verdict) -> bool {
        match verdict(&self.rights) {
            Verdict::Allow => true,
            Verdict::Deny => false,
            Verdict::IfOwned(_) if self.refreshed.elapsed() < REFRESH_EVERY => false,
            Verdict::IfOwned(_) => {
                self.rights.owned = owned(&self.state, self.rights.login).await;
                self.refreshed = Instant::now();
                verdict(&self.rights) == Verdict::Allow
            }
        }
    }
}

async fn send<W: AsyncWrite + Unpin>(w: &mut W, p: &Packet) -> std::io::Result<()> {
    w.write_all(&p.encode()).await?;
    w.flush().await
}

async fn refuse<W: AsyncWrite + Unpin>(w: &mut W, code: u8) {
    let _ = send(w, &packet::connack(code)).await;
}

/// Serve one client connection (already through TLS if any).
pub async fn serve<S>(
    io: S,
    peer: SocketAddr,
    state: AppState,
    inside: SocketAddr,
    secret: Arc<str>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let (mut cr, mut cw) = tokio::io::split(io);
    let connect =
        match tokio::time::timeout(CONNECT_TIMEOUT, packet::read(&mut cr, MAX_PACKET)).await {
            Ok(Ok(Some(p))) if p.kind() == packet::CONNECT => Connect::parse(&p.body),
            _ => None,
        };
    let Some(mut connect) = connect else {
        tracing::debug!(%peer, "MQTT: no valid CONNECT");
        return;
    };
    if connect.protocol != "MQTT" || connect.level != 4 {
        return refuse(&mut cw, packet::REFUSED_PROTOCOL).await;
    }
    let (Some(user), Some(password)) = (connect.username.clone(), connect.password.clone()) else {
        return refuse(&mut cw, packet::REFUSED_NOT_AUTHORIZED).await;
    };
    let password = String::from_utf8(password).unwrap_or_default();
    let login = match Login::parse(&user) {
        Some(l) if crate::routes::live::check_mqtt_login(&state, &user, &password).await => l,
        _ => {
            tracing::info!(%peer, username = %user, "MQTT login refused");
            return refuse(&mut cw, packet::REFUSED_BAD_LOGIN).await;
        }
    };
    let mut checker = Checker {
        rights: Rights {
            login,
            owned: owned(&state, login).await,
        },
        state,
        refreshed: Instant::now(),
    };
    if let Some(w) = &connect.will {
        let (topic, retain, msg) = (w.topic.clone(), w.retain, w.message.clone());
        if !checker.check(|r| r.publish(&topic, retain, &msg)).await {
            tracing::info!(%peer, username = %user, %topic, "MQTT will refused");
            return refuse(&mut cw, packet::REFUSED_NOT_AUTHORIZED).await;
        }
    }
    // The client id lives in the login's own namespace: nobody can take over (and so
    // disconnect) another login's connection by reusing its client id.
    let cid = if connect.client_id.is_empty() {
        crate::crypto::random_token(12)
    } else {
        connect.client_id.clone()
    };
    connect.client_id = format!("{user}|{cid}");
    connect.username = Some(INTERNAL_USER.into());
    connect.password = Some(secret.as_bytes().to_vec());
    let Ok(tcp) = TcpStream::connect(inside).await else {
        tracing::warn!("embedded broker at {inside} does not answer");
        return;
    };
    let _ = tcp.set_nodelay(true);
    let (mut ir, mut iw) = tcp.into_split();
    if send(&mut iw, &connect.encode()).await.is_err() {
        return;
    }

    // SUBACKs to patch: packet id → which of the client's filters were granted.
    let plans: Arc<Mutex<HashMap<u16, Vec<bool>>>> = Arc::default();
    // Everything for the client goes through one queue: rumqttd's packets and the
    // SUBACKs the front answers itself (reads are not cancellable mid-packet, so the
    // reader has a task of its own rather than a select! arm).
    let (to_client, mut queue) = mpsc::channel::<Packet>(64);
    let inject = to_client.clone();
    let down_read = async move {
        // rumqttd sends only what fronts let in; its own limit bounds this.
        while let Ok(Some(p)) = packet::read(&mut ir, 16 * MAX_PACKET).await {
            if to_client.send(p).await.is_err() {
                return;
            }
        }
    };
    let down_plans = plans.clone();
    let down_write = async move {
        while let Some(p) = queue.recv().await {
            let p = match packet::parse_suback(&p).filter(|_| p.kind() == packet::SUBACK) {
                Some((id, codes)) => match down_plans.lock().unwrap().remove(&id) {
                    Some(plan) => {
                        let mut granted = codes.iter();
                        let merged: Vec<u8> = plan
                            .iter()
                            .map(|ok| match ok {
                                true => granted.next().copied().unwrap_or(packet::SUBACK_FAILURE),
                                false => packet::SUBACK_FAILURE,
                            })
                            .collect();
                        packet::suback(id, &merged)
                    }
                    None => p,
                },
                None => p,
            };
            if send(&mut cw, &p).await.is_err() {
                return;
            }
        }
    };
    let name = login.name();
    let mut budget = matches!(login, Login::Viewer(_)).then(Budget::new);
    let up = async move {
        loop {
            let p = match packet::read(&mut cr, MAX_PACKET).await {
                Ok(Some(p)) => p,
                Ok(None) => return,
                Err(e) => {
                    tracing::info!(%peer, login = %name, "MQTT connection closed: {e}");
                    return;
                }
            };
            match p.kind() {
                packet::PUBLISH => {
                    let Some(publish) = Publish::parse(&p) else {
                        return;
                    };
                    let (topic, retain) = (publish.topic.to_owned(), publish.retain);
                    let payload = publish.payload;
                    if let Some(b) = budget.as_mut()
                        && !b.spend(p.body.len())
                    {
                        tracing::info!(%peer, login = %name, "MQTT viewer over its publish budget; connection closed");
                        return;
                    }
                    if !checker.check(|r| r.publish(&topic, retain, payload)).await {
                        tracing::info!(%peer, login = %name, %topic, retain, "MQTT publish refused; connection closed");
                        return;
                    }
                }
                packet::SUBSCRIBE => {
                    let Some(sub) = Subscribe::parse(&p) else {
                        return;
                    };
                    let mut plan = Vec::with_capacity(sub.filters.len());
                    for (f, _) in &sub.filters {
                        let ok = checker.check(|r| r.subscribe(f)).await;
                        if !ok {
                            tracing::info!(%peer, login = %name, filter = %f, "MQTT subscription refused");
                        }
                        plan.push(ok);
                    }
                    if plan.iter().all(|ok| *ok) {
                        // As sent.
                    } else if plan.iter().any(|ok| *ok) {
                        let allowed = Subscribe {
                            packet_id: sub.packet_id,
                            filters: sub
                                .filters
                                .iter()
                                .zip(&plan)
                                .filter(|(_, ok)| **ok)
                                .map(|(f, _)| f.clone())
                                .collect(),
                        };
                        plans.lock().unwrap().insert(sub.packet_id, plan);
                        if send(&mut iw, &allowed.encode()).await.is_err() {
                            return;
                        }
                        continue;
                    } else {
                        let codes = vec![packet::SUBACK_FAILURE; plan.len()];
                        if inject
                            .send(packet::suback(sub.packet_id, &codes))
                            .await
                            .is_err()
                        {
                            return;
                        }
                        continue;
                    }
                }
                // A second CONNECT is a protocol violation (§3.1.0-2).
                packet::CONNECT => return,
                _ => {}
            }
            if send(&mut iw, &p).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        () = up => {}
        () = down_read => {}
        () = down_write => {}
    }
}
