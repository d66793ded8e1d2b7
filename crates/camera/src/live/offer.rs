//! Answering an offer: the checks before anything is spent on media (ticket, proof,
//! replay, privacy, the session limit), then the session's `webrtcbin` and the answer
//! with the camera's proof. Part of [`LiveManager`]; see the module above for the order
//! of the checks and why.
//!
//! A version-2 offer ([`LiveManager::sealed_offer`]) is checked in the same order, with
//! its box opened right after the ticket: the ticket gives the key K, and a box that opens
//! under K proves the sender holds the ticket. Refusals up to there go in clear
//! (`error auth_failed`, [`Wire::ClearV2`]); from there on every reply is sealed. The
//! ticket's nonce is recorded as soon as the box opens, whatever the outcome, so a
//! replayed offer is refused in clear and the camera never seals twice under one key
//! with the same sequence number.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_webrtc as gst_webrtc;

use eyrie_protocol::signalling::{
    self, ErrorCode, Offer, Opener, Restart, SealedBox, ToCamera, ToViewer,
};
use eyrie_protocol::ticket::{self, TicketClaims};

use super::{LiveEvent, LiveManager, LiveSession, Outgoing, Shown, Wire, lock_shown, own, session};

impl LiveManager {
    /// Answer a version-1 `offer` from `viewer`, or refuse it with the first check that
    /// fails.
    pub(super) fn offer(&self, viewer: &str, offer: Offer) {
        match self.check_ticket(viewer, &offer.ticket) {
            Ok((key, claims)) => self.accept(viewer, offer, key, claims, Wire::V1, None),
            Err(why) => self.refuse(
                viewer,
                &offer.session_id,
                &Wire::V1,
                ErrorCode::AuthFailed,
                &why,
            ),
        }
    }

    /// Answer a version-2 offer box from `viewer`: the ticket in clear, then the box
    /// under its key, then everything a version-1 offer goes through, answered sealed.
    pub(super) fn sealed_offer(&self, viewer: &str, b: SealedBox) {
        let sid = b.session_id.as_str();
        let head = b.ticket.as_deref().unwrap_or_default();
        let clear =
            |why: &str| self.refuse(viewer, sid, &Wire::ClearV2, ErrorCode::AuthFailed, why);
        let (key, claims) = match self.check_ticket(viewer, head) {
            Ok(k) => k,
            Err(why) => return clear(&why),
        };
        let mut opener = Opener::<ToCamera>::new(&key, sid);
        let offer = match opener.open(&b) {
            Ok(ToCamera::Offer(o)) => o,
            Ok(_) => return clear("offer box holds no offer"),
            Err(e) => return clear(&format!("offer box refused: {e}")),
        };
        // The box proves K. Record the ticket now, so a replay of this offer is refused
        // (in clear) before anything is sealed again with this session's keys.
        {
            let now = now_secs();
            let mut inner = self.lock();
            inner.nonces.retain(|_, exp| *exp > now);
            if inner.nonces.contains_key(&claims.nonce) {
                drop(inner);
                return clear("ticket already used");
            }
            inner.nonces.insert(claims.nonce.clone(), claims.exp);
        }
        let wire = Wire::sealed(&key, sid);
        self.accept(viewer, offer, key, claims, wire, Some(opener));
    }

    /// The ticket whose head an offer carries: the per-ticket key K' and its claims, or
    /// why it is refused (`auth_failed`).
    fn check_ticket(&self, viewer: &str, head: &str) -> Result<(Vec<u8>, TicketClaims), String> {
        let cfg = &self.config;
        let (key, full) = signalling::ticket_key(&cfg.device_secret, head);
        let claims = ticket::verify(&full, &cfg.device_secret, &cfg.device_id, now_secs())
            .map_err(|e| e.to_string())?;
        // The ticket's user must be the viewer the offer came from (the topic's last
        // level, which the broker binds to the login): a ticket copied to another
        // user's login opens nothing.
        if viewer != format!("viewer-{}", claims.user_id) {
            return Err("ticket is for another user".into());
        }
        Ok((key, claims))
    }

    /// Refuse an offer with `error code`. Offers that fail authentication are what a
    /// flood is made of: their log lines are rate-limited with the dropped messages'.
    fn refuse(&self, viewer: &str, session_id: &str, wire: &Wire, code: ErrorCode, message: &str) {
        if code != ErrorCode::AuthFailed || self.lock().drops.allow() {
            tracing::info!(
                session = session_id,
                viewer,
                ?code,
                "offer refused: {message}"
            );
        }
        self.emit(LiveEvent::Refused {
            session_id: session_id.to_owned(),
            code,
        });
        self.reply(
            viewer,
            wire,
            ToViewer::Error {
                session_id: session_id.to_owned(),
                code,
                message: message.to_owned(),
            },
        );
    }

    /// The checks after the ticket (proof, replay, session id, privacy, limit), then the
    /// session. `opener`: a version-2 session's (its nonce is already recorded).
    fn accept(
        &self,
        viewer: &str,
        offer: Offer,
        key: Vec<u8>,
        claims: TicketClaims,
        wire: Wire,
        opener: Option<Opener<ToCamera>>,
    ) {
        let Offer {
            session_id,
            ticket: _,
            ticket_proof,
            sdp,
            stream,
            audio,
        } = offer;
        let session_id = session_id.as_str();
        let refuse = |code: ErrorCode, message: &str| {
            self.refuse(viewer, session_id, &wire, code, message);
        };
        let cfg = &self.config;
        let now = now_secs();
        let Some(offer_fp) = signalling::sdp_fingerprint(&sdp).map(str::to_owned) else {
            return refuse(ErrorCode::BadRequest, "offer has no DTLS fingerprint");
        };
        if !signalling::verify_offer_proof(&key, session_id, &offer_fp, &ticket_proof) {
            return refuse(ErrorCode::AuthFailed, "ticket proof does not match");
        }
        let desc = match eyrie_rtc::rtc::description(gst_webrtc::WebRTCSDPType::Offer, &sdp) {
            Ok(d) => d,
            Err(e) => return refuse(ErrorCode::BadRequest, &e.to_string()),
        };
        let mut inner = self.lock();
        inner.nonces.retain(|_, exp| *exp > now);
        if opener.is_none() && inner.nonces.contains_key(&claims.nonce) {
            drop(inner);
            return refuse(ErrorCode::AuthFailed, "ticket already used");
        }
        if inner.sessions.contains_key(session_id) {
            drop(inner);
            return refuse(ErrorCode::BadRequest, "session id in use");
        }
        let private = match &inner.privacy_source {
            Some(f) => f(),
            None => inner.privacy,
        };
        if private {
            drop(inner);
            return refuse(ErrorCode::Privacy, signalling::PRIVACY_MESSAGE);
        }
        if inner.sessions.len() >= cfg.max_sessions {
            drop(inner);
            tracing::info!(session = session_id, viewer, max = cfg.max_sessions, "busy");
            self.emit(LiveEvent::Refused {
                session_id: session_id.to_owned(),
                code: ErrorCode::Busy,
            });
            return self.reply(
                viewer,
                &wire,
                ToViewer::Busy {
                    session_id: session_id.to_owned(),
                    max_sessions: cfg.max_sessions as u32,
                },
            );
        }
        let (video_pt, audio_pt) = eyrie_rtc::rtc::offered_payloads(desc.sdp());
        let media = match session::build(session::MediaParams {
            session_id,
            video_pt: video_pt.unwrap_or(session::VIDEO_PT),
            audio_pt: audio_pt.unwrap_or(session::AUDIO_PT),
            rings: &self.rings,
            stream,
            audio,
            ice: cfg.ice.current(),
            speaker: &cfg.speaker,
            events: self.events.clone(),
        }) {
            Ok(m) => m,
            Err(e) => {
                drop(inner);
                tracing::error!(session = session_id, "cannot build live session: {e}");
                return refuse(ErrorCode::Internal, "camera failed to start the session");
            }
        };
        // webrtcbin only negotiates once it is out of NULL.
        if media.pipeline.set_state(gst::State::Playing).is_err() {
            drop(inner);
            return refuse(ErrorCode::Internal, "camera failed to start the session");
        }
        let shown = Arc::new(Mutex::new(Shown {
            stream,
            audio,
            talk: false,
        }));
        self.negotiate(
            &media,
            (viewer, &wire),
            session_id,
            (key.clone(), offer_fp),
            desc,
            &shown,
        );
        inner.nonces.insert(claims.nonce, claims.exp);
        inner.sessions.insert(
            session_id.to_owned(),
            LiveSession {
                viewer: viewer.to_owned(),
                media,
                shown,
                last_heard: Instant::now(),
                wire,
                opener,
                key,
                generation: 0,
                failed_since: None,
            },
        );
        let n = inner.sessions.len();
        drop(inner);
        tracing::info!(
            session = session_id,
            viewer,
            ?stream,
            viewers = n,
            "live video start"
        );
        self.emit(LiveEvent::LiveStart {
            session_id: session_id.to_owned(),
            viewer: viewer.to_owned(),
            stream,
        });
        self.emit(LiveEvent::Viewers(n));
    }

    /// A viewer's `restart` of its open session (`docs/signalling.md` §5.1): a fresh
    /// pipeline for the session — `webrtcbin` cannot restart ICE in place — with the
    /// session's stream, sound and talk and the ICE servers current now, answered like an
    /// offer; the old pipeline is freed. The slot, the ticket's key and the wire (its
    /// sequence numbers) stay. A restart that is not this viewer's, repeats an old
    /// generation or has a wrong proof is dropped and changes nothing; one whose SDP
    /// cannot be answered gets `error bad_request` (the viewer ends the session).
    pub(super) fn restart(&self, viewer: &str, restart: Restart, sealed: bool) {
        let Restart {
            session_id,
            generation,
            proof,
            sdp,
        } = restart;
        let sid = session_id.as_str();
        let mut inner = self.lock();
        let Some(s) = own(&mut inner, sid, viewer, sealed) else {
            return;
        };
        let fp = signalling::sdp_fingerprint(&sdp).map(str::to_owned);
        let refused = if generation <= s.generation {
            Some(format!(
                "restart {generation} is not above {} (replayed?)",
                s.generation
            ))
        } else if !fp
            .as_deref()
            .is_some_and(|fp| signalling::verify_restart_proof(&s.key, sid, generation, fp, &proof))
        {
            Some("restart proof does not match".to_owned())
        } else {
            None
        };
        if let Some(why) = refused {
            inner.drops.dropped(viewer, &why);
            return;
        }
        let (key, wire, shown) = (s.key.clone(), s.wire.clone(), s.shown.clone());
        let offer_fp = fp.unwrap_or_default();
        let refuse = |inner: std::sync::MutexGuard<'_, super::Inner>, message: &str| {
            drop(inner);
            tracing::info!(session = sid, viewer, "restart refused: {message}");
            self.reply(
                viewer,
                &wire,
                ToViewer::Error {
                    session_id: sid.to_owned(),
                    code: ErrorCode::BadRequest,
                    message: message.to_owned(),
                },
            );
        };
        let desc = match eyrie_rtc::rtc::description(gst_webrtc::WebRTCSDPType::Offer, &sdp) {
            Ok(d) => d,
            Err(e) => return refuse(inner, &e.to_string()),
        };
        let now = *lock_shown(&shown);
        let (video_pt, audio_pt) = eyrie_rtc::rtc::offered_payloads(desc.sdp());
        let media = match session::build(session::MediaParams {
            session_id: sid,
            video_pt: video_pt.unwrap_or(session::VIDEO_PT),
            audio_pt: audio_pt.unwrap_or(session::AUDIO_PT),
            rings: &self.rings,
            stream: now.stream,
            audio: now.audio,
            ice: self.config.ice.current(),
            speaker: &self.config.speaker,
            events: self.events.clone(),
        }) {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(session = sid, "cannot rebuild live session: {e}");
                return refuse(inner, "camera failed to restart the session");
            }
        };
        media.talk_valve.set_property("drop", !now.talk);
        if media.pipeline.set_state(gst::State::Playing).is_err() {
            return refuse(inner, "camera failed to restart the session");
        }
        self.negotiate(&media, (viewer, &wire), sid, (key, offer_fp), desc, &shown);
        let Some(s) = inner.sessions.get_mut(sid) else {
            return;
        };
        let old = std::mem::replace(&mut s.media, media);
        s.generation = generation;
        s.last_heard = Instant::now();
        s.failed_since = None;
        drop(inner);
        // Frees the old peer connection (its feeder, its pipeline).
        drop(old);
        tracing::info!(session = sid, viewer, generation, "live session restarted");
        self.emit(LiveEvent::Restarted {
            session_id: sid.to_owned(),
            generation,
        });
    }

    /// Apply the offer and send the answer (with its proof, keyed by `key`, binding
    /// `offer_fp`) followed by the session's first `state`.
    fn negotiate(
        &self,
        media: &session::Media,
        (viewer, wire): (&str, &Wire),
        session_id: &str,
        (key, offer_fp): (Vec<u8>, String),
        desc: gst_webrtc::WebRTCSessionDescription,
        shown: &Arc<Mutex<Shown>>,
    ) {
        let webrtc = media.webrtc.clone();
        let out = self.out.clone();
        let (v, sid, w) = (viewer.to_owned(), session_id.to_owned(), wire.clone());
        eyrie_rtc::rtc::on_ice_candidate(&webrtc, move |mline, candidate| {
            let _ = out.send(Outgoing {
                viewer: v.clone(),
                msg: ToViewer::Candidate {
                    session_id: sid.clone(),
                    sdp_mline_index: mline,
                    candidate,
                },
                wire: w.clone(),
            });
        });
        let out = self.out.clone();
        let (v, sid, wire) = (viewer.to_owned(), session_id.to_owned(), wire.clone());
        let send = move |msg: ToViewer| {
            let _ = out.send(Outgoing {
                viewer: v.clone(),
                msg,
                wire: wire.clone(),
            });
        };
        let w = webrtc.downgrade();
        let shown = Arc::downgrade(shown);
        let on_answer = gst::Promise::with_change_func(move |reply| {
            let Some(webrtc) = w.upgrade() else { return };
            let answer = match reply {
                Ok(Some(r)) => r.get::<gst_webrtc::WebRTCSessionDescription>("answer").ok(),
                _ => None,
            };
            let Some(answer) = answer else {
                let why = reply
                    .ok()
                    .flatten()
                    .and_then(|r| r.get::<glib::Error>("error").ok())
                    .map(|e| e.to_string())
                    .unwrap_or_default();
                tracing::warn!(session = %sid, "webrtcbin made no answer: {why}");
                send(ToViewer::Error {
                    session_id: sid.clone(),
                    code: ErrorCode::BadRequest,
                    message: "offer not acceptable".into(),
                });
                return;
            };
            let sdp = answer.sdp().as_text().unwrap_or_default().to_string();
            let answer_fp = signalling::sdp_fingerprint(&sdp)
                .unwrap_or_default()
                .to_owned();
            let proof = signalling::answer_proof(&key, &sid, &answer_fp, &offer_fp);
            // The session may already be gone (bye, privacy): then no state follows.
            if let Some(shown) = shown.upgrade() {
                let shown = lock_shown(&shown);
                send(ToViewer::Answer {
                    session_id: sid.clone(),
                    sdp,
                    proof,
                });
                send(shown.message(&sid));
            }
            // Applied after the answer is queued: gathering starts here, so every
            // candidate of this peer connection leaves after its answer, and a viewer
            // that restarted can drop whatever comes between its restart and the answer
            // (the old connection's candidates).
            webrtc.emit_by_name::<()>("set-local-description", &[&answer, &None::<gst::Promise>]);
        });
        let w = webrtc.downgrade();
        let on_remote = gst::Promise::with_change_func(move |_| {
            if let Some(webrtc) = w.upgrade() {
                webrtc.emit_by_name::<()>("create-answer", &[&None::<gst::Structure>, &on_answer]);
            }
        });
        webrtc.emit_by_name::<()>("set-remote-description", &[&desc, &on_remote]);
    }
}

fn now_secs() -> u64 {
    u64::try_from(eyrie_protocol::clock::unix_secs()).unwrap_or(0)
}
