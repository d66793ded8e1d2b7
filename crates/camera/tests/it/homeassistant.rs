//! Home Assistant MQTT discovery against a real mosquitto: a camera node enrolled with
//! the embedded cloud publishes its discovery documents, state and snapshots on a broker
//! the user names; Home Assistant's side is played by `mosquitto_pub` (commands, its
//! birth message) and a plain MQTT client that records what the broker hands out.

use crate::common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eyrie_camera::homeassistant::{BridgeState, Broker, HomeAssistantSettings};
use eyrie_camera::node::Enrolment;
use eyrie_camera::{CameraNode, NodeConfig};
use eyrie_protocol::api::RecordingPolicy;
use eyrie_testkit::e2e::TestViewer;
use eyrie_testkit::{Backend, Mosquitto, TestCloud};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::Value;

/// One message as the broker delivered it.
#[derive(Clone, Debug)]
struct Heard {
    topic: String,
    payload: Vec<u8>,
    retain: bool,
}

/// A client that subscribes to `filters` and keeps everything it hears.
struct Listener {
    heard: Arc<Mutex<Vec<Heard>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Listener {
    async fn start(port: u16, login: Option<&str>, filters: &[&str]) -> Listener {
        let mut mo = MqttOptions::new(
            format!("listener-{}", common::rand_suffix()),
            "127.0.0.1",
            port,
        );
        mo.set_max_packet_size(16 << 20, 1 << 16);
        if let Some(u) = login {
            mo.set_credentials(u, u);
        }
        let (client, mut el) = AsyncClient::new(mo, 16);
        for f in filters {
            client.subscribe(*f, QoS::AtLeastOnce).await.unwrap();
        }
        let heard = Arc::new(Mutex::new(Vec::new()));
        let h = heard.clone();
        let task = tokio::spawn(async move {
            let _client = client;
            loop {
                match el.poll().await {
                    Ok(Event::Incoming(Packet::Publish(p))) => h.lock().unwrap().push(Heard {
                        topic: p.topic,
                        payload: p.payload.to_vec(),
                        retain: p.retain,
                    }),
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        Listener { heard, task }
    }

    fn all(&self) -> Vec<Heard> {
        self.heard.lock().unwrap().clone()
    }

    /// The last message on `topic`, waiting up to `secs` for one that passes `ok`.
    async fn wait(&self, topic: &str, secs: u64, ok: impl Fn(&Heard) -> bool) -> Heard {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(h) = self
                .all()
                .into_iter()
                .rev()
                .find(|h| h.topic == topic)
                .filter(|h| ok(h))
            {
                return h;
            }
            assert!(
                Instant::now() < deadline,
                "nothing right on {topic} within {secs} s; heard: {:?}",
                self.all()
                    .iter()
                    .map(|h| (
                        &h.topic,
                        String::from_utf8_lossy(&h.payload[..h.payload.len().min(80)])
                    ))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn count(&self, topic: &str) -> usize {
        self.all().iter().filter(|h| h.topic == topic).count()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the broker keeps on `topic` for a newcomer (MQTT sets the retain flag only on
/// what a new subscription is handed, so a fresh client asks).
async fn retained(port: u16, topic: &str) -> Option<Heard> {
    let fresh = Listener::start(port, None, &[topic]).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    fresh
        .all()
        .into_iter()
        .rev()
        .find(|h| h.topic == topic && h.retain)
}

/// `mosquitto_pub` — an MQTT client we did not write — as Home Assistant or a stranger.
fn publish(port: u16, login: Option<&str>, topic: &str, payload: &str, retain: bool) {
    let mut cmd = std::process::Command::new("mosquitto_pub");
    cmd.args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q", "1"])
        .args(["-t", topic, "-m", payload]);
    if let Some(u) = login {
        cmd.args(["-u", u, "-P", u]);
    }
    if retain {
        cmd.arg("-r");
    }
    let out = cmd
        .output()
        .expect("mosquitto_pub (apt install mosquitto-clients)");
    assert!(out.status.success(), "mosquitto_pub: {out:?}");
}

/// A node enrolled with a fresh embedded cloud, storage on (event mode), the test
/// pattern at 15 fps with a keyframe a second.
async fn node(
    cloud: &TestCloud,
    dir: &std::path::Path,
    motion_sensitivity: u8,
    homeassistant: Option<HomeAssistantSettings>,
) -> CameraNode {
    let user = cloud.account(&format!("ha{}", common::rand_suffix())).await;
    let created = user.create_device("Hall").await.unwrap();
    let code = TestViewer::new(&user)
        .await
        .unwrap()
        .pairing_code_for(created.device.id, &created.activation_code);
    user.set_store_mode(created.device.id, RecordingPolicy::Event)
        .await
        .unwrap();
    let enrolled = Enrolment {
        cloud: cloud.base.clone(),
        state_dir: dir.to_owned(),
        activation_code: Some(code),
        ca_file: None,
    }
    .enrol(|c| panic!("no pairing expected, got {c}"))
    .await
    .expect("enrols");
    let mut config = NodeConfig::new(dir.to_owned());
    config.capture.keyframe_interval = Duration::from_secs(1);
    config.capture.fps = 15;
    config.storage.motion_sensitivity = motion_sensitivity;
    config.storage.motion_cooldown = 2.0;
    config.store_mode = Some(RecordingPolicy::Event);
    config.storage_required = true;
    config.homeassistant = homeassistant;
    CameraNode::start(config, enrolled).expect("node starts")
}

fn settings(port: u16, login: Option<&str>) -> HomeAssistantSettings {
    let url = match login {
        Some(u) => format!("mqtt://{u}:{u}@127.0.0.1:{port}"),
        None => format!("mqtt://127.0.0.1:{port}"),
    };
    let mut s = HomeAssistantSettings::new(Broker::parse(&url).unwrap());
    s.name = "Hall".into();
    s.snapshot_interval = Duration::from_secs(2);
    s.record_now = Duration::from_secs(3);
    s
}

async fn wait_state(
    node: &CameraNode,
    secs: u64,
    ok: impl Fn(&BridgeState) -> bool,
) -> BridgeState {
    let mut rx = node.homeassistant_state().expect("a bridge runs");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let now = rx.borrow_and_update().clone();
        if ok(&now) {
            return now;
        }
        match tokio::time::timeout_at(deadline, rx.changed()).await {
            Ok(Ok(())) => {}
            _ => panic!("bridge state stayed {now:?}"),
        }
    }
}

/// The node's status once `ok` holds (the recorder applies a pause between two frames).
async fn wait_status(
    node: &CameraNode,
    secs: u64,
    ok: impl Fn(&eyrie_camera::node::NodeStatus) -> bool,
) -> eyrie_camera::node::NodeStatus {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let st = node.status().await;
        if ok(&st) {
            return st;
        }
        assert!(Instant::now() < deadline, "status stayed {st:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn json(h: &Heard) -> Value {
    serde_json::from_slice(&h.payload).unwrap_or_else(|e| {
        panic!(
            "{} is not JSON ({e}): {:?}",
            h.topic,
            String::from_utf8_lossy(&h.payload)
        )
    })
}

/// Discovery documents (keys and templates as Home Assistant documents them, one device
/// with the WHEP URL), availability, JPEG snapshots, the privacy switch pausing the node
/// and resuming it, motion from the moving test pattern, the button starting an event,
/// Home Assistant's restart answered with discovery again, and `offline` at stop and as
/// the last will when the camera just goes away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_switch_motion_snapshots_and_the_last_will() {
    common::init_logs();
    let broker = Mosquitto::start();
    let port = broker.port;
    let cloud = TestCloud::spawn(Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let ha = Listener::start(port, None, &["homeassistant/#", "eyrie-ha/#"]).await;
    // The most sensitive setting: the test pattern's ball is a small part of the picture.
    let mut node = node(&cloud, dir.path(), 100, Some(settings(port, None))).await;
    wait_state(&node, 20, |s| *s == BridgeState::Connected).await;
    let id = node.device_id();
    let nid = format!("eyrie_{}", id.simple());
    let base = format!("eyrie-ha/{id}");
    let avail = format!("{base}/availability");

    // --- Discovery: six retained documents, one device, the WHEP URL.
    let kinds = [
        ("camera", "snapshot"),
        ("binary_sensor", "motion"),
        ("binary_sensor", "online"),
        ("switch", "privacy"),
        ("button", "record_now"),
        ("sensor", "viewers"),
    ];
    let mut docs = std::collections::HashMap::new();
    for (component, object) in kinds {
        let topic = format!("homeassistant/{component}/{nid}/{object}/config");
        let h = ha.wait(&topic, 10, |_| true).await;
        let kept = retained(port, &topic)
            .await
            .unwrap_or_else(|| panic!("{topic} is retained"));
        assert_eq!(kept.payload, h.payload);
        docs.insert(object, json(&h));
    }
    let whep = format!("{}/api/v1/devices/{id}/whep", cloud.base);
    let mut unique = std::collections::HashSet::new();
    for (object, d) in &docs {
        assert_eq!(d["unique_id"], format!("{nid}_{object}"), "{d}");
        assert!(unique.insert(d["unique_id"].as_str().unwrap().to_owned()));
        assert_eq!(d["device"]["identifiers"], serde_json::json!([nid]), "{d}");
        assert_eq!(d["device"]["name"], "Hall");
        assert_eq!(d["device"]["configuration_url"], whep.as_str());
        assert_eq!(d["origin"]["name"], "eyrie");
        if *object != "online" {
            assert_eq!(d["availability"][0]["topic"], avail.as_str(), "{d}");
            assert_eq!(d["availability"][0]["payload_available"], "online");
            assert_eq!(d["availability"][0]["payload_not_available"], "offline");
        }
        // No abbreviations: only Home Assistant's long names.
        for key in d.as_object().unwrap().keys() {
            assert!(!["stat_t", "cmd_t", "avty", "dev", "uniq_id", "o"].contains(&key.as_str()));
        }
    }
    let cam = &docs["snapshot"];
    assert_eq!(cam["topic"], format!("{base}/snapshot"));
    assert!(cam.get("image_encoding").is_none(), "raw JPEG bytes");
    let motion = &docs["motion"];
    assert_eq!(motion["device_class"], "motion");
    assert_eq!(motion["state_topic"], format!("{base}/state"));
    assert_eq!(motion["value_template"], "{{ value_json.motion }}");
    assert_eq!(
        (
            motion["payload_on"].as_str(),
            motion["payload_off"].as_str()
        ),
        (Some("ON"), Some("OFF"))
    );
    let online = &docs["online"];
    assert_eq!(online["device_class"], "connectivity");
    assert_eq!(online["state_topic"], avail.as_str());
    assert_eq!(
        (
            online["payload_on"].as_str(),
            online["payload_off"].as_str()
        ),
        (Some("online"), Some("offline"))
    );
    let sw = &docs["privacy"];
    assert_eq!(sw["command_topic"], format!("{base}/privacy/set"));
    assert_eq!(sw["state_topic"], format!("{base}/state"));
    assert_eq!(sw["value_template"], "{{ value_json.privacy }}");
    for k in ["payload_on", "state_on"] {
        assert_eq!(sw[k], "ON");
    }
    for k in ["payload_off", "state_off"] {
        assert_eq!(sw[k], "OFF");
    }
    assert_eq!(sw["optimistic"], false);
    let button = &docs["record_now"];
    assert_eq!(button["command_topic"], format!("{base}/record/set"));
    assert_eq!(button["payload_press"], "PRESS");
    assert_eq!(
        docs["viewers"]["value_template"],
        "{{ value_json.viewers }}"
    );

    ha.wait(&avail, 5, |h| h.payload == b"online").await;
    assert_eq!(retained(port, &avail).await.unwrap().payload, b"online");

    // --- Snapshots: JPEG pictures, retained, one every interval.
    let snap_topic = format!("{base}/snapshot");
    let first = ha.wait(&snap_topic, 15, |h| !h.payload.is_empty()).await;
    assert!(
        retained(port, &snap_topic)
            .await
            .is_some_and(|h| h.payload.starts_with(&[0xFF, 0xD8]))
    );
    assert!(
        first.payload.starts_with(&[0xFF, 0xD8]) && first.payload.ends_with(&[0xFF, 0xD9]),
        "a JPEG"
    );
    assert!(
        first.payload.len() > 5_000,
        "a real picture: {} bytes",
        first.payload.len()
    );
    let n = ha.count(&snap_topic);
    ha.wait(&snap_topic, 10, |_| ha.count(&snap_topic) > n)
        .await;

    // --- Motion: the moving test pattern sets the binary sensor ON.
    let state_topic = format!("{base}/state");
    let h = ha
        .wait(&state_topic, 40, |h| json(h)["motion"] == "ON")
        .await;
    assert_eq!(json(&h)["privacy"], "OFF");
    assert!(retained(port, &state_topic).await.is_some());

    // --- Bad commands change nothing: not ON/OFF, or a stray button payload.
    let sw_topic = format!("{base}/privacy/set");
    publish(port, None, &sw_topic, "MAYBE", false);
    publish(port, None, &format!("{base}/record/set"), "HOLD", false);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !node.status().await.privacy,
        "a bad command changed privacy"
    );
    // A command the broker kept (retained) is not carried out again on a reconnect.
    publish(port, None, &sw_topic, "ON", true);
    ha.wait(&state_topic, 10, |h| json(h)["privacy"] == "ON")
        .await;
    publish(port, None, &sw_topic, "OFF", false);
    ha.wait(&state_topic, 10, |h| json(h)["privacy"] == "OFF")
        .await;
    node.start_homeassistant(settings(port, None))
        .await
        .unwrap();
    wait_state(&node, 20, |s| *s == BridgeState::Connected).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !node.status().await.privacy,
        "a retained command was carried out again"
    );
    publish(port, None, &sw_topic, "", true); // clear the retained one

    // --- The privacy switch: ON pauses the camera, its state comes back ON, the retained
    // picture is cleared and no snapshot follows; OFF resumes.
    publish(port, None, &sw_topic, "ON", false);
    ha.wait(&state_topic, 10, |h| json(h)["privacy"] == "ON")
        .await;
    // The node says so: private, recording paused.
    wait_status(&node, 5, |st| {
        st.privacy && st.storage.as_ref().is_some_and(|s| s.paused)
    })
    .await;
    ha.wait(&snap_topic, 5, |h| h.payload.is_empty()).await;
    assert!(
        retained(port, &snap_topic).await.is_none(),
        "the retained picture is cleared"
    );
    let during = ha.count(&snap_topic);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(ha.count(&snap_topic), during, "no snapshot while private");
    assert_eq!(
        json(&ha.wait(&state_topic, 1, |_| true).await)["motion"],
        "OFF"
    );
    publish(port, None, &sw_topic, "OFF", false);
    ha.wait(&state_topic, 10, |h| json(h)["privacy"] == "OFF")
        .await;
    wait_status(&node, 5, |st| {
        !st.privacy && st.storage.as_ref().is_some_and(|s| !s.paused)
    })
    .await;
    ha.wait(&snap_topic, 15, |h| {
        !h.payload.is_empty() && ha.count(&snap_topic) > during
    })
    .await;

    // --- Home Assistant restarts: its birth message brings the discovery again.
    let cfg = format!("homeassistant/switch/{nid}/privacy/config");
    let before = ha.count(&cfg);
    publish(port, None, "homeassistant/status", "online", false);
    ha.wait(&cfg, 5, |_| ha.count(&cfg) > before).await;

    // --- Stop: `offline`, retained, before the node is gone.
    node.stop().await;
    ha.wait(&avail, 5, |h| h.payload == b"offline").await;
    assert_eq!(retained(port, &avail).await.unwrap().payload, b"offline");

    // --- A camera that just goes away (no goodbye): the broker says its last will.
    let dir2 = tempfile::tempdir().unwrap();
    let node2 = self::node(&cloud, dir2.path(), 0, Some(settings(port, None))).await;
    wait_state(&node2, 20, |s| *s == BridgeState::Connected).await;
    let avail2 = format!("eyrie-ha/{}/availability", node2.device_id());
    ha.wait(&avail2, 5, |h| h.payload == b"online").await;
    drop(node2);
    ha.wait(&avail2, 30, |h| h.payload == b"offline").await;
    assert_eq!(
        retained(port, &avail2).await.unwrap().payload,
        b"offline",
        "the will is retained"
    );
}

/// A broker with logins and ACLs: a wrong password is reported as the broker's refusal
/// (CONNACK), not as a dropped network, and the camera works on; with the right password
/// the bridge connects, and a second login without rights to the command topic can
/// neither drive the switch nor, flooding it, stop the owner's command from working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_login_is_said_and_strangers_cannot_drive_the_switch() {
    common::init_logs();
    let acl = "\
user cam
topic readwrite homeassistant/#
topic readwrite eyrie-ha/#
user hass
topic readwrite homeassistant/#
topic readwrite eyrie-ha/#
user stranger
topic read homeassistant/#
topic read eyrie-ha/#
";
    let broker = Mosquitto::with_acl(&["cam", "hass", "stranger"], acl);
    let port = broker.port;
    let cloud = TestCloud::spawn(Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let mut wrong = settings(port, Some("cam"));
    wrong.broker.password = Some("not-the-password".into());
    let mut node = node(&cloud, dir.path(), 0, Some(wrong)).await;

    let refused = wait_state(&node, 20, |s| matches!(s, BridgeState::Refused(_))).await;
    // mosquitto answers a wrong password with CONNACK 5, "not authorized" (MQTT 3.1.1).
    assert_eq!(
        refused,
        BridgeState::Refused("not authorized (check the user name and password)".into())
    );
    // The camera runs on: commands and status answer.
    node.set_privacy(true).await.unwrap();
    assert!(node.status().await.privacy);
    node.set_privacy(false).await.unwrap();
    assert!(node.status().await.storage.is_some());

    // The right password: connected, discovery out.
    node.start_homeassistant(settings(port, Some("cam")))
        .await
        .unwrap();
    wait_state(&node, 20, |s| *s == BridgeState::Connected).await;
    let base = format!("eyrie-ha/{}", node.device_id());
    let hass = Listener::start(port, Some("hass"), &["eyrie-ha/#"]).await;
    let state_topic = format!("{base}/state");
    hass.wait(&state_topic, 10, |h| json(h)["privacy"] == "OFF")
        .await;

    // A stranger (read-only) tries, and floods: nothing changes.
    let sw = format!("{base}/privacy/set");
    publish(port, Some("stranger"), &sw, "ON", false);
    for _ in 0..50 {
        publish(port, Some("stranger"), &sw, "ON", false);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!node.status().await.privacy, "a stranger turned privacy on");

    // Home Assistant's login can: the test above could have failed.
    publish(port, Some("hass"), &sw, "ON", false);
    hass.wait(&state_topic, 10, |h| json(h)["privacy"] == "ON")
        .await;
    assert!(node.status().await.privacy);
    publish(port, Some("hass"), &sw, "OFF", false);
    hass.wait(&state_topic, 10, |h| json(h)["privacy"] == "OFF")
        .await;

    // The button (motion detection is off here, so only the button makes an event): an
    // event starts now, and ends after its length. The stranger's press does nothing.
    let button = format!("{base}/record/set");
    publish(port, Some("stranger"), &button, "PRESS", false);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let st = node.status().await;
    assert!(
        st.storage.as_ref().is_some_and(|s| !s.event_active),
        "{st:?}"
    );
    publish(port, Some("hass"), &button, "PRESS", false);
    wait_status(&node, 5, |st| {
        st.storage.as_ref().is_some_and(|s| s.event_active)
    })
    .await;
    wait_status(&node, 15, |st| {
        st.storage.as_ref().is_some_and(|s| !s.event_active)
    })
    .await;
    assert_eq!(
        json(&hass.wait(&state_topic, 1, |_| true).await)["motion"],
        "OFF"
    );
    node.stop().await;
}
