//! Shared set-up for the live end-to-end tests: a real mosquitto on a random loopback
//! port (optionally with per-user ACLs), a camera in this process on the test pattern,
//! tickets signed with the device secret as the cloud signs them, and viewers whose
//! decoded frames land in an appsink the test reads.
#![allow(dead_code)]

pub mod mem;
pub mod tls;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use eyrie_camera::capture::{CaptureConfig, Source};
use eyrie_camera::live::{LiveConfig, Speaker};
use eyrie_camera::{Camera, CameraConfig, CameraHandle};
use eyrie_client::live::{LiveViewer, ViewerConfig, ViewerEvent};
use eyrie_protocol::api::{MqttConnection, TicketResponse};
use eyrie_protocol::signalling::Stream;
use eyrie_protocol::ticket::TicketClaims;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;

pub const SECRET: &str = "device-secret-for-tests";
pub const DEVICE: &str = "0b7e4c1e-0000-4000-8000-000000000001";

pub use eyrie_testkit::Mosquitto;

/// The users [`broker_with_logins`] knows (password = user name).
pub const USERS: [&str; 3] = [DEVICE, "viewer-1", "viewer-2"];

/// A mosquitto with logins for [`USERS`] and the documented ACL (docs/signalling.md).
pub fn broker_with_logins() -> Mosquitto {
    Mosquitto::with_users(&USERS)
}

pub fn rand_suffix() -> String {
    format!("{:08x}", rand::random::<u32>())
}

pub fn prefix() -> String {
    format!("eyrie/{DEVICE}")
}

pub fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A camera on the test pattern, connected to `mqtt`.
pub fn camera(mqtt: MqttConnection, tweak: impl FnOnce(&mut LiveConfig)) -> CameraHandle {
    let mut live = LiveConfig::new(DEVICE, SECRET.as_bytes().to_vec());
    live.speaker = Speaker::None;
    tweak(&mut live);
    Camera::start(CameraConfig {
        capture: CaptureConfig {
            source: Source::Test,
            ..Default::default()
        },
        live,
        mqtt,
    })
    .expect("camera starts")
}

/// A ticket response as the cloud would give one.
pub fn ticket(mqtt: MqttConnection, secret: &str, exp: u64) -> TicketResponse {
    let t = TicketClaims::new("1", DEVICE, exp).sign(secret.as_bytes());
    TicketResponse {
        ticket: t,
        expires_at: exp as i64,
        device_id: DEVICE.parse().unwrap(),
        mqtt,
        ice_servers: vec![],
    }
}

/// The usual ticket: viewer-1's login on `broker`, good for a minute.
pub fn viewer_ticket(broker: &Mosquitto) -> TicketResponse {
    ticket(
        broker.connection("viewer-1", &prefix()),
        SECRET,
        now_s() + 60,
    )
}

/// What the appsink saw.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    pub frames: u64,
    pub size: Option<(u32, u32)>,
    /// (capture ms from the pixel clock, arrival ms) of the latest decodable frame.
    pub clock: Option<(u64, u64)>,
    pub sizes: Vec<(u32, u32)>,
}

pub fn video_appsink() -> (gst::Element, Arc<Mutex<Seen>>) {
    gst::init().unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
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
    let s = seen.clone();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let now = eyrie_client::pixel_clock::now_unix_ms();
                let (Some(buf), Some(caps)) = (sample.buffer(), sample.caps()) else {
                    return Ok(gst::FlowSuccess::Ok);
                };
                let Ok(info) = gst_video::VideoInfo::from_caps(caps) else {
                    return Ok(gst::FlowSuccess::Ok);
                };
                let clock = gst_video::VideoFrameRef::from_buffer_ref_readable(buf, &info)
                    .ok()
                    .and_then(|f| eyrie_client::pixel_clock::decode_pixel_clock(&f));
                let mut seen = s.lock().unwrap();
                seen.frames += 1;
                let size = (info.width(), info.height());
                if seen.size != Some(size) {
                    seen.sizes.push(size);
                }
                seen.size = Some(size);
                if let Some(c) = clock {
                    seen.clock = Some((c, now));
                }
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    (sink.upcast(), seen)
}

/// Open a viewer; returns it, its events and what its sink sees.
pub fn viewer(
    ticket: TicketResponse,
    stream: Stream,
    talk: bool,
) -> (
    LiveViewer,
    tokio::sync::mpsc::UnboundedReceiver<ViewerEvent>,
    Arc<Mutex<Seen>>,
) {
    viewer_with(ticket, stream, talk, |_| {})
}

/// [`viewer`] with a last word on its configuration.
pub fn viewer_with(
    ticket: TicketResponse,
    stream: Stream,
    talk: bool,
    tweak: impl FnOnce(&mut ViewerConfig),
) -> (
    LiveViewer,
    tokio::sync::mpsc::UnboundedReceiver<ViewerEvent>,
    Arc<Mutex<Seen>>,
) {
    let (sink, seen) = video_appsink();
    let mut cfg = ViewerConfig::new(ticket, sink);
    cfg.stream = stream;
    cfg.answer_timeout = Duration::from_secs(8);
    if talk {
        let src = gst::ElementFactory::make("audiotestsrc")
            .property("is-live", true)
            .property("volume", 0.5f64)
            .build()
            .unwrap();
        cfg.talk_source = Some(src);
    }
    tweak(&mut cfg);
    let (v, rx) = LiveViewer::connect(cfg).expect("viewer starts");
    (v, rx, seen)
}

/// Wait for an event matching `f`, up to `timeout`; returns it.
pub async fn wait_event(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<ViewerEvent>,
    timeout: Duration,
    f: impl Fn(&ViewerEvent) -> bool,
) -> Option<ViewerEvent> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(e)) if f(&e) => return Some(e),
            Ok(Some(_)) => {}
            _ => return None,
        }
    }
}

/// Wait up to 15 s for the viewer's first decoded frame; fail the test on an error or none.
pub async fn first_frame(rx: &mut tokio::sync::mpsc::UnboundedReceiver<ViewerEvent>) {
    let ev = wait_event(rx, Duration::from_secs(15), |e| {
        matches!(e, ViewerEvent::FirstFrame { .. } | ViewerEvent::Error(_))
    })
    .await;
    assert!(
        matches!(ev, Some(ViewerEvent::FirstFrame { .. })),
        "no first frame: {ev:?}"
    );
}

/// The INFO-or-above log lines of this test binary while a [`LogWatch`] is alive, as
/// `message key=value …` (values in `Debug` form, so strings are quoted as the camera's
/// log prints them), numbered in order — for tests that check what the camera says. Kept
/// to the last [`LOG_LINES`] and emptied when the last watch ends, so tests that measure
/// this process's heap (the leak check) see nothing of it.
pub static LOG: Mutex<Vec<(usize, String)>> = Mutex::new(Vec::new());
static LOGGED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static WATCHING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Keeps [`LOG`] recording while alive.
pub struct LogWatch(());

impl LogWatch {
    pub fn start() -> LogWatch {
        init_logs();
        WATCHING.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        LogWatch(())
    }
}

impl Drop for LogWatch {
    fn drop(&mut self) {
        if WATCHING.fetch_sub(1, std::sync::atomic::Ordering::SeqCst) == 1 {
            let mut log = LOG
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            *log = Vec::new();
        }
    }
}
pub const LOG_LINES: usize = 20_000;

/// The [`LOG`] recorder.
struct LogCapture;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for LogCapture {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Line(String, String);
        impl tracing::field::Visit for Line {
            fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
                if f.name() == "message" {
                    self.0 = format!("{v:?}");
                } else {
                    self.1.push_str(&format!(" {}={v:?}", f.name()));
                }
            }
        }
        if WATCHING.load(std::sync::atomic::Ordering::SeqCst) == 0 {
            return;
        }
        let mut line = Line(String::new(), String::new());
        event.record(&mut line);
        let mut log = LOG
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if log.len() >= LOG_LINES {
            log.drain(..LOG_LINES / 2);
        }
        let n = LOGGED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        log.push((n, line.0 + &line.1));
    }
}

/// Logs to the test output, following RUST_LOG, and INFO and above into [`LOG`] while a
/// [`LogWatch`] is alive.
pub fn init_logs() {
    use tracing_subscriber::prelude::*;
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_test_writer()
                .with_filter(tracing_subscriber::EnvFilter::from_default_env()),
        )
        .with(LogCapture.with_filter(tracing_subscriber::filter::LevelFilter::INFO))
        .try_init();
}

/// The number the next [`LOG`] line will have.
pub fn log_mark() -> usize {
    LOGGED.load(std::sync::atomic::Ordering::SeqCst)
}

/// Wait up to `within` for a [`LOG`] line numbered `since` or later containing every one
/// of `parts`; returns the first.
pub async fn wait_log(since: usize, parts: &[&str], within: Duration) -> Option<String> {
    let deadline = std::time::Instant::now() + within;
    loop {
        let found = LOG
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .find(|(n, l)| *n >= since && parts.iter().all(|p| l.contains(p)))
            .map(|(_, l)| l.clone());
        if found.is_some() || std::time::Instant::now() > deadline {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
