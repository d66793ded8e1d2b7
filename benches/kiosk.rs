//! Kiosk figures: a 2×2 grid of four test cameras (SD tiles) in `eyrie --kiosk` under a
//! private Xvfb, with real processes around it (mosquitto, `eyrie cloud`, four
//! `eyrie camera --source test`, see tests/kiosk_support):
//!
//! - `grid4_first_frame_s`: kiosk start → all four tiles showing live frames;
//! - `grid4_rss_mb`: the viewer's resident memory with four live tiles (goal ≤ 350);
//! - `grid4_cpu_cores`: the viewer process's CPU over 30 s, in cores (goal ≤ 1.0);
//! - `grid4_tile_fps`: frames per second reaching each tile's sink meanwhile;
//! - `recover_after_restart_s`: a camera killed and started again → its tile live again,
//!   measured from the new camera process's start (goal ≤ 5); `recover_after_broker_s`,
//!   `recover_after_cloud_s` the same for broker and cloud restarts (all four tiles).
//!
//! A live frame is one whose pixel clock (the capture time drawn into the picture) was at
//! most 2 s old when it reached the sink. Last line: one JSON object.

#[path = "../tests/kiosk_support/mod.rs"]
mod kiosk_support;

use std::time::Duration;

use kiosk_support::*;

/// The cameras' frame rate: `eyrie camera`'s default, 30 (`EYRIE_BENCH_CAMERA_FPS` to change).
fn camera_fps() -> u32 {
    std::env::var("EYRIE_BENCH_CAMERA_FPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30)
}

fn frames_by_camera(ev: &[serde_json::Value]) -> std::collections::HashMap<String, (f64, u64)> {
    // Latest (t_ms, n) per camera.
    let mut out = std::collections::HashMap::new();
    for e in ev.iter().filter(|e| e["event"] == "kiosk-frame") {
        if let (Some(c), Some(t), Some(n)) = (
            e["data"]["camera"].as_str(),
            e["t_ms"].as_f64(),
            e["data"]["n"].as_u64(),
        ) {
            out.insert(c.to_owned(), (t, n));
        }
    }
    out
}

fn recover(
    house: &mut House,
    report: &std::path::Path,
    cameras: &[String],
    what: &str,
) -> Option<f64> {
    let back = match what {
        "camera" => {
            house.restart_camera(0, Duration::ZERO);
            now_ms()
        }
        "broker" => {
            house.restart_broker();
            now_ms()
        }
        _ => {
            house.restart_cloud();
            now_ms()
        }
    };
    let watched: Vec<String> = if what == "camera" {
        vec![cameras[0].clone()]
    } else {
        cameras.to_vec()
    };
    wait_for(report, 60, |ev| all_live_since(ev, &watched, back))?;
    let ev = events(report);
    watched
        .iter()
        .filter_map(|c| live_since(&ev, c, back))
        .max()
        .map(|t| t.saturating_sub(back) as f64 / 1000.0)
}

fn main() {
    let exe = std::path::PathBuf::from(env!("CARGO_BIN_EXE_eyrie"));
    println!(
        "kiosk bench: {} (cameras at {} fps)",
        exe.display(),
        camera_fps()
    );
    let mut house = House::start(&exe, 4, camera_fps());
    let screen = Screen::start();
    let report = house.dir.path().join("kiosk.jsonl");
    let cameras = house.camera_ids();
    let list = cameras
        .iter()
        .map(|c| format!("'{c}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let started = now_ms();
    let kiosk = house.start_kiosk(
        &screen,
        &[
            ("kiosk-layout", "'grid-2x2'".into()),
            ("kiosk-cameras", format!("[{list}]")),
        ],
        &report,
    );
    let first = wait_for(&report, 120, |ev| all_live_since(ev, &cameras, started));
    let first_s = first.map(|d| d.as_secs_f64());
    println!("all four tiles live after {first_s:?} s");
    let pid = kiosk_pid(&events(&report)).expect("the kiosk reported its pid");
    assert_eq!(Some(pid), kiosk.pid(), "the kiosk is our child");

    std::thread::sleep(Duration::from_secs(10));
    let (cpu0, frames0) = (cpu_seconds(pid), frames_by_camera(&events(&report)));
    let window = Duration::from_secs(30);
    let mut rss_max: f64 = 0.0;
    let t = std::time::Instant::now();
    while t.elapsed() < window {
        rss_max = rss_max.max(rss_mb(pid).unwrap_or(0.0));
        std::thread::sleep(Duration::from_secs(1));
    }
    let elapsed = t.elapsed().as_secs_f64();
    let (cpu1, frames1) = (cpu_seconds(pid), frames_by_camera(&events(&report)));
    let cores = cpu0.zip(cpu1).map(|(a, b)| (b - a) / elapsed);
    let fps: Vec<f64> = cameras
        .iter()
        .filter_map(|c| {
            let (t0, n0) = frames0.get(c)?;
            let (t1, n1) = frames1.get(c)?;
            (n1 > n0).then(|| (n1 - n0) as f64 / ((t1 - t0) / 1000.0))
        })
        .collect();
    let fps_mean = (!fps.is_empty()).then(|| fps.iter().sum::<f64>() / fps.len() as f64);
    println!("viewer: {rss_max:.0} MiB, {cores:?} cores, tile fps {fps:?}");

    let camera = recover(&mut house, &report, &cameras, "camera");
    println!("camera restart → tile live in {camera:?} s");
    std::thread::sleep(Duration::from_secs(5));
    let broker = recover(&mut house, &report, &cameras, "broker");
    println!("broker restart → all tiles live in {broker:?} s");
    std::thread::sleep(Duration::from_secs(5));
    let cloud = recover(&mut house, &report, &cameras, "cloud");
    println!("cloud restart → all tiles live in {cloud:?} s");

    let round = |v: Option<f64>| v.map(|x| (x * 100.0).round() / 100.0);
    println!(
        "{}",
        serde_json::json!({
            "grid4_rss_mb": round(Some(rss_max)),
            "grid4_cpu_cores": round(cores),
            "grid4_tile_fps": round(fps_mean),
            "grid4_first_frame_s": round(first_s),
            "recover_after_restart_s": round(camera),
            "recover_after_broker_s": round(broker),
            "recover_after_cloud_s": round(cloud),
            "camera_fps": camera_fps(),
        })
    );
}
