//! Live view across NATs, timed in the WAN lab (`tests/lab/wan.rs`, `docs/network-lab.md`):
//! the time to first frame when the pair is direct (both NATs endpoint-independent) and
//! when it is relayed (the viewer's NAT symmetric, media through coturn).
//!
//! `cargo bench --features test-hooks --bench wan` (root: it builds namespaces). Each case
//! pairs a camera (this binary's camera role, at home) with a viewer (its viewer role,
//! away), opens one warm-up session and then `SESSIONS` timed ones, one after another.
//! Time to first frame is from asking the cloud for a ticket to the first decoded frame
//! — what a person waits for after a click.
//!
//! Where the round trips go (each one viewer ↔ cloud or viewer ↔ camera): the ticket
//! (HTTPS, on a kept-alive connection: 1); the broker connection (TCP + TLS + MQTT
//! CONNECT and SUBSCRIBE: 3–4, the next to remove — a viewer could keep one broker
//! connection for all its sessions); offer → answer through the broker (1, with the
//! camera's set-up in between); ICE checks (1–2, trickled, started as soon as the answer
//! and the first candidates are in, STUN and TURN allocations gathered in parallel);
//! DTLS (2); then the camera's next keyframe. Removed before this bench: waiting for ICE
//! gathering before sending the offer (trickle instead) and making the DTLS certificate
//! per session (made once per process at start-up).
//!
//! Not measured yet (issue 16): delay and loss (`ttff_rtt100_*`, `g2g_rtt100_p50_ms`,
//! `frozen_pct_loss1`: they need the lab's delay/loss forwarder) and recovery after a
//! network change (`recover_after_netchange_ms`: it needs an ICE restart in signalling).
//!
//! The last line is one JSON object.

#[path = "../tests/lab/mod.rs"]
mod lab;

use std::time::{Duration, Instant};

use eyrie_client::live::{LiveViewer, ViewerConfig, ViewerEvent};
use gstreamer as gst;
use lab::roles::{self, PAIRING};
use lab::wan::{self, Site, Wan};

/// Timed sessions per case.
const SESSIONS: usize = 7;
const RESULT: &str = "WAN-TTFF ";

fn main() {
    match lab::child_role().as_deref() {
        Some("camera") => return roles::camera_role(),
        Some("viewer") => return viewer_role(),
        Some(other) => panic!("no role {other}"),
        None => {}
    }
    if wan::skip_if_unavailable() {
        println!("{{\"skipped\":\"no WAN lab here\"}}");
        return;
    }
    let direct = case(Site::EASY, Site::EASY);
    let relay = case(Site::EASY, Site::SYMMETRIC);
    let p50 = |v: &(Vec<f64>, Vec<String>)| percentile(&v.0, 0.5);
    eprintln!("direct: {:?} {:?}", direct.0, direct.1);
    eprintln!("relayed: {:?} {:?}", relay.0, relay.1);
    assert!(
        direct.1.iter().all(|l| l == "Direct"),
        "not direct: {:?}",
        direct.1
    );
    assert!(
        relay.1.iter().all(|l| l == "Relayed"),
        "not relayed: {:?}",
        relay.1
    );
    println!(
        "{}",
        serde_json::json!({
            "bench": "wan",
            "sessions": SESSIONS,
            "ttff_direct_p50_ms": p50(&direct),
            "ttff_direct_max_ms": direct.0.iter().copied().fold(0.0, f64::max),
            "ttff_relay_p50_ms": p50(&relay),
            "ttff_relay_max_ms": relay.0.iter().copied().fold(0.0, f64::max),
            "goal_ttff_p50_ms": 300,
            "not_measured": ["ttff_rtt100_p50_ms", "ttff_rtt100_rtts", "g2g_rtt100_p50_ms",
                "frozen_pct_loss1", "recover_after_netchange_ms"],
        })
    );
}

/// One lab: camera at `home`, viewer `away`; the timed sessions' TTFF (ms) and path labels.
fn case(home: Site, away: Site) -> (Vec<f64>, Vec<String>) {
    let wan = Wan::new(home, away).expect("the WAN lab");
    let dir = tempfile::tempdir().unwrap();
    let (data, state, turn_dir) = (
        dir.path().join("cloud"),
        dir.path().join("camera"),
        dir.path().join("turn"),
    );
    for d in [&data, &state, &turn_dir] {
        std::fs::create_dir_all(d).unwrap();
    }
    let _turn = wan.start_turn(&turn_dir).expect("coturn");
    let (_cloud, link) = wan
        .start_cloud(&data, &["udp", "tcp"])
        .expect("eyrie cloud");
    let camera = wan
        .spawn(
            wan.home
                .run_self(
                    "wan",
                    "camera",
                    &[("NAT_LINK", &link), ("NAT_STATE", state.to_str().unwrap())],
                )
                .env_remove(wan::ICE_ENV)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped()),
        )
        .expect("camera");
    let code = wan::wait_line(&camera, PAIRING, Duration::from_secs(60)).expect("pairing code");
    let viewer = wan
        .spawn(
            wan.away
                .run_self("wan", "viewer", &[("NAT_LINK", &link), ("NAT_CODE", &code)])
                .env_remove(wan::ICE_ENV)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped()),
        )
        .expect("viewer");
    let status = viewer
        .wait_timeout(Duration::from_secs(300))
        .expect("the viewer ends");
    assert!(
        status.success(),
        "the viewer failed:\n{}\n{}\n--- camera ---\n{}",
        viewer.stdout(),
        viewer.stderr(),
        camera.stderr()
    );
    let mut times = Vec::new();
    let mut labels = Vec::new();
    for line in viewer.stdout().lines() {
        let Some(rest) = line.trim_start().strip_prefix(RESULT) else {
            continue;
        };
        let mut parts = rest.split_whitespace();
        if let (Some(ms), Some(label)) = (parts.next().and_then(|m| m.parse().ok()), parts.next()) {
            times.push(ms);
            labels.push(label.to_owned());
        }
    }
    assert_eq!(times.len(), SESSIONS, "{}", viewer.stdout());
    (times, labels)
}

/// The viewer away: pair, one warm-up session, then the timed ones (a line each).
fn viewer_role() {
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
        let mut warm = false;
        let mut timed = 0;
        let mut failures = 0;
        while timed < SESSIONS {
            let started = Instant::now();
            let ticket = user.ticket(device, None).await.expect("ticket");
            let (sink, _) = roles::clock_sink();
            let mut cfg = ViewerConfig::new(ticket, sink);
            cfg.mqtt_ca = ca.clone();
            let (viewer, mut rx) = LiveViewer::connect(cfg).expect("connect");
            let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
            let (mut first, mut path) = (None, None);
            let mut error = None;
            while first.is_none() || path.is_none() {
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(ViewerEvent::FirstFrame { .. })) => first = Some(started.elapsed()),
                    Ok(Some(ViewerEvent::Path(p))) => path = Some(p),
                    Ok(Some(ViewerEvent::Error(e))) => {
                        error = Some(e.to_string());
                        break;
                    }
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => {
                        error = Some("no first frame in 15 s".into());
                        break;
                    }
                }
            }
            viewer.close().await;
            match (error, first, path) {
                (None, Some(first), Some(path)) if warm => {
                    println!(
                        "\n{RESULT}{:.1} {}",
                        first.as_secs_f64() * 1000.0,
                        path.label()
                    );
                    timed += 1;
                }
                (None, Some(_), Some(_)) => warm = true,
                (e, ..) => {
                    failures += 1;
                    eprintln!("session failed: {e:?}");
                    assert!(failures < 5, "five sessions failed");
                }
            }
            // The camera frees the session on bye; let it.
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    });
}

fn percentile(values: &[f64], p: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    v[((v.len() - 1) as f64 * p).round() as usize]
}
