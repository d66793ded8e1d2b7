//! The kiosk's modes and settings, black box under a private Xvfb with two real test
//! cameras, the cloud and the broker as processes, in one kiosk run:
//!
//! 1. Cycle mode (every 3 s): one HD tile shows each camera in turn, in order, and wraps.
//! 2. The settings change while it runs (the GSettings keyfile the preferences window
//!    writes through): layout → 2×2 grid of both cameras, live; camera selection → only the
//!    chosen one.
//! 3. Resume from sleep: tests cannot suspend the machine, so the kiosk's test hook
//!    (SIGUSR1, in `test-hooks` builds only) runs the same `on_resume` path as logind's
//!    PrepareForSleep(false) or a wall-clock jump; every tile reconnects and is live again.
//! 4. A camera that stays away: its tile says why on the tile ("Camera Offline").

mod kiosk_support;

use kiosk_support::*;

fn named<'a>(ev: &'a [serde_json::Value], name: &str) -> Vec<&'a serde_json::Value> {
    ev.iter().filter(|e| e["event"] == name).collect()
}

/// The reports without frames (for failure messages).
fn brief(report: &std::path::Path) -> Vec<serde_json::Value> {
    events(report)
        .into_iter()
        .filter(|e| e["event"] != "kiosk-frame")
        .collect()
}

fn write_settings(house: &House, settings: &[(&str, String)]) {
    let path = house
        .dir
        .path()
        .join("kiosk-config/glib-2.0/settings/keyfile");
    let mut keyfile = String::from("[io/github/eyrie/Eyrie]\n");
    for (k, v) in settings {
        keyfile.push_str(&format!("{k}={v}\n"));
    }
    std::fs::write(path, keyfile).expect("keyfile");
}

fn hd_live_since(ev: &[serde_json::Value], camera: &str, since: u64) -> bool {
    ev.iter().any(|e| {
        e["event"] == "kiosk-frame"
            && e["data"]["camera"] == camera
            && e["data"]["hd"] == true
            && e["data"]["age_ms"].as_i64().is_some_and(|a| a < 2000)
            && e["data"]["clock_ms"].as_u64().is_some_and(|c| c >= since)
    })
}

#[test]
fn cycle_settings_resume_and_a_dead_tile() {
    let mut house = House::start(std::path::Path::new(env!("CARGO_BIN_EXE_eyrie")), 2, 8);
    let screen = Screen::start();
    let report = house.dir.path().join("kiosk.jsonl");
    let cameras = house.camera_ids();
    let cycle = [
        ("kiosk-layout", "'cycle'".to_string()),
        ("kiosk-cycle-seconds", "uint32 3".to_string()),
        ("kiosk-event-focus", "false".to_string()),
    ];
    let _kiosk = house.start_kiosk(&screen, &cycle, &report);

    // 1. Cycle: each camera in turn, in order, wrapping; the one shown is live in HD.
    assert!(
        wait_for(&report, 90, |ev| named(ev, "kiosk-cycle").len() >= 3).is_some(),
        "the kiosk did not cycle: {:?}",
        brief(&report)
    );
    let ev = events(&report);
    let layout = named(&ev, "kiosk-layout");
    assert_eq!(layout[0]["data"]["layout"], "cycle", "{layout:?}");
    let order: Vec<String> = layout[0]["data"]["cameras"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c.as_str().map(str::to_owned))
        .collect();
    assert_eq!(order.len(), 1, "one tile: {layout:?}");
    let shown: Vec<(String, u64)> = named(&ev, "kiosk-cycle")
        .iter()
        .map(|c| {
            (
                c["data"]["camera"].as_str().unwrap_or("").to_owned(),
                c["data"]["index"].as_u64().unwrap_or(99),
            )
        })
        .collect();
    assert_eq!(
        shown.iter().map(|(_, i)| *i).take(3).collect::<Vec<_>>(),
        vec![1, 0, 1],
        "in order and wrapping: {shown:?}"
    );
    assert_ne!(shown[0].0, shown[1].0);
    assert_eq!(shown[0].0, shown[2].0);
    assert_ne!(
        shown[0].0, order[0],
        "the first switch leaves the first camera"
    );
    assert_eq!(shown[1].0, order[0], "and the second wraps back to it");
    let since = now_ms();
    assert!(
        wait_for(&report, 20, |ev| {
            let last = named(ev, "kiosk-cycle")
                .last()
                .and_then(|c| c["data"]["camera"].as_str().map(str::to_owned));
            last.is_some_and(|c| hd_live_since(ev, &c, since))
        })
        .is_some(),
        "the cycled camera is live in HD"
    );

    // 2. Settings applied while running: the 2×2 grid of both cameras, then only one.
    let t = now_ms();
    let grid = [
        ("kiosk-layout", "'grid-2x2'".to_string()),
        ("kiosk-event-focus", "false".to_string()),
    ];
    write_settings(&house, &grid);
    assert!(
        wait_for(&report, 40, |ev| {
            named(ev, "kiosk-layout").last().is_some_and(|l| {
                l["data"]["layout"] == "grid-2x2"
                    && l["data"]["cameras"]
                        .as_array()
                        .is_some_and(|a| a.len() == 2)
            }) && all_live_since(ev, &cameras, t)
        })
        .is_some(),
        "the layout change did not apply: {:?}",
        brief(&report)
    );
    let mut one = grid.to_vec();
    one.push(("kiosk-cameras", format!("['{}']", cameras[0])));
    write_settings(&house, &one);
    assert!(
        wait_for(&report, 40, |ev| {
            named(ev, "kiosk-layout")
                .last()
                .is_some_and(|l| l["data"]["cameras"] == serde_json::json!([cameras[0]]))
        })
        .is_some(),
        "the camera selection did not apply: {:?}",
        brief(&report)
    );
    write_settings(&house, &grid);
    let t = now_ms();
    assert!(
        wait_for(&report, 40, |ev| {
            named(ev, "kiosk-layout").last().is_some_and(|l| {
                l["data"]["cameras"]
                    .as_array()
                    .is_some_and(|a| a.len() == 2)
            }) && all_live_since(ev, &cameras, t)
        })
        .is_some(),
        "both cameras did not come back: {:?}",
        brief(&report)
    );

    // 3. Resume: every tile reconnects and is live again.
    let pid = kiosk_pid(&events(&report)).expect("the kiosk reports its pid");
    let before = events(&report).len();
    let resumed = now_ms();
    let status = std::process::Command::new("kill")
        .args(["-USR1", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    assert!(
        wait_for(&report, 40, |ev| {
            let after = &ev[before.min(ev.len())..];
            named(after, "kiosk-resume").len() == 1
                && cameras.iter().all(|c| {
                    after.iter().any(|e| {
                        e["event"] == "kiosk-tile"
                            && e["data"]["camera"] == c.as_str()
                            && e["data"]["state"] == "connecting"
                    })
                })
                && all_live_since(after, &cameras, resumed)
        })
        .is_some(),
        "not every tile reconnected and came back after the resume: {:?}",
        brief(&report)
    );

    // 4. A camera gone for good: its tile says so.
    house.cameras[1].1.kill();
    let gone = house.cameras[1].0.clone();
    assert!(
        wait_for(&report, 90, |ev| {
            ev.iter().any(|e| {
                e["event"] == "kiosk-tile"
                    && e["data"]["camera"] == gone.as_str()
                    && e["data"]["state"] == "failed"
                    && e["data"]["detail"] == "Camera Offline"
            })
        })
        .is_some(),
        "the dead tile does not say why: {:?}",
        brief(&report)
            .iter()
            .filter(|e| e["data"]["camera"] == gone.as_str())
            .collect::<Vec<_>>()
    );
    // The other camera stays live meanwhile.
    let t = now_ms();
    assert!(
        wait_for(&report, 20, |ev| live_since(ev, &cameras[0], t).is_some()).is_some(),
        "the other tile stayed live"
    );
}
