//! Clip assembly by server-side copy (UploadPartCopy): segments of real size (≥ 5 MiB, as
//! a 30 s main-stream segment is) become the parts of the clip object without passing
//! through the cloud; small segments are streamed through. On the embedded store with
//! SQLite and PostgreSQL, and on Garage when it is installed.
//!
//! The proof is the cloud's own counters (`eyrie_clip_parts_copied_total`,
//! `eyrie_clip_bytes_streamed_total`), which are process-wide: the tests of this binary
//! take turns (`SERIAL`) so one test's clip cannot move another's figures.

use crate::common;

use common::{Backend, TestCloud, flows::wait_clip, garage, unix_ms};
use eyrie_cloud::StoreConfig;
use eyrie_cloud::metrics::{CLIP_BYTES_STREAMED, CLIP_PARTS_COPIED};
use serde_json::json;

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const MIB: usize = 1024 * 1024;

fn body(i: u8, n: usize) -> Vec<u8> {
    (0..n)
        .map(|j| (j as u8).wrapping_mul(31).wrapping_add(i) ^ (j >> 13) as u8)
        .collect()
}

/// Upload segments of `sizes`, ask for a clip over all of them, wait for it and check it
/// is their exact concatenation with a right manifest. Returns (parts copied, bytes
/// streamed) during the assembly.
async fn clip_of(app: &TestCloud, sizes: &[usize]) -> (u64, u64) {
    let (_, alice) = app.user("alice").await;
    let creds = app.device(&alice, "Porch").await;
    let ch = creds["channels"]["main"].as_str().unwrap();
    let t0 = unix_ms() - 600_000;
    let mut want = Vec::new();
    for (i, n) in sizes.iter().enumerate() {
        let b = body(i as u8, *n);
        let at = t0 + i as i64 * 30_000;
        app.segment(&creds, at, at + 30_000, &b).await;
        want.extend_from_slice(&b);
    }
    let (copied, streamed) = (CLIP_PARTS_COPIED.get(), CLIP_BYTES_STREAMED.get());
    let end = t0 + sizes.len() as i64 * 30_000 - 1_000;
    let (s, c) = app
        .post(
            &format!("/api/v1/channels/{ch}/clips"),
            Some(&alice),
            json!({"start_ms": t0 + 1_000, "end_ms": end, "name": "Fox"}),
        )
        .await;
    assert_eq!(s, 202, "{c}");
    let c = wait_clip(app, &alice, c["id"].as_str().unwrap(), 60).await;
    assert_eq!(c["status"], "finished", "{c}");
    let counted = (
        CLIP_PARTS_COPIED.get() - copied,
        CLIP_BYTES_STREAMED.get() - streamed,
    );
    assert_eq!(c["size"].as_u64(), Some(want.len() as u64));
    let parts = c["parts"].as_array().unwrap();
    assert_eq!(parts.len(), sizes.len());
    let mut offset = 0;
    for (p, n) in parts.iter().zip(sizes) {
        assert_eq!(p["offset"].as_u64(), Some(offset), "{p}");
        assert_eq!(p["size"].as_u64(), Some(*n as u64), "{p}");
        offset += *n as u64;
    }
    let got = app
        .http
        .get(c["download"]["url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(got.len(), want.len());
    assert!(
        got.as_ref() == &want[..],
        "clip is the byte-for-byte concatenation of its segments"
    );
    counted
}

/// Three full-size segments and a short last one: four parts copied, nothing streamed.
async fn big_segments_are_copied_in_the_store(app: &TestCloud) {
    let sizes = [5 * MIB + 13, 6 * MIB, 5 * MIB + 1, MIB / 2 + 7];
    let (copied, streamed) = clip_of(app, &sizes).await;
    assert_eq!(copied, sizes.len() as u64, "each segment one copied part");
    assert_eq!(streamed, 0, "no byte went through the cloud");
}

/// Segments under the 5 MiB minimum part: streamed through, nothing copied.
async fn small_segments_are_streamed(app: &TestCloud) {
    let sizes = [300_000, 3 * MIB, 200_000];
    let (copied, streamed) = clip_of(app, &sizes).await;
    assert_eq!(copied, 0);
    assert_eq!(streamed, sizes.iter().sum::<usize>() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_on_the_embedded_store_sqlite() {
    let _turn = SERIAL.lock().await;
    big_segments_are_copied_in_the_store(&TestCloud::spawn(Backend::Sqlite).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_on_the_embedded_store_postgres() {
    let _turn = SERIAL.lock().await;
    big_segments_are_copied_in_the_store(&TestCloud::spawn(Backend::Postgres).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_segments_stream_on_the_embedded_store() {
    let _turn = SERIAL.lock().await;
    small_segments_are_streamed(&TestCloud::spawn(Backend::Sqlite).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_on_garage() {
    let Some(s3) = garage() else { return };
    let _turn = SERIAL.lock().await;
    let app = TestCloud::spawn_with(Backend::Postgres, move |c| {
        c.store = StoreConfig::External(s3);
    })
    .await;
    big_segments_are_copied_in_the_store(&app).await;
}
