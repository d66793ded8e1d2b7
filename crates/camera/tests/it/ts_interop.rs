//! The recording segments' MPEG-TS writer against the readers that play them: real H.264
//! from x264enc and Opus from opusenc, muxed by `TsWriter`, then read by FFmpeg's
//! ffprobe (what the storage tests and most tools use) and decoded by GStreamer's
//! decodebin (what the viewer's timeline plays them with).

use std::process::Command;

use eyrie_camera::storage::ts::{TsWriter, ticks};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

struct Unit {
    pts_us: u64,
    key: bool,
    data: Vec<u8>,
}

fn encode(desc: &str) -> Vec<Unit> {
    let pipeline = gst::parse::launch(&format!("{desc} ! appsink name=s sync=false"))
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
    while let Ok(s) = sink.pull_sample() {
        let b = s.buffer().unwrap();
        out.push(Unit {
            pts_us: b.pts().unwrap().useconds(),
            key: !b.flags().contains(gst::BufferFlags::DELTA_UNIT),
            data: b.map_readable().unwrap().to_vec(),
        });
    }
    pipeline.set_state(gst::State::Null).unwrap();
    out
}

fn mux(video: &[Unit], audio: &[Unit], channels: Option<u8>) -> Vec<u8> {
    // As the recorder does, timestamps count from the first frame. (The two encoders here
    // run on their own clocks — x264enc starts 1000 h in — so each track gets its own
    // start; in the camera both share the capture clock.)
    let (vbase, abase) = (video[0].pts_us, audio.first().map_or(0, |a| a.pts_us));
    let vt = |us: u64| ticks(us - vbase);
    let at = |us: u64| ticks(us - abase);
    let mut w = TsWriter::new(channels);
    let mut out = Vec::new();
    let mut a = audio.iter().peekable();
    for v in video {
        while let Some(x) = a.next_if(|x| at(x.pts_us) < vt(v.pts_us)) {
            w.audio(at(x.pts_us), &x.data, &mut out);
        }
        w.video(vt(v.pts_us), v.key, &v.data, &mut out);
    }
    for x in a {
        w.audio(at(x.pts_us), &x.data, &mut out);
    }
    out
}

fn ffprobe(path: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-of", "json"])
        .args(args)
        .arg(path)
        .output()
        .expect("ffprobe (Debian package ffmpeg) runs");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "ffprobe complained: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Decoded (video frames, audio samples) through decodebin.
fn gst_decode(path: &std::path::Path) -> (usize, u64) {
    let pipeline = gst::parse::launch(&format!(
        "filesrc location={} ! decodebin name=d \
         d. ! queue ! videoconvert ! appsink name=v sync=false \
         d. ! queue ! audioconvert ! audio/x-raw,format=S16LE ! appsink name=a sync=false",
        path.display()
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let sink = |n: &str| {
        pipeline
            .by_name(n)
            .unwrap()
            .downcast::<gst_app::AppSink>()
            .unwrap()
    };
    let (v, a) = (sink("v"), sink("a"));
    let frames = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let samples = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let f = frames.clone();
    v.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |s| {
                s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                f.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    let n = samples.clone();
    a.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |s| {
                let s = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let bytes = s.buffer().map_or(0, |b| b.size()) as u64;
                n.fetch_add(bytes / 2, std::sync::atomic::Ordering::Relaxed);
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    pipeline.set_state(gst::State::Playing).unwrap();
    let bus = pipeline.bus().unwrap();
    let msg = bus
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(30),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .expect("decodebin finished");
    if let gst::MessageView::Error(e) = msg.view() {
        panic!("decodebin: {} ({:?})", e.error(), e.debug());
    }
    pipeline.set_state(gst::State::Null).unwrap();
    (
        frames.load(std::sync::atomic::Ordering::Relaxed),
        samples.load(std::sync::atomic::Ordering::Relaxed),
    )
}

#[test]
fn ffprobe_and_gstreamer_read_what_the_writer_muxes() {
    gst::init().unwrap();
    let video = encode(
        "videotestsrc num-buffers=90 pattern=ball ! video/x-raw,width=320,height=240,framerate=30/1 \
         ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 \
         ! h264parse config-interval=-1 \
         ! video/x-h264,profile=constrained-baseline,stream-format=byte-stream,alignment=au",
    );
    let audio = encode(
        "audiotestsrc num-buffers=150 samplesperbuffer=960 \
         ! audio/x-raw,rate=48000,channels=1 ! opusenc",
    );
    assert_eq!(video.len(), 90);
    assert!(audio.len() >= 140, "{} Opus packets", audio.len());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seg.ts");
    std::fs::write(&path, mux(&video, &audio, Some(1))).unwrap();

    let streams = ffprobe(&path, &["-show_streams"]);
    let streams = streams["streams"].as_array().unwrap();
    let v = streams.iter().find(|s| s["codec_type"] == "video").unwrap();
    assert_eq!(v["codec_name"], "h264");
    assert_eq!(
        (v["width"].as_i64(), v["height"].as_i64()),
        (Some(320), Some(240))
    );
    let a = streams.iter().find(|s| s["codec_type"] == "audio").unwrap();
    assert_eq!(a["codec_name"], "opus");
    assert_eq!(a["channels"].as_i64(), Some(1));

    let frames = ffprobe(
        &path,
        &[
            "-select_streams",
            "v:0",
            "-show_entries",
            "frame=key_frame,pts_time",
        ],
    );
    let frames = frames["frames"].as_array().unwrap();
    assert_eq!(frames.len(), 90, "every frame decodes");
    let pts: Vec<f64> = frames
        .iter()
        .map(|f| f["pts_time"].as_str().unwrap().parse().unwrap())
        .collect();
    for (i, w) in pts.windows(2).enumerate() {
        assert!(
            ((w[1] - w[0]) - 1.0 / 30.0).abs() < 0.002,
            "frame {i}→{}: {:.4} s apart",
            i + 1,
            w[1] - w[0]
        );
    }
    let keys: Vec<usize> = (0..frames.len())
        .filter(|&i| frames[i]["key_frame"] == 1)
        .collect();
    assert_eq!(keys, [0, 30, 60]);
    // The file's timestamps start at the writer's fixed offset.
    let offset = pts[0];
    assert!((offset - 1.0).abs() < 0.001, "PTS offset {offset}");

    let (decoded, samples) = gst_decode(&path);
    assert_eq!(decoded, 90, "GStreamer decodes every frame");
    let secs = samples as f64 / 48_000.0;
    assert!((secs - 3.0).abs() < 0.1, "{secs:.3} s of audio decoded");
}

#[test]
fn a_segment_without_audio_has_one_stream() {
    gst::init().unwrap();
    let video = encode(
        "videotestsrc num-buffers=30 ! video/x-raw,width=160,height=120,framerate=30/1 \
         ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 \
         ! video/x-h264,profile=constrained-baseline,stream-format=byte-stream,alignment=au",
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seg.ts");
    std::fs::write(&path, mux(&video, &[], None)).unwrap();
    let streams = ffprobe(&path, &["-show_streams"]);
    let streams = streams["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 1);
    assert_eq!(streams[0]["codec_type"], "video");
}
