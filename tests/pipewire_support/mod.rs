//! A PipeWire session of the test's own: `pipewire` and `wireplumber` (on a private D-Bus
//! bus) in a fresh runtime directory, and a video source node published from a GStreamer
//! pipeline in this process — `videotestsrc` with the pixel clock drawn into every frame,
//! into `pipewiresink mode=provide` — that the test takes away and brings back.
//!
//! ```text
//!  videotestsrc is-live (smpte) ─► caps I420 1280x720@15 ─► [probe: pixel clock = now]
//!     ─► pipewiresink mode=provide fd=<socket in our runtime dir>
//!        stream-properties: media.class=Video/Source, node.name=<name>
//! ```
//!
//! Nothing of it touches the machine's own session: the children get the runtime
//! directory in their environment, and the publisher connects through a socket it opened
//! itself (`pipewiresink fd=`), so this process's environment is left alone.
#![allow(dead_code)]

use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_video as gst_video;
use gstreamer_video::prelude::*;

/// The network lab's one pixel-clock appsink.
#[path = "../lab/roles.rs"]
mod roles;

/// Why PipeWire tests cannot run here (`None`: they can).
pub fn unavailable() -> Option<String> {
    for bin in ["pipewire", "wireplumber", "dbus-daemon"] {
        if !on_path(bin) {
            return Some(format!(
                "{bin} is not installed (build-aux/setup installs pipewire, wireplumber, dbus)"
            ));
        }
    }
    let _ = gst::init();
    for element in ["pipewiresrc", "pipewiresink"] {
        if gst::ElementFactory::find(element).is_none() {
            return Some(format!(
                "GStreamer element {element} is missing (install gstreamer1.0-pipewire)"
            ));
        }
    }
    None
}

fn on_path(bin: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The running daemons; dropping it stops them and removes the runtime directory.
pub struct PipeWire {
    // Field order is drop order: the session manager before the daemon, the bus last.
    wireplumber: Killed,
    pipewire: Killed,
    dbus: Killed,
    runtime: tempfile::TempDir,
}

impl PipeWire {
    pub fn start() -> PipeWire {
        let runtime = tempfile::Builder::new()
            .prefix("eyrie-pw-")
            .tempdir()
            .expect("runtime dir");
        let mut dbus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon starts");
        let address = {
            use std::io::BufRead;
            let out = dbus.stdout.take().expect("dbus stdout");
            let mut line = String::new();
            std::io::BufReader::new(out)
                .read_line(&mut line)
                .expect("dbus-daemon prints its address");
            line.trim().to_owned()
        };
        let dbus = Killed(dbus);
        let env = |c: &mut Command| {
            c.env("XDG_RUNTIME_DIR", runtime.path())
                .env("PIPEWIRE_RUNTIME_DIR", runtime.path())
                .env("DBUS_SESSION_BUS_ADDRESS", &address)
                .env_remove("PIPEWIRE_REMOTE")
                .stdout(Stdio::null())
                .stderr(Stdio::null());
        };
        let mut c = Command::new("pipewire");
        env(&mut c);
        let pipewire = Killed(c.spawn().expect("pipewire starts"));
        let socket = runtime.path().join("pipewire-0");
        let t0 = Instant::now();
        while !socket.exists() && t0.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(socket.exists(), "pipewire made no socket in 10 s");
        let mut c = Command::new("wireplumber");
        env(&mut c);
        let wireplumber = Killed(c.spawn().expect("wireplumber starts"));
        PipeWire {
            wireplumber,
            pipewire,
            dbus,
            runtime,
        }
    }

    pub fn runtime_dir(&self) -> &Path {
        self.runtime.path()
    }

    pub fn socket(&self) -> PathBuf {
        self.runtime.path().join("pipewire-0")
    }

    /// Give a child process this PipeWire and leave the rest of its runtime directory
    /// (D-Bus, dconf, the accessibility bus) where it was: for the app.
    pub fn env_pipewire_only(&self, c: &mut Command) {
        c.env("PIPEWIRE_RUNTIME_DIR", self.runtime.path())
            .env_remove("PIPEWIRE_REMOTE");
    }

    /// Give a child process this PipeWire (and only this one).
    pub fn env(&self, c: &mut Command) {
        c.env("XDG_RUNTIME_DIR", self.runtime.path())
            .env("PIPEWIRE_RUNTIME_DIR", self.runtime.path())
            .env_remove("PIPEWIRE_REMOTE");
    }
}

/// A published video source node; dropping it takes the node away.
pub struct Publisher {
    pipeline: gst::Pipeline,
    _socket: UnixStream,
}

impl Publisher {
    /// Publish `node_name` (1280×720 I420 at 15 fps, SMPTE bars, the pixel clock on top).
    pub fn start(pw: &PipeWire, node_name: &str) -> Publisher {
        gst::init().unwrap();
        let socket = UnixStream::connect(pw.socket()).expect("connect to pipewire");
        let pipeline = gst::Pipeline::with_name("eyrie-test-publisher");
        let src = gst::ElementFactory::make("videotestsrc")
            .property("is-live", true)
            .property_from_str("pattern", "smpte")
            .build()
            .unwrap();
        let (w, h) = (1280u32, 720u32);
        let caps = gst::ElementFactory::make("capsfilter")
            .property(
                "caps",
                gst_video::VideoCapsBuilder::new()
                    .format(gst_video::VideoFormat::I420)
                    .width(w as i32)
                    .height(h as i32)
                    .framerate(gst::Fraction::new(15, 1))
                    .build(),
            )
            .build()
            .unwrap();
        let props = gst::Structure::builder("props")
            .field("media.class", "Video/Source")
            .field("node.name", node_name)
            .field("node.description", "Eyrie test camera")
            .build();
        let sink = gst::ElementFactory::make("pipewiresink")
            .property_from_str("mode", "provide")
            .property("stream-properties", props)
            .property("fd", socket.as_raw_fd())
            .build()
            .unwrap();
        pipeline.add_many([&src, &caps, &sink]).unwrap();
        gst::Element::link_many([&src, &caps, &sink]).unwrap();
        let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, w, h)
            .build()
            .unwrap();
        caps.static_pad("src")
            .unwrap()
            .add_probe(gst::PadProbeType::BUFFER, move |_, probe| {
                if let Some(gst::PadProbeData::Buffer(buffer)) = probe.data.as_mut() {
                    let now = eyrie_client::pixel_clock::now_unix_ms();
                    if let Ok(mut frame) =
                        gst_video::VideoFrameRef::from_buffer_ref_writable(buffer.make_mut(), &info)
                    {
                        let stride = frame.plane_stride()[0] as usize;
                        if let Ok(plane) = frame.plane_data_mut(0) {
                            eyrie_client::pixel_clock::encode_luma(
                                plane, stride, w as usize, h as usize, now,
                            );
                        }
                    }
                }
                gst::PadProbeReturn::Ok
            });
        pipeline
            .set_state(gst::State::Playing)
            .expect("publisher plays");
        Publisher {
            pipeline,
            _socket: socket,
        }
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// The pixel clocks (Unix ms) of every decoded video frame of an MPEG-TS recording
/// (`None` where a frame carries none).
pub fn pixel_clocks_of_ts(ts: &[u8]) -> Vec<Option<u64>> {
    gst::init().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seg.ts");
    std::fs::write(&path, ts).unwrap();
    let pipeline = gst::parse::launch(&format!(
        "filesrc location={} ! tsdemux ! h264parse ! avdec_h264 ! videoconvert name=last",
        path.display()
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let s = seen.clone();
    let sink = roles::pixel_clock_sink(move |clock| s.lock().unwrap().push(clock));
    sink.set_property("max-buffers", 0u32);
    sink.set_property("drop", false);
    pipeline.add(&sink).unwrap();
    pipeline.by_name("last").unwrap().link(&sink).unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let bus = pipeline.bus().unwrap();
    let _ = bus.timed_pop_filtered(
        gst::ClockTime::from_seconds(30),
        &[gst::MessageType::Eos, gst::MessageType::Error],
    );
    pipeline.set_state(gst::State::Null).unwrap();
    std::mem::take(&mut *seen.lock().unwrap())
}

/// Watch `device` live as its owner (`api`), as the app does, for up to `within`: the
/// pixel clock of the newest frame decoded after the first one (`Err`: why none came).
pub async fn live_clock(
    api: &eyrie_client::api::ApiClient,
    device: uuid::Uuid,
    within: Duration,
) -> Result<u64, String> {
    use eyrie_client::live::{LiveViewer, ViewerConfig, ViewerEvent};
    gst::init().map_err(|e| e.to_string())?;
    let deadline = Instant::now() + within;
    let mut why = String::from("no try");
    while Instant::now() < deadline {
        let ticket = api.ticket(device, None).await.map_err(|e| e.to_string())?;
        let (sink, seen) = roles::clock_sink();
        let mut cfg = ViewerConfig::new(ticket, sink);
        cfg.answer_timeout = Duration::from_secs(3);
        let (viewer, mut events) = LiveViewer::connect(cfg).map_err(|e| e.to_string())?;
        let until = tokio::time::Instant::now() + Duration::from_secs(8);
        let mut playing = false;
        while let Ok(Some(e)) = tokio::time::timeout_at(until, events.recv()).await {
            match e {
                ViewerEvent::FirstFrame { .. } => {
                    playing = true;
                    break;
                }
                ViewerEvent::Error(e) => {
                    why = format!("{e:?}");
                    break;
                }
                _ => {}
            }
        }
        if playing {
            tokio::time::sleep(Duration::from_millis(700)).await;
            let clock = *seen.lock().map_err(|e| e.to_string())?;
            viewer.close().await;
            return clock.ok_or_else(|| "frames without a pixel clock".to_owned());
        }
        drop(viewer);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(why)
}
