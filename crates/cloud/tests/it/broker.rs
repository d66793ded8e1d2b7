//! The broker between tenants: two users, A and B, each with a camera, probed from
//! outside with Debian's `mosquitto_sub`/`mosquitto_pub` as B — on the embedded broker
//! (the cloud's front before rumqttd) and on mosquitto with the ACL of
//! `docs/signalling.md`. B must read nothing of A's and write nothing A sees; B's
//! client id cannot push A's camera off; nobody can park large or retained junk in an
//! inbox.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::process::{Child, Command};

use crate::common::*;
use eyrie_testkit::Mosquitto;

/// A broker login.
#[derive(Clone, Debug)]
struct Login {
    user: String,
    pass: String,
}

/// One tenant: its camera's login and device id, its viewer's login.
struct Tenant {
    device: String,
    camera: Login,
    viewer: Login,
}

fn args(port: u16, l: &Login) -> Vec<String> {
    [
        "-h",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "-u",
        &l.user,
        "-P",
        &l.pass,
        "-V",
        "mqttv311",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// `mosquitto_sub -v` on `topics` for `secs` seconds (then it exits by itself).
fn sub(port: u16, l: &Login, topics: &[String], secs: u32, extra: &[&str]) -> Child {
    let mut c = Command::new("mosquitto_sub");
    c.args(args(port, l))
        .args(["-v", "-q", "1", "-W", &secs.to_string()]);
    for t in topics {
        c.args(["-t", t]);
    }
    c.args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("mosquitto_sub (apt install mosquitto-clients)")
}

/// What a subscriber printed (topic and payload lines) and said on stderr.
async fn output(c: Child) -> (String, String) {
    let o = c.wait_with_output().await.expect("mosquitto_sub output");
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// `mosquitto_pub -q 1` of `payload` (a file, so it may be large); true if it succeeded.
async fn publish(port: u16, l: &Login, topic: &str, payload: &[u8], retain: bool) -> bool {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), payload).unwrap();
    let mut c = Command::new("mosquitto_pub");
    c.args(args(port, l))
        .args(["-q", "1", "-t", topic, "-f"])
        .arg(f.path());
    if retain {
        c.arg("-r");
    }
    let o = c.output().await.expect("mosquitto_pub");
    o.status.success()
}

fn forged(session: &str) -> Vec<(&'static str, String)> {
    let s = session;
    vec![
        (
            "in",
            format!(r#"{{"v":1,"type":"bye","session_id":"{s}","reason":"forged"}}"#),
        ),
        (
            "in",
            format!(
                r#"{{"v":1,"type":"control","session_id":"{s}","control":{{"action":"talk","on":true}}}}"#
            ),
        ),
        (
            "in",
            format!(
                r#"{{"v":1,"type":"control","session_id":"{s}","control":{{"action":"set_stream","stream":"hd"}}}}"#
            ),
        ),
        (
            "in",
            format!(
                r#"{{"v":1,"type":"candidate","session_id":"{s}","sdp_mline_index":0,"candidate":"candidate:1 1 UDP 2130706431 127.0.0.1 9 typ host"}}"#
            ),
        ),
        (
            "out",
            format!(r#"{{"v":1,"type":"busy","session_id":"{s}","max_sessions":1}}"#),
        ),
        (
            "out",
            format!(
                r#"{{"v":1,"type":"error","session_id":"{s}","code":"privacy","message":"privacy mode on"}}"#
            ),
        ),
    ]
}

/// B probes A on the broker at `port`; `embedded`: the cloud's front (refuses forbidden
/// filters with 0x80 and closes a forbidden publish) rather than mosquitto (grants and
/// delivers nothing, drops the publish).
async fn probe(port: u16, a: &Tenant, b: &Tenant, embedded: bool) {
    let dev = &a.device;
    // A's camera is online (retained presence) and listens on its inbox; A's viewer
    // listens on its outbox and the presence.
    assert!(
        publish(
            port,
            &a.camera,
            &format!("eyrie/{dev}/status"),
            b"online",
            true
        )
        .await
    );
    let a_inbox = sub(port, &a.camera, &[format!("eyrie/{dev}/in/+")], 8, &[]);
    let a_viewer = sub(
        port,
        &a.viewer,
        &[
            format!("eyrie/{dev}/out/{}", a.viewer.user),
            format!("eyrie/{dev}/status"),
        ],
        8,
        &[],
    );
    tokio::time::sleep(Duration::from_millis(700)).await;

    // B listens to everything.
    let snoop = sub(
        port,
        &b.viewer,
        &["#".into(), "eyrie/#".into(), "eyrie/+/status".into()],
        3,
        &[],
    );
    // B writes into A's inbox (under B's name and A's), A's viewer's outbox, A's presence.
    let mut accepted = Vec::new();
    for (dir, msg) in forged("aaaaaaaaaaaaaaaaaaaaaa") {
        for who in [&b.viewer.user, &a.viewer.user] {
            let topic = format!("eyrie/{dev}/{dir}/{who}");
            if publish(port, &b.viewer, &topic, msg.as_bytes(), false).await {
                accepted.push(topic);
            }
        }
    }
    if publish(
        port,
        &b.viewer,
        &format!("eyrie/{dev}/status"),
        b"offline",
        true,
    )
    .await
    {
        accepted.push("status".into());
    }
    if publish(
        port,
        &b.camera,
        &format!("eyrie/{dev}/status"),
        b"offline",
        true,
    )
    .await
    {
        accepted.push("status by B's camera".into());
    }
    // A's own viewer: no retained messages, nothing over the size limit.
    let mine = format!("eyrie/{dev}/in/{}", a.viewer.user);
    let _ = publish(port, &a.viewer, &mine, &vec![b'x'; 70 * 1024], false).await;
    let _ = publish(
        port,
        &a.viewer,
        &mine,
        br#"{"v":1,"type":"heartbeat","session_id":"retained00"}"#,
        true,
    )
    .await;
    // And what A's viewer may do reaches A's camera (the probe can see delivery).
    assert!(
        publish(
            port,
            &a.viewer,
            &mine,
            br#"{"v":1,"type":"heartbeat","session_id":"legit00000"}"#,
            false
        )
        .await
    );

    let (seen, why) = output(snoop).await;
    assert!(!seen.contains(dev.as_str()), "B read A's topics:\n{seen}");
    if embedded {
        assert!(
            why.contains("denied"),
            "the front answers 0x80 to B's filters: {why}"
        );
        assert!(
            accepted.is_empty(),
            "the front took B's publishes: {accepted:?}"
        );
    }
    let (inbox, _) = output(a_inbox).await;
    let (viewer, _) = output(a_viewer).await;
    assert!(
        inbox.contains("legit00000"),
        "A's own viewer reaches A's camera:\n{inbox}"
    );
    // mosquitto cannot refuse a retained publish by topic: there the camera clears it.
    let junk: &[&str] = if embedded {
        &["forged", "action", "candidate", "retained00", "xxxxxxxx"]
    } else {
        &["forged", "action", "candidate", "xxxxxxxx"]
    };
    for junk in junk {
        assert!(!inbox.contains(junk), "{junk} reached A's camera:\n{inbox}");
    }
    assert!(
        !viewer.contains("busy") && !viewer.contains("privacy"),
        "B wrote to A's viewer:\n{viewer}"
    );
    assert!(
        viewer.contains("status online") && !viewer.contains("offline"),
        "A's presence:\n{viewer}"
    );
}

/// A ticket's broker login for `device` of `token`'s user.
async fn viewer_login(cloud: &TestCloud, token: &str, device: &str) -> Login {
    let (s, t) = cloud
        .post(
            &format!("/api/v1/devices/{device}/tickets"),
            Some(token),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(s, 200, "ticket: {t}");
    login(&t["mqtt"])
}

fn login(m: &Value) -> Login {
    Login {
        user: m["username"].as_str().unwrap().into(),
        pass: m["password"].as_str().unwrap().into(),
    }
}

async fn tenant(cloud: &TestCloud, name: &str) -> Tenant {
    let (_, token) = cloud.user(name).await;
    let creds = cloud.device(&token, &format!("{name}'s camera")).await;
    let device = creds["device_id"].as_str().unwrap().to_owned();
    Tenant {
        camera: login(&creds["mqtt"]),
        viewer: viewer_login(cloud, &token, &device).await,
        device,
    }
}

fn port_of(cloud: &TestCloud) -> u16 {
    cloud.mqtt.rsplit(':').next().unwrap().parse().unwrap()
}

async fn embedded_broker_keeps_tenants_apart(backend: Backend) {
    let cloud = TestCloud::spawn(backend).await;
    let (a, b) = (tenant(&cloud, "alice").await, tenant(&cloud, "bob").await);
    probe(port_of(&cloud), &a, &b, true).await;
}
both_backends!(embedded_broker_keeps_tenants_apart);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_with_the_documented_acl_keeps_tenants_apart() {
    let id = || uuid::Uuid::new_v4().to_string();
    let (da, db) = (id(), id());
    let (va, vb) = (format!("viewer-{}", id()), format!("viewer-{}", id()));
    let broker = Mosquitto::with_tenants(&[(&va, &da), (&vb, &db)]);
    let l = |u: &str| Login {
        user: u.into(),
        pass: u.into(),
    };
    let a = Tenant {
        device: da.clone(),
        camera: l(&da),
        viewer: l(&va),
    };
    let b = Tenant {
        device: db.clone(),
        camera: l(&db),
        viewer: l(&vb),
    };
    probe(broker.port, &a, &b, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_login_cannot_take_a_cameras_client_id() {
    let cloud = TestCloud::spawn(Backend::Sqlite).await;
    let port = port_of(&cloud);
    let (a, b) = (tenant(&cloud, "alice").await, tenant(&cloud, "bob").await);
    let cid = format!("eyrie-dev-{}", a.device);
    let camera = sub(
        port,
        &a.camera,
        &[format!("eyrie/{}/in/+", a.device)],
        6,
        &["-i", &cid, "-d"],
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    // B logs in with A's camera's client id, again and again.
    for _ in 0..3 {
        let _ = output(sub(
            port,
            &b.viewer,
            &[format!("eyrie/+/out/{}", b.viewer.user)],
            1,
            &["-i", &cid],
        ))
        .await;
    }
    let mine = format!("eyrie/{}/in/{}", a.device, a.viewer.user);
    assert!(publish(port, &a.viewer, &mine, br#"{"still":"here"}"#, false).await);
    let (seen, why) = output(camera).await;
    assert!(
        seen.contains("still"),
        "A's camera hears its viewer: {seen} {why}"
    );
    assert_eq!(
        seen.matches("received CONNACK").count(),
        1,
        "A's camera was pushed off the broker:\n{seen}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_the_owners_own_viewer_is_cut_off() {
    use tokio::io::AsyncWriteExt as _;
    let cloud = TestCloud::spawn(Backend::Sqlite).await;
    let port = port_of(&cloud);
    let a = tenant(&cloud, "alice").await;
    let camera = sub(
        port,
        &a.camera,
        &[format!("eyrie/{}/in/+", a.device)],
        5,
        &[],
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    // 3,000 junk messages as fast as mosquitto_pub sends them, one per line.
    let mut flood = Command::new("mosquitto_pub")
        .args(args(port, &a.viewer))
        .args([
            "-q",
            "0",
            "-l",
            "-t",
            &format!("eyrie/{}/in/{}", a.device, a.viewer.user),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("mosquitto_pub");
    let mut stdin = flood.stdin.take().unwrap();
    let lines: String = (0..3000).map(|i| format!("junk {i}\n")).collect();
    let _ = stdin.write_all(lines.as_bytes()).await;
    drop(stdin);
    let _ = tokio::time::timeout(Duration::from_secs(4), flood.wait()).await;
    let (seen, _) = output(camera).await;
    let got = seen.lines().count();
    assert!(got > 0, "the flood started");
    assert!(got <= 400, "{got} junk messages reached the camera");
}

/// A refused login is answered with the CONNACK return code MQTT 3.1.1 gives it (4: bad
/// user name or password, 5: not authorized) before the connection closes, so a client
/// can tell bad credentials from a dropped network — Debian's `mosquitto_sub` says which,
/// and rumqttc reports the code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_login_gets_its_connack_code() {
    use rumqttc::{AsyncClient, ConnectReturnCode, ConnectionError, Event, MqttOptions, Packet};
    let cloud = TestCloud::spawn(Backend::Sqlite).await;
    let port = port_of(&cloud);
    let (a, b) = (tenant(&cloud, "alice").await, tenant(&cloud, "bob").await);
    let status = format!("eyrie/{}/status", a.device);
    let wrong = |l: &Login| Login {
        user: l.user.clone(),
        pass: format!("{}x", l.pass),
    };
    let cases: Vec<(Login, Vec<&str>, &str)> = vec![
        (wrong(&a.camera), vec![], "bad user name or password"),
        (wrong(&a.viewer), vec![], "bad user name or password"),
        (
            Login {
                user: "viewer-nobody".into(),
                pass: "x".into(),
            },
            vec![],
            "bad user name or password",
        ),
        // Right login, but a will in another tenant's tree.
        (
            b.camera.clone(),
            vec![
                "--will-topic",
                &status,
                "--will-payload",
                "offline",
                "--will-retain",
            ],
            "not authorised",
        ),
    ];
    for (login, extra, says) in &cases {
        let (_, err) = output(sub(port, login, std::slice::from_ref(&status), 5, extra)).await;
        assert!(
            err.contains(&format!("Connection Refused: {says}")),
            "{}: {err}",
            login.user
        );
    }
    // No credentials at all: not authorized.
    let o = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-V", "mqttv311"])
        .args(["-t", &status, "-W", "5"])
        .output()
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("Connection Refused: not authorised"), "{err}");

    // rumqttc: the refusal code, not an I/O error.
    for (login, code) in [
        (wrong(&a.camera), ConnectReturnCode::BadUserNamePassword),
        (wrong(&b.viewer), ConnectReturnCode::BadUserNamePassword),
    ] {
        let mut mo = MqttOptions::new("refused-test", "127.0.0.1", port);
        mo.set_credentials(login.user.clone(), login.pass.clone());
        let (_c, mut el) = AsyncClient::new(mo, 8);
        match el.poll().await {
            Err(ConnectionError::ConnectionRefused(c)) => assert_eq!(c, code, "{}", login.user),
            other => panic!("{}: {other:?}", login.user),
        }
    }
    // The right login still gets in.
    let mut mo = MqttOptions::new("accepted-test", "127.0.0.1", port);
    mo.set_credentials(a.camera.user.clone(), a.camera.pass.clone());
    let (_c, mut el) = AsyncClient::new(mo, 8);
    assert!(matches!(
        el.poll().await,
        Ok(Event::Incoming(Packet::ConnAck(_)))
    ));
}
