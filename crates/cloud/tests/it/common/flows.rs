//! Storage flows shared by the embedded-store and the Garage tests: the same assertions
//! must hold on both columns of the design's table.

use std::time::Duration;

use serde_json::{Value, json};

use super::{TestCloud, sha256, unix_ms};

fn refused(status: u16) -> bool {
    // AWS answers 403 to a bad or expired signature, Garage 400: both mean refused.
    status == 403 || status == 400
}

/// Upload slot → PUT → notice (HEAD-checked) → list with gaps → GET; tampered URLs refused.
pub async fn recordings(app: &TestCloud) {
    let (_, alice) = app.user("alice").await;
    let (_, bob) = app.user("bob").await;
    let creds = app.device(&alice, "Porch").await;
    let other = app.device(&bob, "Bob's").await;
    let dev = creds["device_token"].as_str().unwrap();
    let ch = creds["channels"]["main"].as_str().unwrap();
    // The device's legacy key: a slot must name a key the device registered.
    let legacy_key = creds["recording_key"]["key_id"].as_str().unwrap();
    let t0 = unix_ms() - 600_000;
    // Bad input.
    let (s, _) = app
        .post(
            &format!("/api/v1/channels/{ch}/recordings"),
            Some(dev),
            json!({"start_ms": t0, "end_ms": t0}),
        )
        .await;
    assert_eq!(s, 400);
    let other_ch = other["channels"]["main"].as_str().unwrap();
    let (s, _) = app
        .post(
            &format!("/api/v1/channels/{other_ch}/recordings"),
            Some(dev),
            json!({"start_ms": t0, "end_ms": t0 + 1}),
        )
        .await;
    assert_eq!(s, 404, "a device only uploads to its own channels");
    let (s, _) = app
        .post(
            &format!("/api/v1/channels/{ch}/recordings"),
            Some(&alice),
            json!({"start_ms": t0, "end_ms": t0 + 1}),
        )
        .await;
    assert_eq!(s, 403, "users do not upload segments");
    // A slot, a notice before the upload (409), a wrong size (409), then the right one.
    let body = b"segment-one".repeat(100);
    let (s, slot) = app
        .post(
            &format!("/api/v1/channels/{ch}/recordings"),
            Some(dev),
            json!({"start_ms": t0, "end_ms": t0 + 30_000, "key_id": legacy_key,
                   "size": body.len(), "sha256": sha256(&body)}),
        )
        .await;
    assert_eq!(s, 201, "{slot}");
    let rid = slot["recording_id"].as_str().unwrap();
    let notice = json!({"size": body.len(), "sha256": sha256(&body)});
    let (s, v) = app
        .post(
            &format!("/api/v1/recordings/{rid}/complete"),
            Some(dev),
            notice.clone(),
        )
        .await;
    assert_eq!((s, v["code"].as_str()), (409, Some("conflict")));
    // The PUT URL is for that object and PUT only.
    let url = slot["upload"]["url"].as_str().unwrap();
    let tampered = url.replace(rid, &uuid::Uuid::new_v4().to_string());
    let r = app
        .http
        .put(&tampered)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert!(
        refused(r.status().as_u16()),
        "PUT to another key refused: {}",
        r.status()
    );
    let r = app.put_upload(&slot["upload"], &body).await;
    assert!(r.status().is_success(), "{}", r.status());
    let r = app.http.get(url).send().await.unwrap();
    assert!(
        refused(r.status().as_u16()),
        "a PUT URL does not GET: {}",
        r.status()
    );
    let (s, _) = app
        .post(
            &format!("/api/v1/recordings/{rid}/complete"),
            Some(dev),
            json!({"size": 5, "sha256": sha256(b"x")}),
        )
        .await;
    assert_eq!(s, 409, "size mismatch");
    let (s, _) = app
        .post(
            &format!("/api/v1/recordings/{rid}/complete"),
            Some(dev),
            json!({"size": body.len(), "sha256": "nothex"}),
        )
        .await;
    assert_eq!(s, 400);
    let other_dev = other["device_token"].as_str().unwrap();
    let (s, _) = app
        .post(
            &format!("/api/v1/recordings/{rid}/complete"),
            Some(other_dev),
            notice.clone(),
        )
        .await;
    assert_eq!(s, 404);
    let (s, v) = app
        .post(
            &format!("/api/v1/recordings/{rid}/complete"),
            Some(dev),
            notice.clone(),
        )
        .await;
    assert_eq!((s, v["status"].as_str()), (200, Some("complete")));
    let (s, _) = app
        .post(
            &format!("/api/v1/recordings/{rid}/complete"),
            Some(dev),
            notice,
        )
        .await;
    assert_eq!(s, 200, "repeated notices are idempotent");
    // Two more segments with a hole between.
    app.segment(&creds, t0 + 30_000, t0 + 60_000, b"two").await;
    app.segment(&creds, t0 + 90_000, t0 + 120_000, b"three")
        .await;
    let path = format!(
        "/api/v1/channels/{ch}/recordings?start_ms={}&end_ms={}",
        t0 - 10_000,
        t0 + 130_000
    );
    let (s, list) = app.get(&path, Some(&alice)).await;
    assert_eq!(s, 200, "{list}");
    let recs = list["recordings"].as_array().unwrap();
    assert_eq!(recs.len(), 3);
    assert!(
        recs.windows(2)
            .all(|w| w[0]["start_ms"].as_i64() < w[1]["start_ms"].as_i64())
    );
    assert_eq!(recs[0]["key_id"], legacy_key);
    let gaps: Vec<(i64, i64)> = list["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["start_ms"].as_i64().unwrap(),
                g["end_ms"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        gaps,
        vec![
            (t0 - 10_000, t0),
            (t0 + 60_000, t0 + 90_000),
            (t0 + 120_000, t0 + 130_000)
        ]
    );
    let get = &recs[0]["download"];
    assert_eq!(get["method"], "GET");
    let r = app
        .http
        .get(get["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.bytes().await.unwrap().as_ref(), &body[..]);
    // A tampered signature or expiry is refused.
    let gu = get["url"].as_str().unwrap();
    let sig_at = gu.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let mut bad = gu.to_owned();
    let c = if &bad[sig_at..sig_at + 1] == "0" {
        "1"
    } else {
        "0"
    };
    bad.replace_range(sig_at..sig_at + 1, c);
    let r = app.http.get(&bad).send().await.unwrap();
    assert!(
        refused(r.status().as_u16()),
        "tampered signature: {}",
        r.status()
    );
    let longer = gu.replace("X-Amz-Expires=", "X-Amz-Expires=9");
    let r = app.http.get(&longer).send().await.unwrap();
    assert!(
        refused(r.status().as_u16()),
        "tampered expiry: {}",
        r.status()
    );
    // Other users and bad ranges.
    let (s, _) = app.get(&path, Some(&bob)).await;
    assert_eq!(s, 404);
    let (s, _) = app
        .get(
            &format!("/api/v1/channels/{ch}/recordings?start_ms=10&end_ms=5"),
            Some(&alice),
        )
        .await;
    assert_eq!(s, 400);
    let (s, _) = app
        .get(
            &format!("/api/v1/channels/{ch}/recordings?start_ms=abc&end_ms=5"),
            Some(&alice),
        )
        .await;
    assert_eq!(s, 400);
    let (s, _) = app
        .get(
            &format!("/api/v1/channels/{ch}/recordings?start_ms=0&end_ms=999999999999"),
            Some(&alice),
        )
        .await;
    assert_eq!(s, 400, "range too long");
}

/// An expired presigned URL is refused (the app must have a short presign TTL).
pub async fn expired_url(app: &TestCloud, ttl: Duration) {
    let (_, alice) = app.user("alice").await;
    let creds = app.device(&alice, "Porch").await;
    let ch = creds["channels"]["main"].as_str().unwrap();
    let t0 = unix_ms() - 100_000;
    app.segment(&creds, t0, t0 + 30_000, b"expiring").await;
    let (_, list) = app
        .get(
            &format!(
                "/api/v1/channels/{ch}/recordings?start_ms={t0}&end_ms={}",
                t0 + 30_000
            ),
            Some(&alice),
        )
        .await;
    let url = list["recordings"][0]["download"]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app.http.get(&url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    tokio::time::sleep(ttl + Duration::from_millis(1500)).await;
    let r = app.http.get(&url).send().await.unwrap();
    assert!(
        refused(r.status().as_u16()),
        "expired URL answered {}",
        r.status()
    );
}

pub async fn wait_clip(app: &TestCloud, token: &str, id: &str, secs: u64) -> Value {
    let t0 = std::time::Instant::now();
    loop {
        let (s, c) = app.get(&format!("/api/v1/clips/{id}"), Some(token)).await;
        assert_eq!(s, 200);
        if c["status"] != "in_progress" || t0.elapsed() > Duration::from_secs(secs) {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Clips: covered → one object; waits for a late segment; uncovered → failed with reason.
pub async fn clips(app: &TestCloud, big: bool) {
    let (_, alice) = app.user("alice").await;
    let (_, bob) = app.user("bob").await;
    let creds = app.device(&alice, "Porch").await;
    let ch = creds["channels"]["main"].as_str().unwrap();
    let t0 = unix_ms() - 300_000;
    let seg = |i: u8| -> Vec<u8> {
        let n = if big {
            3 * 1024 * 1024 + 17
        } else {
            1000 + i as usize
        };
        (0..n)
            .map(|j| (j as u8).wrapping_mul(31).wrapping_add(i))
            .collect()
    };
    let mut want = Vec::new();
    for i in 0..3u8 {
        let b = seg(i);
        app.segment(
            &creds,
            t0 + i as i64 * 10_000,
            t0 + (i as i64 + 1) * 10_000,
            &b,
        )
        .await;
        want.extend_from_slice(&b);
    }
    let (s, c) = app
        .post(
            &format!("/api/v1/channels/{ch}/clips"),
            Some(&alice),
            json!({"start_ms": t0 + 2_000, "end_ms": t0 + 29_000, "name": "Fox"}),
        )
        .await;
    assert_eq!((s, c["status"].as_str()), (202, Some("in_progress")), "{c}");
    let (s, _) = app
        .post(
            &format!("/api/v1/channels/{ch}/clips"),
            Some(&bob),
            json!({"start_ms": t0, "end_ms": t0 + 1}),
        )
        .await;
    assert_eq!(s, 404);
    let id = c["id"].as_str().unwrap();
    let c = wait_clip(app, &alice, id, 20).await;
    assert_eq!(c["status"], "finished", "{c}");
    assert_eq!(c["size"].as_u64(), Some(want.len() as u64));
    let parts = c["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 3);
    assert_eq!(parts[1]["offset"].as_u64(), parts[0]["size"].as_u64());
    let r = app
        .http
        .get(c["download"]["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(
        r.bytes().await.unwrap().as_ref() == &want[..],
        "clip is the concatenation of its segments"
    );
    let (s, _) = app.get(&format!("/api/v1/clips/{id}"), Some(&bob)).await;
    assert_eq!(s, 404);
    // A clip asked before its last segment arrives waits for it.
    let (_, c2) = app
        .post(
            &format!("/api/v1/channels/{ch}/clips"),
            Some(&alice),
            json!({"start_ms": t0 + 20_000, "end_ms": t0 + 40_000}),
        )
        .await;
    let id2 = c2["id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, mid) = app.get(&format!("/api/v1/clips/{id2}"), Some(&alice)).await;
    assert_eq!(mid["status"], "in_progress");
    app.segment(&creds, t0 + 30_000, t0 + 40_000, &seg(9)).await;
    let c2 = wait_clip(app, &alice, &id2, 20).await;
    assert_eq!(c2["status"], "finished", "{c2}");
    assert_eq!(c2["parts"].as_array().unwrap().len(), 2);
    // A range with a hole fails after the bounded wait, with a reason.
    let (_, c3) = app
        .post(
            &format!("/api/v1/channels/{ch}/clips"),
            Some(&alice),
            json!({"start_ms": t0 + 35_000, "end_ms": t0 + 60_000}),
        )
        .await;
    let c3 = wait_clip(app, &alice, c3["id"].as_str().unwrap(), 20).await;
    assert_eq!(c3["status"], "failed");
    assert!(
        c3["reason"].as_str().unwrap().contains("no recording"),
        "{c3}"
    );
    assert!(c3.get("download").is_none());
    // List and delete.
    let (s, l) = app.get("/api/v1/clips", Some(&alice)).await;
    assert_eq!((s, l["clips"].as_array().map(Vec::len)), (200, Some(3)));
    let (s, l) = app.get("/api/v1/clips", Some(&bob)).await;
    assert_eq!((s, l["clips"].as_array().map(Vec::len)), (200, Some(0)));
    let (s, _) = app
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/clips/{id}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (s, _) = app.get(&format!("/api/v1/clips/{id}"), Some(&alice)).await;
    assert_eq!(s, 404);
}

/// Snapshots from a client and from the camera.
pub async fn snapshots(app: &TestCloud) {
    let (_, alice) = app.user("alice").await;
    let (_, bob) = app.user("bob").await;
    let creds = app.device(&alice, "Porch").await;
    let dev = creds["device_token"].as_str().unwrap();
    let ch = creds["channels"]["sub"].as_str().unwrap();
    let jpeg = b"\xff\xd8\xff\xe0fake jpeg\xff\xd9".to_vec();
    let (s, slot) = app
        .post(
            &format!("/api/v1/channels/{ch}/snapshots"),
            Some(&alice),
            json!({"size": jpeg.len(), "sha256": sha256(&jpeg)}),
        )
        .await;
    assert_eq!(s, 201, "{slot}");
    assert_eq!(slot["snapshot"]["source"], "client");
    let id = slot["snapshot"]["id"].as_str().unwrap();
    let (s, _) = app
        .post(
            &format!("/api/v1/snapshots/{id}/confirm"),
            Some(&alice),
            json!({}),
        )
        .await;
    assert_eq!(s, 409, "not uploaded yet");
    let r = app.put_upload(&slot["upload"], &jpeg).await;
    assert!(r.status().is_success());
    let (s, _) = app
        .post(
            &format!("/api/v1/snapshots/{id}/confirm"),
            Some(&bob),
            json!({}),
        )
        .await;
    assert_eq!(s, 404);
    let (s, snap) = app
        .post(
            &format!("/api/v1/snapshots/{id}/confirm"),
            Some(&alice),
            json!({}),
        )
        .await;
    assert_eq!((s, snap["status"].as_str()), (200, Some("complete")));
    let (s, agent) = app
        .post(
            &format!("/api/v1/channels/{ch}/snapshots"),
            Some(dev),
            json!({"taken_at_ms": unix_ms() - 5_000, "size": 3, "sha256": sha256(b"png")}),
        )
        .await;
    assert_eq!(
        (s, agent["snapshot"]["source"].as_str()),
        (201, Some("agent"))
    );
    let aid = agent["snapshot"]["id"].as_str().unwrap();
    app.put_upload(&agent["upload"], b"png").await;
    let (s, _) = app
        .post(
            &format!("/api/v1/snapshots/{aid}/confirm"),
            Some(dev),
            json!({}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, list) = app
        .get(
            &format!(
                "/api/v1/channels/{ch}/snapshots?start_ms=0&end_ms={}",
                unix_ms() + 1000
            ),
            Some(&alice),
        )
        .await;
    assert_eq!(s, 200);
    let snaps = list["snapshots"].as_array().unwrap();
    assert_eq!(snaps.len(), 2);
    assert_eq!(snaps[0]["id"], id, "newest first");
    let r = app
        .http
        .get(snaps[0]["download"]["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), &jpeg[..]);
    let (s, _) = app
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/snapshots/{id}"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = app
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/snapshots/{id}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (s, _) = app
        .get(&format!("/api/v1/snapshots/{id}"), Some(&alice))
        .await;
    assert_eq!(s, 404);
}
