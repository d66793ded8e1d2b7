//! Shared set-up of the WHEP tests: the real cloud in this process (its embedded broker
//! and the WHEP routes), a real camera (`eyrie_camera::Camera`, test pattern with the
//! pixel clock) paired to one account, and plain HTTP calls as a player makes them.

#![allow(dead_code)]

pub mod browser;

/// The cloud's window for its WHEP POST budget.
pub const POST_WINDOW: Duration = eyrie_cloud::whep::POST_WINDOW;

/// The page script that opens a camera with live.js and reads the pixel clock.
pub const PAGE_JS: &str = include_str!("page.js");

use std::time::Duration;

use eyrie_camera::capture::{CaptureConfig, Source};
use eyrie_camera::live::{LiveConfig, Speaker};
use eyrie_camera::{Camera, CameraConfig, CameraHandle};
use eyrie_protocol::api::MqttConnection;
use eyrie_testkit::{Backend, TestCloud};

/// A Chromium offer (video recvonly, audio sendrecv, Chromium's payload numbers).
pub const CHROMIUM_OFFER: &str = include_str!("../../crates/camera/tests/it/chromium-offer.sdp");

/// What the camera keeps from its activation.
pub struct Creds {
    pub device_id: uuid::Uuid,
    pub secret: String,
    /// The device's own bearer token.
    pub token: String,
    pub mqtt: MqttConnection,
}

pub struct World {
    pub cloud: TestCloud,
    /// The owner's bearer token.
    pub token: String,
    pub device: uuid::Uuid,
    pub creds: Creds,
    pub camera: Option<CameraHandle>,
}

/// The cloud, an account with one activated device, and (if `start_camera`) the camera
/// running with `max_sessions`, online and with frames in its ring.
pub async fn world(max_sessions: usize, start_camera: bool) -> World {
    world_with(max_sessions, start_camera, |_| {}).await
}

/// [`world`] with the cloud's configuration changed by `tweak`.
pub async fn world_with(
    max_sessions: usize,
    start_camera: bool,
    tweak: impl FnOnce(&mut eyrie_cloud::Config),
) -> World {
    let cloud = TestCloud::spawn_with(Backend::Sqlite, tweak).await;
    let (_, token) = cloud.user("alice").await;
    let v = cloud.device(&token, "porch").await;
    let creds = Creds {
        device_id: v["device_id"].as_str().unwrap().parse().unwrap(),
        secret: v["device_secret"].as_str().unwrap().to_owned(),
        token: v["device_token"].as_str().unwrap().to_owned(),
        mqtt: serde_json::from_value(v["mqtt"].clone()).expect("broker login"),
    };
    let camera = start_camera.then(|| {
        let mut live = LiveConfig::new(
            creds.device_id.to_string(),
            creds.secret.as_bytes().to_vec(),
        );
        live.speaker = Speaker::None;
        live.max_sessions = max_sessions;
        Camera::start(CameraConfig {
            capture: CaptureConfig {
                source: Source::Test,
                ..Default::default()
            },
            live,
            mqtt: creds.mqtt.clone(),
        })
        .expect("camera starts")
    });
    if start_camera {
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    World {
        device: creds.device_id,
        cloud,
        token,
        creds,
        camera,
    }
}

impl World {
    pub fn whep_url(&self, device: uuid::Uuid) -> String {
        format!("{}/api/v1/devices/{device}/whep", self.cloud.base)
    }

    /// POST an offer as a player does.
    pub async fn post(
        &self,
        device: uuid::Uuid,
        token: Option<&str>,
        content_type: &str,
        body: &str,
    ) -> reqwest::Response {
        let mut r = self
            .cloud
            .http
            .post(self.whep_url(device))
            .header("content-type", content_type)
            .body(body.to_owned());
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send().await.expect("POST reaches the cloud")
    }

    /// PATCH or DELETE a session's `location`.
    pub async fn call(
        &self,
        method: reqwest::Method,
        location: &str,
        token: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> reqwest::Response {
        let mut r = self
            .cloud
            .http
            .request(method, format!("{}{location}", self.cloud.base))
            .bearer_auth(token)
            .body(body.to_owned());
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        r.send().await.expect("the cloud answers")
    }

    pub fn camera_sessions(&self) -> usize {
        self.camera.as_ref().map_or(0, |c| c.live().session_count())
    }
}
