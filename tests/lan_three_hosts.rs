//! The README's "A camera on another machine", verbatim, on three hosts of one LAN (three
//! network namespaces on one bridge, `tests/lab`): `eyrie cloud --listen 0.0.0.0:8470`
//! with its embedded defaults, `eyrie camera --cloud '<link>'` pairing camera-first, and a
//! viewer (the app's client library) that creates an account, claims the camera with the
//! pairing code, watches it live and plays back what it recorded.
//!
//! A packet capture on the bridge then checks that nothing crossed in the clear: no
//! password, token, device secret, broker login, ticket or SDP; and that the live media
//! went from the camera's host to the viewer's directly, not through the cloud.

#[path = "lab/mod.rs"]
mod lab;
#[path = "lan_support/mod.rs"]
mod lan_support;

use std::process::Stdio;
use std::time::Duration;

use eyrie_client::api::ApiClient;
use eyrie_protocol::api::{ChannelKind, RecordingPolicy, RecordingStatus};
use eyrie_protocol::segment::{SegmentKey, decrypt_to_vec};
use serde_json::{Value, json};

const TEST: &str = "camera_cloud_and_viewer_on_three_hosts";
/// Starts the viewer's report line (after libtest's "test … " on the same line).
const REPORT: &str = "LAN-REPORT ";
const PASSWORD: &str = "lan party horse battery";

#[test]
fn camera_cloud_and_viewer_on_three_hosts() {
    if let Some(role) = lab::child_role() {
        assert_eq!(role, "viewer");
        let result = viewer_role();
        println!("\n{REPORT}{result}");
        return;
    }
    if lab::skip_if_unavailable() {
        return;
    }
    let lab = lab::Lab::with_hosts(&["cloud", "camera", "viewer"]).expect("lab");
    let (cloud_host, camera_host, viewer_host) =
        (lab.host("cloud"), lab.host("camera"), lab.host("viewer"));
    let capture = lab.capture().expect("capture");
    let data = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();

    // The cloud's machine.
    let (cloud, link) =
        lan_support::start_cloud(&lab, cloud_host, data.path()).expect("eyrie cloud");
    assert!(
        link.starts_with(&format!("https://{}:8470#ca=sha256:", cloud_host.ip)),
        "the link names the address the others reach: {link}"
    );

    // The camera's machine, with that link.
    let (camera, code) = lan_support::start_camera(
        &lab,
        camera_host,
        &link,
        state.path(),
        &["--segment-secs", "4"],
    )
    .expect("eyrie camera");

    // The desktop: this test's own viewer role, run on the viewer's host.
    let viewer = lab
        .spawn(
            viewer_host
                .run_self(TEST, "viewer", &[("LAN_LINK", &link), ("LAN_CODE", &code)])
                .env_remove(lan_support::ICE_ENV)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        )
        .expect("viewer");
    let status = viewer
        .wait_timeout(Duration::from_secs(240))
        .expect("the viewer finishes");
    let out = viewer.stdout();
    assert!(
        status.success(),
        "viewer failed ({status}):\n{out}\n{}\n--- camera ---\n{}\n--- cloud ---\n{}",
        viewer.stderr(),
        camera.stderr(),
        cloud.stderr()
    );
    let report: Value = out
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l.strip_prefix(REPORT)?).ok())
        .unwrap_or_else(|| panic!("no report from the viewer:\n{out}"));
    eprintln!("viewer report: {report}");

    // The camera's credentials, to look for on the wire.
    let creds: Value =
        serde_json::from_slice(&std::fs::read(state.path().join("credentials.json")).unwrap())
            .unwrap();
    assert!(
        state.path().join("cloud-ca.pem").exists(),
        "the camera keeps the CA it checked against the link"
    );
    drop(camera);
    drop(cloud);
    let seen = capture.stop().expect("capture");

    // The viewer saw live video that the camera drew moments before, and played back a
    // recording that went camera → store encrypted.
    assert!(report["first_frame_ms"].as_f64().is_some(), "{report}");
    let age = report["age_ms"].as_i64().unwrap();
    assert!((0..3000).contains(&age), "the picture is live: {age} ms");
    assert_eq!(report["recording_codec"], "h264", "{report}");
    assert!(
        report["recording_frames"].as_u64().unwrap_or(0) > 10,
        "{report}"
    );

    // On the wire: plenty of traffic, none of it readable.
    assert!(
        seen.packets() > 200,
        "the capture saw {} packets",
        seen.packets()
    );
    let media = seen.bytes_between(camera_host.ip, viewer_host.ip);
    assert!(
        media > 20_000,
        "live media went camera → viewer directly: {media} bytes"
    );
    let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let secrets = [
        PASSWORD.to_owned(),
        s(&report["session_token"]),
        s(&report["viewer_mqtt_password"]),
        s(&report["ticket"]),
        s(&creds["device_token"]),
        s(&creds["device_secret"]),
        s(&creds["mqtt"]["password"]),
        // The content key the recording was sealed under, as the viewer unwrapped it.
        s(&report["content_key"]),
    ];
    for secret in &secrets {
        assert!(secret.len() >= 8, "a secret to look for: {secrets:?}");
    }
    let mut needles: Vec<&[u8]> = secrets.iter().map(|s| s.as_bytes()).collect();
    // SDP, HTTP and MQTT in the clear would show these.
    needles.extend([
        b"a=ice-ufrag".as_slice(),
        b"a=fingerprint",
        b"m=video",
        b"Authorization: Bearer",
        b"/api/v1/",
        b"eyrie/",
        b"pairing_token",
    ]);
    let found: Vec<String> = seen
        .found(&needles)
        .into_iter()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect();
    assert!(found.is_empty(), "crossed the LAN in clear: {found:?}");
}

/// The viewer's host: account, claim, live view, playback; one JSON line.
fn viewer_role() -> Value {
    let link = std::env::var("LAN_LINK").expect("LAN_LINK");
    let code = std::env::var("LAN_CODE").expect("LAN_CODE");
    gstreamer::init().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let api = ApiClient::new(link);
        api.register("lan-owner", PASSWORD).await.expect("register");
        let token = api.login("lan-owner", PASSWORD).await.expect("login").token;
        let user = api.with_token(token.clone());
        // The app's add-camera: the first 8 characters claim, all 12 answer the camera's
        // pairing check with this account's installation key (docs/keys.md).
        let (claim, _) = eyrie_protocol::e2e::pairing::split(&code).expect("a 12-character code");
        let device = user.claim(&claim, "Laptop").await.expect("claim");
        let installation = eyrie_testkit::e2e::TestViewer::new(&user)
            .await
            .expect("the account's installation");
        eyrie_client::api::keys::answer_pairing(
            &installation.api,
            device.id,
            &code,
            &installation.set,
            Duration::from_secs(60),
        )
        .await
        .expect("the camera's pairing check");
        let user = installation.api.clone();
        assert!(
            lan_support::wait_online(&user, device.id, Duration::from_secs(60)).await,
            "the camera comes online"
        );

        // Live: the camera's ring may still be filling; a few tries.
        let mut watched = Err(String::new());
        for _ in 0..10 {
            watched = lan_support::watch(&user, device.id).await;
            match &watched {
                Ok(_) => break,
                Err(e) => eprintln!("live attempt: {e}"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let watched = watched.expect("live view plays");

        // Recording: continuous, 4 s segments; the first complete one is downloaded
        // through its presigned URL, decrypted with the device's key and probed.
        user.set_store_mode(device.id, RecordingPolicy::Continuous)
            .await
            .expect("store mode");
        let channel = device
            .channels
            .iter()
            .find(|c| c.kind == ChannelKind::Main)
            .expect("main channel")
            .id;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
        let recording = loop {
            let now = eyrie_client::pixel_clock::now_unix_ms() as i64;
            let list = user
                .recordings(channel, now - 3_600_000, now + 60_000)
                .await
                .expect("recordings");
            if let Some(r) = list
                .recordings
                .into_iter()
                .find(|r| r.status == RecordingStatus::Complete && r.download.is_some())
            {
                break r;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "a recording arrives within 90 s"
            );
            tokio::time::sleep(Duration::from_secs(1)).await;
        };
        let url = recording.download.as_ref().unwrap();
        assert!(url.url.starts_with("https://"), "{}", url.url);
        let sealed = user.get_presigned(url).await.expect("download");
        let keys = user.recording_keys(device.id).await.expect("keys");
        let key = keys
            .keys
            .iter()
            .find(|k| Some(&k.key_id) == recording.key_id.as_ref())
            .or(keys.keys.first())
            .expect("a key");
        let ts = decrypt_to_vec(&sealed, &SegmentKey::from_base64url(key.key.as_deref().unwrap()).unwrap(), None)
            .expect("the segment decrypts");
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), &ts).unwrap();
        let probe = std::process::Command::new("ffprobe")
            .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
            .args(["-show_entries", "stream=codec_name,nb_read_frames", "-of", "json"])
            .arg(file.path())
            .output()
            .expect("ffprobe");
        let probe: Value = serde_json::from_slice(&probe.stdout).unwrap_or_default();
        let stream = &probe["streams"][0];
        json!({
            "first_frame_ms": watched.first_frame.as_secs_f64() * 1000.0,
            "age_ms": watched.age_ms,
            "session_token": token,
            "viewer_mqtt_password": watched.mqtt_password,
            "ticket": watched.ticket,
            "recording_codec": stream["codec_name"],
            "recording_frames": stream["nb_read_frames"].as_str().and_then(|n| n.parse::<u64>().ok()),
            "content_key": key.key,
        })
    })
}
