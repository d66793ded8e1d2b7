//! The WHEP endpoint against the real cloud and a real camera, from a plain HTTP client:
//! every refusal with its documented status, nothing changed by a refused request,
//! a second account that tries to read, write, replay and flood, and "busy" when our own
//! viewers fill the camera.

mod whep_support;

use std::time::Duration;

use reqwest::Method;
use whep_support::{CHROMIUM_OFFER, world, world_with};

/// Wait until the camera holds `n` sessions (it frees a session asynchronously).
async fn camera_settles(w: &whep_support::World, n: usize, when: &str) {
    for _ in 0..100 {
        if w.camera_sessions() == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(w.camera_sessions(), n, "camera sessions {when}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whep_session_and_every_refusal() {
    let w = world(2, true).await;
    let me = Some(w.token.as_str());

    // Malformed requests: clear 4xx, and the camera is never asked.
    let r = w
        .post(w.device, None, "application/sdp", CHROMIUM_OFFER)
        .await;
    assert_eq!(r.status(), 401);
    let r = w
        .post(
            w.device,
            Some(&w.creds.token),
            "application/sdp",
            CHROMIUM_OFFER,
        )
        .await;
    assert_eq!(r.status(), 403, "a device's token is not a viewer's");
    let r = w
        .post(w.device, me, "application/json", CHROMIUM_OFFER)
        .await;
    assert_eq!(r.status(), 415);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("application/sdp"),
        "{body}"
    );
    let r = w.post(w.device, me, "application/sdp", "hello").await;
    assert_eq!(r.status(), 400);
    let no_fp = CHROMIUM_OFFER.replace("a=fingerprint:", "a=x-fingerprint:");
    let r = w.post(w.device, me, "application/sdp", &no_fp).await;
    assert_eq!(r.status(), 400);
    let r = w
        .cloud
        .http
        .post(format!("{}?stream=4k", w.whep_url(w.device)))
        .bearer_auth(&w.token)
        .header("content-type", "application/sdp")
        .body(CHROMIUM_OFFER)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = w
        .post(uuid::Uuid::new_v4(), me, "application/sdp", CHROMIUM_OFFER)
        .await;
    assert_eq!(r.status(), 404);
    assert_eq!(w.camera_sessions(), 0);

    // A session: 201, the answer as SDP with the camera's candidates, Location, ETag.
    let r = w
        .post(
            w.device,
            me,
            "application/sdp; charset=utf-8",
            CHROMIUM_OFFER,
        )
        .await;
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    let h = r.headers().clone();
    assert_eq!(h["content-type"], "application/sdp");
    let location = h["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("/api/v1/whep/") && location.len() > 30,
        "{location}"
    );
    let etag = h["etag"].to_str().unwrap().to_owned();
    assert!(
        h["server-timing"]
            .to_str()
            .unwrap()
            .starts_with("cloud;dur=")
    );
    let answer = r.text().await.unwrap();
    assert!(answer.starts_with("v=0"), "{answer}");
    assert!(
        answer.contains("a=candidate:"),
        "camera candidates in the answer: {answer}"
    );
    assert!(answer.contains("H264/90000"), "{answer}");
    assert!(answer.to_lowercase().contains("opus/48000"), "{answer}");
    assert_eq!(w.camera_sessions(), 1);
    assert_eq!(w.cloud.state.whep.session_count(), 1);

    // The second account: the device and the session do not exist for it.
    let (_, bob) = w.cloud.user("bob").await;
    let bob_s = Some(bob.as_str());
    let r = w
        .post(w.device, bob_s, "application/sdp", CHROMIUM_OFFER)
        .await;
    assert_eq!(r.status(), 404);
    let frag = "a=ice-ufrag:x\r\na=mid:0\r\na=candidate:1 1 udp 1 127.0.0.1 9 typ host\r\n";
    let sdpfrag = [("content-type", "application/trickle-ice-sdpfrag")];
    let r = w.call(Method::PATCH, &location, &bob, &sdpfrag, frag).await;
    assert_eq!(r.status(), 404);
    let r = w.call(Method::DELETE, &location, &bob, &[], "").await;
    assert_eq!(r.status(), 404);
    // Bob floods: every POST refused alike, and none reaches the camera.
    for _ in 0..30 {
        let r = w
            .post(w.device, bob_s, "application/sdp", CHROMIUM_OFFER)
            .await;
        assert_eq!(r.status(), 404);
    }
    assert_eq!(w.camera_sessions(), 1);
    assert_eq!(w.cloud.state.whep.session_count(), 1);

    // The owner's PATCH: type, If-Match, ICE restart, then a real one.
    let ufrag = CHROMIUM_OFFER
        .lines()
        .find_map(|l| l.strip_prefix("a=ice-ufrag:"))
        .unwrap()
        .trim();
    let good = format!(
        "a=ice-ufrag:{ufrag}\r\na=ice-pwd:whatever\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\na=candidate:1 1 udp 2122260223 127.0.0.1 40000 typ host\r\na=end-of-candidates\r\n"
    );
    let r = w.call(Method::PATCH, &location, &w.token, &[], &good).await;
    assert_eq!(r.status(), 415);
    let r = w
        .call(
            Method::PATCH,
            &location,
            &w.token,
            &[sdpfrag[0], ("if-match", "\"stale\"")],
            &good,
        )
        .await;
    assert_eq!(r.status(), 412);
    let restart = good.replace(ufrag, "newufrag");
    let r = w
        .call(Method::PATCH, &location, &w.token, &sdpfrag, &restart)
        .await;
    assert_eq!(r.status(), 422);
    let r = w
        .call(Method::PATCH, &location, &w.token, &sdpfrag, "a=mid:99\r\n")
        .await;
    assert_eq!(r.status(), 400);
    let r = w
        .call(
            Method::PATCH,
            &location,
            &w.token,
            &[sdpfrag[0], ("if-match", etag.as_str())],
            &good,
        )
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(w.camera_sessions(), 1);
    // The owner floods candidates: a budget per session, then 429, and the session lives.
    let many: String = (0..31)
        .map(|i| {
            format!(
                "a=candidate:{i} 1 udp 1 127.0.0.1 {} typ host\r\n",
                40000 + i
            )
        })
        .collect();
    let mut flood = Vec::new();
    for _ in 0..4 {
        let r = w
            .call(Method::PATCH, &location, &w.token, &sdpfrag, &many)
            .await;
        flood.push(r.status().as_u16());
    }
    assert_eq!(
        flood,
        [204, 204, 429, 429],
        "2 + 2 × 31 = 64 relayed, then full"
    );
    assert_eq!(w.camera_sessions(), 1);

    // DELETE ends it on the camera too; the id is dead afterwards (a replay is 404).
    let r = w.call(Method::DELETE, &location, &w.token, &[], "").await;
    assert_eq!(r.status(), 200);
    camera_settles(&w, 0, "#1").await;
    assert_eq!(w.cloud.state.whep.session_count(), 0);
    let r = w.call(Method::DELETE, &location, &w.token, &[], "").await;
    assert_eq!(r.status(), 404);
    let r = w
        .call(Method::PATCH, &location, &w.token, &sdpfrag, &good)
        .await;
    assert_eq!(r.status(), 404);

    // The owner floods: the camera's limit (2) answers busy, then the POST budget 429.
    let mut codes = Vec::new();
    let mut opened = Vec::new();
    for _ in 0..24 {
        let r = w
            .post(w.device, me, "application/sdp", CHROMIUM_OFFER)
            .await;
        codes.push(r.status().as_u16());
        match r.status().as_u16() {
            201 => opened.push(r.headers()["location"].to_str().unwrap().to_owned()),
            503 | 429 => assert!(r.headers().contains_key("retry-after"), "{codes:?}"),
            s => panic!("unexpected {s}: {codes:?}"),
        }
    }
    assert_eq!(opened.len(), 2, "{codes:?}");
    assert!(codes.contains(&503) && codes.contains(&429), "{codes:?}");
    assert!(w.camera_sessions() <= 2);
    for l in &opened {
        let r = w.call(Method::DELETE, l, &w.token, &[], "").await;
        assert_eq!(r.status(), 200);
    }
    camera_settles(&w, 0, "#2").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_when_our_viewers_fill_the_camera() {
    let w = world(1, true).await;
    gstreamer::init().unwrap();
    let (s, t) = w
        .cloud
        .post(
            &format!("/api/v1/devices/{}/tickets", w.device),
            Some(&w.token),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(s, 200, "{t}");
    let ticket: eyrie_protocol::api::TicketResponse = serde_json::from_value(t).unwrap();
    let sink = gstreamer::ElementFactory::make("fakesink").build().unwrap();
    let (viewer, mut rx) = eyrie_client::live::LiveViewer::connect(
        eyrie_client::live::ViewerConfig::new(ticket, sink),
    )
    .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(eyrie_client::live::ViewerEvent::FirstFrame { .. })) => break,
            Ok(Some(eyrie_client::live::ViewerEvent::Error(e))) => panic!("{e}"),
            Ok(Some(_)) => {}
            _ => panic!("our viewer plays"),
        }
    }
    assert_eq!(w.camera_sessions(), 1);
    let r = w
        .post(w.device, Some(&w.token), "application/sdp", CHROMIUM_OFFER)
        .await;
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "5");
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("busy"), "{body}");
    assert_eq!(w.cloud.state.whep.session_count(), 0);
    viewer.close().await;
    camera_settles(&w, 0, "#3").await;
    let r = w
        .post(w.device, Some(&w.token), "application/sdp", CHROMIUM_OFFER)
        .await;
    assert_eq!(r.status(), 201, "free again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_camera_is_504() {
    let w = world(1, false).await;
    let t = std::time::Instant::now();
    let r = w
        .post(w.device, Some(&w.token), "application/sdp", CHROMIUM_OFFER)
        .await;
    assert_eq!(r.status(), 504);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["message"], "camera offline");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert_eq!(w.cloud.state.whep.session_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_player_on_another_origin_may_call_and_read_the_whep_headers() {
    // A browser's preflight, then the refusal a player on another origin must be able to
    // read (the camera is offline: no media needed to see the headers).
    let w = world(1, false).await;
    let r = w
        .cloud
        .http
        .request(Method::OPTIONS, w.whep_url(w.device))
        .header("origin", "https://dashboard.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "preflight: {}", r.status());
    let h = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_ascii_lowercase())
            .unwrap_or_default()
    };
    assert_eq!(h(&r, "access-control-allow-origin"), "*");
    assert!(h(&r, "access-control-allow-methods").contains("post"));
    assert!(h(&r, "access-control-allow-headers").contains("authorization"));
    let r = w
        .cloud
        .http
        .post(w.whep_url(w.device))
        .header("origin", "https://dashboard.example")
        .header("content-type", "application/sdp")
        .bearer_auth(&w.token)
        .body(CHROMIUM_OFFER)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 504);
    assert_eq!(h(&r, "access-control-allow-origin"), "*");
    let exposed = h(&r, "access-control-expose-headers");
    for name in ["location", "link", "etag", "retry-after"] {
        assert!(exposed.contains(name), "{name} not exposed: {exposed}");
    }
    // The preflight opened nothing and let nobody in without the token.
    assert_eq!(w.cloud.state.whep.session_count(), 0);
    let r = w
        .post(w.device, None, "application/sdp", CHROMIUM_OFFER)
        .await;
    assert_eq!(r.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ice_servers_come_back_as_link_headers() {
    let w = world_with(2, true, |c| {
        c.ice.stun_urls = vec!["stun:127.0.0.1:3478".into()];
        c.ice.turn_urls = vec!["turn:127.0.0.1:3478?transport=udp".into()];
        c.ice.turn_secret = Some("coturn-secret".into());
    })
    .await;
    let r = w
        .post(w.device, Some(&w.token), "application/sdp", CHROMIUM_OFFER)
        .await;
    assert_eq!(r.status(), 201);
    let links: Vec<String> = r
        .headers()
        .get_all("link")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(links.len(), 2, "{links:?}");
    assert_eq!(links[0], "<stun:127.0.0.1:3478>; rel=\"ice-server\"");
    let turn = &links[1];
    assert!(
        turn.starts_with("<turn:127.0.0.1:3478?transport=udp>; rel=\"ice-server\"; username=\""),
        "{turn}"
    );
    assert!(
        turn.contains("; credential=\"") && turn.ends_with("credential-type=\"password\""),
        "{turn}"
    );
    // The TURN user name is the coturn REST form for the caller: "<expiry>:<user id>".
    let user = turn
        .split("username=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let (exp, _who) = user.split_once(':').unwrap();
    assert!(exp.parse::<i64>().unwrap() > eyrie_protocol::clock::unix_secs());
    let loc = r.headers()["location"].to_str().unwrap().to_owned();
    let r = w.call(Method::DELETE, &loc, &w.token, &[], "").await;
    assert_eq!(r.status(), 200);
}
