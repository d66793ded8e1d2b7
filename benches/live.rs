//! `cargo bench --bench live`: live-view figures on this machine.
//!
//! Set-up: mosquitto on a random loopback port; the camera (test pattern, 30 fps, main
//! 1280×720 + sub 640×360, Opus) runs in a **child process** (this bench binary re-run
//! with `EYRIE_LIVE_BENCH_CAMERA=<port>`), so its CPU can be measured alone; viewers run
//! in this process with an appsink.
//!
//! - `ttff_p50_ms`, `ttff_p95_ms`: 20 sessions one after another, time from the offer
//!   being published to the first decoded frame leaving the decoder (the viewer's
//!   `FirstFrame` event).
//! - `g2g_p50_ms`: glass-to-glass through the pixel clock. The camera draws its capture
//!   time (Unix ms, from the pipeline's realtime clock: `base_time + PTS`) into every raw
//!   frame before encoding; the viewer decodes it from every decoded frame at the appsink
//!   (sync=false) and subtracts it from its wall clock. Same machine, same clock. Median
//!   over ~4 s of SD video with 1 viewer.
//! - `cpu_5_over_1`: camera process CPU time (utime+stime from /proc) over 5 s with five
//!   viewers ÷ over 5 s with one viewer.
//! - `ring_push_ns`, `ring_read_ns`: RingBuffer cost per frame (shared 20 KB payloads,
//!   1 reader), averaged over 200 000 frames.
//!
//! Two-host mode (as root, where network namespaces work; `tests/lab`): the real
//! `eyrie cloud --listen 0.0.0.0:8470` (TLS, embedded broker) and `eyrie camera` on one
//! host, a viewer (this bench re-run as the `lan-viewer` role) on another, one bridge
//! between them:
//! - `ttff_lan_p50_ms`: 20 sessions, offer → first decoded frame, signalling over TLS.
//! - `tls_handshake_api_ms`, `tls_handshake_mqtt_ms`: TCP connect + TLS handshake with
//!   the cloud's CA from the viewer's host, median of 20 each.

use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use eyrie_camera::ring::{Frame, RingBuffer, RingConfig, StartAt};
use eyrie_client::live::{LiveViewer, ViewerConfig, ViewerEvent};
use eyrie_protocol::api::{MqttConnection, TicketResponse};
use eyrie_protocol::signalling::Stream;
use eyrie_protocol::ticket::TicketClaims;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;

const SECRET: &str = "bench-device-secret";
const DEVICE: &str = "0b7e4c1e-0000-4000-8000-00000000beef";

fn mqtt(port: u16, user: &str) -> MqttConnection {
    MqttConnection {
        host: "127.0.0.1".into(),
        port,
        tls: false,
        username: user.into(),
        password: user.into(),
        client_id: format!("{user}-{:08x}", rand::random::<u32>()),
        topic_prefix: format!("eyrie/{DEVICE}"),
    }
}

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn camera_child(port: u16) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async move {
        let mut live = eyrie_camera::live::LiveConfig::new(DEVICE, SECRET.as_bytes().to_vec());
        live.max_sessions = 8;
        let cam = eyrie_camera::Camera::start(eyrie_camera::CameraConfig {
            capture: eyrie_camera::capture::CaptureConfig::default(),
            live,
            mqtt: mqtt(port, DEVICE),
        })
        .expect("camera starts");
        // Run until the parent closes our stdin.
        tokio::task::spawn_blocking(|| {
            let mut s = String::new();
            let _ = std::io::stdin().read_line(&mut s);
        })
        .await
        .ok();
        drop(cam);
    });
}

fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    n(11) + n(12) // utime, stime (fields 14, 15)
}

type Samples = Arc<Mutex<Vec<i64>>>;

fn appsink() -> (gst::Element, Samples) {
    let samples: Samples = Arc::default();
    let sink = gst_app::AppSink::builder()
        .caps(
            &gst_video::VideoCapsBuilder::new()
                .format(gst_video::VideoFormat::I420)
                .build(),
        )
        .sync(false)
        .max_buffers(2)
        .drop(true)
        .build();
    let s = samples.clone();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let now = eyrie_client::pixel_clock::now_unix_ms() as i64;
                if let (Some(buf), Some(caps)) = (sample.buffer(), sample.caps())
                    && let Ok(info) = gst_video::VideoInfo::from_caps(caps)
                    && let Ok(frame) =
                        gst_video::VideoFrameRef::from_buffer_ref_readable(buf, &info)
                    && let Some(c) = eyrie_client::pixel_clock::decode_pixel_clock(&frame)
                    && let Ok(mut v) = s.lock()
                {
                    v.push(now - c as i64);
                }
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    (sink.upcast(), samples)
}

fn open(
    port: u16,
) -> (
    LiveViewer,
    tokio::sync::mpsc::UnboundedReceiver<ViewerEvent>,
    Samples,
) {
    let ticket = TicketResponse {
        ticket: TicketClaims::new("bench", DEVICE, now_s() + 120).sign(SECRET.as_bytes()),
        expires_at: (now_s() + 120) as i64,
        device_id: DEVICE.parse().expect("uuid"),
        mqtt: mqtt(port, "viewer-bench"),
        ice_servers: vec![],
    };
    let (sink, samples) = appsink();
    let mut cfg = ViewerConfig::new(ticket, sink);
    cfg.stream = Stream::Sd;
    let (v, rx) = LiveViewer::connect(cfg).expect("viewer");
    (v, rx, samples)
}

async fn first_frame(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<ViewerEvent>,
) -> Option<Duration> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(ViewerEvent::FirstFrame { since_offer })) => return Some(since_offer),
            Ok(Some(ViewerEvent::Error(e))) => {
                eprintln!("viewer error: {e}");
                return None;
            }
            Ok(Some(_)) => {}
            _ => return None,
        }
    }
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let i = ((v.len() - 1) as f64 * p).round() as usize;
    v[i]
}

fn ring_bench() -> (f64, f64) {
    let ring = RingBuffer::new("bench", RingConfig::default());
    let payload = Bytes::from(vec![0u8; 20_000]);
    let n = 200_000u64;
    let mut reader = ring.reader(StartAt::Next);
    let (mut push_ns, mut read_ns) = (0u128, 0u128);
    for chunk in 0..(n / 100) {
        let t = Instant::now();
        for i in 0..100 {
            let k = chunk * 100 + i;
            ring.push(Frame {
                pts_us: k * 33_333,
                duration_us: 33_333,
                keyframe: k % 60 == 0,
                data: payload.clone(),
                capture_unix_ms: 0,
            });
        }
        push_ns += t.elapsed().as_nanos();
        let t = Instant::now();
        while let Ok(Some(f)) = reader.try_next() {
            std::hint::black_box(f);
        }
        read_ns += t.elapsed().as_nanos();
    }
    (push_ns as f64 / n as f64, read_ns as f64 / n as f64)
}

#[path = "../tests/lab/mod.rs"]
mod lab;
#[path = "../tests/lan_support/mod.rs"]
mod lan_support;

use lan_support::ICE_ENV;

/// The two-host figures: (ttff p50, API handshake p50, broker handshake p50, sessions that
/// played), or why not.
fn lan_figures() -> Result<(f64, f64, f64, u64), String> {
    lab::available()?;
    let lab = lab::Lab::with_hosts(&["camera", "viewer"]).map_err(|e| e.to_string())?;
    let (cam_host, viewer_host) = (lab.host("camera"), lab.host("viewer"));
    let data = tempfile::tempdir().map_err(|e| e.to_string())?;
    let state = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (_cloud, link) = lan_support::start_cloud(&lab, cam_host, data.path())?;
    let (_camera, code) = lan_support::start_camera(&lab, cam_host, &link, state.path(), &[])?;
    let viewer = lab
        .spawn(
            viewer_host
                .run_self(
                    "live",
                    "lan-viewer",
                    &[("LAN_LINK", &link), ("LAN_CODE", &code)],
                )
                .env_remove(ICE_ENV)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        )
        .map_err(|e| e.to_string())?;
    let status = viewer
        .wait_timeout(Duration::from_secs(300))
        .map_err(|e| e.to_string())?;
    let out = viewer.stdout();
    if !status.success() {
        return Err(format!("viewer failed: {out}\n{}", viewer.stderr()));
    }
    let v: serde_json::Value = out
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .ok_or("no report from the viewer")?;
    let f = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    Ok((
        f("ttff_p50_ms"),
        f("tls_api_ms"),
        f("tls_mqtt_ms"),
        v["sessions"].as_u64().unwrap_or(0),
    ))
}

/// The viewer's host in two-host mode: claim, 20 sessions, handshakes; one JSON line.
fn lan_viewer() {
    let link = std::env::var("LAN_LINK").expect("LAN_LINK");
    let code = std::env::var("LAN_CODE").expect("LAN_CODE");
    gst::init().expect("gstreamer");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async move {
        let api = eyrie_client::api::ApiClient::new(link.clone());
        api.register("bench", "bench horse battery")
            .await
            .expect("register");
        let user = api.with_token(
            api.login("bench", "bench horse battery")
                .await
                .expect("login")
                .token,
        );
        let device = user.claim(&code, "Bench").await.expect("claim");
        assert!(lan_support::wait_online(&user, device.id, Duration::from_secs(60)).await);
        tokio::time::sleep(Duration::from_secs(3)).await;
        let mut ttff = Vec::new();
        for _ in 0..20 {
            match lan_support::watch(&user, device.id).await {
                Ok(w) => ttff.push(w.first_frame.as_secs_f64() * 1000.0),
                Err(e) => eprintln!("session: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // TLS handshakes against the cloud's CA: the API and the broker.
        let ca = api.ca_pem().await.expect("ca").expect("a pinned CA");
        let mut roots = rustls::RootCertStore::empty();
        use rustls::pki_types::pem::PemObject as _;
        for cert in rustls::pki_types::CertificateDer::pem_slice_iter(&ca).flatten() {
            roots.add(cert).expect("CA");
        }
        let config = std::sync::Arc::new(
            rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
                rustls::crypto::aws_lc_rs::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .expect("tls versions")
            .with_root_certificates(roots)
            .with_no_client_auth(),
        );
        let connector = tokio_rustls::TlsConnector::from(config);
        let link: eyrie_protocol::trust::CloudLink = link.parse().expect("link");
        let host = link.host();
        let name = rustls::pki_types::ServerName::try_from(host.clone()).expect("name");
        let handshake = |port: u16| {
            let (connector, name, host) = (connector.clone(), name.clone(), host.clone());
            async move {
                let mut ms = Vec::new();
                for _ in 0..20 {
                    let t = Instant::now();
                    let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
                        .await
                        .expect("connect");
                    let tls = connector
                        .connect(name.clone(), tcp)
                        .await
                        .expect("handshake");
                    ms.push(t.elapsed().as_secs_f64() * 1000.0);
                    drop(tls);
                }
                pct(&mut ms, 0.5)
            }
        };
        let api_ms = handshake(8470).await;
        let mqtt_ms = handshake(8472).await;
        println!(
            "{}",
            serde_json::json!({
                "ttff_p50_ms": pct(&mut ttff, 0.5),
                "sessions": ttff.len(),
                "tls_api_ms": api_ms,
                "tls_mqtt_ms": mqtt_ms,
            })
        );
    });
}

fn main() {
    if lab::child_role().as_deref() == Some("lan-viewer") {
        lan_viewer();
        return;
    }
    if let Ok(port) = std::env::var("EYRIE_LIVE_BENCH_CAMERA") {
        camera_child(port.parse().expect("port"));
        return;
    }
    // The single-machine figures stay on loopback (as in the test suite): run again with
    // ICE restricted to 127.0.0.1. The two-host mode's processes clear it.
    if std::env::var_os(ICE_ENV).is_none() {
        let status = Command::new(std::env::current_exe().expect("exe"))
            .args(std::env::args_os().skip(1))
            .env(ICE_ENV, "127.0.0.1")
            .status()
            .expect("bench");
        std::process::exit(status.code().unwrap_or(1));
    }
    // `cargo bench` passes --bench; ignore arguments.
    gst::init().expect("gstreamer");
    let (ring_push_ns, ring_read_ns) = ring_bench();
    println!("ring: push {ring_push_ns:.0} ns/frame, read {ring_read_ns:.0} ns/frame");

    let dir = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let conf = dir.path().join("m.conf");
    std::fs::write(
        &conf,
        format!("listener {port} 127.0.0.1\nallow_anonymous true\n"),
    )
    .expect("conf");
    let mut broker = Command::new("mosquitto")
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("mosquitto");
    std::thread::sleep(Duration::from_millis(300));
    let exe = std::env::current_exe().expect("exe");
    let mut cam = Command::new(exe)
        .env("EYRIE_LIVE_BENCH_CAMERA", port.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("camera child");
    let cam_pid = cam.id();

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (ttff, g2g, cpu_ratio) = rt.block_on(async move {
        tokio::time::sleep(Duration::from_secs(3)).await;
        // TTFF, 20 sessions.
        let mut ttff = Vec::new();
        for _ in 0..20 {
            let (v, mut rx, _) = open(port);
            if let Some(d) = first_frame(&mut rx).await {
                ttff.push(d.as_secs_f64() * 1000.0);
            }
            v.close().await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // G2G and CPU with one viewer.
        let (v1, mut rx, samples) = open(port);
        first_frame(&mut rx).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        samples.lock().map(|mut s| s.clear()).ok();
        let c0 = cpu_ticks(cam_pid);
        tokio::time::sleep(Duration::from_secs(5)).await;
        let one = cpu_ticks(cam_pid) - c0;
        let mut g2g: Vec<f64> = samples
            .lock()
            .map(|s| s.iter().map(|&v| v as f64).collect())
            .unwrap_or_default();
        // Four more viewers.
        let mut more = Vec::new();
        for _ in 0..4 {
            let (v, mut rx, _) = open(port);
            first_frame(&mut rx).await;
            more.push(v);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let c0 = cpu_ticks(cam_pid);
        tokio::time::sleep(Duration::from_secs(5)).await;
        let five = cpu_ticks(cam_pid) - c0;
        println!("camera CPU ticks over 5 s: 1 viewer {one}, 5 viewers {five}");
        for v in more {
            v.close().await;
        }
        v1.close().await;
        let g2g_p50 = pct(&mut g2g, 0.5);
        println!("g2g samples {}: p50 {g2g_p50:.0} ms", g2g.len());
        (ttff, g2g_p50, five as f64 / one.max(1) as f64)
    });
    let _ = cam.stdin.take();
    let _ = cam.wait();
    let _ = broker.kill();
    let _ = broker.wait();

    let lan = lan_figures();
    match &lan {
        Ok((ttff, api, mqtt, n)) => println!(
            "two hosts: ttff p50 {ttff:.0} ms over {n} sessions, TLS handshake API {api:.1} ms, broker {mqtt:.1} ms"
        ),
        Err(why) => println!("two hosts: skipped ({why})"),
    }
    let lan = lan.ok();
    let round1 = |v: f64| (v * 10.0).round() / 10.0;
    let mut t = ttff.clone();
    let (p50, p95) = (pct(&mut t, 0.5), pct(&mut t, 0.95));
    println!(
        "ttff over {} sessions: p50 {p50:.0} ms, p95 {p95:.0} ms",
        ttff.len()
    );
    println!(
        "{}",
        serde_json::json!({
            "ttff_p50_ms": p50.round(),
            "ttff_p95_ms": p95.round(),
            "ttff_sessions": ttff.len(),
            "g2g_p50_ms": g2g.round(),
            "cpu_5_over_1": (cpu_ratio * 100.0).round() / 100.0,
            "ring_push_ns": ring_push_ns.round(),
            "ring_read_ns": ring_read_ns.round(),
            "ttff_lan_p50_ms": lan.map(|l| l.0.round()),
            "tls_handshake_api_ms": lan.map(|l| round1(l.1)),
            "tls_handshake_mqtt_ms": lan.map(|l| round1(l.2)),
            "ttff_lan_sessions": lan.map(|l| l.3),
        })
    );
}
