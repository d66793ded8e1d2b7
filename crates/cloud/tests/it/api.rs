//! Black-box tests of accounts, devices, set-up and live tickets, on SQLite and PostgreSQL.

use crate::common;

use common::{Backend, TestCloud};
use eyrie_protocol::ticket;
use serde_json::json;

async fn health_openapi_metrics(b: Backend) {
    let app = TestCloud::spawn(b).await;
    let (s, v) = app.get("/healthz", None).await;
    assert_eq!((s, v["status"].as_str()), (200, Some("ok")));
    let (s, v) = app.get("/api/openapi.json", None).await;
    assert_eq!(s, 200);
    assert!(v["openapi"].as_str().unwrap().starts_with("3."));
    assert!(v["paths"]["/api/v1/channels/{id}/recordings"]["get"].is_object());
    assert!(v["components"]["schemas"]["DeviceCredentials"].is_object());
    let text = app
        .http
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("# TYPE eyrie_http_requests_total counter"));
    let (s, v) = app.get("/api/v1/nothing-here", None).await;
    assert_eq!((s, v["code"].as_str()), (404, Some("not_found")));
}
both_backends!(health_openapi_metrics);

async fn accounts(b: Backend) {
    let app = TestCloud::spawn(b).await;
    let (s, v) = app
        .post(
            "/api/v1/accounts",
            None,
            json!({"username": "al", "password": "long enough"}),
        )
        .await;
    assert_eq!((s, v["code"].as_str()), (400, Some("bad_request")));
    let (s, _) = app
        .post(
            "/api/v1/accounts",
            None,
            json!({"username": "alice", "password": "short"}),
        )
        .await;
    assert_eq!(s, 400);
    let (s, v) = app
        .call(reqwest::Method::POST, "/api/v1/accounts", None, None)
        .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (400, Some("bad_request")),
        "missing body is a JSON 400"
    );
    let (uid, token) = app.user("alice").await;
    let (s, _) = app
        .post(
            "/api/v1/accounts",
            None,
            json!({"username": "ALICE", "password": "correct horse"}),
        )
        .await;
    assert_eq!(s, 409, "user names are case-insensitive");
    let (s, v) = app.get("/api/v1/me", Some(&token)).await;
    assert_eq!((s, v["id"].as_str()), (200, Some(uid.as_str())));
    let (s, _) = app.get("/api/v1/me", None).await;
    assert_eq!(s, 401);
    let (s, _) = app.get("/api/v1/me", Some("eyu_forged")).await;
    assert_eq!(s, 401);
    let (s, _) = app.post("/api/v1/logout", Some(&token), json!({})).await;
    assert_eq!(s, 204);
    let (s, _) = app.get("/api/v1/me", Some(&token)).await;
    assert_eq!(s, 401, "logged out token refused");
    // Rate limit: five failures, then 429 even with the right password.
    for _ in 0..5 {
        let (s, v) = app
            .post(
                "/api/v1/login",
                None,
                json!({"username": "alice", "password": "wrong one"}),
            )
            .await;
        assert_eq!((s, v["code"].as_str()), (401, Some("unauthorized")));
    }
    let (s, v) = app
        .post(
            "/api/v1/login",
            None,
            json!({"username": "alice", "password": "correct horse"}),
        )
        .await;
    assert_eq!((s, v["code"].as_str()), (429, Some("too_many_requests")));
}
both_backends!(accounts);

async fn user_first_setup(b: Backend) {
    let app = TestCloud::spawn(b).await;
    let (_, alice) = app.user("alice").await;
    let (_, bob) = app.user("bob").await;
    let (s, v) = app
        .post("/api/v1/devices", Some(&alice), json!({"name": "Porch"}))
        .await;
    assert_eq!(s, 201);
    assert_eq!(v["device"]["activated"], false);
    assert_eq!(v["device"]["channels"].as_array().unwrap().len(), 2);
    let code = v["activation_code"]
        .as_str()
        .unwrap()
        .to_lowercase()
        .replace('-', "");
    let (s, creds) = app
        .post("/api/v1/activate", None, json!({"activation_code": code}))
        .await;
    assert_eq!(
        s, 200,
        "codes are accepted in any case, without the dash: {creds}"
    );
    let id = creds["device_id"].as_str().unwrap().to_owned();
    assert_eq!(creds["name"], "Porch");
    assert_eq!(creds["mqtt"]["username"], id.as_str());
    assert_eq!(creds["mqtt"]["topic_prefix"], format!("eyrie/{id}"));
    assert!(
        creds.get("recording_key").is_none(),
        "the cloud makes no recording key: the camera makes its own (docs/keys.md): {creds}"
    );
    let (s, v) = app
        .post("/api/v1/activate", None, json!({"activation_code": code}))
        .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (410, Some("gone")),
        "credentials are given once"
    );
    let (s, _) = app
        .post(
            "/api/v1/activate",
            None,
            json!({"activation_code": "NOPE-NOPE"}),
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = app.post("/api/v1/activate", None, json!({})).await;
    assert_eq!(s, 400);
    let dev = creds["device_token"].as_str().unwrap();
    // The device sees itself; bob sees nothing; alice sees it online.
    let (s, v) = app.get(&format!("/api/v1/devices/{id}"), Some(dev)).await;
    assert_eq!((s, v["activated"].as_bool()), (200, Some(true)));
    let (s, _) = app.get(&format!("/api/v1/devices/{id}"), Some(&bob)).await;
    assert_eq!(s, 404);
    let (s, v) = app.get("/api/v1/devices", Some(&bob)).await;
    assert_eq!((s, v["devices"].as_array().map(Vec::len)), (200, Some(0)));
    let (s, v) = app.get("/api/v1/devices", Some(&alice)).await;
    assert_eq!(s, 200);
    assert_eq!(v["devices"][0]["online"], true);
    // Devices cannot list users' things; users cannot heartbeat.
    let (s, _) = app.get("/api/v1/devices", Some(dev)).await;
    assert_eq!(s, 403);
    // Rename, store mode, heartbeat.
    let (s, v) = app
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/devices/{id}"),
            Some(&alice),
            Some(json!({"name": " Garden "})),
        )
        .await;
    assert_eq!((s, v["name"].as_str()), (200, Some("Garden")));
    let (s, _) = app
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/devices/{id}"),
            Some(&alice),
            Some(json!({"name": ""})),
        )
        .await;
    assert_eq!(s, 400);
    let path = format!("/api/v1/devices/{id}/store-mode");
    let (s, v) = app.get(&path, Some(dev)).await;
    assert_eq!((s, v["store_mode"].as_str()), (200, Some("event")));
    let (s, _) = app
        .call(
            reqwest::Method::PUT,
            &path,
            Some(&alice),
            Some(json!({"store_mode": "sometimes"})),
        )
        .await;
    assert_eq!(s, 400);
    let (s, _) = app
        .call(
            reqwest::Method::PUT,
            &path,
            Some(&bob),
            Some(json!({"store_mode": "none"})),
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = app
        .call(
            reqwest::Method::PUT,
            &path,
            Some(&alice),
            Some(json!({"store_mode": "continuous"})),
        )
        .await;
    assert_eq!(s, 200);
    let (s, v) = app
        .post(
            &format!("/api/v1/devices/{id}/heartbeat"),
            Some(dev),
            json!({"dropped_segments": 3}),
        )
        .await;
    assert_eq!((s, v["store_mode"].as_str()), (200, Some("continuous")));
    assert!(v.get("snapshot_requested_ms").is_none(), "{v}");
    let (_, v) = app
        .get(&format!("/api/v1/devices/{id}"), Some(&alice))
        .await;
    assert_eq!(v["dropped_segments"], 3);
    // Snapshot requests: owner only, handed to the next heartbeat exactly once.
    let ask = format!("/api/v1/devices/{id}/snapshot-request");
    let (s, _) = app.post(&ask, Some(&bob), json!({})).await;
    assert_eq!(s, 404);
    let (s, _) = app.post(&ask, Some(dev), json!({})).await;
    assert_eq!(s, 403);
    let (s, v) = app.post(&ask, Some(&alice), json!({})).await;
    assert_eq!(s, 202, "{v}");
    let asked = v["requested_at_ms"].as_i64().expect("requested_at_ms");
    let beat = format!("/api/v1/devices/{id}/heartbeat");
    let (s, v) = app.post(&beat, Some(dev), json!({})).await;
    assert_eq!((s, v["snapshot_requested_ms"].as_i64()), (200, Some(asked)));
    let (s, v) = app.post(&beat, Some(dev), json!({})).await;
    assert_eq!(s, 200);
    assert!(
        v.get("snapshot_requested_ms").is_none(),
        "handed out once: {v}"
    );
    // Recording keys: owner and device see the camera's content key, never in the clear.
    for t in [&alice, dev] {
        let (s, v) = app
            .get(&format!("/api/v1/devices/{id}/keys"), Some(t))
            .await;
        assert_eq!(s, 200);
        assert_eq!(v["keys"][0]["key_id"], creds["recording_key"]["key_id"]);
        assert!(v["keys"][0].get("key").is_none(), "{v}");
    }
    let (s, _) = app
        .get(&format!("/api/v1/devices/{id}/keys"), Some(&bob))
        .await;
    assert_eq!(s, 404);
    // Delete: gone for everyone, device token dead.
    let (s, _) = app
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/devices/{id}"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = app
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/devices/{id}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (s, _) = app.get(&format!("/api/v1/devices/{id}"), Some(dev)).await;
    assert_eq!(s, 401);
}
both_backends!(user_first_setup);

async fn camera_first_pairing(b: Backend) {
    let app = TestCloud::spawn(b).await;
    let (_, alice) = app.user("alice").await;
    let (s, p) = app
        .call(reqwest::Method::POST, "/api/v1/pairings", None, None)
        .await;
    assert_eq!(s, 201, "{p}");
    let token = p["pairing_token"].as_str().unwrap();
    let code = p["code"].as_str().unwrap();
    assert_eq!(code.len(), 9);
    let (s, v) = app
        .post("/api/v1/activate", None, json!({"pairing_token": token}))
        .await;
    assert_eq!((s, v["status"].as_str()), (202, Some("pending")));
    let (s, _) = app
        .post(
            "/api/v1/devices/claim",
            Some(&alice),
            json!({"code": "ZZZZ-ZZZZ", "name": "x"}),
        )
        .await;
    assert_eq!(s, 404);
    let (s, d) = app
        .post(
            "/api/v1/devices/claim",
            Some(&alice),
            json!({"code": code, "name": "Kitchen"}),
        )
        .await;
    assert_eq!(s, 201, "{d}");
    let (s, _) = app
        .post(
            "/api/v1/devices/claim",
            Some(&alice),
            json!({"code": code, "name": "Again"}),
        )
        .await;
    assert_eq!(s, 410);
    let (s, creds) = app
        .post("/api/v1/activate", None, json!({"pairing_token": token}))
        .await;
    assert_eq!(s, 200, "{creds}");
    assert_eq!(creds["device_id"], d["id"]);
    assert_eq!(creds["name"], "Kitchen");
    let (s, _) = app
        .post("/api/v1/activate", None, json!({"pairing_token": token}))
        .await;
    assert_eq!(s, 410);
    let (s, _) = app
        .post(
            "/api/v1/activate",
            None,
            json!({"pairing_token": "made-up"}),
        )
        .await;
    assert_eq!(s, 404);
}
both_backends!(camera_first_pairing);

async fn tickets_and_ice(b: Backend) {
    let app = TestCloud::spawn_with(b, |c| {
        c.ice.stun_urls = vec!["stun:stun.example.net:3478".into()];
        c.ice.turn_urls = vec!["turn:turn.example.net:3478?transport=udp".into()];
        c.ice.turn_secret = Some("coturn-secret".into());
    })
    .await;
    let (uid, alice) = app.user("alice").await;
    let (_, bob) = app.user("bob").await;
    let creds = app.device(&alice, "Porch").await;
    let id = creds["device_id"].as_str().unwrap();
    let (s, t) = app
        .post(
            &format!("/api/v1/devices/{id}/tickets"),
            Some(&alice),
            json!({"ttl_secs": 60}),
        )
        .await;
    assert_eq!(s, 200, "{t}");
    let secret = creds["device_secret"].as_str().unwrap().as_bytes();
    let now = eyrie_protocol::clock::unix_secs() as u64;
    let claims = ticket::verify(t["ticket"].as_str().unwrap(), secret, id, now)
        .expect("camera accepts the ticket");
    assert_eq!(claims.user_id, uid);
    assert!(claims.exp <= now + 61);
    assert!(ticket::verify(t["ticket"].as_str().unwrap(), b"other secret", id, now).is_err());
    assert_eq!(t["mqtt"]["topic_prefix"], format!("eyrie/{id}"));
    let ice = t["ice_servers"].as_array().unwrap();
    assert_eq!(ice[0]["urls"][0], "stun:stun.example.net:3478");
    let user = ice[1]["username"].as_str().unwrap();
    assert!(user.ends_with(&format!(":{uid}")));
    {
        use hmac::Mac as _;
        let mut m = hmac::Hmac::<sha1::Sha1>::new_from_slice(b"coturn-secret").unwrap();
        m.update(user.as_bytes());
        use base64::Engine as _;
        let want = base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes());
        assert_eq!(
            ice[1]["credential"].as_str(),
            Some(want.as_str()),
            "coturn REST API form"
        );
    }
    let (s, _) = app
        .post(
            &format!("/api/v1/devices/{id}/tickets"),
            Some(&bob),
            json!({}),
        )
        .await;
    assert_eq!(s, 404);
    let dev = creds["device_token"].as_str().unwrap();
    let (s, _) = app
        .post(
            &format!("/api/v1/devices/{id}/tickets"),
            Some(dev),
            json!({}),
        )
        .await;
    assert_eq!(s, 403, "devices do not issue tickets");
    let (s, v) = app
        .get(&format!("/api/v1/devices/{id}/ice-servers"), Some(dev))
        .await;
    assert_eq!(
        (s, v["ice_servers"].as_array().map(Vec::len)),
        (200, Some(2))
    );
    // External-broker auth hook agrees with the embedded broker.
    let (s, _) = app
        .post(
            "/api/v1/mqtt/auth",
            None,
            json!({"username": creds["mqtt"]["username"], "password": creds["mqtt"]["password"]}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = app
        .post(
            "/api/v1/mqtt/auth",
            None,
            json!({"username": t["mqtt"]["username"], "password": t["mqtt"]["password"]}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = app
        .post(
            "/api/v1/mqtt/auth",
            None,
            json!({"username": creds["mqtt"]["username"], "password": "guess"}),
        )
        .await;
    assert_eq!(s, 403);
}
both_backends!(tickets_and_ice);

/// Connect to the embedded broker; true when the CONNECT is accepted.
async fn mqtt_login(addr: &str, user: &str, pass: &str, client_id: &str) -> bool {
    let hostport = addr.trim_start_matches("mqtt://");
    let (host, port) = hostport.rsplit_once(':').unwrap();
    let mut opts = rumqttc::MqttOptions::new(client_id, host, port.parse().unwrap());
    opts.set_credentials(user, pass);
    let (_client, mut ev) = rumqttc::AsyncClient::new(opts, 10);
    let res = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            match ev.poll().await {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(a))) => {
                    return a.code == rumqttc::ConnectReturnCode::Success;
                }
                Ok(_) => continue,
                Err(_) => return false,
            }
        }
    })
    .await;
    res.unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_broker_checks_logins() {
    let app = TestCloud::spawn(Backend::Sqlite).await;
    let (_, alice) = app.user("alice").await;
    let creds = app.device(&alice, "Porch").await;
    let m = &creds["mqtt"];
    let (u, p, c) = (
        m["username"].as_str().unwrap(),
        m["password"].as_str().unwrap(),
        m["client_id"].as_str().unwrap(),
    );
    assert!(
        mqtt_login(&app.mqtt, u, p, c).await,
        "device login accepted"
    );
    assert!(
        !mqtt_login(&app.mqtt, u, "wrong", "x1").await,
        "wrong password refused"
    );
    let id = creds["device_id"].as_str().unwrap();
    let (_, t) = app
        .post(
            &format!("/api/v1/devices/{id}/tickets"),
            Some(&alice),
            json!({}),
        )
        .await;
    let m = &t["mqtt"];
    assert!(
        mqtt_login(
            &app.mqtt,
            m["username"].as_str().unwrap(),
            m["password"].as_str().unwrap(),
            m["client_id"].as_str().unwrap()
        )
        .await
    );
    assert!(
        !mqtt_login(
            &app.mqtt,
            "viewer-nobody",
            m["password"].as_str().unwrap(),
            "x2"
        )
        .await
    );
}
