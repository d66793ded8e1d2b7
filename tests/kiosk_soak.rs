//! The kiosk soak: `eyrie --kiosk` with a 2×2 grid of four test cameras runs for ten
//! minutes under Xvfb while the test restarts the broker, one camera and the cloud, twice
//! each. After every restart all four tiles must show live frames again within 10 s of the
//! restarted service being started (a live frame: its pixel clock, the capture time drawn
//! into the picture, was under 2 s old when it reached the screen's sink, and it was
//! captured after the restart); a restarted camera's tile must have been marked not live in
//! between; and the viewer's memory must stay flat.
//!
//! Real processes throughout (tests/kiosk_support): mosquitto, `eyrie cloud`, four
//! `eyrie camera --source test --fps 5`, and the kiosk reading its settings from a
//! GSettings key file. The time figures go to `cargo bench --bench kiosk`; here the bounds
//! are the issue's.

mod kiosk_support;

use std::time::{Duration, Instant};

use kiosk_support::*;

/// The whole test, set-up included: `EYRIE_SOAK_SECS`, 180 s in the suite
/// (`build-aux/run-tests`), the full 600 s in `build-aux/run-soak`.
fn total() -> Duration {
    let secs = std::env::var("EYRIE_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    Duration::from_secs(secs)
}
/// What a restart must be healed in.
const HEAL: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy)]
enum Restart {
    Broker,
    Camera(usize),
    Cloud,
}

#[test]
fn kiosk_grid_heals_through_ten_minutes_of_restarts() {
    let started = Instant::now();
    let mut house = House::start(std::path::Path::new(env!("CARGO_BIN_EXE_eyrie")), 4, 5);
    let cameras = house.camera_ids();
    let report = house.dir.path().join("kiosk.jsonl");
    let list = cameras
        .iter()
        .map(|c| format!("'{c}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let screen = Screen::start();
    let _kiosk = house.start_kiosk(
        &screen,
        &[
            ("kiosk-layout", "'grid-2x2'".into()),
            ("kiosk-cameras", format!("[{list}]")),
            ("kiosk-hide-pointer-seconds", "uint32 2".into()),
        ],
        &report,
    );

    // All four live, in SD.
    let t0 = now_ms();
    let first = wait_for(&report, 90, |ev| all_live_since(ev, &cameras, t0));
    let ev = events(&report);
    assert!(
        first.is_some(),
        "the grid never came up: {}",
        summary(&ev, &cameras)
    );
    let layout = ev
        .iter()
        .find(|e| e["event"] == "kiosk-layout")
        .expect("layout reported");
    assert_eq!(layout["data"]["layout"], "grid-2x2");
    assert_eq!(layout["data"]["cameras"], serde_json::json!(cameras));
    for c in &cameras {
        let frame = ev
            .iter()
            .find(|e| e["event"] == "kiosk-frame" && e["data"]["camera"] == *c)
            .expect("frame");
        assert_eq!(
            frame["data"]["size"],
            serde_json::json!([640, 360]),
            "grid tiles are SD"
        );
    }
    assert!(
        ev.iter().any(|e| e["event"] == "kiosk-inhibit"),
        "idle not inhibited"
    );
    let pid = kiosk_pid(&ev).expect("kiosk pid");

    // Restarts, evenly spread over what is left of the ten minutes.
    let plan = [
        Restart::Broker,
        Restart::Camera(1),
        Restart::Cloud,
        Restart::Broker,
        Restart::Camera(2),
        Restart::Cloud,
    ];
    // The last restart leaves a minute of quiet running before the end.
    let end = started + total() - Duration::from_secs(45);
    let step = end.saturating_duration_since(Instant::now()) / (plan.len() as u32 + 1);
    let mut rss: Vec<(Duration, f64)> = Vec::new();
    let mut next = Instant::now() + step;
    let mut healed = Vec::new();
    for restart in plan {
        while Instant::now() < next {
            if let Some(mb) = rss_mb(pid) {
                rss.push((started.elapsed(), mb));
            }
            std::thread::sleep(Duration::from_secs(2));
        }
        next += step;
        let down_at = now_ms();
        match restart {
            Restart::Broker => house.restart_broker(),
            Restart::Camera(i) => house.restart_camera(i, Duration::from_secs(1)),
            Restart::Cloud => house.restart_cloud(),
        }
        let back_at = now_ms();
        let took = wait_for(&report, HEAL.as_secs() + 20, |ev| {
            all_live_since(ev, &cameras, back_at)
        });
        let ev = events(&report);
        let worst = cameras
            .iter()
            .map(|c| live_since(&ev, c, back_at).map(|t| t.saturating_sub(back_at)))
            .collect::<Vec<_>>();
        assert!(
            took.is_some()
                && worst
                    .iter()
                    .all(|w| w.is_some_and(|ms| ms <= HEAL.as_millis() as u64)),
            "{restart:?}: tiles not live within {HEAL:?} of the restart (ms after: {worst:?}): {}",
            summary(&ev, &cameras)
        );
        if let Restart::Camera(i) = restart {
            // The restarted camera's tile never passed its last picture off as live.
            assert!(
                marked_after(&ev, &cameras[i], down_at),
                "camera {i}'s tile was not marked while it was down"
            );
        }
        healed.push((restart, worst));
    }
    eprintln!("healed (ms after each restart, per tile): {healed:?}");

    // Quiet running to the end of the ten minutes; then every tile is still live.
    while started.elapsed() < total() - Duration::from_secs(5) {
        if let Some(mb) = rss_mb(pid) {
            rss.push((started.elapsed(), mb));
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    let last = now_ms() - 4_000;
    assert!(
        wait_for(&report, 5, |ev| all_live_since(ev, &cameras, last)).is_some(),
        "tiles not live at the end: {}",
        summary(&events(&report), &cameras)
    );

    // Memory: the last minute against the first minute after start-up, with room for the
    // allocator's arenas; a leak of a session per restart or a frame per second shows.
    let early: Vec<f64> = rss
        .iter()
        .filter(|(t, _)| *t < Duration::from_secs(180))
        .map(|(_, m)| *m)
        .collect();
    let late: Vec<f64> = rss.iter().rev().take(15).map(|(_, m)| *m).collect();
    let (early, late) = (median(&early), median(&late));
    eprintln!(
        "kiosk RSS: early {early:.0} MiB, late {late:.0} MiB, samples {}",
        rss.len()
    );
    assert!(
        late <= early * 1.25 + 40.0,
        "memory grew from {early:.0} to {late:.0} MiB: {rss:?}"
    );
    assert!(
        events(&report)
            .iter()
            .any(|e| e["event"] == "kiosk-pointer" && e["data"]["hidden"] == true),
        "the pointer was never hidden"
    );
}

/// A non-live state of `camera`'s tile reported after `since` (unix ms).
fn marked_after(ev: &[serde_json::Value], camera: &str, since: u64) -> bool {
    // Reports carry t_ms since the app started; find the app's epoch from a frame.
    let epoch = ev.iter().find_map(|e| {
        (e["event"] == "kiosk-frame").then(|| {
            let clock = e["data"]["clock_ms"].as_f64()? + e["data"]["age_ms"].as_f64()?;
            Some(clock - e["t_ms"].as_f64()?)
        })?
    });
    let Some(epoch) = epoch else { return false };
    ev.iter().any(|e| {
        e["event"] == "kiosk-tile"
            && e["data"]["camera"] == camera
            && e["data"]["state"] != "live"
            && e["t_ms"]
                .as_f64()
                .is_some_and(|t| epoch + t >= since as f64)
    })
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// The last state and frame of each tile, for failure messages.
fn summary(ev: &[serde_json::Value], cameras: &[String]) -> String {
    cameras
        .iter()
        .map(|c| {
            let state = ev
                .iter()
                .rev()
                .find(|e| e["event"] == "kiosk-tile" && e["data"]["camera"] == *c)
                .map(|e| format!("{} {}", e["data"]["state"], e["data"]["detail"]));
            let frame = ev
                .iter()
                .rev()
                .find(|e| e["event"] == "kiosk-frame" && e["data"]["camera"] == *c)
                .map(|e| e["data"].to_string());
            format!("\n  {c}: {state:?} last frame {frame:?}")
        })
        .collect()
}
