//! Live view over a lossy link (issue 16), in the WAN lab with the delay/loss wire on the
//! away link (`tests/lab/wire.rs`): 1 % of the frames crossing it are dropped, both
//! ways, from before the session starts.
//!
//! The viewer watches HD (~2 Mbit/s, ~200 packets a second: a lost packet every half
//! second on average) and measures frozen time from the pixel clock in the decoded frames
//! (`tests/lab/frames.rs`: a gap over 200 ms between frames that move the picture on).
//! It passes when the picture keeps recovering — a loss costs one keyframe request (PLI
//! or FIR), not the rest of the keyframe interval; lost packets asked for again (NACK)
//! and resent (RTX) once that is on — so that less than 2 % of the time is frozen. The
//! viewer also reports its receiver's NACK and keyframe-request counts.
//!
//! `EYRIE_LOSS_SECS` sets how long it watches (default 30; `build-aux/run-soak` runs 600).

#[path = "lab/mod.rs"]
mod lab;

use std::time::{Duration, Instant};

use eyrie_client::live::{LiveViewer, ViewerConfig, ViewerEvent};
use eyrie_protocol::signalling::Stream;
use gstreamer as gst;
use gstreamer::prelude::*;
use lab::frames;
use lab::roles;
use lab::scene::{self, Scene};
use lab::wan::{self, Site, Wan};
use serde_json::{Value, json};

const REPORT: &str = "NAT-LOSS ";
/// The loss on the away link, each way.
const LOSS: f64 = 0.01;
/// Most of the watched time that may be frozen, percent.
const MAX_FROZEN_PCT: f64 = 2.0;

fn watch_secs() -> u64 {
    match std::env::var("EYRIE_LOSS_SECS") {
        Ok(s) => s
            .parse()
            .ok()
            .filter(|n| (5..=3600).contains(n))
            .unwrap_or_else(|| panic!("EYRIE_LOSS_SECS is 5 to 3600 seconds, not {s:?}")),
        Err(_) => 30,
    }
}

#[test]
#[ignore = "30 % frozen at 1 % loss on this loaded 2-core machine (33 % before keyframe requests, 3.9 % with no loss): keyframe requests alone repair too slowly, and NACK/RTX broke talk on GStreamer 1.22; see docs/signalling.md 6.3"]
fn one_percent_loss_keeps_the_picture_live() {
    let test = "one_percent_loss_keeps_the_picture_live";
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
    let secs = watch_secs();
    let started = Instant::now();
    let wan = Wan::with_wire(Site::EASY, Site::EASY).expect("the WAN lab");
    wan.shape_away(Duration::ZERO, LOSS)
        .expect("loss on the away link");
    let scene = Scene::start(&wan, test).expect("cloud, coturn and camera");
    let viewer = scene
        .viewer(&wan, &[("NAT_WATCH_SECS", &secs.to_string())])
        .expect("viewer");
    let status = viewer.wait_timeout(Duration::from_secs(secs + 120));
    let wire = wan.wire().stats();
    assert!(
        status.as_ref().is_ok_and(|s| s.success()),
        "the viewer failed ({status:?}):\n{}",
        scene.context(&viewer)
    );
    let report = scene::report(&viewer.stdout(), REPORT)
        .unwrap_or_else(|| panic!("no report from the viewer:\n{}", scene.context(&viewer)));
    eprintln!(
        "{test}: {report}\nwire: {wire:?} (seed {})",
        wan.wire().seed
    );

    // The wire did drop about 1 % (both ways together), and sent everything else.
    let dropped_pct = wire.dropped as f64 * 100.0 / (wire.forwarded + wire.dropped).max(1) as f64;
    assert!(
        (0.5..=1.6).contains(&dropped_pct) && wire.forwarded > 1000,
        "the wire dropped {dropped_pct:.2} % of {} frames",
        wire.forwarded + wire.dropped
    );
    assert_eq!(
        wire.send_errors,
        0,
        "the wire could not send: {:?}",
        wan.wire().last_error()
    );
    let frozen = report["frozen_pct"].as_f64().unwrap_or(100.0);
    assert!(
        frozen < MAX_FROZEN_PCT,
        "frozen {frozen:.2} % of the time (limit {MAX_FROZEN_PCT} %): {report}\n{}",
        scene.context(&viewer)
    );
    // What the receiver asked for: keyframe requests (and NACKs, once NACK/RTX is on —
    // docs/signalling.md §6.3), reported for the record.
    eprintln!("receiver: {}", report["receiver"]);
    // It played at about the camera's rate, not a few frames now and then.
    let fps = report["progressing_fps"].as_f64().unwrap_or(0.0);
    assert!(fps > 15.0, "only {fps:.1} new pictures a second: {report}");
    drop(viewer);
    drop(scene);
    drop(wan);
    eprintln!("{test}: {:?}", started.elapsed());
}

/// The viewer away: HD, watch for `NAT_WATCH_SECS` from two seconds after the first
/// frame; one JSON line with the frozen time and the receiver's repair counters.
fn viewer_role() -> Value {
    let link = std::env::var("NAT_LINK").expect("NAT_LINK");
    let code = std::env::var("NAT_CODE").expect("NAT_CODE");
    let secs: u64 = std::env::var("NAT_WATCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    gst::init().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let (user, device) = roles::claim_camera(link, &code).await;
        let ca = user.ca_pem().await.expect("the cloud's CA");
        let mut last = String::new();
        // The camera's ring may still be filling, and a lost first packet or two can
        // cost a session on a loaded machine: a few tries.
        for _ in 0..4 {
            match watch(&user, device, ca.clone(), secs).await {
                Ok(report) => return report,
                Err(e) => {
                    eprintln!("live attempt: {e}");
                    last = e;
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        panic!("no live view: {last}");
    })
}

async fn watch(
    user: &eyrie_client::api::ApiClient,
    device: uuid::Uuid,
    ca: Option<Vec<u8>>,
    secs: u64,
) -> Result<Value, String> {
    let ticket = user.ticket(device, None).await.map_err(|e| e.to_string())?;
    let (sink, log) = frames::frame_log_sink();
    let mut cfg = ViewerConfig::new(ticket, sink.clone());
    cfg.mqtt_ca = ca;
    cfg.stream = Stream::Hd;
    let (viewer, mut rx) = LiveViewer::connect(cfg).map_err(|e| e.to_string())?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut path = None;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(ViewerEvent::FirstFrame { .. })) => break,
            Ok(Some(ViewerEvent::Path(p))) => path = Some(p.label().to_owned()),
            Ok(Some(ViewerEvent::Error(e))) => return Err(format!("viewer: {e}")),
            Ok(Some(_)) => {}
            Ok(None) => return Err("the session ended".into()),
            Err(_) => return Err("no first frame in 30 s".into()),
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let from = Instant::now();
    let mut ended = None;
    let until = tokio::time::Instant::now() + Duration::from_secs(secs);
    while ended.is_none() {
        match tokio::time::timeout_at(until, rx.recv()).await {
            Ok(Some(ViewerEvent::Ended { reason })) => ended = Some(reason),
            Ok(Some(ViewerEvent::Error(e))) => ended = Some(e.to_string()),
            Ok(Some(ViewerEvent::Path(p))) => path = Some(p.label().to_owned()),
            Ok(Some(_)) => {}
            Ok(None) => ended = Some("the session ended".into()),
            Err(_) => break,
        }
    }
    let to = Instant::now();
    if let Some(why) = ended {
        return Err(format!("the session ended while watching: {why}"));
    }
    let repair = receiver_stats(&sink).await;
    viewer.close().await;
    let f = log.freezes(from, to);
    Ok(json!({
        "watched_s": secs,
        "path": path,
        "frozen_pct": f.frozen_pct(),
        "frozen_ms": f.frozen_ms,
        "freezes": f.count,
        "longest_gap_ms": f.longest_ms,
        "frames": f.frames,
        "progressing_fps": f.progressing as f64 * 1000.0 / f.window_ms.max(1) as f64,
        "median_age_ms": log.median_age_ms(from, to),
        "receiver": repair,
    }))
}

/// The video `inbound-rtp` entry of the session's `webrtcbin` stats, reached from the
/// video sink (its pipeline holds the `webrtcbin` named "webrtc"): packets lost, NACKs
/// and PLIs sent, as GStreamer names them.
pub async fn receiver_stats(sink: &gst::Element) -> Value {
    let Some(webrtc) = sink
        .parent()
        .and_then(|p| p.downcast::<gst::Bin>().ok())
        .and_then(|p| p.by_name("webrtc"))
    else {
        return json!("no webrtcbin");
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let promise = gst::Promise::with_change_func(move |reply| {
        let _ = tx.send(reply.ok().flatten().map(|s| s.to_owned()));
    });
    webrtc.emit_by_name::<()>("get-stats", &[&None::<gst::Pad>, &promise]);
    let Ok(Ok(Some(stats))) = tokio::time::timeout(Duration::from_secs(5), rx).await else {
        return json!("no stats");
    };
    let mut out = serde_json::Map::new();
    for (_, value) in stats.iter() {
        let Ok(s) = value.get::<gst::Structure>() else {
            continue;
        };
        // `type` is a GstWebRTCStatsType; its text form is the W3C name.
        if !s
            .to_string()
            .contains("type=(GstWebRTCStatsType)inbound-rtp")
        {
            continue;
        }
        let mut entry = serde_json::Map::new();
        for (field, v) in s.iter() {
            if let Ok(n) = v.get::<u64>() {
                entry.insert(field.to_string(), json!(n));
            } else if let Ok(n) = v.get::<i64>() {
                entry.insert(field.to_string(), json!(n));
            } else if let Ok(n) = v.get::<u32>() {
                entry.insert(field.to_string(), json!(n));
            } else if let Ok(n) = v.get::<i32>() {
                entry.insert(field.to_string(), json!(n));
            } else if let Ok(n) = v.get::<f64>() {
                entry.insert(field.to_string(), json!(n));
            }
        }
        out.insert(
            s.get::<String>("id").unwrap_or_default(),
            Value::Object(entry),
        );
    }
    Value::Object(out)
}
