//! Black-box tests of recordings, clips, snapshots, events, the reconciler and retention
//! against the embedded object store, on SQLite and PostgreSQL.

use crate::common;

use std::time::Duration;

use common::{Backend, TestCloud, flows, sha256, unix_ms};
use serde_json::json;

async fn recordings(b: Backend) {
    flows::recordings(&TestCloud::spawn(b).await).await;
}
both_backends!(recordings);

async fn clips(b: Backend) {
    flows::clips(&TestCloud::spawn(b).await, false).await;
}
both_backends!(clips);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clip_larger_than_a_part_uses_multipart() {
    flows::clips(&TestCloud::spawn(Backend::Sqlite).await, true).await;
}

async fn snapshots(b: Backend) {
    flows::snapshots(&TestCloud::spawn(b).await).await;
}
both_backends!(snapshots);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_urls_are_refused() {
    let ttl = Duration::from_secs(1);
    let app = TestCloud::spawn_with(Backend::Sqlite, |c| c.presign_ttl = ttl).await;
    flows::expired_url(&app, ttl).await;
}

async fn store_mode_none_refuses_upload_slots(b: Backend) {
    let app = TestCloud::spawn(b).await;
    let (_, alice) = app.user("alice").await;
    let creds = app.device(&alice, "Porch").await;
    let dev = creds["device_token"].as_str().unwrap();
    let id = creds["device_id"].as_str().unwrap();
    let ch = creds["channels"]["main"].as_str().unwrap();
    let t0 = unix_ms() - 60_000;
    let slots = format!("/api/v1/channels/{ch}/recordings");
    let slot = |start: i64| {
        app.post(
            &slots,
            Some(dev),
            json!({"start_ms": start, "end_ms": start + 10_000, "size": 1, "sha256": sha256(b"x")}),
        )
    };
    assert_eq!(slot(t0).await.0, 201, "mode event gives slots");
    let store_mode = format!("/api/v1/devices/{id}/store-mode");
    let mode = |m: &'static str| {
        app.call(
            reqwest::Method::PUT,
            &store_mode,
            Some(&alice),
            Some(json!({ "store_mode": m })),
        )
    };
    assert_eq!(mode("none").await.0, 200);
    let (s, v) = slot(t0 + 10_000).await;
    assert_eq!((s, v["code"].as_str()), (403, Some("forbidden")), "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("store mode is none"),
        "{v}"
    );
    assert_eq!(mode("continuous").await.0, 200);
    assert_eq!(
        slot(t0 + 20_000).await.0,
        201,
        "slots again after the change"
    );
}
both_backends!(store_mode_none_refuses_upload_slots);

async fn events(b: Backend) {
    let app = TestCloud::spawn(b).await;
    let (_, alice) = app.user("alice").await;
    let (_, bob) = app.user("bob").await;
    let creds = app.device(&alice, "Porch").await;
    let dev = creds["device_token"].as_str().unwrap();
    let ch = creds["channels"]["main"].as_str().unwrap();
    let t0 = unix_ms() - 60_000;
    let (s, e) = app
        .post(
            &format!("/api/v1/channels/{ch}/events"),
            Some(dev),
            json!({"kind": "motion", "start_ms": t0}),
        )
        .await;
    assert_eq!((s, e["end_ms"].is_null()), (201, true), "{e}");
    let id = e["id"].as_str().unwrap();
    let (s, _) = app
        .post(
            &format!("/api/v1/channels/{ch}/events"),
            Some(dev),
            json!({"kind": "earthquake", "start_ms": t0}),
        )
        .await;
    assert_eq!(s, 400);
    let (s, _) = app
        .post(
            &format!("/api/v1/events/{id}/end"),
            Some(dev),
            json!({"end_ms": t0 - 1}),
        )
        .await;
    assert_eq!(s, 400);
    let (s, e) = app
        .post(
            &format!("/api/v1/events/{id}/end"),
            Some(dev),
            json!({"end_ms": t0 + 5_000}),
        )
        .await;
    assert_eq!((s, e["end_ms"].as_i64()), (200, Some(t0 + 5_000)));
    app.post(
        &format!("/api/v1/channels/{ch}/events"),
        Some(dev),
        json!({"kind": "manual", "start_ms": t0 + 20_000}),
    )
    .await;
    let (s, l) = app
        .get(
            &format!(
                "/api/v1/channels/{ch}/events?start_ms={}&end_ms={}",
                t0 + 1_000,
                t0 + 30_000
            ),
            Some(&alice),
        )
        .await;
    assert_eq!(s, 200);
    let kinds: Vec<&str> = l["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["motion", "manual"]);
    let (s, _) = app
        .get(
            &format!(
                "/api/v1/channels/{ch}/events?start_ms={t0}&end_ms={}",
                t0 + 1
            ),
            Some(&bob),
        )
        .await;
    assert_eq!(s, 404);
}
both_backends!(events);

async fn reconciler_completes_lost_notices(b: Backend) {
    let app = TestCloud::spawn_with(b, |c| c.reconcile_after = Duration::ZERO).await;
    let (_, alice) = app.user("alice").await;
    let creds = app.device(&alice, "Porch").await;
    let dev = creds["device_token"].as_str().unwrap();
    let ch = creds["channels"]["main"].as_str().unwrap();
    let t0 = unix_ms() - 60_000;
    let (_, slot) = app
        .post(
            &format!("/api/v1/channels/{ch}/recordings"),
            Some(dev),
            json!({"start_ms": t0, "end_ms": t0 + 30_000,
                   "size": 4242, "sha256": sha256(&[7u8; 4242])}),
        )
        .await;
    app.put_upload(&slot["upload"], &[7u8; 4242]).await;
    // Never notified; a slot never uploaded stays out of the listing.
    app.post(
        &format!("/api/v1/channels/{ch}/recordings"),
        Some(dev),
        json!({"start_ms": t0 + 30_000, "end_ms": t0 + 60_000, "size": 1, "sha256": sha256(b"x")}),
    )
    .await;
    let path = format!(
        "/api/v1/channels/{ch}/recordings?start_ms={t0}&end_ms={}",
        t0 + 60_000
    );
    let t = std::time::Instant::now();
    loop {
        let (_, l) = app.get(&path, Some(&alice)).await;
        let recs = l["recordings"].as_array().unwrap();
        if recs.len() == 1 {
            assert_eq!(recs[0]["size"], 4242);
            assert_eq!(recs[0]["id"], slot["recording_id"]);
            assert_eq!(l["gaps"].as_array().unwrap().len(), 1);
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "reconciler did not complete the recording"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
both_backends!(reconciler_completes_lost_notices);

async fn reconciler_completes_unconfirmed_snapshots(b: Backend) {
    let app = TestCloud::spawn_with(b, |c| c.reconcile_after = Duration::ZERO).await;
    let (_, alice) = app.user("alice").await;
    let creds = app.device(&alice, "Porch").await;
    let dev = creds["device_token"].as_str().unwrap();
    let ch = creds["channels"]["main"].as_str().unwrap();
    let (s, slot) = app
        .post(
            &format!("/api/v1/channels/{ch}/snapshots"),
            Some(dev),
            json!({"size": 777, "sha256": sha256(&[0xffu8; 777])}),
        )
        .await;
    assert_eq!(s, 201, "{slot}");
    let r = app.put_upload(&slot["upload"], &[0xffu8; 777]).await;
    assert!(r.status().is_success());
    // Never confirmed: the reconciler finds the image and completes the snapshot.
    let path = format!(
        "/api/v1/channels/{ch}/snapshots?start_ms=0&end_ms={}",
        unix_ms() + 60_000
    );
    let t = std::time::Instant::now();
    loop {
        let (_, l) = app.get(&path, Some(&alice)).await;
        let snaps = l["snapshots"].as_array().unwrap();
        if let Some(snap) = snaps.first() {
            assert_eq!(snap["id"], slot["snapshot"]["id"]);
            assert_eq!(
                (snap["status"].as_str(), snap["size"].as_u64()),
                (Some("complete"), Some(777))
            );
            assert!(snap["download"]["url"].is_string());
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "reconciler did not complete the snapshot"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
both_backends!(reconciler_completes_unconfirmed_snapshots);

async fn retention_deletes_old_recordings(b: Backend) {
    let app = TestCloud::spawn_with(b, |c| c.retention_days = Some(1)).await;
    let (_, alice) = app.user("alice").await;
    let creds = app.device(&alice, "Porch").await;
    let ch = creds["channels"]["main"].as_str().unwrap();
    let old = unix_ms() - 3 * 24 * 3600 * 1000;
    let recent = unix_ms() - 60_000;
    app.segment(&creds, old, old + 30_000, b"old").await;
    app.segment(&creds, recent, recent + 30_000, b"new").await;
    let path = format!(
        "/api/v1/channels/{ch}/recordings?start_ms={}&end_ms={}",
        old - 1000,
        old + 60_000
    );
    let (_, l) = app.get(&path, Some(&alice)).await;
    let url = l["recordings"][0]["download"]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    eyrie_cloud::workers::retention(&app.state).await.unwrap();
    let (_, l) = app.get(&path, Some(&alice)).await;
    assert_eq!(l["recordings"].as_array().unwrap().len(), 0);
    let r = app.http.get(&url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404, "object deleted with its row");
    let (_, l) = app
        .get(
            &format!(
                "/api/v1/channels/{ch}/recordings?start_ms={recent}&end_ms={}",
                recent + 30_000
            ),
            Some(&alice),
        )
        .await;
    assert_eq!(
        l["recordings"].as_array().unwrap().len(),
        1,
        "recent recordings stay"
    );
}
both_backends!(retention_deletes_old_recordings);

async fn deleting_a_device_removes_its_media(b: Backend) {
    let app = TestCloud::spawn(b).await;
    let (_, alice) = app.user("alice").await;
    let creds = app.device(&alice, "Porch").await;
    let id = creds["device_id"].as_str().unwrap();
    let ch = creds["channels"]["main"].as_str().unwrap();
    let t0 = unix_ms() - 60_000;
    app.segment(&creds, t0, t0 + 30_000, b"bytes").await;
    let (_, l) = app
        .get(
            &format!(
                "/api/v1/channels/{ch}/recordings?start_ms={t0}&end_ms={}",
                t0 + 30_000
            ),
            Some(&alice),
        )
        .await;
    let url = l["recordings"][0]["download"]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, _) = app
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/devices/{id}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (s, _) = app
        .get(
            &format!(
                "/api/v1/channels/{ch}/recordings?start_ms={t0}&end_ms={}",
                t0 + 1
            ),
            Some(&alice),
        )
        .await;
    assert_eq!(s, 404);
    eyrie_cloud::workers::deletions(&app.state).await.unwrap();
    let r = app.http.get(&url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
}
both_backends!(deleting_a_device_removes_its_media);
