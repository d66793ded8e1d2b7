//! `rest_bodies`: the request bodies (and list queries) the cloud's REST API takes
//! (`eyrie_protocol::api`, `crates/cloud/src/routes/`), read as the handlers read them —
//! `ApiJson` (axum's `Json` extractor), `optional_json` for the bodies that may be
//! empty, `ApiQuery` (axum's `Query`) — then put through the same checks the handlers
//! make before they touch the database (`check_register`, `valid_name`,
//! `check_upload_slot`, …). Anyone on the network can send these; the routes that need a
//! login only add that the sender has one.
//!
//! The first byte picks the body (of [`KINDS`]), the rest is the body (for `event_end`,
//! 8 bytes of the stored event's start come first, taken into the range a stored start
//! has).
//!
//! Oracles:
//! - no panic (a panic in a handler is a 500 and a dropped connection);
//! - what the server accepts is what a client that serialises the same value sends: the
//!   accepted value, written back to JSON by serde (as `eyrie_api` does), reads back to an
//!   equal value;
//! - what a check accepts is in range: names trimmed, 1–64 printable characters and
//!   checked again unchanged; activation codes normalised to `[A-Z0-9]` and stable; times
//!   within 0 ..= `MAX_TIME_MS`, ranges ordered and bounded; sizes within limits and
//!   digests equal to the hex they came from; ticket lifetimes within bounds.

use axum::Json;
use axum::extract::Query;
use axum::http::Uri;
use eyrie_cloud::error::optional_json;
use eyrie_cloud::routes::{
    self, MAX_TIME_MS, accounts, clips, devices, events, live, recordings, snapshots,
};
use eyrie_protocol::api::{
    ActivateRequest, ClaimRequest, CreateClipRequest, CreateDeviceRequest, CreateSnapshotRequest,
    EventEnd, EventStart, HeartbeatRequest, LoginRequest, PairingRequest, RangeQuery,
    RegisterRequest, RenameDeviceRequest, StoreModeBody, TicketRequest, UploadNotice,
    UploadSlotRequest,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The bodies and queries, in the order of the first byte.
pub const KINDS: &[&str] = &[
    "register",
    "login",
    "create_device",
    "rename_device",
    "store_mode",
    "heartbeat",
    "pairing",
    "claim",
    "activate",
    "ticket",
    "mqtt_auth",
    "upload_slot",
    "upload_notice",
    "event_start",
    "event_end",
    "clip",
    "snapshot",
    "range_query",
    "clip_filter",
];

/// The clock of the checks that depend on it (2026-01-01).
pub const NOW_MS: i64 = 1_767_225_600_000;

/// One fuzz input; panics on a finding.
pub fn check(data: &[u8]) {
    let [kind, body @ ..] = data else { return };
    match KINDS[usize::from(*kind) % KINDS.len()] {
        "register" => {
            if let Some(r) = json::<RegisterRequest>(body)
                && accounts::check_register(&r).is_ok()
            {
                assert!((3..=64).contains(&r.username.chars().count()));
                assert!((8..=256).contains(&r.password.chars().count()));
            }
        }
        "login" => {
            if let Some(r) = json::<LoginRequest>(body) {
                let _ = eyrie_cloud::ratelimit::LoginKeys::new(
                    &r.username.to_lowercase(),
                    std::net::Ipv4Addr::LOCALHOST.into(),
                );
            }
        }
        "create_device" => {
            if let Some(r) = json::<CreateDeviceRequest>(body) {
                name(&r.name);
            }
        }
        "rename_device" => {
            if let Some(r) = json::<RenameDeviceRequest>(body) {
                name(&r.name);
            }
        }
        "store_mode" => {
            let _ = json::<StoreModeBody>(body);
        }
        "heartbeat" => {
            let _ = optional::<HeartbeatRequest>(body);
        }
        "pairing" => {
            if let Some(r) = optional::<PairingRequest>(body) {
                let hint = r.name_hint.map(|h| h.chars().take(64).collect::<String>());
                assert!(hint.is_none_or(|h| h.chars().count() <= 64));
            }
        }
        "claim" => {
            if let Some(r) = json::<ClaimRequest>(body) {
                name(&r.name);
                code(&r.code);
            }
        }
        "activate" => {
            if let Some(r) = json::<ActivateRequest>(body)
                && let Some(c) = &r.activation_code
            {
                code(c);
            }
        }
        "ticket" => {
            if let Some(r) = optional::<TicketRequest>(body) {
                let ttl = live::ticket_ttl(&r);
                assert!((10..=eyrie_protocol::ticket::MAX_TICKET_LIFETIME_SECS).contains(&ttl));
            }
        }
        "mqtt_auth" => {
            let _ = Json::<live::MqttAuthRequest>::from_bytes(body);
        }
        "upload_slot" => {
            if let Some(r) = json::<UploadSlotRequest>(body)
                && let Ok((size, digest)) = recordings::check_upload_slot(&r)
            {
                range(r.start_ms, r.end_ms, recordings::MAX_SEGMENT_MS);
                assert!((1..=recordings::MAX_SEGMENT_BYTES).contains(&size));
                assert_eq!(Some(size), r.size);
                sha256(r.sha256.as_deref().unwrap_or_default(), &digest);
                if let Some(k) = &r.key_id {
                    assert!((1..=64).contains(&k.len()));
                }
            }
        }
        "upload_notice" => {
            if let Some(r) = json::<UploadNotice>(body)
                && let Some(digest) = recordings::parse_sha256(&r.sha256)
            {
                sha256(&r.sha256, &digest);
            }
        }
        "event_start" => {
            if let Some(r) = json::<EventStart>(body)
                && events::check_event_start(&r).is_ok()
            {
                assert!((0..=MAX_TIME_MS).contains(&r.start_ms));
            }
        }
        "event_end" => {
            let Some((start, body)) = body.split_first_chunk::<8>() else {
                return;
            };
            // The stored event's start passed `check_event_start` when it was made.
            let start_ms = i64::from_be_bytes(*start).rem_euclid(MAX_TIME_MS + 1);
            if let Some(r) = json::<EventEnd>(body)
                && events::check_event_end(&r, start_ms).is_ok()
            {
                assert!((0..=MAX_TIME_MS).contains(&r.end_ms));
                assert!(r.end_ms >= start_ms);
            }
        }
        "clip" => {
            if let Some(r) = json::<CreateClipRequest>(body)
                && let Ok(n) = clips::check_clip(&r, NOW_MS)
            {
                range(r.start_ms, r.end_ms, clips::MAX_CLIP_MS);
                assert!(r.start_ms <= NOW_MS + 60_000);
                assert_eq!(n.is_some(), r.name.is_some());
                if let Some(n) = n {
                    assert_eq!(devices::valid_name(&n).ok(), Some(n.clone()));
                }
                // The clip's deadline (`now.max(end) + clip_wait`) cannot overflow.
                assert!(
                    NOW_MS
                        .max(r.end_ms)
                        .checked_add(i64::from(u32::MAX) * 1000)
                        .is_some()
                );
            }
        }
        "snapshot" => {
            if let Some(r) = optional::<CreateSnapshotRequest>(body)
                && let Ok((taken, size, digest)) = snapshots::check_snapshot(&r, NOW_MS)
            {
                assert!((0..=MAX_TIME_MS).contains(&taken));
                assert!((1..=snapshots::MAX_SNAPSHOT_BYTES).contains(&size));
                sha256(r.sha256.as_deref().unwrap_or_default(), &digest);
            }
        }
        "range_query" => {
            if let Some(q) = query::<RangeQuery>(body)
                && routes::check_range(q.start_ms, q.end_ms, recordings::MAX_LIST_MS).is_ok()
            {
                range(q.start_ms, q.end_ms, recordings::MAX_LIST_MS);
                // events::list looks back by a day from the start.
                assert!(q.start_ms.checked_sub(24 * 3600 * 1000).is_some());
            }
        }
        "clip_filter" => {
            let _ = query_of::<clips::ClipFilter>(body);
        }
        other => unreachable!("{other}"),
    }
}

/// A body as `ApiJson<T>` reads it; what is accepted must survive a serde round trip.
fn json<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(body: &[u8]) -> Option<T> {
    let Json(v) = Json::<T>::from_bytes(body).ok()?;
    round_trip(&v);
    Some(v)
}

/// A body as `optional_json` reads it (empty = default).
fn optional<T: DeserializeOwned + Serialize + PartialEq + Default + std::fmt::Debug>(
    body: &[u8],
) -> Option<T> {
    let v: T = optional_json(body).ok()?;
    round_trip(&v);
    Some(v)
}

fn round_trip<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(v: &T) {
    let text = serde_json::to_vec(v).expect("a request body serialises");
    let Json(again) = Json::<T>::from_bytes(&text)
        .unwrap_or_else(|e| panic!("{v:?} written by serde is refused: {e}"));
    assert_eq!(&again, v, "a body changed through serde");
}

/// A query string as `ApiQuery<T>` reads it, round-tripped through serde_urlencoded.
fn query<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(q: &[u8]) -> Option<T> {
    let v: T = query_of(q)?;
    let text = serde_urlencoded::to_string(&v).expect("a query serialises");
    let again: T =
        query_of(text.as_bytes()).unwrap_or_else(|| panic!("{v:?} written as {text:?} is refused"));
    assert_eq!(&again, &v, "a query changed through serde_urlencoded");
    Some(v)
}

fn query_of<T: DeserializeOwned>(q: &[u8]) -> Option<T> {
    let uri: Uri = format!("/api/v1/x?{}", std::str::from_utf8(q).ok()?)
        .parse()
        .ok()?;
    Query::<T>::try_from_uri(&uri).ok().map(|Query(v)| v)
}

fn name(raw: &str) {
    if let Ok(n) = devices::valid_name(raw) {
        assert!(!n.is_empty() && n.chars().count() <= 64, "{n:?}");
        assert_eq!(n, n.trim());
        assert!(!n.chars().any(char::is_control));
        assert_eq!(
            devices::valid_name(&n).ok().as_ref(),
            Some(&n),
            "valid_name not stable"
        );
    }
}

fn code(raw: &str) {
    let c = devices::normalize_code(raw);
    assert!(
        c.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
        "{c:?}"
    );
    assert_eq!(devices::normalize_code(&c), c, "normalize_code not stable");
}

fn range(start: i64, end: i64, max: i64) {
    assert!((0..=MAX_TIME_MS).contains(&start) && (0..=MAX_TIME_MS).contains(&end));
    assert!(start < end && end - start <= max);
}

fn sha256(hex: &str, digest: &[u8; 32]) {
    let back: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(back, hex, "the digest is not the hex it came from");
}

/// Seeds: bodies as the docs and `eyrie_api` write them, one or more per kind.
pub fn seeds() -> Vec<(String, Vec<u8>)> {
    let sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    let bodies: &[(&str, String)] = &[
        (
            "register",
            r#"{"username":"alice@example.org","password":"correct horse"}"#.into(),
        ),
        (
            "login",
            r#"{"username":"Alice","password":"correct horse"}"#.into(),
        ),
        ("create_device", r#"{"name":"Front door"}"#.into()),
        ("rename_device", r#"{"name":"  Garden \u00e9 "}"#.into()),
        ("store_mode", r#"{"store_mode":"event"}"#.into()),
        ("heartbeat", r#"{"dropped_segments":3}"#.into()),
        ("heartbeat", String::new()),
        ("pairing", r#"{"name_hint":"Kitchen camera"}"#.into()),
        ("claim", r#"{"code":"abcd-efgh","name":"Porch"}"#.into()),
        ("activate", r#"{"activation_code":"ABCD-EFGH"}"#.into()),
        ("activate", r#"{"pairing_token":"tok"}"#.into()),
        ("ticket", r#"{"ttl_secs":60}"#.into()),
        ("ticket", "  ".into()),
        (
            "mqtt_auth",
            r#"{"username":"viewer-1","password":"pw","clientid":"c"}"#.into(),
        ),
        (
            "upload_slot",
            format!(
                r#"{{"start_ms":1767225600000,"end_ms":1767225606000,"event":false,"key_id":"k-2026-1","size":1234,"sha256":"{sha}"}}"#
            ),
        ),
        (
            "upload_notice",
            format!(r#"{{"size":1234,"sha256":"{sha}"}}"#),
        ),
        (
            "event_start",
            r#"{"kind":"motion","start_ms":1767225600000}"#.into(),
        ),
        (
            "clip",
            r#"{"start_ms":1767225000000,"end_ms":1767225600000,"name":"Delivery"}"#.into(),
        ),
        (
            "snapshot",
            format!(r#"{{"taken_at_ms":1767225600000,"size":50000,"sha256":"{sha}"}}"#),
        ),
        ("snapshot", String::new()),
        (
            "range_query",
            "start_ms=1767225600000&end_ms=1767229200000".into(),
        ),
        (
            "clip_filter",
            "device_id=67e55044-10b1-426f-9247-bb680e5fe0c8".into(),
        ),
        ("clip_filter", String::new()),
    ];
    let mut out: Vec<(String, Vec<u8>)> = bodies
        .iter()
        .enumerate()
        .map(|(i, (kind, body))| {
            let k = KINDS.iter().position(|k| k == kind).expect("a kind") as u8;
            let mut data = vec![k];
            data.extend_from_slice(body.as_bytes());
            (format!("{kind}-{i}"), data)
        })
        .collect();
    let k = KINDS
        .iter()
        .position(|k| *k == "event_end")
        .expect("event_end") as u8;
    let mut data = vec![k];
    data.extend_from_slice(&1_767_225_600_000i64.to_be_bytes());
    data.extend_from_slice(br#"{"end_ms":1767225660000}"#);
    out.push(("event_end".into(), data));
    out
}
