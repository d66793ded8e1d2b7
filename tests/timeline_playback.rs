//! Stitched playback and clip export end to end: the real recorder keeps making 2-second
//! segments of the test pattern (every frame carries its capture time as a pixel clock),
//! the embedded cloud stores them, and the playback engine plays them into an appsink.
//! One recording is shared by all tests (`live_fixture`); each test uses its own segments
//! (the tampering test spoils segment 7, which no other test plays).

mod timeline_support;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use eyrie_client::playback::{Notice, Player, SkipReason, create_clip, export_clip, poll_clip};
use eyrie_protocol::api::{Clip, ClipStatus};
use timeline_support::*;

/// The fixture's camera makes a keyframe every second.
const GOP_MS: i64 = 1_000;

fn clocks_of(shown: &std::sync::Mutex<Vec<Shown>>) -> Vec<i64> {
    shown
        .lock()
        .unwrap()
        .iter()
        .filter_map(|f| f.clock_ms)
        .collect()
}

#[test]
fn seek_shows_the_frame_of_the_asked_instant() {
    let fx = live_fixture();
    let recs = &fx.recs;
    fx.rt.block_on(async {
        let (sink, shown) = clock_sink();
        let (player, mut notices) = Player::open(
            fx.api.clone(),
            fx.keys.clone(),
            fx.cloud.creds.channels.main,
            &sink,
        )
        .unwrap();
        let truth = recorded_clocks(fx, &recs[1..=4]).await;
        // Two seeks in one player, at different offsets from the keyframe before them.
        for (k, target) in [recs[1].start_ms + 700, recs[4].start_ms + 1_234]
            .into_iter()
            .enumerate()
        {
            let before = shown.lock().unwrap().len();
            player.seek(target).await.unwrap();
            // The notice names the first frame of the new position; frames the previous
            // position had in flight when the seek came may still arrive before it.
            let frame_ms = tokio::time::timeout(Duration::from_secs(15), async {
                loop {
                    match notices.recv().await {
                        Some(Notice::SeekDone {
                            target_ms,
                            frame_ms,
                        }) if target_ms == target => {
                            break frame_ms;
                        }
                        Some(Notice::SeekDone { .. }) => {}
                        other => panic!("expected SeekDone, got {other:?}"),
                    }
                }
            })
            .await
            .unwrap_or_else(|_| panic!("no SeekDone after seek {k}"));
            let at_frame = |s: &[Shown]| {
                s.iter()
                    .skip(before)
                    .position(|f| f.clock_ms.is_some_and(|c| (c - frame_ms).abs() <= 1))
            };
            assert!(
                wait_for(&shown, Duration::from_secs(5), |s| at_frame(s).is_some()).await,
                "the frame SeekDone names ({frame_ms}) is shown after seek {k}"
            );
            let (clock, stale) = {
                let s = shown.lock().unwrap();
                let i = before + at_frame(&s).unwrap();
                let stale: Vec<i64> = s[before.saturating_sub(1)..i]
                    .iter()
                    .filter_map(|f| f.clock_ms)
                    .collect();
                (s[i].clock_ms.unwrap(), stale)
            };
            // Whatever came between the seek and its frame is the previous position
            // playing on for a moment: a few frames, each a frame interval after the last.
            assert!(stale.len() <= 6, "seek {k}: {} stale frames", stale.len());
            for w in stale.windows(2) {
                assert!(
                    (1..=200).contains(&(w[1] - w[0])),
                    "seek {k}: frame {} before the seek's frame is not the old position playing on",
                    w[1]
                );
            }
            eprintln!(
                "seek {target}: first frame {clock} ({} ms off, {} stale)",
                clock - target,
                stale.len().saturating_sub(1)
            );
            assert!(
                (clock - target).abs() <= GOP_MS,
                "seek {target} shows {clock} (more than one GOP off)"
            );
            // The first recorded frame at the instant (the player allows 20 ms of slack;
            // wall times are whole ms, so ±1 ms of rounding).
            let expected = *truth
                .iter()
                .find(|&&c| c >= target - 20)
                .expect("recorded frames after the target");
            assert!(
                (clock - expected).abs() <= 1,
                "seek {target} lands on the frame at the instant {expected}, shows {clock}"
            );
            player.pause();
            tokio::time::sleep(Duration::from_millis(200)).await;
            player.play();
        }
    });
}

#[test]
fn plays_across_three_boundaries_without_jump_or_repeat_and_steps() {
    let fx = live_fixture();
    let recs = &fx.recs;
    fx.rt.block_on(async {
        let (sink, shown) = clock_sink();
        let (player, _notices) = Player::open(
            fx.api.clone(),
            fx.keys.clone(),
            fx.cloud.creds.channels.main,
            &sink,
        )
        .unwrap();
        // What the camera recorded (decoded before playing: it takes a while).
        let truth = recorded_clocks(fx, &recs[1..=6]).await;
        player.set_rate(2.0);
        player.seek(recs[1].start_ms + 1_500).await.unwrap();
        let until = recs[4].start_ms + 300;
        assert!(
            wait_for(&shown, Duration::from_secs(30), |s| s
                .last()
                .and_then(|f| f.clock_ms)
                .is_some_and(|c| c >= until))
            .await,
            "playback reaches the 4th segment"
        );
        let n_frames = shown.lock().unwrap().len();
        let clocks = clocks_of(&shown);
        assert!(clocks.len() + 2 >= n_frames, "every frame carries a clock");
        let mut max_step = 0;
        for w in clocks.windows(2) {
            let d = w[1] - w[0];
            assert!(d > 0, "no repeats or jumps back: {} → {}", w[0], w[1]);
            max_step = max_step.max(d);
        }
        eprintln!("{} frames, largest clock step {max_step} ms", clocks.len());
        // Every recorded frame between the first and the last shown, once, in order.
        let (first, last) = (clocks[0], *clocks.last().unwrap());
        let want: Vec<i64> = truth
            .iter()
            .copied()
            .filter(|&c| c >= first && c <= last)
            .collect();
        let missing: Vec<i64> = want
            .iter()
            .copied()
            .filter(|c| !clocks.contains(c))
            .collect();
        assert!(
            clocks == want,
            "shown ≠ recorded across the boundaries: {} shown, {} recorded, missing {missing:?}",
            clocks.len(),
            want.len()
        );
        for b in &recs[2..=4] {
            assert!(
                clocks
                    .iter()
                    .any(|&c| c >= b.start_ms - 40 && c < b.start_ms + 40),
                "a frame right at boundary {}",
                b.start_ms
            );
        }

        // Pause holds the picture; a step shows exactly the next frame.
        player.pause();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let n = shown.lock().unwrap().len();
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(shown.lock().unwrap().len(), n, "paused: no new frames");
        player.step();
        assert!(
            wait_for(&shown, Duration::from_secs(3), |s| s.len() == n + 1).await,
            "one step, one frame"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        let after = clocks_of(&shown);
        assert_eq!(shown.lock().unwrap().len(), n + 1, "a step shows one frame");
        let (a, b) = (after[after.len() - 2], after[after.len() - 1]);
        let i = truth
            .iter()
            .position(|&c| c == a)
            .expect("paused frame recorded");
        assert_eq!(
            truth.get(i + 1),
            Some(&b),
            "the step shows the next frame after {a}"
        );
    });
}

/// Export `clip` and check the file: ffprobe duration, first and last pixel clocks.
async fn export_and_check(fx: &LiveFixture, clip: &Clip, cs: i64, ce: i64) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("clip.mp4");
    let progress = Arc::new(std::sync::Mutex::new(Vec::new()));
    let p2 = progress.clone();
    let report = export_clip(
        &fx.api,
        &fx.keys,
        clip,
        &out,
        move |p| p2.lock().unwrap().push(p),
        Arc::new(AtomicBool::new(false)),
    )
    .await
    .unwrap();
    assert!(progress.lock().unwrap().len() > 2, "progress reported");
    let dur = probe_duration(&out);
    let asked = (ce - cs) as f64 / 1000.0;
    let fc = file_clocks(&out);
    let (f0, fl) = (fc[0], *fc.last().unwrap());
    eprintln!(
        "clip [{cs}, {ce}): {dur} s (asked {asked}), frames {f0}..{fl}, {} bytes",
        report.bytes
    );
    assert!(
        dur >= asked - 0.05 && dur <= asked + GOP_MS as f64 / 1000.0 + 0.05,
        "clip lasts {dur} s, asked {asked} s ({report:?})"
    );
    assert!(
        f0 <= cs + 20 && cs - f0 <= GOP_MS,
        "first frame {f0} at or up to one GOP before {cs}"
    );
    // Against what the camera recorded: every frame from the first to the last once, and
    // the last one is the last recorded before the asked end (±1 ms of rounding).
    let mut recs = fx
        .api
        .recordings(clip.channel_id, cs - 5_000, ce + 5_000)
        .await
        .unwrap()
        .recordings;
    // From the recording that holds the first exported frame (not before it: another test
    // deletes segment 0's object) to the end.
    recs.retain(|r| r.download.is_some() && r.start_ms < ce + 1_000);
    recs.sort_by_key(|r| r.start_ms);
    let first = recs
        .iter()
        .rposition(|r| r.start_ms <= f0)
        .unwrap_or_else(|| panic!("no recording holds the first exported frame {f0}"));
    recs.drain(..first);
    let truth = recorded_clocks(fx, &recs).await;
    let p = truth
        .iter()
        .position(|&c| c == f0)
        .unwrap_or_else(|| panic!("first exported frame {f0} is not a recorded one"));
    assert_eq!(
        truth.get(p..p + fc.len()),
        Some(&fc[..]),
        "the clip has every recorded frame once, in order"
    );
    let next = truth.get(p + fc.len()).copied();
    assert!(
        fl <= ce + 1 && next.is_none_or(|n| n >= ce - 1),
        "last frame {fl} is the last recorded before the asked end {ce} (next {next:?})"
    );
}

#[test]
fn exported_clip_has_the_asked_range_and_cancel_leaves_nothing() {
    let fx = live_fixture();
    let recs = &fx.recs;
    fx.rt.block_on(async {
        let channel = fx.cloud.creds.channels.main;
        let (cs, ce) = (recs[1].start_ms + 300, recs[3].start_ms + 500);
        let clip = create_clip(&fx.api, channel, cs, ce, Some("porch".into()))
            .await
            .unwrap();
        let clip = poll_clip(
            &fx.api,
            clip.id,
            Duration::from_millis(200),
            Duration::from_secs(60),
        )
        .await
        .unwrap();
        assert_eq!(clip.status, ClipStatus::Finished, "{clip:?}");
        export_and_check(fx, &clip, cs, ce).await;

        let dir = tempfile::tempdir().unwrap();
        let out2 = dir.path().join("cancelled.mp4");
        let err = export_clip(
            &fx.api,
            &fx.keys,
            &clip,
            &out2,
            |_| {},
            Arc::new(AtomicBool::new(true)),
        )
        .await;
        assert!(err.is_err() && !out2.exists(), "cancelled: {err:?}");
    });
}

#[test]
fn clip_reaching_into_the_present_finishes_once_uploaded() {
    let fx = live_fixture();
    fx.rt.block_on(async {
        let channel = fx.cloud.creds.channels.main;
        let now = now_ms();
        // After the fixture's segments (the tampering test spoils one of them).
        let cs = (now - 3_000).max(fx.recs[FIXTURE_SEGMENTS - 1].end_ms + 200);
        let ce = now + 4_000;
        let clip = create_clip(&fx.api, channel, cs, ce, None).await.unwrap();
        let polled = fx.api.clip(clip.id).await.unwrap();
        assert_eq!(
            polled.status,
            ClipStatus::InProgress,
            "the end is still in the future: {polled:?}"
        );
        let clip = poll_clip(
            &fx.api,
            clip.id,
            Duration::from_millis(250),
            Duration::from_secs(90),
        )
        .await
        .unwrap();
        assert_eq!(clip.status, ClipStatus::Finished, "{clip:?}");
        let last = clip.parts.last().expect("parts");
        assert!(
            last.start_ms > now && last.end_ms + 250 >= ce,
            "the clip holds segments recorded after it was asked, up to its end \
             (within the cloud's 250 ms gap tolerance): {:?}",
            clip.parts
        );
        // The cloud may end the clip up to 250 ms early when that is where recording is.
        let ce = ce.min(last.end_ms);
        export_and_check(fx, &clip, cs, ce).await;
    });
}

#[test]
fn tampered_segment_is_refused_with_a_notice_and_playback_goes_on() {
    let fx = live_fixture();
    let recs = &fx.recs;
    fx.rt.block_on(async {
        let bad = &recs[7];
        assert!(tamper(fx.cloud.dir.path(), bad), "found the stored object");
        let (sink, shown) = clock_sink();
        let (player, mut notices) = Player::open(
            fx.api.clone(),
            fx.keys.clone(),
            fx.cloud.creds.channels.main,
            &sink,
        )
        .unwrap();
        player.set_rate(4.0);
        player.seek(recs[6].start_ms + 1_000).await.unwrap();
        let resumed = recs[8].start_ms;
        assert!(
            wait_for(&shown, Duration::from_secs(30), |s| s
                .iter()
                .any(|f| f.clock_ms.is_some_and(|c| c >= resumed + 200)))
            .await,
            "playback resumes after the tampered segment"
        );
        let clocks = clocks_of(&shown);
        assert!(
            clocks
                .iter()
                .any(|&c| c >= recs[6].start_ms + 1_000 && c < bad.start_ms),
            "the segment before it played"
        );
        assert!(
            !clocks
                .iter()
                .any(|&c| c >= bad.start_ms + 40 && c < bad.end_ms - 40),
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
                    assert_eq!((recording_id, reason), (bad.id, SkipReason::Tampered));
                    saw_skip = true;
                }
                Notice::GapSkipped { to_ms, .. } => saw_gap |= to_ms == resumed,
                _ => {}
            }
        }
        assert!(
            saw_skip && saw_gap,
            "notices: skipped {saw_skip}, resumed {saw_gap}"
        );
    });
}

/// A finished clip plays from its own object (range GETs of its parts), so it still plays
/// once the recording it was cut from is gone; it starts at the clip's start and stops at
/// its end, though its segment runs on. Uses segment 0, which no other test plays.
#[test]
fn clip_plays_from_its_object_after_its_recording_is_gone_and_stops_at_its_end() {
    let fx = live_fixture();
    let recs = &fx.recs;
    fx.rt.block_on(async {
        let channel = fx.cloud.creds.channels.main;
        let (cs, ce) = (recs[0].start_ms + 200, recs[0].end_ms - 600);
        let clip = create_clip(&fx.api, channel, cs, ce, None).await.unwrap();
        let clip = poll_clip(
            &fx.api,
            clip.id,
            Duration::from_millis(200),
            Duration::from_secs(60),
        )
        .await
        .unwrap();
        assert_eq!(clip.status, ClipStatus::Finished, "{clip:?}");
        assert_eq!(clip.parts.len(), 1, "{clip:?}");
        assert!(
            remove_object(fx.cloud.dir.path(), &recs[0]),
            "found the recording's object"
        );

        let (sink, shown) = clock_sink();
        let (player, mut notices) =
            Player::open_clip(fx.api.clone(), fx.keys.clone(), clip.clone(), &sink).unwrap();
        player.seek(cs).await.unwrap();
        let mut ended = false;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while let Ok(Some(n)) = tokio::time::timeout_at(deadline, notices.recv()).await {
            match n {
                Notice::EndOfRecordings { .. } => {
                    ended = true;
                    break;
                }
                Notice::SegmentSkipped { reason, .. } => panic!("a part was skipped: {reason:?}"),
                _ => {}
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let c = clocks_of(&shown);
        assert!(ended, "the clip announced its end; shown {c:?}");
        assert!(c.len() >= 10, "the clip played: {c:?}");
        assert!(
            (c[0] - cs).abs() <= 100,
            "starts at the clip's start: {} vs {cs}",
            c[0]
        );
        let last = *c.last().unwrap();
        assert!(
            last <= ce + 100 && last >= ce - 300,
            "stops at the clip's end: last {last}, end {ce}"
        );
        drop(player);

        // The channel's own player cannot show that segment any more: it is gone.
        let (sink, _shown) = clock_sink();
        let (player, mut notices) =
            Player::open(fx.api.clone(), fx.keys.clone(), channel, &sink).unwrap();
        player.seek(cs).await.unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        let mut missing = false;
        while let Ok(Some(n)) = tokio::time::timeout_at(deadline, notices.recv()).await {
            if let Notice::SegmentSkipped {
                recording_id,
                reason,
                ..
            } = n
            {
                missing = recording_id == recs[0].id && reason == SkipReason::Missing;
                break;
            }
        }
        assert!(missing, "the recording's object is really gone");
    });
}
