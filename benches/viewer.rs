//! Viewer figures: launch → first window drawn, click on a camera → first frame on screen,
//! and the viewer's memory with one live view. Runs the `eyrie` binary under Xvfb (debug
//! or release, whichever cargo built for this bench) and reads its `EYRIE_TEST_REPORT`.
//! Last line: one JSON object.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn eyrie() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("bench path");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    dir.join("eyrie")
}

fn run(args: &[&str], until: &str, secs: u64) -> (Vec<serde_json::Value>, Option<f64>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let report = dir.path().join("r.jsonl");
    let mut child = Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1280x800x24"])
        .arg(eyrie())
        .args(args)
        .env("EYRIE_TEST_REPORT", &report)
        .env("EYRIE_DEMO_SOURCE", "test")
        .env("GSK_RENDERER", "cairo")
        .env("XDG_CONFIG_HOME", dir.path().join("c"))
        .env("XDG_DATA_HOME", dir.path().join("d"))
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("xvfb-run eyrie");
    let deadline = Instant::now() + Duration::from_secs(secs);
    let read = || -> Vec<serde_json::Value> {
        std::fs::read_to_string(&report)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    };
    let mut rss = None;
    while Instant::now() < deadline {
        let ev = read();
        if ev.iter().filter(|e| e["event"] == until).count() >= 3 {
            std::thread::sleep(Duration::from_secs(2));
            rss = rss_mb();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
    (read(), rss)
}

/// Resident memory of the running `eyrie` process, MiB.
fn rss_mb() -> Option<f64> {
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        if comm.trim() == "eyrie" {
            let status = std::fs::read_to_string(entry.path().join("status")).ok()?;
            let kb: f64 = status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            return Some(kb / 1024.0);
        }
    }
    None
}

fn main() {
    let (ev, _) = run(&[], "window-shown", 20);
    let app_start_ms = ev
        .iter()
        .find(|e| e["event"] == "window-shown")
        .and_then(|e| e["t_ms"].as_f64());
    let (ev, rss) = run(&["demo"], "frame", 40);
    let click_to_frame = ev
        .iter()
        .find(|e| e["event"] == "frame")
        .and_then(|e| e["data"]["since_start_ms"].as_f64());
    println!("app start (launch → window shown): {app_start_ms:?} ms");
    println!("live click → first frame on screen: {click_to_frame:?} ms (goal ≤ 400)");
    println!(
        "viewer RSS with one live view (demo: includes cloud and camera in-process): {rss:?} MiB"
    );
    println!(
        "{}",
        serde_json::json!({ "app_start_ms": app_start_ms, "live_click_to_frame_ms": click_to_frame, "viewer_rss_mb": rss })
    );
}
