//! Live view across NATs, timed in the WAN lab (`tests/lab/wan.rs`, `docs/network-lab.md`).
//!
//! `cargo bench --features test-hooks --bench wan` (root: it builds namespaces). Two labs:
//!
//! - both NATs endpoint-independent: time to first frame on a direct pair
//!   (`ttff_direct_*`);
//! - the viewer's NAT symmetric (media through coturn), with the delay/loss wire on the
//!   away link (`tests/lab/wire.rs`): time to first frame with no added delay
//!   (`ttff_relay_*`); with 50 ms added each way, a 100 ms round trip (`ttff_rtt100_*`,
//!   and `g2g_rtt100_p50_ms`, the age of the pictures over `G2G_SECS`); then with no delay
//!   and 1 % loss each way, the frozen time of HD over `LOSS_SECS` (`frozen_pct_loss1`,
//!   measured as `tests/nat_loss.rs` does: gaps over 200 ms between frames whose pixel
//!   clock moves on).
//!
//! Each TTFF case opens one warm-up session and then `SESSIONS` timed ones, one after
//! another, from one viewer process (its own broker connection per session, as the app
//! makes). Time to first frame is from asking the cloud for a ticket to the first decoded
//! frame — what a person waits for after a click. Each session also records when the
//! ticket came, when the camera's first `state` (sent with its answer) came, and when ICE
//! and DTLS were up, so the round trips can be placed (`ttff_rtt100_phases_ms`).
//!
//! Where the round trips go (each one viewer ↔ cloud or viewer ↔ camera, relayed at
//! rtt100): the ticket (HTTPS on a kept-alive connection: 1); the broker connection (TCP +
//! TLS 1.3 + MQTT CONNECT and SUBSCRIBE: 3–4, the next to remove — a viewer could keep one
//! broker connection for all its sessions); offer → answer through the broker (1, with
//! the camera's set-up in between); ICE checks through the relay (1–2, trickled; the TURN
//! allocation is 2 more, made while the offer is out); DTLS (2); then the first keyframe
//! from the ring (no wait for the encoder). Removed before this bench: waiting for ICE
//! gathering before sending the offer (trickle instead) and making the DTLS certificate
//! per session (made once per process at start-up).
//!
//! Not measured here: `recover_after_netchange_ms` (it needs an ICE restart).
//!
//! The last line is one JSON object.

#[path = "../tests/lab/mod.rs"]
mod lab;

use std::io::Write;
use std::time::{Duration, Instant};

use eyrie_client::live::{LiveViewer, ViewerConfig, ViewerEvent};
use eyrie_protocol::signalling::Stream;
use gstreamer as gst;
use lab::frames;
use lab::roles;
use lab::scene::Scene;
use lab::wan::{self, Site, Wan};
use serde_json::{Value, json};

/// Timed sessions per TTFF case.
const SESSIONS: usize = 7;
/// Seconds of picture for the glass-to-glass figure.
const G2G_SECS: u64 = 10;
/// Seconds of HD at 1 % loss for the frozen-time figure.
const LOSS_SECS: u64 = 45;
/// Each reply of the viewer role starts with this, then the phase's name and its JSON.
const DONE: &str = "WAN-DONE ";

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
    let started = Instant::now();
    let direct = {
        let wan = Wan::new(Site::EASY, Site::EASY).expect("the WAN lab");
        let run = Run::start(&wan);
        run.phase("ttff", &format!("{SESSIONS}"))
    };
    let (relay, rtt100, g2g, loss) = {
        let wan = Wan::with_wire(Site::EASY, Site::SYMMETRIC).expect("the WAN lab");
        let run = Run::start(&wan);
        let relay = run.phase("ttff", &format!("{SESSIONS}"));
        wan.shape_away(Duration::from_millis(50), 0.0)
            .expect("delay");
        let rtt100 = run.phase("ttff", &format!("{SESSIONS}"));
        let g2g = run.phase("g2g", &G2G_SECS.to_string());
        wan.shape_away(Duration::ZERO, 0.01).expect("loss");
        let loss = run.phase("frozen", &LOSS_SECS.to_string());
        eprintln!("wire: {:?} (seed {})", wan.wire().stats(), wan.wire().seed);
        (relay, rtt100, g2g, loss)
    };
    let labels = |v: &Value| -> Vec<String> {
        v["sessions"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|s| s["path"].as_str().unwrap_or("?").to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    eprintln!("direct: {direct}\nrelayed: {relay}\nrtt100: {rtt100}\ng2g: {g2g}\nloss: {loss}");
    let direct_labels = labels(&direct);
    let relay_labels = labels(&relay);
    assert!(
        direct_labels.iter().all(|l| l == "Direct"),
        "not direct: {direct_labels:?}"
    );
    assert!(
        relay_labels
            .iter()
            .chain(&labels(&rtt100))
            .all(|l| l == "Relayed"),
        "not relayed: {relay_labels:?}"
    );
    let rtt100_p50 = p50(&rtt100, "ttff_ms");
    println!(
        "{}",
        json!({
            "bench": "wan",
            "profile": if cfg!(debug_assertions) { "debug" } else { "release" },
            "sessions": SESSIONS,
            "ttff_direct_p50_ms": p50(&direct, "ttff_ms"),
            "ttff_direct_max_ms": max(&direct, "ttff_ms"),
            "ttff_relay_p50_ms": p50(&relay, "ttff_ms"),
            "ttff_relay_max_ms": max(&relay, "ttff_ms"),
            "ttff_rtt100_p50_ms": rtt100_p50,
            "ttff_rtt100_rtts": rtt100_p50 / 100.0,
            "ttff_rtt100_phases_ms": {
                "ticket": p50(&rtt100, "ticket_ms"),
                "answer_state": p50(&rtt100, "state_ms"),
                "connected": p50(&rtt100, "connected_ms"),
                "first_frame": rtt100_p50,
            },
            "g2g_rtt100_p50_ms": g2g["median_age_ms"],
            "g2g_secs": G2G_SECS,
            "frozen_pct_loss1": loss["frozen_pct"],
            "loss1_secs": LOSS_SECS,
            "loss1_longest_gap_ms": loss["longest_gap_ms"],
            "goal_ttff_p50_ms": 300,
            "goal_ttff_rtt100_p50_ms": 800,
            "goal_g2g_rtt100_p50_ms": 150,
            "goal_frozen_pct_loss1": 2,
            "not_measured": ["recover_after_netchange_ms"],
            "bench_secs": started.elapsed().as_secs(),
        })
    );
}

/// One lab's servers, camera and viewer process; phases are run by writing a line to
/// the viewer's stdin and waiting for its reply.
struct Run {
    scene: Scene,
    viewer: lab::ChildGuard,
    phases: std::cell::Cell<usize>,
}

impl Run {
    fn start(wan: &Wan) -> Run {
        let scene = Scene::start(wan, "wan").expect("cloud, coturn and camera");
        let viewer = wan
            .spawn(
                wan.away
                    .run_self(
                        "wan",
                        "viewer",
                        &[("NAT_LINK", &scene.link), ("NAT_CODE", &scene.code)],
                    )
                    .env_remove(wan::ICE_ENV)
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped()),
            )
            .expect("viewer");
        Run {
            scene,
            viewer,
            phases: std::cell::Cell::new(0),
        }
    }

    /// Runs `phase` with `arg` in the viewer; its JSON.
    fn phase(&self, phase: &str, arg: &str) -> Value {
        let n = self.phases.get();
        self.phases.set(n + 1);
        {
            let mut child = self.viewer.child();
            let stdin = child.stdin.as_mut().expect("the viewer's stdin");
            writeln!(stdin, "{n} {phase} {arg}").expect("writing to the viewer");
            stdin.flush().expect("writing to the viewer");
        }
        let prefix = format!("{DONE}{n} ");
        let line = wan::wait_line(&self.viewer, &prefix, Duration::from_secs(600))
            .unwrap_or_else(|e| panic!("{phase}: {e:#}\n{}", self.scene.context(&self.viewer)));
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{phase}: {e}: {line}"))
    }
}

/// The viewer away: pair, then run the phases its stdin names, one line each
/// (`<n> ttff <sessions>`, `<n> g2g <secs>`, `<n> frozen <secs>`).
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
        let (tx, mut lines) = tokio::sync::mpsc::unbounded_channel::<String>();
        std::thread::spawn(move || {
            for line in std::io::stdin().lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        while let Some(line) = lines.recv().await {
            let mut words = line.split_whitespace();
            let (Some(n), Some(phase), Some(arg)) = (words.next(), words.next(), words.next())
            else {
                panic!("a bad phase line: {line:?}");
            };
            let arg: u64 = arg.parse().expect("a number");
            let result = match phase {
                "ttff" => ttff(&user, device, &ca, arg as usize).await,
                "g2g" => watch(&user, device, &ca, Stream::Sd, arg).await,
                "frozen" => watch(&user, device, &ca, Stream::Hd, arg).await,
                other => panic!("no phase {other}"),
            };
            println!("\n{DONE}{n} {result}");
        }
    });
}

/// One warm-up session, then `sessions` timed ones.
async fn ttff(
    user: &eyrie_client::api::ApiClient,
    device: uuid::Uuid,
    ca: &Option<Vec<u8>>,
    sessions: usize,
) -> Value {
    let mut out = Vec::new();
    let mut warm = false;
    let mut failures = 0;
    while out.len() < sessions {
        match session(user, device, ca).await {
            Ok(s) if warm => out.push(s),
            Ok(_) => warm = true,
            Err(e) => {
                failures += 1;
                eprintln!("session failed: {e}");
                assert!(failures < 5, "five sessions failed");
            }
        }
        // The camera frees the session on bye; let it.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    json!({ "sessions": out, "failures": failures })
}

/// One session to its first frame, with the times of its steps from the click.
async fn session(
    user: &eyrie_client::api::ApiClient,
    device: uuid::Uuid,
    ca: &Option<Vec<u8>>,
) -> Result<Value, String> {
    let ms = |t: Instant| t.elapsed().as_secs_f64() * 1000.0;
    let started = Instant::now();
    let ticket = user.ticket(device, None).await.map_err(|e| e.to_string())?;
    let ticket_ms = ms(started);
    let (sink, _) = roles::clock_sink();
    let mut cfg = ViewerConfig::new(ticket, sink);
    cfg.mqtt_ca = ca.clone();
    let (viewer, mut rx) = LiveViewer::connect(cfg).map_err(|e| e.to_string())?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let (mut first, mut path, mut state, mut connected) = (None, None, None, None);
    let mut error = None;
    while first.is_none() || path.is_none() {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(ViewerEvent::FirstFrame { .. })) => first = Some(ms(started)),
            Ok(Some(ViewerEvent::Path(p))) => path = Some(p.label().to_owned()),
            Ok(Some(ViewerEvent::State { .. })) => {
                state.get_or_insert(ms(started));
            }
            Ok(Some(ViewerEvent::Stage(eyrie_client::live::Stage::RetrievingStream))) => {
                connected.get_or_insert(ms(started));
            }
            Ok(Some(ViewerEvent::Error(e))) => {
                error = Some(e.to_string());
                break;
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => {
                error = Some("no first frame in 20 s".into());
                break;
            }
        }
    }
    viewer.close().await;
    if let Some(e) = error {
        return Err(e);
    }
    Ok(json!({
        "ttff_ms": first,
        "ticket_ms": ticket_ms,
        "state_ms": state,
        "connected_ms": connected,
        "path": path,
    }))
}

/// One session of `stream` watched for `secs` from two seconds after its first frame:
/// the frozen time and the pictures' median age.
async fn watch(
    user: &eyrie_client::api::ApiClient,
    device: uuid::Uuid,
    ca: &Option<Vec<u8>>,
    stream: Stream,
    secs: u64,
) -> Value {
    let ticket = user.ticket(device, None).await.expect("ticket");
    let (sink, log) = frames::frame_log_sink();
    let mut cfg = ViewerConfig::new(ticket, sink);
    cfg.mqtt_ca = ca.clone();
    cfg.stream = stream;
    let (viewer, _rx) = LiveViewer::connect(cfg).expect("connect");
    assert!(
        log.wait_first(Duration::from_secs(30)).is_some(),
        "no picture in 30 s"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let from = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let to = Instant::now();
    viewer.close().await;
    let f = log.freezes(from, to);
    json!({
        "secs": secs,
        "frozen_pct": f.frozen_pct(),
        "longest_gap_ms": f.longest_ms,
        "freezes": f.count,
        "median_age_ms": log.median_age_ms(from, to),
    })
}

fn values(v: &Value, key: &str) -> Vec<f64> {
    v["sessions"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s[key].as_f64()).collect())
        .unwrap_or_default()
}

fn p50(v: &Value, key: &str) -> f64 {
    let mut v = values(v, key);
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    v[(v.len() - 1) / 2]
}

fn max(v: &Value, key: &str) -> f64 {
    values(v, key).into_iter().fold(0.0, f64::max)
}
