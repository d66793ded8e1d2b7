//! The two ends of a WAN-lab session, as roles a test or bench binary runs in the lab's
//! namespaces (`Host::run_self`, `child_role`): the camera at home — a `CameraNode` as
//! `eyrie camera` runs it, printing its pairing code and the talk level it decodes — and
//! the viewer's set-up away — an account that claims the camera with that code and
//! answers its pairing check, as the app does. The sessions themselves are the caller's.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use eyrie_client::api::ApiClient;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;

/// Starts the camera role's pairing-code line.
pub const PAIRING: &str = "NAT-PAIRING ";
/// Starts each of the camera role's talk-level lines (dBFS).
pub const TALK: &str = "NAT-TALK ";
const PASSWORD: &str = "nat traversal horse battery";

/// The camera at home: enrol with the cloud link in `NAT_LINK` (state in `NAT_STATE`),
/// print the pairing code, run until killed, print the talk level it decodes.
pub fn camera_role() {
    let link = std::env::var("NAT_LINK").expect("NAT_LINK");
    let state = std::path::PathBuf::from(std::env::var("NAT_STATE").expect("NAT_STATE"));
    gst::init().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let enrolled = eyrie_camera::node::Enrolment {
            cloud: link,
            state_dir: state.clone(),
            activation_code: None,
            ca_file: None,
        }
        .enrol(|code| println!("\n{PAIRING}{code}"))
        .await
        .expect("the camera enrols");
        let node = eyrie_camera::CameraNode::start(eyrie_camera::NodeConfig::new(state), enrolled)
            .expect("the camera starts");
        let mut events = node.events();
        loop {
            match events.recv().await {
                Ok(eyrie_camera::CameraEvent::Live(eyrie_camera::live::LiveEvent::TalkLevel {
                    rms_db,
                    ..
                })) => println!("\n{TALK}{rms_db:.1}"),
                Ok(e) => eprintln!("camera: {e:?}"),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => break,
            }
        }
    });
}

/// The viewer's side of pairing, on its runtime: an account on the cloud at `link` that
/// claims the camera showing `code` and answers its pairing check; returns the signed-in
/// client and the device once it is online.
pub async fn claim_camera(link: String, code: &str) -> (ApiClient, uuid::Uuid) {
    let api = ApiClient::new(link);
    api.register("nat-owner", PASSWORD).await.expect("register");
    let token = api.login("nat-owner", PASSWORD).await.expect("login").token;
    let user = api.with_token(token);
    let (claim, _) = eyrie_protocol::e2e::pairing::split(code).expect("a pairing code");
    let device = user.claim(&claim, "Camera at home").await.expect("claim");
    let installation = eyrie_testkit::e2e::TestViewer::new(&user)
        .await
        .expect("the account's installation");
    eyrie_client::api::keys::answer_pairing(
        &installation.api,
        device.id,
        code,
        &installation.set,
        Duration::from_secs(60),
    )
    .await
    .expect("the camera's pairing check");
    let user = installation.api.clone();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !user.device(device.id).await.is_ok_and(|d| d.online) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the camera comes online"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    (user, device.id)
}

/// An appsink (I420, not synchronised: frames are taken as they are decoded) that hands
/// each frame's pixel clock to `on_frame` (`None` where none could be read: a damaged or
/// foreign picture).
pub fn pixel_clock_sink(on_frame: impl Fn(Option<u64>) + Send + Sync + 'static) -> gst::Element {
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
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let clock = match (sample.buffer(), sample.caps()) {
                    (Some(b), Some(c)) => gst_video::VideoInfo::from_caps(c)
                        .ok()
                        .and_then(|info| {
                            gst_video::VideoFrameRef::from_buffer_ref_readable(b, &info).ok()
                        })
                        .and_then(|f| eyrie_client::pixel_clock::decode_pixel_clock(&f)),
                    _ => None,
                };
                on_frame(clock);
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    sink.upcast()
}

/// An appsink that keeps the pixel clock of the newest frame.
pub fn clock_sink() -> (gst::Element, Arc<Mutex<Option<u64>>>) {
    let seen: Arc<Mutex<Option<u64>>> = Arc::default();
    let s = seen.clone();
    let sink = pixel_clock_sink(move |clock| {
        if let Some(t) = clock
            && let Ok(mut v) = s.lock()
        {
            *v = Some(t);
        }
    });
    (sink, seen)
}
