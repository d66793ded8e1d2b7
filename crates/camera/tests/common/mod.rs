//! Shared set-up for the live end-to-end tests: a real mosquitto on a random loopback
//! port (optionally with per-user ACLs), a camera in this process on the test pattern,
//! tickets signed with the device secret as the cloud signs them, and viewers whose
//! decoded frames land in an appsink the test reads.
#![allow(dead_code)]

pub mod mem;
pub mod tls;

use std::io::Write as _;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A mosquitto broker process.
pub struct Mosquitto {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Option<Child>,
    acl: bool,
    /// Listener lines for TLS (cafile, certfile, keyfile).
    tls: Option<String>,
}

impl Mosquitto {
    /// Start mosquitto. With `acl`, logins are checked against a password file (users
    /// `DEVICE`, `viewer-1`, `viewer-2`, password = user name) and the documented ACL
    /// file (docs/signalling.md) applies.
    pub fn start(acl: bool) -> Mosquitto {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let mut m = Mosquitto {
            port,
            dir,
            child: None,
            acl,
            tls: None,
        };
        m.write_config();
        m.spawn();
        m
    }

    /// Start mosquitto with a TLS listener only, showing the test PKI's broker certificate.
    pub fn start_tls(pki: &tls::TestPki) -> Mosquitto {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let mut m = Mosquitto {
            port,
            dir,
            child: None,
            acl: false,
            tls: Some(format!(
                "cafile {}\ncertfile {}\nkeyfile {}\n",
                pki.path("ca.crt").display(),
                pki.path("server.crt").display(),
                pki.path("server.key").display()
            )),
        };
        m.write_config();
        m.spawn();
        m
    }

    fn write_config(&self) {
        let d = self.dir.path();
        let mut conf = format!(
            "listener {} 127.0.0.1\npersistence false\nlog_type error\n{}",
            self.port,
            self.tls.as_deref().unwrap_or("")
        );
        if self.acl {
            let pw = d.join("passwd");
            std::fs::write(&pw, "").unwrap();
            for u in [DEVICE, "viewer-1", "viewer-2"] {
                let ok = Command::new("mosquitto_passwd")
                    .args(["-b", pw.to_str().unwrap(), u, u])
                    .status()
                    .expect("mosquitto_passwd");
                assert!(ok.success());
            }
            std::fs::write(d.join("acl"), ACL).unwrap();
            conf.push_str(&format!(
                "allow_anonymous false\npassword_file {}\nacl_file {}\n",
                pw.display(),
                d.join("acl").display()
            ));
        } else {
            conf.push_str("allow_anonymous true\n");
        }
        let mut f = std::fs::File::create(d.join("mosquitto.conf")).unwrap();
        f.write_all(conf.as_bytes()).unwrap();
    }

    fn spawn(&mut self) {
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(self.dir.path().join("mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto runs");
        self.child = Some(child);
        let t = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "mosquitto did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    pub fn mqtt(&self, user: &str, prefix: &str) -> MqttConnection {
        MqttConnection {
            host: "127.0.0.1".into(),
            port: self.port,
            tls: self.tls.is_some(),
            username: user.into(),
            password: user.into(),
            client_id: format!("{user}-{}", rand_suffix()),
            topic_prefix: prefix.into(),
        }
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The ACL file from docs/signalling.md.
pub const ACL: &str = "\
# Devices: user name = device id.
pattern readwrite eyrie/%u/#
# Viewers: write to a device's inbox under their own name, read their own outbox.
pattern write eyrie/+/in/%u
pattern read eyrie/+/out/%u
# Everybody may read presence.
pattern read eyrie/+/status
";

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
    let t = TicketClaims::new("user-1", DEVICE, exp).sign(secret.as_bytes());
    TicketResponse {
        ticket: t,
        expires_at: exp as i64,
        device_id: DEVICE.parse().unwrap(),
        mqtt,
        ice_servers: vec![],
    }
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

/// Logs to the test output, following RUST_LOG.
pub fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}
