//! WHEP (WebRTC-HTTP Egress Protocol; the HTTP rules of RFC 9725 applied to playback):
//! any standard WebRTC player watches a camera with one HTTP `POST`, and the cloud turns
//! that request into the same sealed MQTT signalling (`docs/signalling.md` §7) our own
//! viewer speaks. Media still goes player ↔ camera; the cloud only relays signalling.
//!
//! ```text
//!  player                     cloud (this module)                         camera
//!  POST offer ──► routes::post: owner? limits? ── relay::open ──────────────────┐
//!                  mint ticket (device secret)     MQTT login as viewer-<user>   │
//!                  K = ticket sig, never sent      publish sealed offer ───────► │ ticket, proof,
//!                                                  ◄── sealed answer + proof ─── │ limit
//!                  check P_answer (forged → 502)   ◄── candidates … "" (end) ─── │
//!  ◄── 201 answer SDP (+ camera's candidates), Location, ETag, Link: ice-server
//!  PATCH sdpfrag ─► Session task ── sealed candidate ──────────────────────────► │
//!                   heartbeat every 10 s ─────────────────────────────────────► │
//!  DELETE ───────► bye ────────────────────────────────────────────────────────► │
//!                   ◄── bye / error (ICE failed, no media, privacy) ends it ──── │
//! ```
//!
//! Why the cloud can stand in for the viewer: it issues tickets, so it knows the device
//! secret and can mint one for the caller itself; the camera then checks it exactly as it
//! checks our app's (ticket, `P_offer`, replay, the caller's viewer topic, its session
//! limit). The camera's answer proof is checked here with the ticket key before the
//! answer goes out, so a forged answer never reaches the player. The ticket key never
//! leaves the cloud and the player never needs broker credentials.
//!
//! WHEP has no server → player trickle, so the answer carries the camera's candidates:
//! the relay waits for the camera's end-of-candidates (an empty candidate) or
//! [`CANDIDATE_WAIT`] after the answer, whichever comes first; when the cloud names no
//! STUN/TURN server the camera gathers host candidates only, all within a few
//! milliseconds, so the answer goes as soon as [`CANDIDATE_GAP`] passes without a new
//! one (the camera's webrtcbin does not always say end-of-candidates, and a second of
//! waiting would double the time to first frame). A candidate missing from the answer
//! is mostly repaired by ICE itself: the camera learns the player's address from the
//! player's checks, as a peer-reflexive candidate.
//!
//! A session lives in [`Sessions`] under an opaque id of 128 random bits (distinct from
//! the signalling session id, which the broker sees), owned by one user; every request
//! for it from anyone else answers 404 like an id that never existed. It ends on DELETE,
//! on the camera's `bye` or `error` (ICE/DTLS failure, 20 minutes without media, privacy),
//! or after [`MAX_LIFETIME`]; nothing the player sends keeps it alive, because the
//! camera's own media watchdog notices a player that went away.

mod link;
mod relay;
pub(crate) mod routes;
pub mod sdp;

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::{patch, post};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::state::AppState;

pub use link::BrokerAccess;

/// How long the camera has to answer an offer (its status says online).
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the relay waits for the camera's retained status before calling it offline.
pub const STATUS_WAIT: Duration = Duration::from_secs(2);
/// How long the answer waits for the camera's end-of-candidates.
pub const CANDIDATE_WAIT: Duration = Duration::from_secs(1);
/// Without STUN/TURN servers: the answer goes once no candidate came for this long.
pub const CANDIDATE_GAP: Duration = Duration::from_millis(100);
/// The longest a WHEP session lives; the player then POSTs again.
pub const MAX_LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// `Retry-After` (seconds) for a busy camera.
pub const BUSY_RETRY_SECS: u64 = 5;
/// WHEP sessions one user may hold at once (all cameras).
pub const MAX_SESSIONS_PER_USER: usize = 16;
/// Offers one user may POST per [`POST_WINDOW`].
pub const MAX_POSTS_PER_WINDOW: usize = 20;
pub const POST_WINDOW: Duration = Duration::from_secs(10);
/// Candidate lines one PATCH may carry.
pub const MAX_PATCH_CANDIDATES: usize = 32;
/// Candidate lines one session may relay in all. A browser sends a handful (host, srflx
/// and relay per interface); the relay bypasses the broker front's per-viewer publish
/// limit, so it keeps its own, and every candidate costs the camera connectivity checks
/// (hundreds of junk ones slowed its teardown by seconds on a loaded machine).
pub const MAX_SESSION_CANDIDATES: usize = 64;

/// What a route tells a running session.
#[derive(Debug)]
pub(crate) enum Command {
    /// Trickled candidates: (m-line index, `candidate:…` or `""` for end of candidates).
    Candidates(Vec<(u32, String)>),
    /// DELETE: say `bye` and stop.
    Close,
}

/// One session in the table.
pub(crate) struct Entry {
    pub owner: Uuid,
    pub etag: String,
    /// The offer's media ids in m-line order (a PATCH names m-lines by `a=mid`).
    pub mids: Vec<String>,
    /// The offer's ICE user fragment (a different one in a PATCH is an ICE restart).
    pub ufrag: Option<String>,
    /// Candidate lines relayed so far.
    pub relayed: usize,
    pub commands: mpsc::UnboundedSender<Command>,
}

/// The WHEP part of the cloud's state: the live sessions, the POST budget of each user
/// and how to reach the broker.
pub struct Whep {
    pub(crate) sessions: Mutex<HashMap<String, Entry>>,
    posts: Mutex<HashMap<Uuid, VecDeque<Instant>>>,
    pub(crate) broker: BrokerAccess,
}

impl Whep {
    pub fn new(broker: BrokerAccess) -> Self {
        Self {
            sessions: Mutex::default(),
            posts: Mutex::default(),
            broker,
        }
    }

    /// Open WHEP sessions (all users).
    pub fn session_count(&self) -> usize {
        lock(&self.sessions).len()
    }

    /// Take one POST from `user`'s budget; `Err(seconds)` to wait when it is spent.
    pub(crate) fn take_post(&self, user: Uuid) -> Result<(), u64> {
        let now = Instant::now();
        let mut posts = lock(&self.posts);
        posts.retain(|_, q| q.back().is_some_and(|t| now - *t < POST_WINDOW));
        let q = posts.entry(user).or_default();
        while q.front().is_some_and(|t| now - *t >= POST_WINDOW) {
            q.pop_front();
        }
        if q.len() >= MAX_POSTS_PER_WINDOW {
            let oldest = q.front().copied().unwrap_or(now);
            return Err((POST_WINDOW.saturating_sub(now - oldest)).as_secs().max(1));
        }
        q.push_back(now);
        Ok(())
    }

    pub(crate) fn sessions_of(&self, user: Uuid) -> usize {
        lock(&self.sessions)
            .values()
            .filter(|e| e.owner == user)
            .count()
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The WHEP routes, mounted under `/api/v1`.
///
/// Players in browsers on other origins (a dashboard, a WebRTC card) may call them: the
/// bearer token is no cookie, so any origin may, and the WHEP headers a player reads are
/// exposed (RFC 9725 §4.1: a browser cannot read `Location` or `Link` otherwise).
pub fn router() -> Router<AppState> {
    use axum::http::{HeaderName, Method, header};
    let cors = tower_http::cors::CorsLayer::new()
        .allow_origin(tower_http::cors::Any)
        .allow_methods([Method::POST, Method::PATCH, Method::DELETE, Method::OPTIONS])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
        ])
        .expose_headers([
            header::LOCATION,
            header::LINK,
            header::ETAG,
            header::RETRY_AFTER,
            HeaderName::from_static("server-timing"),
        ])
        .max_age(std::time::Duration::from_secs(3600));
    Router::new()
        .route("/devices/{id}/whep", post(routes::offer))
        .route(
            "/whep/{session}",
            patch(routes::trickle).delete(routes::close),
        )
        .layer(cors)
}
