//! The cloud as a viewer: one MQTT connection per WHEP session, speaking sealed
//! signalling (version 2) for the player.
//!
//! ```text
//!  open():  connect ─► SUBACK ─► seal(offer, seq 0) ─► wait: answer ─► check P_answer
//!                                                       │  busy / error / status offline
//!                                                       ▼
//!                                     candidates until "" or CANDIDATE_WAIT ─► Opened
//!  run():   select { PATCH candidates ─► sealed candidate
//!                    DELETE           ─► sealed bye, end
//!                    every 10 s       ─► sealed heartbeat
//!                    camera bye/error ─► end
//!                    MAX_LIFETIME     ─► sealed bye, end }
//! ```
//!
//! Embedded broker: the relay logs in to rumqttd on its loopback port with the front's
//! own credential (it is the cloud's own code, publishing only into
//! `eyrie/<device>/in/viewer-<owner>` of a device the route checked the caller owns), so
//! it needs neither TLS to itself nor a login in the database. External broker: it logs
//! in like any viewer, with a broker login made for the owner (`mqtt_logins`, checked by
//! the broker's auth hook `POST /api/v1/mqtt/auth`), over TLS when the broker wants it.

use std::time::{Duration, Instant};

use eyrie_protocol::clock::unix_ms;
use eyrie_protocol::signalling::{
    self, Control, ErrorCode, Incoming, Offer, Opener, Sealer, Stream, ToCamera, ToViewer, topics,
};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::Command;
use super::link::{Link, LinkMsg, connect};
use crate::state::AppState;

/// Why an offer got no answer for the player.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// The camera is at its session limit.
    Busy { max: u32 },
    /// The camera's status is offline, or it never said it was online.
    Offline,
    /// Online but no answer in time.
    Timeout,
    /// The answer's proof does not check: not the camera's.
    Forged,
    /// The camera refused the offer (`bad_request`, `privacy`, …).
    Camera(ErrorCode, String),
    /// The broker could not be reached or refused the relay.
    Broker(String),
}

/// A session the camera accepted.
pub(crate) struct Opened {
    /// The camera's answer with its candidates.
    pub answer: String,
    /// Time spent waiting for the camera (answer and candidates).
    pub camera_wait: Duration,
    session: Session,
}

struct Session {
    sid: String,
    link: Link,
    in_topic: String,
    sealer: Sealer<ToCamera>,
    opener: Opener<ToViewer>,
}

/// Everything `open` needs.
pub(crate) struct OfferRequest {
    pub owner: Uuid,
    pub device: Uuid,
    /// The device secret (mints the ticket).
    pub secret: Vec<u8>,
    pub sdp: String,
    pub stream: Stream,
    pub talk: bool,
}

/// Send the player's offer as `owner`'s viewer and wait for the camera's checked answer.
pub(crate) async fn open(state: &AppState, req: OfferRequest) -> Result<Opened, Refusal> {
    let exp = eyrie_protocol::clock::unix_secs() as u64 + 60;
    let ticket = eyrie_protocol::ticket::TicketClaims::new(
        req.owner.to_string(),
        req.device.to_string(),
        exp,
    )
    .sign(&req.secret);
    let (head, key) =
        signalling::split_ticket(&ticket).ok_or(Refusal::Broker("ticket shape".into()))?;
    let mut link = connect(state, req.owner, req.device).await?;
    let sid = crate::crypto::random_token(16);
    let prefix = crate::routes::live::topic_prefix(&req.device);
    let viewer = format!("viewer-{}", req.owner);
    let in_topic = topics::to_device(&prefix, &viewer);
    let mut sealer = Sealer::<ToCamera>::new(&key, &sid);
    let mut opener = Opener::<ToViewer>::new(&key, &sid);
    let offer_fp = signalling::sdp_fingerprint(&req.sdp)
        .map(str::to_owned)
        .ok_or(Refusal::Camera(
            ErrorCode::BadRequest,
            "no fingerprint".into(),
        ))?;

    // Connected and subscribed before the offer goes, so no reply can be missed.
    let connect_deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(connect_deadline, link.rx.recv()).await {
            Ok(Some(LinkMsg::Ready)) => break,
            Ok(Some(LinkMsg::Down(e))) => return Err(Refusal::Broker(e)),
            Ok(Some(LinkMsg::Message(..))) => {}
            Ok(None) | Err(_) => return Err(Refusal::Broker("no connection".into())),
        }
    }
    let offer = ToCamera::Offer(Offer {
        session_id: sid.clone(),
        ticket: head.to_owned(),
        ticket_proof: signalling::offer_proof(&key, &sid, &offer_fp),
        sdp: req.sdp.clone(),
        stream: req.stream,
        audio: true,
    });
    let payload = sealer
        .seal(&offer)
        .map_err(|e| Refusal::Camera(ErrorCode::BadRequest, e.to_string()))?;
    let sent = Instant::now();
    link.publish(&in_topic, payload)
        .map_err(|e| Refusal::Broker(e.to_string()))?;

    let deadline = tokio::time::Instant::now() + super::ANSWER_TIMEOUT;
    let status_deadline = tokio::time::Instant::now() + super::STATUS_WAIT;
    let mut online = None;
    let mut answer = None;
    let mut candidates = Vec::new();
    let mut cand_deadline = deadline;
    let mut complete = false;
    let mut last_candidate: Option<tokio::time::Instant> = None;
    // Without STUN/TURN the camera gathers host candidates only, all at once.
    let quiet_gap = crate::routes::live::ice_for(state, &req.owner).0.is_empty();
    loop {
        let until = match (&answer, online) {
            (Some(_), _) => match last_candidate {
                Some(t) if quiet_gap => cand_deadline.min(t + super::CANDIDATE_GAP),
                _ => cand_deadline,
            },
            // A camera that ever connected has a retained status, delivered right after
            // the subscription: none at all means it never came online.
            (None, None) => status_deadline.min(deadline),
            (None, Some(_)) => deadline,
        };
        let msg = match tokio::time::timeout_at(until, link.rx.recv()).await {
            Ok(Some(m)) => m,
            Ok(None) => return Err(Refusal::Broker("connection closed".into())),
            Err(_) if answer.is_some() => break,
            Err(_) if online == Some(true) => {
                // The camera may still answer: tell it not to keep a session for us.
                farewell(link, &mut sealer, &in_topic, &sid, "timeout");
                return Err(Refusal::Timeout);
            }
            Err(_) => return Err(Refusal::Offline),
        };
        let (topic, payload) = match msg {
            LinkMsg::Message(t, p) => (t, p),
            LinkMsg::Ready | LinkMsg::Down(_) => continue,
        };
        if topic.ends_with("/status") {
            online = Some(payload.as_ref() == b"online");
            if online == Some(false) && answer.is_none() {
                return Err(Refusal::Offline);
            }
            continue;
        }
        let m = match signalling::decode_wire::<ToViewer>(&payload) {
            Ok(Incoming::Sealed(b)) if b.session_id == sid => match opener.open(&b) {
                Ok(m) => m,
                Err(e) => {
                    tracing::debug!(session = %sid, "whep: dropped a box: {e}");
                    continue;
                }
            },
            Ok(Incoming::ClearV2(m)) if m.session_id() == sid && answer.is_none() => m,
            _ => continue,
        };
        match m {
            ToViewer::Answer { sdp, proof, .. } if answer.is_none() => {
                let ok = signalling::sdp_fingerprint(&sdp).is_some_and(|fp| {
                    signalling::verify_answer_proof(&key, &sid, fp, &offer_fp, &proof)
                });
                if !ok {
                    farewell(link, &mut sealer, &in_topic, &sid, "forged answer");
                    return Err(Refusal::Forged);
                }
                answer = Some(sdp);
                cand_deadline = tokio::time::Instant::now() + super::CANDIDATE_WAIT;
            }
            ToViewer::Candidate {
                sdp_mline_index,
                candidate,
                ..
            } => {
                if candidate.is_empty() {
                    if answer.is_some() {
                        complete = true;
                        break;
                    }
                } else if candidates.len() < 64 {
                    candidates.push((sdp_mline_index, candidate));
                    last_candidate = Some(tokio::time::Instant::now());
                }
            }
            ToViewer::Busy { max_sessions, .. } => {
                return Err(Refusal::Busy { max: max_sessions });
            }
            ToViewer::Error { code, message, .. } => {
                if code == ErrorCode::Busy {
                    return Err(Refusal::Busy { max: 0 });
                }
                return Err(Refusal::Camera(code, message));
            }
            ToViewer::Bye { reason, .. } => {
                return Err(Refusal::Camera(ErrorCode::Internal, reason));
            }
            ToViewer::Answer { .. } | ToViewer::State { .. } => {}
        }
    }
    let camera_wait = sent.elapsed();
    let Some(answer) = answer else {
        return Err(Refusal::Timeout);
    };
    let mut session = Session {
        sid,
        link,
        in_topic,
        sealer,
        opener,
    };
    if req.talk {
        // A sendrecv audio transceiver is two-way talk: open the camera's speaker now;
        // the player mutes its own track while it is not talking.
        session.send(ToCamera::Control {
            session_id: session.sid.clone(),
            control: Control::Talk { on: true },
        });
    }
    Ok(Opened {
        answer: super::sdp::with_candidates(&answer, &candidates, complete),
        camera_wait,
        session,
    })
}

/// Send `bye` and drop the connection once it has left; the player need not wait.
fn farewell(mut link: Link, sealer: &mut Sealer<ToCamera>, topic: &str, sid: &str, reason: &str) {
    if let Ok(p) = sealer.seal(&ToCamera::Bye {
        session_id: sid.to_owned(),
        reason: reason.into(),
    }) {
        let _ = link.publish(topic, p);
    }
    tokio::spawn(link.flush_and_close());
}

impl Session {
    fn send(&mut self, msg: ToCamera) {
        match self.sealer.seal(&msg) {
            Ok(p) => {
                if let Err(e) = self.link.publish(&self.in_topic, p) {
                    tracing::warn!(session = %self.sid, "whep: signalling send failed: {e}");
                }
            }
            Err(e) => tracing::warn!(session = %self.sid, "whep: cannot seal: {e}"),
        }
    }

    fn bye(&mut self, reason: &str) {
        self.send(ToCamera::Bye {
            session_id: self.sid.clone(),
            reason: reason.into(),
        });
    }

    /// Whether the camera ended the session with this message.
    fn camera_ended(&mut self, payload: &[u8]) -> Option<String> {
        let Ok(Incoming::Sealed(b)) = signalling::decode_wire::<ToViewer>(payload) else {
            return None;
        };
        if b.session_id != self.sid {
            return None;
        }
        match self.opener.open(&b).ok()? {
            ToViewer::Bye { reason, .. } => Some(reason),
            ToViewer::Error { message, .. } => Some(message),
            _ => None,
        }
    }
}

impl Opened {
    /// Keep the session until DELETE, the camera's end, or [`super::MAX_LIFETIME`]; then
    /// take it out of the table.
    pub(crate) async fn run(
        self,
        state: AppState,
        id: String,
        mut commands: mpsc::UnboundedReceiver<Command>,
    ) {
        let mut s = self.session;
        let mut heartbeat =
            tokio::time::interval(Duration::from_secs(signalling::HEARTBEAT_INTERVAL_SECS));
        heartbeat.tick().await;
        let end = tokio::time::sleep(super::MAX_LIFETIME);
        tokio::pin!(end);
        let why = loop {
            tokio::select! {
                c = commands.recv() => match c {
                    Some(Command::Candidates(cs)) => {
                        for (mline, candidate) in cs {
                            s.send(ToCamera::Candidate {
                                session_id: s.sid.clone(),
                                sdp_mline_index: mline,
                                candidate,
                            });
                        }
                    }
                    Some(Command::Close) | None => {
                        s.bye("player closed");
                        break "deleted".to_owned();
                    }
                },
                m = s.link.rx.recv() => match m {
                    Some(LinkMsg::Message(topic, payload)) if !topic.ends_with("/status") => {
                        if let Some(reason) = s.camera_ended(&payload) {
                            break format!("camera ended it: {reason}");
                        }
                    }
                    Some(_) => {}
                    None => break "broker link gone".to_owned(),
                },
                _ = heartbeat.tick() => {
                    s.send(ToCamera::Heartbeat { session_id: s.sid.clone() });
                }
                () = &mut end => {
                    s.bye("session lifetime reached");
                    break "lifetime reached".to_owned();
                }
            }
        };
        super::lock(&state.whep.sessions).remove(&id);
        tracing::info!(session = %s.sid, at = unix_ms(), "whep session ended: {why}");
        // Let the bye leave before the connection drops.
        s.link.flush_and_close().await;
    }
}
