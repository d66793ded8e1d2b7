//! The timeline window under Xvfb, black box: `eyrie demo` records the test-pattern camera
//! to its embedded cloud in 3-second segments; the live view opens the timeline
//! (`EYRIE_TEST_TIMELINE=1`), whose script clicks the ruler 2.5 s into the first
//! recording once it is listed. The app renders the frames it shows back into pixels and
//! reports their pixel clock (`timeline-frame`): the first one must carry the clicked
//! instant, and the following ones must advance.

mod gui_app;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn events(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn named<'a>(ev: &'a [serde_json::Value], name: &str) -> Vec<&'a serde_json::Value> {
    ev.iter().filter(|e| e["event"] == name).collect()
}

/// Run `eyrie demo` under Xvfb until `done` holds or `secs` pass.
fn run_demo(secs: u64, done: impl Fn(&[serde_json::Value]) -> bool) -> Vec<serde_json::Value> {
    let dir = tempfile::tempdir().expect("temp dir");
    let report = dir.path().join("report.jsonl");
    let mut cmd = gui_app::command("1280x800x24");
    cmd.arg("demo")
        .env("EYRIE_TEST_REPORT", &report)
        .env("EYRIE_TEST_TIMELINE", "1")
        .env("EYRIE_DEMO_SEGMENT_SECS", "3")
        .env("EYRIE_DEMO_SOURCE", "test")
        .env("GSK_RENDERER", "cairo")
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut app = gui_app::App::spawn(&mut cmd);
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline && !done(&events(&report)) {
        std::thread::sleep(Duration::from_millis(200));
    }
    app.stop();
    events(&report)
}

fn clocks(ev: &[serde_json::Value]) -> Vec<i64> {
    named(ev, "timeline-frame")
        .iter()
        .filter_map(|f| f["data"]["clock_ms"].as_i64())
        .collect()
}

#[test]
fn timeline_click_plays_recorded_frames_of_that_instant() {
    let ev = run_demo(120, |ev| clocks(ev).len() >= 8);
    let click = named(&ev, "timeline-click");
    let target = click
        .first()
        .and_then(|c| c["data"]["target_ms"].as_i64())
        .unwrap_or_else(|| {
            panic!(
                "the timeline never clicked (recordings listed: {:?})",
                named(&ev, "timeline-loaded").last()
            )
        });
    let frames = named(&ev, "timeline-frame");
    assert!(!frames.is_empty(), "no recorded frame rendered: {ev:?}");
    for f in &frames {
        // The main (HD) channel, drawn: not an empty or uniform picture.
        assert_eq!(
            (f["data"]["width"].as_u64(), f["data"]["height"].as_u64()),
            (Some(1280), Some(720)),
            "{f}"
        );
        assert!(
            f["data"]["mean"].as_u64().unwrap_or(0) > 5,
            "black frame: {f}"
        );
    }
    let c = clocks(&ev);
    assert!(
        c.len() >= 8,
        "frames without a readable pixel clock: {frames:?}"
    );
    eprintln!("clicked {target}, first frames {:?}", &c[..c.len().min(8)]);
    assert!(
        (c[0] - target).abs() <= 100,
        "the first frame shown carries the clicked time: clicked {target}, shown {}",
        c[0]
    );
    for w in c.windows(2) {
        assert!(w[1] > w[0], "the clock advances: {c:?}");
    }
    assert!(
        named(&ev, "timeline-notice")
            .iter()
            .any(|n| n["data"]["notice"]
                .as_str()
                .is_some_and(|s| s.starts_with("SeekDone"))),
        "the player announced the seek"
    );
}
