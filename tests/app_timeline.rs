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

/// The clip list, driven through its own buttons: a three-second range selected on the
/// ruler becomes a clip that finishes; Export writes an MP4 (progress to 100 %) that
/// ffprobe reads with the asked duration and whose frames carry the asked times; an
/// export cancelled at once leaves no file; Delete removes the clip from the cloud's list.
/// Zooming out and in changes the visible span and brings it back.
#[test]
fn clips_are_made_exported_cancelled_and_deleted() {
    let out = tempfile::tempdir().expect("export dir");
    let dir = tempfile::tempdir().expect("temp dir");
    let report = dir.path().join("report.jsonl");
    let mut cmd = gui_app::command("1280x800x24");
    cmd.arg("demo")
        .env("EYRIE_TEST_REPORT", &report)
        .env("EYRIE_TEST_TIMELINE", "clips")
        .env("EYRIE_TEST_EXPORT_TO", out.path())
        .env("EYRIE_DEMO_SEGMENT_SECS", "3")
        .env("EYRIE_DEMO_SOURCE", "test")
        .env("GSK_RENDERER", "cairo")
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut app = gui_app::App::spawn(&mut cmd);
    let deleted = |ev: &[serde_json::Value]| {
        let Some(id) = named(ev, "timeline-clips")
            .iter()
            .find_map(|c| c["data"]["ids"].get(0).cloned())
        else {
            return false;
        };
        !named(ev, "timeline-export-cancelled").is_empty()
            && named(ev, "timeline-clips").last().is_some_and(|c| {
                c["data"]["ids"]
                    .as_array()
                    .is_some_and(|a| !a.contains(&id))
            })
    };
    let clip_frames = |ev: &[serde_json::Value]| {
        ev.iter()
            .position(|e| e["event"] == "timeline-player" && !e["data"]["clip"].is_null())
            .map_or(0, |i| {
                ev[i..]
                    .iter()
                    .filter(|e| e["event"] == "timeline-frame")
                    .count()
            })
    };
    let deadline = Instant::now() + Duration::from_secs(150);
    while Instant::now() < deadline
        && !(deleted(&events(&report)) && clip_frames(&events(&report)) >= 5)
    {
        std::thread::sleep(Duration::from_millis(200));
    }
    app.stop();
    // Frames are many and say nothing here: leave them out of failure messages.
    let ev: Vec<_> = events(&report)
        .into_iter()
        .filter(|e| e["event"] != "frame" && e["event"] != "timeline-frame")
        .collect();

    let zoom = named(&ev, "timeline-zoom");
    let spans: Vec<i64> = zoom
        .first()
        .and_then(|z| z["data"]["spans_ms"].as_array())
        .map(|a| a.iter().filter_map(serde_json::Value::as_i64).collect())
        .unwrap_or_else(|| panic!("no zoom: {ev:?}"));
    assert!(
        spans[1] > spans[0] * 3 / 2 && (spans[2] - spans[0]).abs() <= 2,
        "zoom out widens the view and zoom in brings it back: {spans:?}"
    );

    let asked = named(&ev, "timeline-clip-asked");
    let asked = asked
        .first()
        .unwrap_or_else(|| panic!("no clip asked: {ev:?}"));
    let (from, to) = (
        asked["data"]["start_ms"].as_i64().unwrap(),
        asked["data"]["end_ms"].as_i64().unwrap(),
    );
    assert!(
        named(&ev, "timeline-clips")
            .iter()
            .any(|c| c["data"]["statuses"]
                .as_array()
                .is_some_and(|s| s.iter().any(|s| s == "Finished"))),
        "the clip was listed as finished: {ev:?}"
    );

    // Play: the clip's own object, from its start, nothing past its end.
    let all = events(&report);
    let since = all
        .iter()
        .position(|e| e["event"] == "timeline-player" && !e["data"]["clip"].is_null())
        .unwrap_or_else(|| panic!("Play did not open the clip: {ev:?}"));
    let played: Vec<i64> = all[since..]
        .iter()
        .filter(|e| e["event"] == "timeline-frame")
        .filter_map(|e| e["data"]["clock_ms"].as_i64())
        .collect();
    assert!(!played.is_empty(), "no frame of the clip shown");
    assert!(
        (played[0] - from).abs() <= 150,
        "the clip plays from its start: {} vs {from}",
        played[0]
    );
    assert!(
        played.iter().all(|&c| c >= from - 150 && c <= to + 150),
        "only the clip's frames: {played:?} for {from}…{to}"
    );

    let export = named(&ev, "timeline-export");
    let export = export.first().unwrap_or_else(|| {
        panic!(
            "nothing exported: {:?}",
            named(&ev, "timeline-export-failed")
        )
    });
    let progress = named(&ev, "timeline-export-progress");
    assert!(
        progress
            .first()
            .and_then(|p| p["data"]["fraction"].as_f64())
            .is_some_and(|f| f >= 0.99),
        "the progress bar reached 100 %: {progress:?}"
    );
    let path = out.path().join("1.mp4");
    assert_eq!(export["data"]["path"], path.display().to_string());
    let probe = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
        ])
        .arg(&path)
        .output()
        .expect("ffprobe");
    let duration: f64 = String::from_utf8_lossy(&probe.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("ffprobe cannot read the export: {probe:?}"));
    // The demo camera has a keyframe every two seconds: ± one GOP.
    let asked_s = (to - from) as f64 / 1000.0;
    assert!(
        (duration - asked_s).abs() <= 2.05,
        "exported {duration:.2} s for {asked_s:.2} s asked"
    );
    let (first, last) = (
        export["data"]["first_ms"].as_i64().unwrap(),
        export["data"]["last_ms"].as_i64().unwrap(),
    );
    assert!(
        (first - from).abs() <= 2_050 && (last - to).abs() <= 2_050,
        "frames {first}…{last} for the asked {from}…{to}"
    );

    assert!(
        !out.path().join("2.mp4").exists(),
        "a cancelled export leaves no file"
    );
    let left: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .collect();
    assert_eq!(left.len(), 1, "only the finished export is there: {left:?}");
}
