//! The kiosk's interaction, black box under a private Xvfb: a 2×2 grid of SD tiles; a
//! click on a tile enlarges its camera in HD and the grid comes back after
//! `kiosk-enlarge-seconds`; a manual event posted by a camera brings that camera to the
//! front. Frames are checked by their pixel clock (live, not frozen) and their size (SD
//! 640×360 in the grid, HD 1280×720 in front). `EYRIE_KIOSK_SCREENSHOT=<path>` also saves
//! the grid, then of four cameras, as a PNG (`data/screenshots/kiosk.png`).

mod kiosk_support;

use std::time::Duration;

use eyrie_client::api::ApiClient;
use eyrie_protocol::api::EventKind;
use kiosk_support::*;

fn hd_live_since(ev: &[serde_json::Value], camera: &str, since: u64) -> bool {
    ev.iter().any(|e| {
        e["event"] == "kiosk-frame"
            && e["data"]["camera"] == camera
            && e["data"]["hd"] == true
            && e["data"]["size"] == serde_json::json!([1280, 720])
            && e["data"]["age_ms"].as_i64().is_some_and(|a| a < 2000)
            && e["data"]["clock_ms"].as_u64().is_some_and(|c| c >= since)
    })
}

fn focused(ev: &[serde_json::Value], camera: Option<&str>, why: &str) -> bool {
    ev.iter().any(|e| {
        e["event"] == "kiosk-focus"
            && match camera {
                Some(c) => e["data"]["camera"] == c && e["data"]["why"] == why,
                None => e["data"]["camera"].is_null(),
            }
    })
}

#[test]
fn click_enlarges_in_hd_and_an_event_brings_its_camera_to_the_front() {
    // The README's picture of the kiosk fills the whole grid: four cameras then.
    let screenshot = std::env::var_os("EYRIE_KIOSK_SCREENSHOT");
    let cameras = if screenshot.is_some() { 4 } else { 2 };
    let house = House::start(
        std::path::Path::new(env!("CARGO_BIN_EXE_eyrie")),
        cameras,
        8,
    );
    let screen = Screen::start();
    let report = house.dir.path().join("kiosk.jsonl");
    let _kiosk = house.start_kiosk(
        &screen,
        &[
            ("kiosk-layout", "'grid-2x2'".into()),
            ("kiosk-enlarge-seconds", "uint32 5".into()),
            ("kiosk-event-focus-seconds", "uint32 30".into()),
        ],
        &report,
    );
    let t0 = now_ms();
    let cameras = house.camera_ids();
    assert!(
        wait_for(&report, 90, |ev| all_live_since(ev, &cameras, t0)).is_some(),
        "the grid never came up: {:?}",
        events(&report)
    );
    if let Some(path) = screenshot {
        std::thread::sleep(Duration::from_secs(1));
        screen.screenshot(std::path::Path::new(&path));
    }
    // Which camera sits in the top-right cell (index 1 of the layout).
    let ev = events(&report);
    let layout = ev
        .iter()
        .find(|e| e["event"] == "kiosk-layout")
        .expect("layout reported");
    let right = layout["data"]["cameras"][1]
        .as_str()
        .expect("two cameras in the grid")
        .to_owned();
    let left = layout["data"]["cameras"][0]
        .as_str()
        .expect("camera")
        .to_owned();

    // Click: the top-right camera in front, in HD; back to the SD grid after 5 s.
    let clicked = now_ms();
    screen.click(960, 180);
    assert!(
        wait_for(&report, 30, |ev| focused(ev, Some(&right), "Click")
            && hd_live_since(ev, &right, clicked))
        .is_some(),
        "no HD picture of the clicked camera: {:?}",
        events(&report)
            .iter()
            .filter(|e| e["event"] != "kiosk-frame")
            .collect::<Vec<_>>()
    );
    assert!(
        wait_for(&report, 30, |ev| focused(ev, None, "")).is_some(),
        "the grid did not come back"
    );
    let back = now_ms();
    assert!(
        wait_for(&report, 30, |ev| all_live_since(ev, &cameras, back)).is_some(),
        "the grid tiles did not come back live"
    );

    // A manual event on the top-left camera, posted the way the camera posts it.
    let index = house
        .cameras
        .iter()
        .position(|(id, _)| *id == left)
        .expect("known camera");
    let creds: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            house
                .dir
                .path()
                .join(format!("camera-{index}/credentials.json")),
        )
        .expect("camera credentials"),
    )
    .expect("credentials JSON");
    let device = ApiClient::new(house.api_url()).with_token(
        creds["device_token"]
            .as_str()
            .expect("device token")
            .to_owned(),
    );
    let channel: uuid::Uuid = creds["channels"]["main"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("main channel");
    let posted = now_ms();
    house
        .rt
        .block_on(device.start_event(channel, EventKind::Manual, posted as i64))
        .expect("post an event");
    assert!(
        wait_for(&report, 30, |ev| focused(ev, Some(&left), "Event")
            && hd_live_since(ev, &left, posted))
        .is_some(),
        "the event did not bring its camera to the front: {:?}",
        events(&report)
            .iter()
            .filter(|e| e["event"] != "kiosk-frame")
            .collect::<Vec<_>>()
    );
}
