//! The timeline window under Xvfb, black box: `eyrie demo` records the test-pattern camera
//! to its embedded cloud in 3-second segments; the test opens the camera's timeline with
//! the app's D-Bus action `app.open-timeline` and, once a recording is listed, plays from
//! 2.5 s into it with the timeline window's `win.seek` (what a click on the ruler does).
//! The app renders the frames it shows back into pixels and reports their pixel clock
//! (`timeline-frame`, the `test-hooks` feature): the first one must carry the asked
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

/// `eyrie demo` under Xvfb recording in 3-second segments, with its report at `report`.
fn demo(report: &Path, dir: &Path) -> gui_app::App {
    let mut cmd = gui_app::command("1280x800x24");
    cmd.arg("demo")
        .env("EYRIE_TEST_REPORT", report)
        .env("EYRIE_DEMO_SEGMENT_SECS", "3")
        .env("EYRIE_DEMO_SOURCE", "test")
        .env("GSK_RENDERER", "cairo")
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    gui_app::App::spawn(&mut cmd)
}

/// The first report that `pick` accepts, waiting up to `secs` for it.
fn wait_for<T>(
    report: &Path,
    secs: u64,
    pick: impl Fn(&[serde_json::Value]) -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if let Some(t) = pick(&events(report)) {
            return Some(t);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    None
}

/// Open the demo camera's timeline (`app.open-timeline`) and wait until its player is open
/// and a recording of at least 4 s is listed; that recording's start.
fn open_timeline(app: &gui_app::actions::AppBus, report: &Path) -> Option<i64> {
    let camera = wait_for(report, 30, |ev| {
        named(ev, "cameras")
            .first()
            .and_then(|c| c["data"][0]["id"].as_str().map(str::to_owned))
    })?;
    app.app("open-timeline", Some(&format!("('{camera}', int64 0)")))
        .expect("app.open-timeline");
    wait_for(report, 90, |ev| {
        named(ev, "timeline-player").first()?;
        named(ev, "timeline-loaded").last()?["data"]["runs"]
            .as_array()?
            .iter()
            .filter_map(|r| Some((r[0].as_i64()?, r[1].as_i64()?)))
            .find(|(s, e)| e - s >= 4_000)
            .map(|(s, _)| s)
    })
}

/// Run the demo, open the timeline and play from 2.5 s into the first recording, until
/// `done` holds or `secs` pass; the reports and the instant asked.
fn run_demo(
    secs: u64,
    done: impl Fn(&[serde_json::Value]) -> bool,
) -> (Vec<serde_json::Value>, Option<i64>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let report = dir.path().join("report.jsonl");
    let mut app = demo(&report, dir.path());
    let deadline = Instant::now() + Duration::from_secs(secs);
    let bus = app.bus(30);
    let target = open_timeline(&bus, &report).map(|start| start + 2_500);
    if let Some(t) = target {
        bus.win("seek", Some(&format!("int64 {t}")), 10)
            .expect("win.seek");
    }
    while Instant::now() < deadline && !done(&events(&report)) {
        std::thread::sleep(Duration::from_millis(200));
    }
    app.stop();
    (events(&report), target)
}

fn clocks(ev: &[serde_json::Value]) -> Vec<i64> {
    named(ev, "timeline-frame")
        .iter()
        .filter_map(|f| f["data"]["clock_ms"].as_i64())
        .collect()
}

#[test]
fn timeline_click_plays_recorded_frames_of_that_instant() {
    let (ev, target) = run_demo(120, |ev| clocks(ev).len() >= 8);
    let target = target.unwrap_or_else(|| {
        panic!(
            "no recording of 4 s listed in the timeline: {:?}",
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
    eprintln!("asked {target}, first frames {:?}", &c[..c.len().min(8)]);
    assert!(
        (c[0] - target).abs() <= 100,
        "the first frame shown carries the asked time: asked {target}, shown {}",
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

/// The clip list, driven through the window's actions (what its buttons activate): a
/// three-second range selected on the ruler becomes a clip that finishes; Export writes an
/// MP4 (progress to 100 %) that ffprobe reads with the asked duration and whose frames
/// carry the asked times; an export cancelled at once leaves no file; Delete removes the
/// clip from the cloud's list. Zooming out and in changes the visible span and brings it
/// back. Bad arguments (an unknown clip, a relative path) change nothing.
#[test]
fn clips_are_made_exported_cancelled_and_deleted() {
    let out = tempfile::tempdir().expect("export dir");
    let dir = tempfile::tempdir().expect("temp dir");
    let report = dir.path().join("report.jsonl");
    let mut app = demo(&report, dir.path());
    let bus = app.bus(30);
    let start = open_timeline(&bus, &report);
    let asked = start.map(|start| {
        bus.win("seek", Some(&format!("int64 {}", start + 2_500)), 10)
            .expect("win.seek");
        bus.win("zoom-out", None, 5).expect("win.zoom-out");
        bus.win("zoom-in", None, 5).expect("win.zoom-in");
        // Select three seconds of the recording (what a Shift-drag does) and make a clip.
        let (from, to) = (start + 500, start + 3_500);
        bus.win("select", Some(&format!("(int64 {from}, int64 {to})")), 5)
            .expect("win.select");
        bus.win("create-clip", None, 5).expect("win.create-clip");
        (from, to)
    });
    let clip = wait_for(&report, 60, |ev| {
        named(ev, "timeline-clips").iter().find_map(|c| {
            let statuses = c["data"]["statuses"].as_array()?;
            let i = statuses.iter().position(|s| s == "Finished")?;
            c["data"]["ids"][i].as_str().map(str::to_owned)
        })
    });
    let first = out.path().join("1.mp4");
    if let Some(id) = &clip {
        // Refused, changing nothing: an unknown clip, a relative path.
        let unknown = "00000000-0000-0000-0000-000000000000";
        let stray = out.path().join("x.mp4");
        let path = format!("('{unknown}', '{}')", stray.display());
        bus.win("export-clip-to", Some(&path), 5)
            .expect("win.export-clip-to");
        bus.win("export-clip-to", Some(&format!("('{id}', 'x.mp4')")), 5)
            .expect("win.export-clip-to");
        bus.win("play-clip", Some(&format!("'{id}'")), 5)
            .expect("win.play-clip");
        let path = format!("('{id}', '{}')", first.display());
        bus.win("export-clip-to", Some(&path), 5)
            .expect("win.export-clip-to");
        let ended = wait_for(&report, 60, |ev| {
            ev.iter()
                .find(|e| e["event"] == "timeline-export" || e["event"] == "timeline-export-failed")
                .cloned()
        });
        if ended.is_some() {
            // Again, cancelled at once. The two actions are two D-Bus calls: on a loaded
            // machine a three-second clip can be exported in between, and then the cancel
            // rightly finds nothing to stop. So try up to five times; one must be
            // cancelled, and a cancelled one must leave no file (checked below).
            let second = out.path().join("2.mp4");
            let path = format!("('{id}', '{}')", second.display());
            let count = |ev: &[serde_json::Value]| {
                named(ev, "timeline-export").len() + named(ev, "timeline-export-cancelled").len()
            };
            for _ in 0..5 {
                let before = count(&events(&report));
                bus.win("export-clip-to", Some(&path), 5)
                    .expect("win.export-clip-to");
                bus.win("cancel-export", Some(&format!("'{id}'")), 5)
                    .expect("win.cancel-export");
                wait_for(&report, 30, |ev| (count(ev) > before).then_some(()));
                if !named(&events(&report), "timeline-export-cancelled").is_empty() {
                    break;
                }
                // Exported before the cancel came: start again from no file.
                let _ = std::fs::remove_file(&second);
            }
            if wait_for(&report, 30, |ev| {
                named(ev, "timeline-export-cancelled").first().map(drop)
            })
            .is_some()
            {
                bus.win("delete-clip", Some(&format!("'{id}'")), 5)
                    .expect("win.delete-clip");
            }
        }
    }
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

    // Out, then in: each reports the span before and after.
    let spans: Vec<(i64, i64)> = named(&ev, "timeline-zoom")
        .iter()
        .filter_map(|z| Some((z["data"]["from_ms"].as_i64()?, z["data"]["to_ms"].as_i64()?)))
        .collect();
    assert!(
        spans.len() == 2
            && spans[0].1 > spans[0].0 * 3 / 2
            && spans[1].0 == spans[0].1
            && (spans[1].1 - spans[0].0).abs() <= 2,
        "zoom out widens the view and zoom in brings it back: {spans:?} {ev:?}"
    );

    let (from, to) = asked.unwrap_or_else(|| panic!("no recording to clip: {ev:?}"));
    assert_eq!(
        named(&ev, "timeline-selection")
            .first()
            .map(|s| (s["data"]["start_ms"].clone(), s["data"]["end_ms"].clone())),
        Some((from.into(), to.into())),
        "the range selected"
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
