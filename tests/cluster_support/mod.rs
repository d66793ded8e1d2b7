//! Signalling traffic on the cluster's mosquitto through the links the camera and the
//! viewer use (`eyrie_client::mqtt_link`: reconnect with back-off, subscribe again), so
//! that a broker restart in the middle of a load run is met by the real reconnect code.
//!
//! ```text
//!  Alice's viewer ── ping ──► eyrie/<A>/in/<alice>  ──► camera A
//!  Alice's viewer ◄── pong ── eyrie/<A>/out/<alice> ◄── camera A
//!  Bob's viewer: subscribes to everything of A's, writes into A's inbox (as himself and
//!  as Alice) — must see nothing, and camera A must get nothing from him.
//! ```

use std::sync::{Arc, Mutex};
use std::time::Duration;

use eyrie_client::mqtt_link::{self, Link, LinkEvent, LinkOptions};
use eyrie_protocol::api::MqttConnection;
use eyrie_protocol::clock::unix_ms;
use eyrie_testkit::cluster::client::Client;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// What the actors saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// When Alice's viewer got each answer (unix ms).
    pub pongs: Vec<i64>,
    /// Messages camera A got that were not Alice's pings.
    pub camera_got_forged: Vec<String>,
    /// Topics of A's that Bob's viewer was delivered.
    pub bob_read: Vec<String>,
}

/// The running actors; dropping them stops their links.
pub struct Signalling {
    pub seen: Arc<Mutex<Seen>>,
    tasks: Vec<JoinHandle<()>>,
    _links: Vec<Arc<Link>>,
}

impl Drop for Signalling {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn connection(v: &Value) -> MqttConnection {
    serde_json::from_value(v["mqtt"].clone()).expect("mqtt connection in the answer")
}

async fn ticket(client: &Client, token: &str, device: &str) -> MqttConnection {
    let t = client
        .expect(
            reqwest::Method::POST,
            &format!("/api/v1/devices/{device}/tickets"),
            Some(token),
            Some(json!({})),
            200,
        )
        .await
        .expect("ticket");
    connection(&t)
}

fn link(conn: &MqttConnection, subscriptions: Vec<String>) -> (Arc<Link>, LinkRx) {
    let (link, rx) = mqtt_link::start(
        conn,
        LinkOptions {
            subscriptions,
            ..LinkOptions::default()
        },
    )
    .expect("link");
    (Arc::new(link), rx)
}

type LinkRx = tokio::sync::mpsc::UnboundedReceiver<LinkEvent>;

/// Two accounts through the cluster's URL, a camera each, Alice's viewer pinging her
/// camera every 200 ms and Bob's viewer trying to listen in and to write into it.
pub async fn start(url: &str) -> Signalling {
    let client = Client::new(url);
    let alice = client.user("alice-signalling").await.expect("alice");
    let bob = client.user("bob-signalling").await.expect("bob");
    let cam_a = client.device(&alice, "Porch").await.expect("camera A");
    let a = cam_a["device_id"].as_str().expect("id").to_owned();
    let cam_b = client.device(&bob, "Yard").await.expect("camera B");
    let b = cam_b["device_id"].as_str().expect("id").to_owned();
    let alice_conn = ticket(&client, &alice, &a).await;
    let bob_conn = ticket(&client, &bob, &b).await;
    let (va, vb) = (alice_conn.username.clone(), bob_conn.username.clone());
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut tasks = Vec::new();

    // Camera A answers every message in its inbox on the sender's outbox topic.
    let (camera, mut camera_rx) = link(&connection(&cam_a), vec![format!("eyrie/{a}/in/#")]);
    tasks.push(tokio::spawn({
        let (camera, seen, a, va) = (camera.clone(), seen.clone(), a.clone(), va.clone());
        async move {
            while let Some(ev) = camera_rx.recv().await {
                let LinkEvent::Message { topic, payload } = ev else {
                    continue;
                };
                let text = String::from_utf8_lossy(&payload).into_owned();
                if topic != format!("eyrie/{a}/in/{va}") || !text.starts_with("ping") {
                    seen.lock()
                        .unwrap()
                        .camera_got_forged
                        .push(format!("{topic} {text}"));
                    continue;
                }
                let _ = camera.try_publish(&format!("eyrie/{a}/out/{va}"), payload.to_vec());
            }
        }
    }));

    // Alice's viewer pings and notes each answer.
    let (viewer, mut viewer_rx) = link(&alice_conn, vec![format!("eyrie/{a}/out/{va}")]);
    tasks.push(tokio::spawn({
        let seen = seen.clone();
        async move {
            while let Some(ev) = viewer_rx.recv().await {
                if let LinkEvent::Message { .. } = ev {
                    seen.lock().unwrap().pongs.push(unix_ms());
                }
            }
        }
    }));
    tasks.push(tokio::spawn({
        let (viewer, a, va) = (viewer.clone(), a.clone(), va.clone());
        async move {
            for n in 0u64.. {
                let _ =
                    viewer.try_publish(&format!("eyrie/{a}/in/{va}"), format!("ping {n}").into());
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }));

    // Bob's viewer asks for everything and writes into camera A's inbox.
    let (bob_link, mut bob_rx) = link(
        &bob_conn,
        vec![
            "#".into(),
            format!("eyrie/{a}/#"),
            format!("eyrie/{a}/out/{va}"),
            "eyrie/+/out/#".into(),
        ],
    );
    tasks.push(tokio::spawn({
        let (seen, a) = (seen.clone(), a.clone());
        async move {
            while let Some(ev) = bob_rx.recv().await {
                if let LinkEvent::Message { topic, .. } = ev
                    && topic.contains(&a)
                {
                    seen.lock().unwrap().bob_read.push(topic);
                }
            }
        }
    }));
    tasks.push(tokio::spawn({
        let (bob_link, a) = (bob_link.clone(), a.clone());
        async move {
            loop {
                let _ = bob_link.try_publish(&format!("eyrie/{a}/in/{vb}"), b"bob as bob".to_vec());
                let _ = bob_link
                    .try_publish(&format!("eyrie/{a}/in/{va}"), b"forged as alice".to_vec());
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }));
    Signalling {
        seen,
        tasks,
        _links: vec![camera, viewer, bob_link],
    }
}

impl Signalling {
    /// The longest time without an answer between `from` and `to` (unix ms), and the
    /// number of answers after `to`.
    pub fn longest_silence(&self, from: i64, to: i64) -> (i64, usize) {
        let seen = self.seen.lock().unwrap();
        let mut last = from;
        let mut longest = 0;
        for &t in seen.pongs.iter().filter(|&&t| t > from && t <= to) {
            longest = longest.max(t - last);
            last = t;
        }
        longest = longest.max(to - last);
        (longest, seen.pongs.iter().filter(|&&t| t > to).count())
    }
}
