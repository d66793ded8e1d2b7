//! Shared by the timeline tests and the timeline bench: a cloud with a few short recorded
//! segments of the test pattern (the real recorder), a user API client, an appsink that
//! reads every shown frame's pixel clock, and pixel-clock reading of an MP4 file.
#![allow(dead_code)]

// The cloud, capture and recorder set-up is the storage tests' harness.
#[path = "../storage_support/mod.rs"]
pub mod cloud;

use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

pub use cloud::{Cloud, capture, now_ms, start_storage, storage_config};
use eyrie_client::api::ApiClient;
use eyrie_client::pixel_clock::decode_pixel_clock;
use eyrie_client::playback::KeyRing;
use eyrie_protocol::api::{Recording, RecordingPolicy};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;

/// A cloud holding at least `n` contiguous recordings of `segment` length.
pub struct Recorded {
    pub cloud: Cloud,
    pub recs: Vec<Recording>,
    pub api: ApiClient,
    pub keys: KeyRing,
}

pub async fn record(n: usize, segment: Duration) -> Recorded {
    gst::init().expect("gst init");
    let cloud = Cloud::start(RecordingPolicy::Continuous).await;
    let cap = capture(1.0);
    let spool = tempfile::tempdir().unwrap();
    let st = start_storage(
        &cloud,
        &cap,
        storage_config(&cloud, spool.path(), RecordingPolicy::Continuous, segment),
    );
    let got = cloud.wait_recordings(n, Duration::from_secs(90)).await;
    st.uninit().await;
    drop(cap);
    assert!(got.len() >= n, "{n} segments recorded: {}", got.len());
    let api = ApiClient::new(cloud.base.clone()).with_token(cloud.user_token.clone());
    let list = api
        .recordings(
            cloud.creds.channels.main,
            now_ms() - 3_600_000,
            now_ms() + 60_000,
        )
        .await
        .expect("list");
    let keys = KeyRing::single(&cloud.key_id().to_hex(), cloud.key());
    Recorded {
        recs: list.recordings,
        cloud,
        api,
        keys,
    }
}

/// A camera that keeps recording 2-second segments into a cloud for the life of the test
/// process, shared by every test of a binary (recording once is what makes the suite fast).
/// Tests run `fx.rt.block_on(…)`: the cloud, the camera and every client live on this
/// one runtime.
pub struct LiveFixture {
    pub rt: tokio::runtime::Runtime,
    pub cloud: Cloud,
    pub api: ApiClient,
    pub keys: KeyRing,
    /// The first `FIXTURE_SEGMENTS` complete recordings, contiguous, sorted.
    pub recs: Vec<Recording>,
}

/// Segments the fixture waits for before tests start.
pub const FIXTURE_SEGMENTS: usize = 9;
/// Segment length of the fixture's recorder.
pub const FIXTURE_SEGMENT: Duration = Duration::from_secs(2);

static FIXTURE: OnceLock<LiveFixture> = OnceLock::new();

pub fn live_fixture() -> &'static LiveFixture {
    FIXTURE.get_or_init(|| {
        gst::init().expect("gst init");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let (cloud, recs, api, keys) = rt.block_on(async {
            let cloud = Cloud::start(RecordingPolicy::Continuous).await;
            let cap = capture(1.0);
            let spool = tempfile::tempdir().unwrap();
            let st = start_storage(
                &cloud,
                &cap,
                storage_config(
                    &cloud,
                    spool.path(),
                    RecordingPolicy::Continuous,
                    FIXTURE_SEGMENT,
                ),
            );
            // The camera records on until the process ends.
            std::mem::forget(st);
            std::mem::forget(cap);
            std::mem::forget(spool);
            let got = cloud
                .wait_recordings(FIXTURE_SEGMENTS, Duration::from_secs(120))
                .await;
            assert!(got.len() >= FIXTURE_SEGMENTS, "{} segments", got.len());
            let api = ApiClient::new(cloud.base.clone()).with_token(cloud.user_token.clone());
            let mut recs = api
                .recordings(
                    cloud.creds.channels.main,
                    now_ms() - 3_600_000,
                    now_ms() + 60_000,
                )
                .await
                .expect("list")
                .recordings;
            recs.sort_by_key(|r| r.start_ms);
            recs.truncate(FIXTURE_SEGMENTS);
            let keys = KeyRing::single(&cloud.key_id().to_hex(), cloud.key());
            (cloud, recs, api, keys)
        });
        LiveFixture {
            rt,
            cloud,
            api,
            keys,
            recs,
        }
    })
}

/// One frame that reached the sink.
#[derive(Debug, Clone, Copy)]
pub struct Shown {
    pub clock_ms: Option<i64>,
    pub at: Instant,
}

/// An appsink (I420) recording the pixel clock of every frame it gets.
pub fn clock_sink() -> (gst::Element, Arc<Mutex<Vec<Shown>>>) {
    let shown = Arc::new(Mutex::new(Vec::new()));
    let s2 = shown.clone();
    let sink = gst_app::AppSink::builder()
        .caps(
            &gst::Caps::builder("video/x-raw")
                .field("format", "I420")
                .build(),
        )
        .callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    let clock = clock_of(&sample);
                    s2.lock().unwrap().push(Shown {
                        clock_ms: clock,
                        at: Instant::now(),
                    });
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        )
        .build();
    (sink.upcast(), shown)
}

pub fn clock_of(sample: &gst::Sample) -> Option<i64> {
    let caps = sample.caps()?;
    let info = gst_video::VideoInfo::from_caps(caps).ok()?;
    let buf = sample.buffer()?;
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buf, &info).ok()?;
    decode_pixel_clock(&frame).map(|v| v as i64)
}

/// Wait until `f` holds over the shown frames.
pub async fn wait_for(
    shown: &Arc<Mutex<Vec<Shown>>>,
    within: Duration,
    f: impl Fn(&[Shown]) -> bool,
) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < within {
        if f(&shown.lock().unwrap()) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

/// Pixel clocks of every frame of a media file, in order.
pub fn file_clocks(path: &Path) -> Vec<i64> {
    let pipeline = gst::parse::launch(&format!(
        "filesrc location={} ! decodebin ! videoconvert ! video/x-raw,format=I420 ! appsink name=s sync=false",
        path.display()
    ))
    .expect("pipeline")
    .downcast::<gst::Pipeline>()
    .unwrap();
    let sink = pipeline
        .by_name("s")
        .unwrap()
        .downcast::<gst_app::AppSink>()
        .unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let mut out = Vec::new();
    while let Ok(sample) = sink.pull_sample() {
        if let Some(c) = clock_of(&sample) {
            out.push(c);
        }
    }
    pipeline.set_state(gst::State::Null).unwrap();
    out
}

/// The pixel clocks of every frame the camera recorded in `recs` (downloaded, decrypted
/// and decoded straight from the store), in order: the ground truth playback and export
/// are compared with (a loaded machine may drop frames at capture; the player must not).
pub async fn recorded_clocks(fx: &LiveFixture, recs: &[Recording]) -> Vec<i64> {
    let dir = tempfile::tempdir().unwrap();
    let mut out = Vec::new();
    for (k, r) in recs.iter().enumerate() {
        let url = r.download.as_ref().expect("download url");
        let enc = fx.api.get_presigned(url).await.expect("download");
        let ts =
            eyrie_protocol::segment::decrypt_to_vec(&enc, &fx.cloud.key(), None).expect("decrypt");
        let path = dir.path().join(format!("{k}.ts"));
        std::fs::write(&path, ts).unwrap();
        out.extend(
            tokio::task::spawn_blocking(move || file_clocks(&path))
                .await
                .unwrap(),
        );
    }
    out
}

/// Flip a byte in the middle of the stored object of `rec` (found by the recording id in
/// its object key, else by its size, in the embedded store's directory).
pub fn tamper(dir: &Path, rec: &Recording) -> bool {
    let id = rec.id.to_string();
    let size = rec.size.unwrap_or(0);
    if let Some(p) = find_file(dir, &|p, len| {
        p.to_string_lossy().contains(&id) && (size == 0 || len == size)
    }) {
        return flip(&p);
    }
    find_file(dir, &|_, len| len == size).is_some_and(|p| flip(&p))
}

/// Delete the stored object of `rec` from the embedded store under `dir` (as retention
/// would); whether it was found.
pub fn remove_object(dir: &Path, rec: &Recording) -> bool {
    let id = rec.id.to_string();
    let size = rec.size.unwrap_or(0);
    find_file(dir, &|p, len| {
        p.to_string_lossy().contains(&id) && (size == 0 || len == size)
    })
    .is_some_and(|p| std::fs::remove_file(p).is_ok())
}

fn flip(p: &Path) -> bool {
    let mut bytes = std::fs::read(p).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(p, bytes).unwrap();
    true
}

fn find_file(dir: &Path, f: &dyn Fn(&Path, u64) -> bool) -> Option<std::path::PathBuf> {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if f(&p, e.metadata().map(|m| m.len()).unwrap_or(0)) {
                return Some(p);
            }
        }
    }
    None
}

/// ffprobe's video duration (seconds) of a file.
pub fn probe_duration(path: &Path) -> f64 {
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=duration,codec_name",
            "-of",
            "json",
        ])
        .arg(path)
        .output()
        .expect("ffprobe");
    assert!(
        out.status.success(),
        "ffprobe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["streams"][0]["codec_name"], "h264", "{v}");
    v["streams"][0]["duration"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(f64::NAN)
}
