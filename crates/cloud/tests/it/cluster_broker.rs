//! mosquitto with its logins and ACLs kept by the cloud (dynamic security plugin): real
//! mosquitto, real `mosquitto_sub`/`mosquitto_pub` clients. mosquitto may grant a
//! forbidden subscription and then deliver nothing, so every check is on delivery.

use std::io::Read as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use eyrie_testkit::mosquitto::Mosquitto;
use serde_json::{Value, json};

use crate::common::{Backend, TestCloud};

/// A broker login: (user, password).
type Login = (String, String);

fn device_login(creds: &Value) -> Login {
    (
        creds["mqtt"]["username"].as_str().unwrap().into(),
        creds["mqtt"]["password"].as_str().unwrap().into(),
    )
}

async fn ticket_login(cloud: &TestCloud, token: &str, device: &str) -> Login {
    let (s, t) = cloud
        .post(
            &format!("/api/v1/devices/{device}/tickets"),
            Some(token),
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "ticket: {t}");
    (
        t["mqtt"]["username"].as_str().unwrap().into(),
        t["mqtt"]["password"].as_str().unwrap().into(),
    )
}

/// `mosquitto_sub` for up to `secs`, printing `topic payload` lines; collect with [`lines`].
fn sub(port: u16, who: &Login, topics: &[&str], secs: u32) -> Child {
    let mut cmd = Command::new("mosquitto_sub");
    cmd.args([
        "-h",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "-u",
        &who.0,
        "-P",
        &who.1,
    ])
    .args(["-q", "1", "-v", "-W", &secs.to_string()]);
    for t in topics {
        cmd.args(["-t", t]);
    }
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mosquitto_sub (apt install mosquitto-clients)")
}

fn lines(mut child: Child) -> (Vec<String>, String) {
    let _ = child.wait();
    let (mut out, mut err) = (String::new(), String::new());
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (out.lines().map(str::to_owned).collect(), err)
}

/// `mosquitto_pub` once at QoS 1; true when the broker took the login (a forbidden
/// publish is still acknowledged and silently dropped, as MQTT 3.1.1 has no refusal).
fn publish(port: u16, who: &Login, topic: &str, msg: &str) -> bool {
    Command::new("mosquitto_pub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-u",
            &who.0,
            "-P",
            &who.1,
        ])
        .args(["-q", "1", "-t", topic, "-m", msg])
        .stderr(Stdio::null())
        .status()
        .expect("mosquitto_pub")
        .success()
}

/// Give subscribers time to have subscribed.
fn settle() {
    std::thread::sleep(Duration::from_millis(400));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cloud_keeps_mosquittos_logins_and_acls() {
    let mut broker = Mosquitto::with_dynsec();
    let mqtt = broker.cloud_config();
    let cloud = TestCloud::spawn_with(Backend::Sqlite, move |c| c.mqtt = mqtt).await;
    let port = broker.port;
    let (alice_id, alice) = cloud.user("alice").await;
    let (_, bob) = cloud.user("bob").await;
    let a_creds = cloud.device(&alice, "Porch").await;
    let b_creds = cloud.device(&bob, "Yard").await;
    let (a, b) = (
        a_creds["device_id"].as_str().unwrap().to_owned(),
        b_creds["device_id"].as_str().unwrap().to_owned(),
    );
    let (dev_a, dev_b) = (device_login(&a_creds), device_login(&b_creds));
    let va = ticket_login(&cloud, &alice, &a).await;
    let vb = ticket_login(&cloud, &bob, &b).await;
    assert_eq!(va.0, format!("viewer-{alice_id}"));
    // A second ticket shares the first one's broker password (mosquitto keeps one per
    // client and would disconnect the first login if it changed).
    assert_eq!(ticket_login(&cloud, &alice, &a).await, va);
    // Bob cannot get a ticket (nor a broker login) for Alice's camera.
    let (s, _) = cloud
        .post(
            &format!("/api/v1/devices/{a}/tickets"),
            Some(&bob),
            json!({}),
        )
        .await;
    assert_eq!(s, 404);

    let check = |round: &str| {
        // Camera A's inbox: Alice's viewer gets through; Bob's viewer, under his name or
        // Alice's, and Bob's camera do not.
        let inbox = sub(port, &dev_a, &[&format!("eyrie/{a}/in/#")], 2);
        settle();
        assert!(publish(
            port,
            &va,
            &format!("eyrie/{a}/in/{}", va.0),
            "from-alice"
        ));
        publish(port, &vb, &format!("eyrie/{a}/in/{}", vb.0), "bob-as-bob");
        publish(port, &vb, &format!("eyrie/{a}/in/{}", va.0), "bob-as-alice");
        publish(port, &dev_b, &format!("eyrie/{a}/in/{}", va.0), "camera-b");
        let (got, err) = lines(inbox);
        assert_eq!(
            got,
            vec![format!("eyrie/{a}/in/{} from-alice", va.0)],
            "{round}: camera A's inbox ({err})"
        );
        // Camera A's replies and presence: Alice reads them; Bob, asking for everything,
        // for Alice's outbox or for A's status, is delivered nothing.
        let alice_reads = sub(
            port,
            &va,
            &[
                &format!("eyrie/+/out/{}", va.0),
                &format!("eyrie/{a}/status"),
            ],
            3,
        );
        let bob_reads = sub(
            port,
            &vb,
            &[
                "#",
                "eyrie/#",
                "eyrie/+/status",
                &format!("eyrie/+/out/{}", va.0),
                &format!("eyrie/{a}/status"),
                &format!("eyrie/{a}/#"),
            ],
            3,
        );
        settle();
        assert!(publish(
            port,
            &dev_a,
            &format!("eyrie/{a}/out/{}", va.0),
            "answer"
        ));
        assert!(publish(
            port,
            &dev_a,
            &format!("eyrie/{a}/status"),
            "online"
        ));
        // A camera cannot write into another camera's tree.
        publish(port, &dev_b, &format!("eyrie/{a}/out/{}", va.0), "forged");
        let (got, _) = lines(alice_reads);
        assert_eq!(
            got,
            vec![
                format!("eyrie/{a}/out/{} answer", va.0),
                format!("eyrie/{a}/status online"),
            ],
            "{round}: Alice's viewer"
        );
        let (got, _) = lines(bob_reads);
        assert!(got.is_empty(), "{round}: Bob's viewer read {got:?}");
    };
    tokio::task::block_in_place(|| check("first"));

    // A restarted broker has every login and ACL back (its own file).
    broker.restart();
    tokio::task::block_in_place(|| check("after a restart"));

    // A wrong password is refused.
    let wrong = (va.0.clone(), "not-the-password".to_owned());
    assert!(!publish(
        port,
        &wrong,
        &format!("eyrie/{a}/in/{}", va.0),
        "x"
    ));

    // Removing camera A takes it off the broker at once: its connection is closed and
    // its login refused from then on; Alice's rights on it are gone.
    let connected = sub(port, &dev_a, &[&format!("eyrie/{a}/in/#")], 10);
    tokio::task::block_in_place(settle);
    let t0 = Instant::now();
    let (s, _) = cloud
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/devices/{a}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (_, err) = tokio::task::block_in_place(|| lines(connected));
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "the removed camera stayed connected ({err})"
    );
    assert!(!publish(
        port,
        &dev_a,
        &format!("eyrie/{a}/status"),
        "online"
    ));
    // Camera B and Bob are untouched.
    let bob_inbox = sub(port, &dev_b, &[&format!("eyrie/{b}/in/#")], 2);
    tokio::task::block_in_place(settle);
    assert!(publish(port, &vb, &format!("eyrie/{b}/in/{}", vb.0), "hi"));
    let (got, _) = tokio::task::block_in_place(|| lines(bob_inbox));
    assert_eq!(got, vec![format!("eyrie/{b}/in/{} hi", vb.0)]);
}

/// The same request until it is not a 503, for up to `secs` (the cloud's administration
/// link comes back within a second or two of the broker).
async fn until_not_503(
    cloud: &TestCloud,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
    secs: u64,
) -> (u16, Value) {
    let until = Instant::now() + Duration::from_secs(secs);
    loop {
        let (s, v) = cloud.call(method.clone(), path, token, body.clone()).await;
        if s != 503 || Instant::now() > until {
            return (s, v);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// An unreachable broker is a 503 that changes nothing: the activation code, the camera's
/// pairing, the device and its login all stay as they were, and the same request works
/// once the broker is back. (Before, the device was left activated without a broker
/// login — a camera that could never come online and whose code was spent — and a delete
/// left the camera logged in on the broker.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_broker_changes_nothing() {
    use reqwest::Method;
    let mut broker = Mosquitto::with_dynsec();
    let mqtt = broker.cloud_config();
    let cloud = TestCloud::spawn_with(Backend::Sqlite, move |c| c.mqtt = mqtt).await;
    let port = broker.port;
    let (_, alice) = cloud.user("alice").await;
    let kept = cloud.device(&alice, "Porch").await;
    let kept_id = kept["device_id"].as_str().unwrap().to_owned();

    // User-first: a new device's activation code, tried while the broker is down.
    let (s, v) = cloud
        .post("/api/v1/devices", Some(&alice), json!({"name": "Garden"}))
        .await;
    assert_eq!(s, 201, "{v}");
    let code = v["activation_code"].as_str().unwrap().to_owned();
    let garden = v["device"]["id"].as_str().unwrap().to_owned();
    // Camera-first: a pairing claimed by Alice, polled while the broker is down.
    let (s, p) = cloud
        .post("/api/v1/pairings", None, json!({"name_hint": "shed"}))
        .await;
    assert_eq!(s, 201, "{p}");
    let (s, v) = cloud
        .post(
            "/api/v1/devices/claim",
            Some(&alice),
            json!({"code": p["code"], "name": "Shed"}),
        )
        .await;
    assert!(s == 200 || s == 201, "claim: {s} {v}");
    let pairing = json!({"pairing_token": p["pairing_token"]});

    broker.stop();
    let (s, v) = cloud
        .post("/api/v1/activate", None, json!({"activation_code": code}))
        .await;
    assert_eq!((s, v["code"].as_str()), (503, Some("unavailable")), "{v}");
    let (s, v) = cloud.post("/api/v1/activate", None, pairing.clone()).await;
    assert_eq!((s, v["code"].as_str()), (503, Some("unavailable")), "{v}");
    let (s, v) = cloud
        .post(
            &format!("/api/v1/devices/{kept_id}/tickets"),
            Some(&alice),
            json!({}),
        )
        .await;
    assert_eq!(s, 503, "ticket with the broker down: {v}");
    let (s, v) = cloud
        .call(
            Method::DELETE,
            &format!("/api/v1/devices/{kept_id}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(s, 503, "delete with the broker down: {v}");
    // Nothing changed: the device is still there, the new one still not activated.
    let (s, v) = cloud
        .get(&format!("/api/v1/devices/{kept_id}"), Some(&alice))
        .await;
    assert_eq!((s, v["activated"].as_bool()), (200, Some(true)), "{v}");
    let (s, v) = cloud
        .get(&format!("/api/v1/devices/{garden}"), Some(&alice))
        .await;
    assert_eq!((s, v["activated"].as_bool()), (200, Some(false)), "{v}");

    broker.resume();
    // The same code and the same pairing now activate, and their logins work.
    let (s, creds) = until_not_503(
        &cloud,
        Method::POST,
        "/api/v1/activate",
        None,
        Some(json!({"activation_code": code})),
        15,
    )
    .await;
    assert_eq!(
        s, 200,
        "activation code after the broker came back: {creds}"
    );
    let (s, shed) = until_not_503(
        &cloud,
        Method::POST,
        "/api/v1/activate",
        None,
        Some(pairing),
        15,
    )
    .await;
    assert_eq!(s, 200, "pairing after the broker came back: {shed}");
    for c in [&creds, &shed, &kept] {
        let id = c["device_id"].as_str().unwrap();
        let ok = tokio::task::block_in_place(|| {
            publish(
                port,
                &device_login(c),
                &format!("eyrie/{id}/status"),
                "online",
            )
        });
        assert!(ok, "device {id} cannot log in to the broker");
    }
    // The refused delete was not applied later either: the kept camera is still logged in.
    let (s, _) = until_not_503(
        &cloud,
        Method::DELETE,
        &format!("/api/v1/devices/{kept_id}"),
        Some(&alice),
        None,
        15,
    )
    .await;
    assert_eq!(s, 204);
    let gone = tokio::task::block_in_place(|| {
        publish(
            port,
            &device_login(&kept),
            &format!("eyrie/{kept_id}/status"),
            "online",
        )
    });
    assert!(!gone, "a deleted camera still logs in");
}
