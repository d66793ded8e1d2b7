//! Every error the server gives is the JSON `docs/api.md` documents
//! (`{"code", "message"}`, `application/json`), and numbers a client gives never panic or
//! wrap: each out-of-range value answers 400 and changes nothing.

use crate::common;

use common::{Backend, TestCloud, unix_ms};
use reqwest::Method;
use serde_json::{Value, json};

/// A raw request: (status, content type, body as JSON or `Null`).
async fn raw(
    app: &TestCloud,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<(&str, Vec<u8>)>,
) -> (u16, String, Value) {
    let mut rb = app.http.request(method, format!("{}{path}", app.base));
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    if let Some((content_type, bytes)) = body {
        if !content_type.is_empty() {
            rb = rb.header("content-type", content_type);
        }
        rb = rb.body(bytes);
    }
    let r = rb.send().await.expect("request");
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = r.text().await.unwrap_or_default();
    (
        status,
        ct,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

/// The answer is the documented error: this status, JSON, this code and a message.
fn documented(what: &str, (status, ct, body): &(u16, String, Value), want: u16, code: &str) {
    assert_eq!(*status, want, "{what}: {body}");
    assert!(
        ct.starts_with("application/json"),
        "{what}: content type {ct:?}"
    );
    assert_eq!(body["code"], code, "{what}: {body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}: {body}"
    );
}

async fn every_error_is_json(b: Backend) {
    let app = TestCloud::spawn(b).await;
    let (_, token) = app.user("alice").await;
    let creds = app.device(&token, "Porch").await;
    let device = creds["device_id"].as_str().unwrap();
    let json_ct = "application/json";
    let big = vec![b' '; 300 * 1024];

    let r = raw(&app, Method::GET, "/api/v1/nothing-here", None, None).await;
    documented("unknown route", &r, 404, "not_found");
    let r = raw(&app, Method::GET, "/nothing", None, None).await;
    documented("unknown route outside the API", &r, 404, "not_found");
    let r = raw(&app, Method::DELETE, "/api/v1/login", None, None).await;
    documented("wrong method", &r, 405, "method_not_allowed");
    let r = raw(&app, Method::PUT, "/healthz", None, None).await;
    documented(
        "wrong method on an ops route",
        &r,
        405,
        "method_not_allowed",
    );

    // Too large: through the JSON extractor and through the raw-body routes.
    let r = raw(
        &app,
        Method::POST,
        "/api/v1/login",
        None,
        Some((json_ct, big.clone())),
    )
    .await;
    documented("large JSON body", &r, 413, "payload_too_large");
    let r = raw(
        &app,
        Method::POST,
        "/api/v1/pairings",
        None,
        Some((json_ct, big.clone())),
    )
    .await;
    documented("large optional body", &r, 413, "payload_too_large");
    let r = raw(
        &app,
        Method::POST,
        &format!("/api/v1/devices/{device}/tickets"),
        Some(&token),
        Some((json_ct, big)),
    )
    .await;
    documented("large ticket body", &r, 413, "payload_too_large");

    // What the JSON extractor refuses: no content type, not JSON, the wrong shape.
    let login = br#"{"username":"alice","password":"x"}"#.to_vec();
    let r = raw(
        &app,
        Method::POST,
        "/api/v1/login",
        None,
        Some(("", login.clone())),
    )
    .await;
    documented("no content type", &r, 400, "bad_request");
    let r = raw(
        &app,
        Method::POST,
        "/api/v1/login",
        None,
        Some(("text/plain", login)),
    )
    .await;
    documented("text/plain body", &r, 400, "bad_request");
    let r = raw(
        &app,
        Method::POST,
        "/api/v1/login",
        None,
        Some((json_ct, b"{not json".to_vec())),
    )
    .await;
    documented("malformed JSON", &r, 400, "bad_request");
    let r = raw(
        &app,
        Method::POST,
        "/api/v1/login",
        None,
        Some((json_ct, br#"{"username": 7}"#.to_vec())),
    )
    .await;
    documented("wrong shape", &r, 400, "bad_request");
    let r = raw(
        &app,
        Method::POST,
        "/api/v1/pairings",
        None,
        Some((json_ct, b"[1,".to_vec())),
    )
    .await;
    documented("malformed optional body", &r, 400, "bad_request");

    // Path and query rejections.
    let r = raw(
        &app,
        Method::GET,
        "/api/v1/devices/not-a-uuid",
        Some(&token),
        None,
    )
    .await;
    documented("malformed id", &r, 400, "bad_request");
    let ch = creds["channels"]["main"].as_str().unwrap();
    let r = raw(
        &app,
        Method::GET,
        &format!("/api/v1/channels/{ch}/recordings?start_ms=soon&end_ms=1"),
        Some(&token),
        None,
    )
    .await;
    documented("malformed query", &r, 400, "bad_request");
    let r = raw(
        &app,
        Method::GET,
        &format!("/api/v1/channels/{ch}/recordings"),
        Some(&token),
        None,
    )
    .await;
    documented("missing query", &r, 400, "bad_request");

    // Auth answers.
    let r = raw(&app, Method::GET, "/api/v1/me", None, None).await;
    documented("no token", &r, 401, "unauthorized");
    let dev = creds["device_token"].as_str().unwrap();
    let r = raw(&app, Method::GET, "/api/v1/me", Some(dev), None).await;
    documented("a device on a user route", &r, 403, "forbidden");
}
both_backends!(every_error_is_json);

/// The exact request the probe sent, and the same kind of numbers on every route that
/// takes times, sizes or counts: 400, no panic, nothing stored.
async fn numbers_out_of_range(b: Backend) {
    let app = TestCloud::spawn(b).await;
    let (_, token) = app.user("alice").await;
    let creds = app.device(&token, "Porch").await;
    let dev = creds["device_token"].as_str().unwrap();
    let ch = creds["channels"]["main"].as_str().unwrap();
    let max = i64::MAX;

    for (what, query) in [
        (
            "the probe's range",
            "start_ms=9223372036854775707&end_ms=9223372036854775807".to_owned(),
        ),
        (
            "a range at the end",
            format!("start_ms={}&end_ms={max}", max - 1),
        ),
        ("negative start", "start_ms=-5&end_ms=10".to_owned()),
        (
            "beyond i64",
            "start_ms=0&end_ms=9223372036854775808".to_owned(),
        ),
        ("empty range", "start_ms=10&end_ms=10".to_owned()),
    ] {
        for list in ["recordings", "events", "snapshots"] {
            let r = raw(
                &app,
                Method::GET,
                &format!("/api/v1/channels/{ch}/{list}?{query}"),
                Some(&token),
                None,
            )
            .await;
            documented(&format!("{list}: {what}"), &r, 400, "bad_request");
        }
    }

    let now = unix_ms();
    let bodies = [
        (
            "recordings",
            dev,
            json!({"start_ms": max - 100, "end_ms": max}),
        ),
        ("recordings", dev, json!({"start_ms": -30_000, "end_ms": 0})),
        ("events", dev, json!({"kind": "motion", "start_ms": max})),
        ("snapshots", dev, json!({"taken_at_ms": max})),
        ("snapshots", dev, json!({"taken_at_ms": -1})),
        (
            "clips",
            token.as_str(),
            json!({"start_ms": now - 1000, "end_ms": max}),
        ),
    ];
    for (route, who, body) in bodies {
        let (s, v) = app
            .post(
                &format!("/api/v1/channels/{ch}/{route}"),
                Some(who),
                body.clone(),
            )
            .await;
        assert_eq!(
            (s, v["code"].as_str()),
            (400, Some("bad_request")),
            "{route} {body}: {v}"
        );
    }
    // An event whose end is far beyond its start.
    let (s, ev) = app
        .post(
            &format!("/api/v1/channels/{ch}/events"),
            Some(dev),
            json!({"kind": "motion", "start_ms": now}),
        )
        .await;
    assert_eq!(s, 201, "{ev}");
    let eid = ev["id"].as_str().unwrap();
    for end in [max, i64::MIN, now - 1] {
        let (s, v) = app
            .post(
                &format!("/api/v1/events/{eid}/end"),
                Some(dev),
                json!({"end_ms": end}),
            )
            .await;
        assert_eq!(
            (s, v["code"].as_str()),
            (400, Some("bad_request")),
            "end {end}: {v}"
        );
    }
    // A completion notice of a size no object can have.
    let (s, slot) = app
        .post(
            &format!("/api/v1/channels/{ch}/recordings"),
            Some(dev),
            json!({"start_ms": now - 30_000, "end_ms": now, "size": 1000, "sha256": "0".repeat(64)}),
        )
        .await;
    assert_eq!(s, 201, "{slot}");
    let rid = slot["recording_id"].as_str().unwrap();
    let (s, v) = app
        .post(
            &format!("/api/v1/recordings/{rid}/complete"),
            Some(dev),
            json!({"size": u64::MAX, "sha256": "0".repeat(64)}),
        )
        .await;
    assert!(s == 400 || s == 409, "{s} {v}");
    // Nothing of the refused requests was stored, and the service still answers.
    let (s, v) = app
        .get(
            &format!(
                "/api/v1/channels/{ch}/events?start_ms={}&end_ms={}",
                now - 1000,
                now + 1000
            ),
            Some(&token),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["events"].as_array().unwrap().len(), 1, "{v}");
    assert!(v["events"][0]["end_ms"].is_null(), "{v}");
    let (s, _) = app.get("/healthz", None).await;
    assert_eq!(s, 200);
}
both_backends!(numbers_out_of_range);
