//! Stitched playback and clip export end to end: the real recorder makes short segments
//! of the test pattern (every frame carries its capture time as a pixel clock), the
//! embedded cloud stores them, and the playback engine plays them into an appsink.

mod timeline_support;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use eyrie_client::playback::{Notice, Player, SkipReason, create_clip, export_clip, poll_clip};
use eyrie_protocol::api::ClipStatus;
use timeline_support::*;

const GOP_MS: i64 = 1_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "FAILING: depends on the recorder (see the ignored tests/storage_e2e.rs); not re-run since the capture-time fix"]
async fn seek_play_across_boundaries_export_and_refuse_tampered() {
    let r = record(6, Duration::from_secs(2)).await;
    let recs = &r.recs;
    let channel = r.cloud.creds.channels.main;
    for w in recs.windows(2).take(5) {
        assert!(
            (w[1].start_ms - w[0].end_ms).abs() < 200,
            "recordings are contiguous: {recs:?}"
        );
    }

    // ── seek to a time inside the second segment ──
    let (sink, shown) = clock_sink();
    let (player, mut notices) =
        Player::open(r.api.clone(), r.keys.clone(), channel, &sink).unwrap();
    let target = recs[1].start_ms + 700;
    player.seek(target).await.unwrap();
    assert!(
        wait_for(&shown, Duration::from_secs(10), |s| !s.is_empty()).await,
        "a frame is shown"
    );
    let first = shown.lock().unwrap()[0];
    let clock = first.clock_ms.expect("first frame carries a pixel clock");
    assert!(
        (clock - target).abs() <= GOP_MS,
        "seek {target} shows {clock}"
    );
    assert!(
        (clock - target).abs() <= 50,
        "seek lands on the exact frame: {target} vs {clock}"
    );
    match notices.recv().await {
        Some(Notice::SeekDone { target_ms, .. }) => assert_eq!(target_ms, target),
        other => panic!("expected SeekDone, got {other:?}"),
    }

    // ── play on across three boundaries (from segment 1 into segment 4), at 2× ──
    player.set_rate(2.0);
    let until = recs[4].start_ms + 300;
    assert!(
        wait_for(&shown, Duration::from_secs(20), |s| s
            .last()
            .and_then(|f| f.clock_ms)
            .is_some_and(|c| c >= until))
        .await,
        "playback reaches the 4th segment"
    );
    let frames = shown.lock().unwrap().clone();
    let clocks: Vec<i64> = frames.iter().filter_map(|f| f.clock_ms).collect();
    assert!(
        clocks.len() + 2 >= frames.len(),
        "every frame carries a clock"
    );
    let mut max_step = 0;
    for w in clocks.windows(2) {
        let d = w[1] - w[0];
        assert!(d > 0, "no repeats or jumps back: {} → {}", w[0], w[1]);
        max_step = max_step.max(d);
    }
    assert!(
        max_step <= 70,
        "no frame lost at a boundary: largest step {max_step} ms"
    );
    for b in &recs[2..=4] {
        assert!(
            clocks
                .iter()
                .any(|&c| c >= b.start_ms && c < b.start_ms + 100),
            "a frame right after boundary {}",
            b.start_ms
        );
    }

    // ── pause holds the picture; a step shows exactly the next frame ──
    player.pause();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let n = shown.lock().unwrap().len();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(shown.lock().unwrap().len(), n, "paused: no new frames");
    player.step();
    assert!(
        wait_for(&shown, Duration::from_secs(2), |s| s.len() == n + 1).await,
        "one step, one frame"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(shown.lock().unwrap().len(), n + 1);
    drop(player);

    // ── export a clip of [seg1 + 300 ms, seg3 + 500 ms) to MP4 ──
    let (cs, ce) = (recs[1].start_ms + 300, recs[3].start_ms + 500);
    let clip = create_clip(&r.api, channel, cs, ce, Some("porch".into()))
        .await
        .unwrap();
    let clip = poll_clip(
        &r.api,
        clip.id,
        Duration::from_millis(200),
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    assert_eq!(clip.status, ClipStatus::Finished, "{clip:?}");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("clip.mp4");
    let progress = Arc::new(std::sync::Mutex::new(Vec::new()));
    let p2 = progress.clone();
    let report = export_clip(
        &r.api,
        &r.keys,
        &clip,
        &out,
        move |p| p2.lock().unwrap().push(p),
        Arc::new(AtomicBool::new(false)),
    )
    .await
    .unwrap();
    assert!(progress.lock().unwrap().len() > 2, "progress reported");
    let dur = probe_duration(&out);
    let asked = (ce - cs) as f64 / 1000.0;
    assert!(
        (dur - asked).abs() <= GOP_MS as f64 / 1000.0 + 0.05,
        "clip lasts {dur} s, asked {asked} s ({report:?})"
    );
    let fc = file_clocks(&out);
    let (f0, fl) = (fc[0], *fc.last().unwrap());
    assert!(
        f0 <= cs + 20 && cs - f0 <= GOP_MS,
        "first frame {f0} at or one GOP before {cs}"
    );
    assert!(
        (fl - ce).abs() <= 70,
        "last frame {fl} at the asked end {ce}"
    );

    // A cancelled export stops and leaves no file.
    let out2 = dir.path().join("cancelled.mp4");
    let err = export_clip(
        &r.api,
        &r.keys,
        &clip,
        &out2,
        |_| {},
        Arc::new(AtomicBool::new(true)),
    )
    .await;
    assert!(err.is_err() && !out2.exists());

    // ── a tampered segment is refused with a notice and playback goes on after it ──
    assert!(
        tamper(r.cloud.dir.path(), &recs[2]),
        "found the stored object"
    );
    let (sink, shown) = clock_sink();
    let (player, mut notices) =
        Player::open(r.api.clone(), r.keys.clone(), channel, &sink).unwrap();
    player.set_rate(4.0);
    player.seek(recs[1].start_ms + 1_000).await.unwrap();
    let resumed = recs[3].start_ms;
    assert!(
        wait_for(&shown, Duration::from_secs(15), |s| s
            .iter()
            .any(|f| f.clock_ms.is_some_and(|c| c >= resumed)))
        .await,
        "playback resumes after the tampered segment"
    );
    let clocks: Vec<i64> = shown
        .lock()
        .unwrap()
        .iter()
        .filter_map(|f| f.clock_ms)
        .collect();
    assert!(
        !clocks
            .iter()
            .any(|&c| c >= recs[2].start_ms + 40 && c < recs[2].end_ms),
        "nothing of the tampered segment is shown"
    );
    let mut saw_skip = false;
    let mut saw_gap = false;
    while let Ok(n) = notices.try_recv() {
        match n {
            Notice::SegmentSkipped {
                recording_id,
                reason,
                ..
            } => {
                assert_eq!((recording_id, reason), (recs[2].id, SkipReason::Tampered));
                saw_skip = true;
            }
            Notice::GapSkipped { to_ms, .. } => saw_gap |= to_ms == recs[3].start_ms,
            _ => {}
        }
    }
    assert!(
        saw_skip && saw_gap,
        "notices: skipped {saw_skip}, resumed {saw_gap}"
    );
    r.cloud.stop.stop();
}
