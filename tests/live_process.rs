//! Live view with real processes: the embedded cloud, `eyrie camera --source test` as a
//! child process activated with a code (user-first set-up), and a viewer from
//! `eyrie_client` that gets its ticket from the API and decodes the pixel clock.

use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eyrie_client::live::{LiveViewer, ViewerConfig, ViewerEvent};
use eyrie_testkit::{Backend, TestCloud};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;

struct Child(std::process::Child);
impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eyrie_camera_process_serves_a_viewer() {
    let cloud = TestCloud::spawn(Backend::Sqlite).await;
    let base = cloud.base.clone();
    let user = cloud.account("bob").await;
    let created = user.create_device("garden").await.unwrap();
    let code = eyrie_testkit::e2e::TestViewer::new(&user)
        .await
        .unwrap()
        .pairing_code_for(created.device.id, &created.activation_code);

    let state = tempfile::tempdir().unwrap();
    let _camera = Child(
        Command::new(env!("CARGO_BIN_EXE_eyrie"))
            .args([
                "camera",
                "--cloud",
                &base,
                "--source",
                "test",
                "--speaker",
                "none",
            ])
            .arg("--state-dir")
            .arg(state.path())
            .args(["--activation-code", &code])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("eyrie camera starts"),
    );

    // Retry until the camera has activated, connected and filled its ring.
    gst::init().unwrap();
    let mut first = None;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let ticket = user.ticket(created.device.id, None).await.unwrap();
        let seen: Arc<Mutex<Option<u64>>> = Arc::default();
        let s = seen.clone();
        let sink = gst_app::AppSink::builder()
            .caps(
                &gst_video::VideoCapsBuilder::new()
                    .format(gst_video::VideoFormat::I420)
                    .build(),
            )
            .sync(false)
            .build();
        sink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    if let (Some(b), Some(c)) = (sample.buffer(), sample.caps())
                        && let Ok(info) = gst_video::VideoInfo::from_caps(c)
                        && let Ok(f) = gst_video::VideoFrameRef::from_buffer_ref_readable(b, &info)
                        && let Some(t) = eyrie_client::pixel_clock::decode_pixel_clock(&f)
                    {
                        *s.lock().unwrap() = Some(t);
                    }
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
        let mut cfg = ViewerConfig::new(ticket, sink.upcast());
        cfg.answer_timeout = Duration::from_secs(3);
        let (v, mut rx) = LiveViewer::connect(cfg).unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
        while let Ok(Some(e)) = tokio::time::timeout_at(deadline, rx.recv()).await {
            match e {
                ViewerEvent::FirstFrame { since_offer } => {
                    first = Some(since_offer);
                    break;
                }
                ViewerEvent::Error(_) => break,
                _ => {}
            }
        }
        if first.is_some() {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let t = seen.lock().unwrap().expect("pixel clock decodes");
            let age = eyrie_client::pixel_clock::now_unix_ms() as i64 - t as i64;
            assert!((0..3000).contains(&age), "frame is live: {age} ms");
            v.close().await;
            break;
        }
        drop(v);
    }
    assert!(first.is_some(), "the camera process served a first frame");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(state.path().join("credentials.json"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
}
