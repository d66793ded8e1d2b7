//! A presigned upload URL writes one body only (issue #19): the slot request announces
//! the object's size and SHA-256, both are signed into the PUT, and the store refuses any
//! other body — a replay after `complete` included — so the object always hashes to what
//! its row says. Run on the embedded store (SQLite and PostgreSQL) and on a real Garage
//! node (skipped loudly without the `garage` binary).

use crate::common;

use std::time::Duration;

use common::{Backend, TestCloud, garage, sha256, unix_ms};
use eyrie_cloud::StoreConfig;
use serde_json::{Value, json};

/// Bytes that differ from `body` but have its length.
fn same_length_other(body: &[u8]) -> Vec<u8> {
    body.iter().map(|b| b ^ 0x5a).collect()
}

/// A refusal: a 4xx answer, or (a large body the store refused at its headers) the
/// connection closed before the whole body was sent.
fn assert_refused(r: &Result<u16, reqwest::Error>, what: &str) {
    match r {
        Ok(s) => assert!((400..500).contains(s), "{what}: the store answered {s}"),
        Err(e) => assert!(e.is_request(), "{what}: {e}"),
    }
}

/// PUT `body` to `upload` with `headers` instead of the signed ones.
async fn put_with(
    app: &TestCloud,
    upload: &Value,
    body: Vec<u8>,
    headers: &[(&str, String)],
) -> Result<u16, reqwest::Error> {
    let mut put = app.http.put(upload["url"].as_str().unwrap()).body(body);
    for (n, v) in headers {
        put = put.header(*n, v.as_str());
    }
    put.send().await.map(|r| r.status().as_u16())
}

fn checksum_of(body: &[u8]) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(body))
}

/// Every way to write other bytes through a used upload URL is refused.
async fn replays_refused(app: &TestCloud, upload: &Value, body: &[u8], when: &str) {
    let signed = upload["headers"]["x-amz-checksum-sha256"]
        .as_str()
        .expect("the upload URL names its signed checksum header")
        .to_owned();
    let other = same_length_other(body);
    let r = put_with(
        app,
        upload,
        other.clone(),
        &[("x-amz-checksum-sha256", signed)],
    )
    .await;
    assert_refused(
        &r,
        &format!("{when}: same length, signed checksum, other bytes"),
    );
    let r = put_with(
        app,
        upload,
        other.clone(),
        &[("x-amz-checksum-sha256", checksum_of(&other))],
    )
    .await;
    assert_refused(&r, &format!("{when}: other bytes with their own checksum"));
    let r = put_with(app, upload, other, &[]).await;
    assert_refused(&r, &format!("{when}: other bytes, no checksum header"));
    let big = vec![0x42u8; 10 * 1024 * 1024];
    let r = put_with(
        app,
        upload,
        big.clone(),
        &[("x-amz-checksum-sha256", checksum_of(&big))],
    )
    .await;
    assert_refused(&r, &format!("{when}: a 10 MiB overwrite"));
}

async fn recording_replay(app: &TestCloud) {
    let (_, alice) = app.user("alice").await;
    let creds = app.device(&alice, "Porch").await;
    let dev = creds["device_token"].as_str().unwrap();
    let ch = creds["channels"]["main"].as_str().unwrap();
    let slots = format!("/api/v1/channels/{ch}/recordings");
    let t0 = unix_ms() - 120_000;
    let body: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();

    // An old client (no size, no digest) is told why it gets no slot.
    let (s, v) = app
        .post(
            &slots,
            Some(dev),
            json!({"start_ms": t0, "end_ms": t0 + 30_000}),
        )
        .await;
    assert_eq!((s, v["code"].as_str()), (400, Some("bad_request")), "{v}");
    assert!(v["message"].as_str().unwrap().contains("sha256"), "{v}");
    let (s, _) = app
        .post(
            &slots,
            Some(dev),
            json!({"start_ms": t0, "end_ms": t0 + 30_000, "size": 5, "sha256": "NOTHEX"}),
        )
        .await;
    assert_eq!(s, 400);

    let (s, slot) = app
        .post(
            &slots,
            Some(dev),
            json!({"start_ms": t0, "end_ms": t0 + 30_000, "size": body.len(), "sha256": sha256(&body)}),
        )
        .await;
    assert_eq!(s, 201, "{slot}");
    let upload = &slot["upload"];
    let rid = slot["recording_id"].as_str().unwrap();
    let complete = format!("/api/v1/recordings/{rid}/complete");

    // Before the real upload: a wrong body is refused and leaves nothing to complete.
    replays_refused(app, upload, &body, "before the upload").await;
    let notice = json!({"size": body.len(), "sha256": sha256(&body)});
    let (s, _) = app.post(&complete, Some(dev), notice.clone()).await;
    assert_eq!(s, 409, "nothing was stored by the refused PUTs");

    let r = app.put_upload(upload, &body).await;
    assert!(
        r.status().is_success(),
        "the announced body: {}",
        r.status()
    );
    // A notice that is not what the slot announced is refused.
    let other = same_length_other(&body);
    let (s, v) = app
        .post(
            &complete,
            Some(dev),
            json!({"size": body.len(), "sha256": sha256(&other)}),
        )
        .await;
    assert_eq!((s, v["code"].as_str()), (409, Some("conflict")), "{v}");
    let (s, v) = app.post(&complete, Some(dev), notice.clone()).await;
    assert_eq!((s, v["status"].as_str()), (200, Some("complete")), "{v}");

    // After complete: the URL still works until it expires, but only for the same bytes.
    replays_refused(app, upload, &body, "after complete").await;
    let r = app.put_upload(upload, &body).await;
    assert!(
        r.status().is_success(),
        "the same bytes again: {}",
        r.status()
    );

    let (s, list) = app
        .get(
            &format!("{slots}?start_ms={t0}&end_ms={}", t0 + 30_000),
            Some(&alice),
        )
        .await;
    assert_eq!(s, 200);
    let rec = &list["recordings"][0];
    let got = app
        .http
        .get(rec["download"]["url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(rec["size"].as_u64(), Some(got.len() as u64));
    assert_eq!(
        rec["sha256"].as_str(),
        Some(sha256(&got).as_str()),
        "object matches its row"
    );
}

async fn snapshot_replay(app: &TestCloud) {
    let (_, alice) = app.user("alice").await;
    let creds = app.device(&alice, "Porch").await;
    let ch = creds["channels"]["main"].as_str().unwrap();
    let image = b"\xff\xd8\xff\xe0 a snapshot \xff\xd9".repeat(50);
    let snaps = format!("/api/v1/channels/{ch}/snapshots");
    let (s, v) = app.post(&snaps, Some(&alice), json!({})).await;
    assert_eq!(
        (s, v["code"].as_str()),
        (400, Some("bad_request")),
        "old clients: {v}"
    );
    let (s, v) = app
        .post(
            &snaps,
            Some(&alice),
            json!({"size": 11 * 1024 * 1024, "sha256": sha256(b"x")}),
        )
        .await;
    assert_eq!(s, 400, "too large for a snapshot: {v}");
    let (s, slot) = app
        .post(
            &snaps,
            Some(&alice),
            json!({"size": image.len(), "sha256": sha256(&image)}),
        )
        .await;
    assert_eq!(s, 201, "{slot}");
    let upload = &slot["upload"];
    let id = slot["snapshot"]["id"].as_str().unwrap();
    replays_refused(app, upload, &image, "snapshot before the upload").await;
    let confirm = format!("/api/v1/snapshots/{id}/confirm");
    let (s, _) = app.post(&confirm, Some(&alice), json!({})).await;
    assert_eq!(s, 409, "nothing was stored by the refused PUTs");
    assert!(app.put_upload(upload, &image).await.status().is_success());
    let (s, snap) = app.post(&confirm, Some(&alice), json!({})).await;
    assert_eq!(
        (s, snap["status"].as_str()),
        (200, Some("complete")),
        "{snap}"
    );
    replays_refused(app, upload, &image, "snapshot after confirm").await;
    let got = app
        .http
        .get(snap["download"]["url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        &got[..],
        &image[..],
        "the snapshot is still the confirmed image"
    );
}

async fn embedded_recording(b: Backend) {
    recording_replay(&TestCloud::spawn(b).await).await;
}
both_backends!(embedded_recording);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_snapshot() {
    snapshot_replay(&TestCloud::spawn(Backend::Sqlite).await).await;
}

async fn on_garage() -> Option<TestCloud> {
    let s3 = garage()?;
    Some(
        TestCloud::spawn_with(Backend::Sqlite, move |c| {
            c.store = StoreConfig::External(s3);
            c.presign_ttl = Duration::from_secs(300);
        })
        .await,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garage_recording() {
    let Some(app) = on_garage().await else { return };
    recording_replay(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garage_snapshot() {
    let Some(app) = on_garage().await else { return };
    snapshot_replay(&app).await;
}
