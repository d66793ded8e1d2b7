//! A camera behind a slow uplink (issue 16), in the WAN lab: while the viewer plays HD
//! (~2 Mbit/s), the home router's link to the internet is limited to 1 Mbit/s with `tbf`
//! (a 32 KiB bucket, 300 ms of queue, then drops — the shape of a home line's upload).
//!
//! Without adaptation the picture stops for good: half of every second's packets are
//! dropped, keyframes never arrive whole. What is to come (`docs/signalling.md` §6.4):
//! the camera reads its viewer's RTCP receiver reports and steps the session down to SD,
//! telling the viewer with a `state` message it did not ask for. The test passes when no
//! freeze — measured from the pixel clock in the decoded frames — lasts more than 2 s
//! after the limit, the viewer was told `sd`, and the picture still moves at the end.
//! Ignored until then: today (measured) the longest freeze is the whole run.

#[path = "lab/mod.rs"]
mod lab;

use std::time::{Duration, Instant};

use eyrie_client::live::{LiveViewer, ViewerConfig, ViewerEvent};
use eyrie_protocol::signalling::Stream;
use gstreamer as gst;
use lab::frames;
use lab::roles;
use lab::scene::{self, Scene};
use lab::wan::{self, Site, Wan};
use serde_json::{Value, json};

const REPORT: &str = "NAT-UPLINK ";
/// The viewer's line once HD plays: the moment to limit the uplink.
const PLAYING: &str = "NAT-PLAYING";
/// The uplink limit (kbit/s) and its queue (ms).
const UPLINK: (u32, u32) = (1000, 300);
/// How long the viewer watches after the limit.
const WATCH: Duration = Duration::from_secs(15);
/// The longest freeze allowed after the limit.
const MAX_FREEZE_MS: u64 = 2000;

#[test]
#[ignore = "the camera does not adapt yet: measured on GStreamer 1.22, HD over a 1 Mbit/s uplink freezes for good (longest gap 13.4 s of 15 s, no step-down); see docs/signalling.md 6.4"]
fn a_slow_uplink_steps_down_to_sd_without_a_long_freeze() {
    let test = "a_slow_uplink_steps_down_to_sd_without_a_long_freeze";
    if let Some(role) = lab::child_role() {
        match role.as_str() {
            "camera" => roles::camera_role(),
            "viewer" => println!("\n{REPORT}{}", viewer_role()),
            other => panic!("no role {other}"),
        }
        return;
    }
    if wan::skip_if_unavailable() {
        return;
    }
    let started = Instant::now();
    let wan = Wan::new(Site::EASY, Site::EASY).expect("the WAN lab");
    let scene = Scene::start(&wan, test).expect("cloud, coturn and camera");
    let viewer = scene.viewer(&wan, &[]).expect("viewer");
    if let Err(e) = wan::wait_line(&viewer, PLAYING, Duration::from_secs(120)) {
        panic!("HD never played: {e:#}\n{}", scene.context(&viewer));
    }
    wan.limit_home_uplink(Some(UPLINK))
        .expect("tbf on the home router");
    let status = viewer.wait_timeout(WATCH + Duration::from_secs(60));
    assert!(
        status.as_ref().is_ok_and(|s| s.success()),
        "the viewer failed ({status:?}):\n{}",
        scene.context(&viewer)
    );
    let report = scene::report(&viewer.stdout(), REPORT)
        .unwrap_or_else(|| panic!("no report from the viewer:\n{}", scene.context(&viewer)));
    eprintln!("{test}: {report}");
    let longest = report["longest_gap_ms"].as_u64().unwrap_or(u64::MAX);
    assert!(
        longest <= MAX_FREEZE_MS,
        "the picture froze for {longest} ms under a {} kbit/s uplink: {report}\n{}",
        UPLINK.0,
        scene.context(&viewer)
    );
    assert!(
        report["told_sd_after_ms"].is_u64(),
        "the camera did not tell the viewer it switched to SD: {report}"
    );
    let fps = report["end_fps"].as_f64().unwrap_or(0.0);
    assert!(
        fps > 10.0,
        "the picture hardly moves at the end ({fps:.1} new pictures a second): {report}"
    );
    drop(viewer);
    drop(scene);
    drop(wan);
    eprintln!("{test}: {:?}", started.elapsed());
}

/// The viewer away: HD until it plays smoothly, then `PLAYING`, then watch for `WATCH`;
/// one JSON line.
fn viewer_role() -> Value {
    let link = std::env::var("NAT_LINK").expect("NAT_LINK");
    let code = std::env::var("NAT_CODE").expect("NAT_CODE");
    gst::init().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let (user, device) = roles::claim_camera(link, &code).await;
        let ca = user.ca_pem().await.expect("the cloud's CA");
        // The camera may not have subscribed to its broker yet (it is online for the
        // cloud first): a few tries, as the app's retry would.
        let mut tries = 0;
        let (viewer, mut rx, log) = loop {
            tries += 1;
            let ticket = user.ticket(device, None).await.expect("ticket");
            let (sink, log) = frames::frame_log_sink();
            let mut cfg = ViewerConfig::new(ticket, sink);
            cfg.mqtt_ca = ca.clone();
            cfg.stream = Stream::Hd;
            let (viewer, mut rx) = LiveViewer::connect(cfg).expect("connect");
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            let failed = loop {
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(ViewerEvent::FirstFrame { .. })) => break None,
                    Ok(Some(ViewerEvent::Error(e))) => break Some(e.to_string()),
                    Ok(Some(_)) => {}
                    Ok(None) => break Some("the session ended".to_owned()),
                    Err(_) => break Some("no first frame in 30 s".to_owned()),
                }
            };
            match failed {
                None => break (viewer, rx, log),
                Some(e) if tries < 4 => {
                    eprintln!("live attempt: {e}");
                    viewer.close().await;
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Some(e) => panic!("no live view: {e}"),
            }
        };
        // HD plays unlimited for three seconds first.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let before = log.freezes(Instant::now() - Duration::from_secs(2), Instant::now());
        println!("\n{PLAYING}");
        let from = Instant::now();
        let until = tokio::time::Instant::now() + WATCH;
        let mut told_sd = None;
        let mut streams = Vec::new();
        loop {
            match tokio::time::timeout_at(until, rx.recv()).await {
                Ok(Some(ViewerEvent::State { stream, .. })) => {
                    streams.push(format!("{stream:?}"));
                    if stream == Stream::Sd && told_sd.is_none() {
                        told_sd = Some(from.elapsed().as_millis() as u64);
                    }
                }
                Ok(Some(ViewerEvent::Error(e))) => panic!("viewer: {e}"),
                Ok(Some(ViewerEvent::Ended { reason })) => panic!("the session ended: {reason}"),
                Ok(Some(_)) => {}
                Ok(None) => panic!("the session ended"),
                Err(_) => break,
            }
        }
        let to = Instant::now();
        viewer.close().await;
        let after = log.freezes(from, to);
        let end = log.freezes(to - Duration::from_secs(5), to);
        json!({
            "uplink_kbit_s": UPLINK.0,
            "before_fps": before.progressing as f64 * 1000.0 / before.window_ms.max(1) as f64,
            "longest_gap_ms": after.longest_ms,
            "frozen_pct": after.frozen_pct(),
            "freezes": after.count,
            "told_sd_after_ms": told_sd,
            "states": streams,
            "end_fps": end.progressing as f64 * 1000.0 / end.window_ms.max(1) as f64,
            "median_age_end_ms": log.median_age_ms(to - Duration::from_secs(5), to),
        })
    })
}
