//! `cargo bench --bench timeline`: stitched playback and clip export figures with the
//! real recorder, the embedded cloud and the playback engine.
//!
//! - `seek_to_frame_ms`: `Player::seek` called → first frame at the sink (median of 5).
//! - `boundary_gap_ms`: how much longer than the usual (median) frame interval the screen
//!   waited between consecutive frames across a segment boundary at 1×, largest of three
//!   boundaries (0 = seamless; one frame is 33 ms at 30 fps). The raw largest interval
//!   across a boundary and away from boundaries are printed beside it
//!   (`boundary_interval_max_ms`, `frame_interval_max_ms`), and `clock_step_max_ms` is the
//!   largest step between the capture clocks of consecutive frames (33 = nothing skipped).
//! - `export_mb_s`: clip object megabytes (ciphertext) exported to MP4 per second.
//!
//! The last line is one JSON object.

#[path = "../tests/timeline_support/mod.rs"]
mod timeline_support;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use eyrie_client::playback::{Player, create_clip, export_clip, poll_clip};
use timeline_support::*;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let r = record(5, Duration::from_secs(2)).await;
        let recs = &r.recs;
        let channel = r.cloud.creds.channels.main;

        let mut seeks = Vec::new();
        for k in 0..5 {
            let (sink, shown) = clock_sink();
            let (player, _n) =
                Player::open(r.api.clone(), r.keys.clone(), channel, &sink).expect("player");
            let target = recs[k % 3].start_ms + 500 + 97 * k as i64;
            let t0 = Instant::now();
            player.seek(target).await.expect("seek");
            assert!(wait_for(&shown, Duration::from_secs(10), |s| !s.is_empty()).await);
            let first = shown.lock().unwrap()[0];
            seeks.push(first.at.duration_since(t0).as_secs_f64() * 1000.0);
        }
        seeks.sort_by(f64::total_cmp);
        let seek_ms = seeks[seeks.len() / 2];

        let (sink, shown) = clock_sink();
        let (player, _n) =
            Player::open(r.api.clone(), r.keys.clone(), channel, &sink).expect("player");
        player.seek(recs[0].start_ms + 1_000).await.expect("seek");
        let until = recs[3].start_ms + 200;
        assert!(
            wait_for(&shown, Duration::from_secs(20), |s| s
                .last()
                .and_then(|f| f.clock_ms)
                .is_some_and(|c| c >= until))
            .await
        );
        drop(player);
        let frames = shown.lock().unwrap().clone();
        let interval = |w: &[Shown]| w[1].at.duration_since(w[0].at).as_secs_f64() * 1000.0;
        let crosses = |w: &[Shown]| {
            recs[1..=3].iter().any(|b| {
                matches!((w[0].clock_ms, w[1].clock_ms), (Some(a), Some(c)) if a < b.start_ms && c >= b.start_ms)
            })
        };
        // Wall-clock interval between consecutive frames on screen: across a boundary, and
        // (for comparison) everywhere else in the same run. The boundary's gap is how much
        // longer than the usual frame interval the screen waited at a boundary — 0 when
        // stitching is seamless, one frame time when a frame is shown twice.
        let mut across = Vec::new();
        let mut within = Vec::new();
        for w in frames.windows(2) {
            if crosses(w) {
                across.push(interval(w));
            } else {
                within.push(interval(w));
            }
        }
        within.sort_by(f64::total_cmp);
        let typical = within.get(within.len() / 2).copied().unwrap_or(f64::NAN);
        let within_max = within.last().copied().unwrap_or(f64::NAN);
        let across_max = across.iter().copied().fold(0f64, f64::max);
        let gap_ms = (across_max - typical).max(0.0);
        // The pixel clocks must advance by one frame each: nothing skipped or repeated.
        let clocks: Vec<i64> = frames.iter().filter_map(|f| f.clock_ms).collect();
        let steps: Vec<i64> = clocks.windows(2).map(|c| c[1] - c[0]).collect();
        let (step_min, step_max) = (
            steps.iter().copied().min().unwrap_or(0),
            steps.iter().copied().max().unwrap_or(0),
        );

        let clip = create_clip(
            &r.api,
            channel,
            recs[0].start_ms,
            recs[4].end_ms - 100,
            None,
        )
        .await
        .expect("clip");
        let clip = poll_clip(
            &r.api,
            clip.id,
            Duration::from_millis(100),
            Duration::from_secs(30),
        )
        .await
        .expect("poll");
        let dir = tempfile::tempdir().expect("tmp");
        let t0 = Instant::now();
        let report = export_clip(
            &r.api,
            &r.keys,
            &clip,
            &dir.path().join("c.mp4"),
            |_| {},
            Arc::new(AtomicBool::new(false)),
        )
        .await
        .expect("export");
        let secs = t0.elapsed().as_secs_f64();
        let mb_s = report.input_bytes as f64 / 1e6 / secs;

        println!("timeline bench: 2-s segments of the 30 fps test pattern, embedded cloud");
        println!("  seek → first frame: median {seek_ms:.0} ms of {seeks:?}");
        println!(
            "  frame interval on screen at 1x: median {typical:.1} ms, largest {within_max:.1} ms \
             away from boundaries, largest {across_max:.1} ms across 3 boundaries \
             → boundary gap {gap_ms:.1} ms (goal <= one frame, 33 ms)"
        );
        println!(
            "  capture clocks of consecutive frames step by {step_min}..={step_max} ms over {} frames",
            clocks.len()
        );
        println!(
            "  export: {} bytes in {secs:.2} s → {} bytes MP4, {} frames",
            report.input_bytes, report.bytes, report.frames
        );
        println!(
            "{}",
            serde_json::json!({
                "seek_to_frame_ms": (seek_ms * 10.0).round() / 10.0,
                "boundary_gap_ms": (gap_ms * 10.0).round() / 10.0,
                "boundary_interval_max_ms": (across_max * 10.0).round() / 10.0,
                "frame_interval_max_ms": (within_max * 10.0).round() / 10.0,
                "clock_step_max_ms": step_max,
                "export_mb_s": (mb_s * 100.0).round() / 100.0,
            })
        );
        r.cloud.stop.stop();
    });
}
