//! The web viewer (`docs/web-viewer.md`) in Debian's headless Chromium, against a real
//! `eyrie cloud` (in this process) and a real `eyrie camera --source test` process that
//! records continuously: sign in; the browser asks to be admitted and shows its
//! fingerprint, which must equal the one the Rust reference computes from the key it
//! posted; an installation of the account admits it; the camera list shows the camera
//! online with its latest picture decrypted in the browser; keyboard-only navigation
//! reaches the camera; a snapshot asked from the page arrives and opens; a recording
//! decrypted in the browser plays (the pixel clock is read off the `<video>` through a
//! canvas and lies inside the recording); a recording with one byte flipped in the object
//! store is refused with a visible message. Screenshots of every page at desktop
//! (1280×800) and phone (390×844) sizes go to `data/screenshots/web-*.png`.
//!
//! Live view goes through `live.js` (the WHEP module): when the cloud serves it, the
//! camera page must reach the "playing" stage with a decoded frame; when it does not, the
//! page must say live view is not available.
//!
//! A second account signed in the browser sees none of the first account's cameras or
//! recordings and gets 404 for every one of them asked by URL.

mod web_support;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use eyrie_client::api::ApiClient;
use eyrie_testkit::e2e::TestViewer;
use eyrie_testkit::{Backend, TestCloud};
use serde_json::{Value, json};
use web_support::{Browser, ENTER, READ_PIXEL_CLOCK, TAB};

const DESKTOP: (u32, u32) = (1280, 800);
const PHONE: (u32, u32) = (390, 844);

struct Camera(std::process::Child);
impl Drop for Camera {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn shot(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("data/screenshots/web-{name}.png"))
}

fn now_ms() -> i64 {
    eyrie_protocol::clock::unix_ms()
}

/// `alice` with a viewer installation and a camera process recording continuously
/// (3-second segments) on `cloud`.
async fn recording_camera(
    cloud: &TestCloud,
) -> (ApiClient, TestViewer, uuid::Uuid, Camera, tempfile::TempDir) {
    let user = cloud.account("alice").await;
    let viewer = TestViewer::new(&user).await.expect("viewer installation");
    let created = user.create_device("Porch").await.expect("device");
    let device = created.device.id;
    user.set_store_mode(device, eyrie_protocol::api::RecordingPolicy::Continuous)
        .await
        .expect("continuous");
    let code = viewer.pairing_code_for(device, &created.activation_code);
    let state = tempfile::tempdir().expect("state dir");
    let camera = Camera(
        Command::new(env!("CARGO_BIN_EXE_eyrie"))
            .args(["camera", "--cloud", &cloud.base, "--source", "test"])
            .args([
                "--speaker",
                "none",
                "--fps",
                "15",
                "--keyframe-interval",
                "1",
            ])
            .args(["--segment-secs", "3", "--store-mode-poll", "1"])
            .args(["--motion-sensitivity", "0"])
            .arg("--state-dir")
            .arg(state.path())
            .args(["--activation-code", &code])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("eyrie camera starts"),
    );
    (user, viewer, device, camera, state)
}

async fn main_channel(user: &ApiClient, device: uuid::Uuid) -> uuid::Uuid {
    let d = user.device(device).await.expect("device");
    d.channels
        .iter()
        .find(|c| c.kind == eyrie_protocol::api::ChannelKind::Main)
        .expect("main channel")
        .id
}

/// Complete recordings of `channel` in the last hour (JSON, as the API lists them).
async fn recordings(cloud: &TestCloud, token: &str, channel: uuid::Uuid) -> Vec<Value> {
    let now = now_ms();
    let (s, v) = cloud
        .get(
            &format!(
                "/api/v1/channels/{channel}/recordings?start_ms={}&end_ms={}",
                now - 3_600_000,
                now + 1000
            ),
            Some(token),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    v["recordings"].as_array().cloned().unwrap_or_default()
}

/// Where the embedded store keeps the object behind a presigned URL.
fn object_file(cloud: &TestCloud, presigned_url: &str) -> PathBuf {
    let path = url::Url::parse(presigned_url)
        .expect("url")
        .path()
        .to_owned();
    cloud
        .dir
        .path()
        .join("objects")
        .join(path.trim_start_matches('/'))
}

async fn sign_in(b: &Browser, base: &str, user: &str) {
    b.goto(&format!("{base}/")).await;
    b.wait(
        "document.querySelector('#username')",
        Duration::from_secs(15),
    )
    .await;
    b.type_into("#username", user).await;
    b.type_into("#password", eyrie_testkit::cloud::PASSWORD)
        .await;
    b.press(ENTER).await;
    b.wait(
        "location.hash === '#/cameras' && document.querySelector('#cameras[aria-busy=false]')",
        Duration::from_secs(20),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_viewer_signs_in_is_admitted_plays_recordings_and_refuses_tampering() {
    let cloud = TestCloud::spawn(Backend::Sqlite).await;
    let (user, viewer, device, _camera, _state) = recording_camera(&cloud).await;
    let token = user.token().expect("token").to_owned();
    let channel = main_channel(&user, device).await;

    // The camera activates, passes its pairing check and records three segments.
    let t0 = std::time::Instant::now();
    while recordings(&cloud, &token, channel).await.len() < 4 {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "the camera records"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let b = Browser::start(DESKTOP.0, DESKTOP.1).await;
    b.goto(&format!("{}/", cloud.base)).await;
    b.wait(
        "document.querySelector('#username')",
        Duration::from_secs(15),
    )
    .await;
    b.screenshot(&shot("signin-desktop")).await;

    // A wrong password is refused with a message, and nothing else happens.
    b.type_into("#username", "alice").await;
    b.type_into("#password", "not the password").await;
    b.press(ENTER).await;
    let msg = b
        .wait(
            "document.querySelector('#signin-error').textContent",
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(msg, json!("Wrong user name or password."));
    assert_eq!(
        b.js("return localStorage.length", json!([])).await,
        json!(0)
    );

    sign_in(&b, &cloud.base, "alice").await;

    // Not admitted yet: the page shows a fingerprint, and the request the browser posted
    // carries a key whose fingerprint (computed by the Rust reference) is the same.
    let shown = b
        .wait(
            "document.querySelector('#admission .fp')?.textContent",
            Duration::from_secs(20),
        )
        .await;
    let shown = shown.as_str().expect("fingerprint").to_owned();
    let requests = viewer.api.installations().await.expect("requests");
    let request = requests
        .installations
        .iter()
        .find(|i| i.public.fingerprint().ok().as_deref() == Some(shown.as_str()))
        .unwrap_or_else(|| panic!("no request with fingerprint {shown}: {requests:?}"))
        .clone();
    assert_eq!(requests.installations.len(), 1);
    assert!(request.name.starts_with("Web browser"), "{}", request.name);
    assert_eq!(request.id, request.public.id().unwrap());

    // Locked: the thumbnail does not open before admission.
    b.wait(
        "document.querySelector('.thumb-box .placeholder')?.textContent.match(/locked|No picture/)",
        Duration::from_secs(20),
    )
    .await;

    b.screenshot(&shot("cameras-locked-desktop")).await;

    // The existing installation compares the fingerprint and admits the browser.
    eyrie_client::api::keys::admit_installation(&viewer.api, &viewer.set, &viewer.me, &request)
        .await
        .expect("admit the browser");
    b.goto(&format!("{}/#/browser", cloud.base)).await;
    b.wait(
        "document.querySelector('#admission-state')?.dataset.state === 'admitted'",
        Duration::from_secs(20),
    )
    .await;
    let fp = b
        .js(
            "return document.querySelector('#fingerprint').textContent",
            json!([]),
        )
        .await;
    assert_eq!(fp, json!(shown));
    b.screenshot(&shot("browser-desktop")).await;

    // A fresh picture from the camera, so the list has a thumbnail to decrypt.
    let asked = user
        .request_snapshot(device)
        .await
        .expect("snapshot request");
    let t0 = std::time::Instant::now();
    loop {
        // Taken at the first keyframe after the ask — or, on a host so busy that none
        // comes in time, the newest one before it (the camera says so in its log).
        let list = user
            .snapshots(channel, asked.requested_at_ms - 10_000, now_ms() + 60_000)
            .await
            .expect("snapshots");
        if !list.snapshots.is_empty() {
            break;
        }
        // Snapshots queue behind segments in the camera's spool: generous on a busy host.
        assert!(
            t0.elapsed() < Duration::from_secs(90),
            "the camera sends a snapshot"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // The list: online, with the latest picture opened in the browser.
    b.goto(&format!("{}/#/cameras", cloud.base)).await;
    b.js("location.reload()", json!([])).await;
    let thumb = b
        .wait(
            "(() => { const i = document.querySelector('img.thumb'); \
             return i && i.complete && i.naturalWidth > 0 && i.src.startsWith('blob:') \
             && [i.naturalWidth, i.naturalHeight, i.alt]; })()",
            Duration::from_secs(20),
        )
        .await;
    assert!(thumb[0].as_u64().unwrap() >= 320, "{thumb}");
    assert!(
        thumb[2]
            .as_str()
            .unwrap()
            .starts_with("Latest picture from Porch"),
        "{thumb}"
    );
    assert_eq!(
        b.js(
            "return document.querySelector('.badge').dataset.online",
            json!([])
        )
        .await,
        json!("true")
    );
    assert_eq!(
        b.js("return document.querySelector('#admission')", json!([]))
            .await,
        Value::Null,
        "no admission banner once admitted"
    );
    b.screenshot(&shot("cameras-desktop")).await;

    // Keyboard only: from the top of the page, Tab until the camera has the focus (with a
    // visible focus ring), then Enter opens it.
    b.js(
        "document.activeElement?.blur(); window.scrollTo(0, 0)",
        json!([]),
    )
    .await;
    let mut reached = false;
    for _ in 0..12 {
        b.press(TAB).await;
        let on = b
            .js(
                "const a = document.activeElement; return a && a.matches('a.camera') \
                 && [getComputedStyle(a).outlineStyle, getComputedStyle(a).outlineWidth];",
                json!([]),
            )
            .await;
        if on.is_array() {
            assert_eq!(on[0], json!("solid"), "a visible focus ring: {on}");
            reached = true;
            break;
        }
    }
    assert!(reached, "Tab reaches the camera");
    b.press(ENTER).await;
    b.wait(
        &format!("location.hash === '#/camera/{device}' && document.querySelector('h1')?.textContent === 'Porch'"),
        Duration::from_secs(10),
    )
    .await;

    // Live view, through live.js when this cloud serves it.
    let live_js = cloud
        .http
        .get(format!("{}/web/live.js", cloud.base))
        .send()
        .await
        .expect("live.js")
        .status();
    if live_js.is_success() {
        b.wait(
            "document.querySelector('#stage').dataset.stage === 'playing'",
            Duration::from_secs(20),
        )
        .await;
        let frame = b
            .wait(
                &format!("(() => {{ const f = (function() {{ {READ_PIXEL_CLOCK} }}).call(null, '#live'); return f && f.clock && f; }})()"),
                Duration::from_secs(10),
            )
            .await;
        let age = now_ms() - frame["clock"].as_i64().unwrap();
        assert!(
            (0..3000).contains(&age),
            "a live frame: {frame}, {age} ms old"
        );
    } else {
        b.wait(
            "document.querySelector('#stage').textContent === 'Live view is not available from this server.'",
            Duration::from_secs(10),
        )
        .await;
        assert_eq!(
            b.js("return document.querySelector('#talk').disabled", json!([]))
                .await,
            json!(true)
        );
    }

    // A snapshot asked from the page arrives and opens.
    b.click("#snapshot").await;
    b.wait(
        "(() => { const i = document.querySelector('#snapshot-figure img'); \
         return i && i.complete && i.naturalWidth > 0; })()",
        Duration::from_secs(70),
    )
    .await;

    // A recording plays: decrypted in the browser, decoded, and its pixel clock lies
    // within the recording's time range.
    b.wait(
        "document.querySelectorAll('#recordings button.rec').length >= 4",
        Duration::from_secs(15),
    )
    .await;
    // The page lists newest first, as it found them when it opened.
    let shown = b
        .js(
            "return [...document.querySelectorAll('#recordings button.rec')].map((b) => b.dataset.recording)",
            json!([]),
        )
        .await;
    let listed = recordings(&cloud, &token, channel).await;
    let by_id = |i: usize| {
        let id = shown[i].as_str().unwrap();
        listed
            .iter()
            .find(|r| r["id"] == json!(id))
            .expect("listed")
            .clone()
    };
    // Playing goes on to newer segments, so the one to tamper with is older than the one
    // played, and it is changed before the page has fetched anything.
    let (good, bad) = (by_id(2), by_id(3));
    let file = object_file(&cloud, bad["download"]["url"].as_str().unwrap());
    let mut bytes = std::fs::read(&file).expect("the stored segment");
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(&file, &bytes).expect("tamper");
    let good_id = good["id"].as_str().unwrap();
    b.click(&format!("button[data-recording='{good_id}']"))
        .await;
    let frame = b
        .wait(
            &format!("(() => {{ const f = (function() {{ {READ_PIXEL_CLOCK} }}).apply(null, ['#playback']); return f && f.clock && f; }})()"),
            Duration::from_secs(20),
        )
        .await;
    let clock = frame["clock"].as_i64().unwrap();
    let (start, end) = (
        good["start_ms"].as_i64().unwrap(),
        good["end_ms"].as_i64().unwrap(),
    );
    assert!(
        clock >= start - 1500 && clock <= end + 1500,
        "the frame shown ({clock}) belongs to the recording [{start}, {end}): {frame}"
    );
    assert!(
        frame["spread"].as_f64().unwrap() > 100.0,
        "a picture: {frame}"
    );
    assert!(frame["width"].as_u64().unwrap() >= 640, "{frame}");
    b.wait(
        "document.querySelector('#playback').currentTime > 0.5",
        Duration::from_secs(15),
    )
    .await;
    assert_eq!(
        b.js(
            "return document.querySelector('#playback-error').hidden",
            json!([])
        )
        .await,
        json!(true)
    );
    let audio = b
        .js(
            "return document.querySelector('#playback').webkitAudioDecodedByteCount",
            json!([]),
        )
        .await;
    eprintln!("recording playback: frame {frame}, audio bytes decoded {audio}");
    b.screenshot(&shot("camera-desktop")).await;

    // The segment with one byte flipped in the object store: the browser refuses it,
    // says so, and shows none of it.
    let bad_id = bad["id"].as_str().unwrap();
    b.click(&format!("button[data-recording='{bad_id}']")).await;
    let msg = b
        .wait(
            "(() => { const m = document.querySelector('#playback-error'); return !m.hidden && m.textContent; })()",
            Duration::from_secs(20),
        )
        .await;
    let msg = msg.as_str().unwrap();
    assert!(msg.contains("failed its integrity check"), "{msg}");
    assert!(msg.contains("was not played"), "{msg}");
    let state = b
        .js(
            "const v = document.querySelector('#playback'); return [v.readyState, v.videoWidth];",
            json!([]),
        )
        .await;
    assert_eq!(
        state,
        json!([0, 0]),
        "nothing of the tampered segment is shown"
    );
    b.screenshot(&shot("camera-tampered-desktop")).await;

    // Phone size: every page, one column, nothing wider than the screen.
    b.resize(PHONE.0, PHONE.1).await;
    for (hash, name) in [
        ("#/cameras", "cameras-phone"),
        (&*format!("#/camera/{device}"), "camera-phone"),
        ("#/browser", "browser-phone"),
    ] {
        b.goto(&format!("{}/{hash}", cloud.base)).await;
        b.js("location.reload()", json!([])).await;
        b.wait("document.querySelector('main h1')", Duration::from_secs(10))
            .await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let wide = b
            .js("return document.documentElement.scrollWidth", json!([]))
            .await;
        assert!(
            wide.as_u64().unwrap() <= u64::from(PHONE.0),
            "{name}: {wide} px wide"
        );
        b.screenshot(&shot(name)).await;
    }
    b.click("#signout").await;
    b.wait(
        "document.querySelector('#username')",
        Duration::from_secs(10),
    )
    .await;
    b.screenshot(&shot("signin-phone")).await;
    // Signed out means the token is gone from the browser and dead at the cloud.
    assert_eq!(
        b.js("return localStorage.getItem('eyrie.token')", json!([]))
            .await,
        Value::Null
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_account_in_the_browser_sees_and_fetches_nothing_of_the_first() {
    let cloud = TestCloud::spawn(Backend::Sqlite).await;
    let (_, alice) = cloud.user("alice").await;
    let creds = cloud.device(&alice, "Porch").await;
    let device = creds["device_id"].as_str().unwrap().to_owned();
    let channel = creds["channels"]["main"].as_str().unwrap().to_owned();
    let now = now_ms();
    let rec = cloud
        .segment(&creds, now - 30_000, now - 1000, b"sealed bytes of alice")
        .await;
    let (_, mallory) = cloud.user("mallory").await;
    let _ = mallory;

    let b = Browser::start(DESKTOP.0, DESKTOP.1).await;
    sign_in(&b, &cloud.base, "mallory").await;
    b.wait(
        "document.querySelector('#cameras .empty')?.textContent === 'No cameras yet. Add one from the Eyrie app.'",
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(
        b.js(
            "return document.querySelectorAll('#cameras a.camera').length",
            json!([])
        )
        .await,
        json!(0)
    );

    // The camera page by URL: not found, nothing of it shown.
    b.goto(&format!("{}/#/camera/{device}", cloud.base)).await;
    b.js("location.reload()", json!([])).await;
    b.wait(
        "document.querySelector('h1')?.textContent === 'Camera not found'",
        Duration::from_secs(10),
    )
    .await;
    assert!(
        !b.js("return document.body.innerText", json!([]))
            .await
            .as_str()
            .unwrap()
            .contains("Porch")
    );

    // Everything of alice's asked with mallory's session from the page: 404, and the
    // writes (a snapshot request, a wrap, a replayed key set) change nothing.
    let probe = r#"
const [paths, done] = [arguments[0], arguments[arguments.length - 1]];
const token = localStorage.getItem('eyrie.token');
Promise.all(paths.map(([m, p, body]) => fetch('/api/v1' + p, {
  method: m, headers: { authorization: 'Bearer ' + token, 'content-type': 'application/json' },
  body: body === null ? undefined : JSON.stringify(body),
}).then((r) => r.status))).then(done, (e) => done(String(e)));
"#;
    let wrap = json!({"wraps": [{"viewer_key_id": "0011223344556677",
        "enc": "A".repeat(43), "ct": "A".repeat(64)}]});
    let paths = json!([
        ["GET", format!("/devices/{device}"), null],
        ["GET", format!("/devices/{device}/keys"), null],
        ["GET", format!("/devices/{device}/keyset"), null],
        [
            "GET",
            format!(
                "/channels/{channel}/recordings?start_ms={}&end_ms={}",
                now - 3_600_000,
                now
            ),
            null
        ],
        [
            "GET",
            format!(
                "/channels/{channel}/snapshots?start_ms={}&end_ms={}",
                now - 3_600_000,
                now
            ),
            null
        ],
        ["POST", format!("/devices/{device}/snapshot-request"), {}],
        [
            "POST",
            format!(
                "/devices/{device}/content-keys/{}/wraps",
                creds["recording_key"]["key_id"].as_str().unwrap()
            ),
            wrap
        ],
        ["POST", format!("/devices/{device}/tickets"), {}],
    ]);
    let statuses = b.js_async(probe, json!([paths])).await;
    assert_eq!(statuses, json!([404, 404, 404, 404, 404, 404, 404, 404]));

    // A flood of installation requests from mallory's page lands in mallory's account
    // (bounded there) and never in alice's.
    let flood = r#"
const done = arguments[arguments.length - 1];
const token = localStorage.getItem('eyrie.token');
const b64 = (b) => btoa(String.fromCharCode(...new Uint8Array(b))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
(async () => {
  const out = [];
  for (let i = 0; i < 18; i++) {
    const x = await crypto.subtle.generateKey({ name: 'X25519' }, true, ['deriveBits']);
    const e = await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify']);
    const pub = { x25519: b64(await crypto.subtle.exportKey('raw', x.publicKey)),
                  ed25519: b64(await crypto.subtle.exportKey('raw', e.publicKey)) };
    const r = await fetch('/api/v1/installations', { method: 'POST',
      headers: { authorization: 'Bearer ' + token, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Flood ' + i, public: pub }) });
    out.push(r.status);
  }
  return out;
})().then(done, (e) => done(String(e)));
"#;
    let statuses = b.js_async(flood, json!([])).await;
    let statuses: Vec<u64> =
        serde_json::from_value(statuses.clone()).unwrap_or_else(|_| panic!("statuses: {statuses}"));
    assert!(
        statuses.iter().all(|s| [201, 409].contains(s)),
        "{statuses:?}"
    );
    assert!(statuses.contains(&409), "bounded: {statuses:?}");

    // Nothing of it reached alice: her requests list is empty.
    let (s, v) = cloud.get("/api/v1/installations", Some(&alice)).await;
    assert_eq!(s, 200);
    assert_eq!(v["installations"], json!([]), "{v}");

    // Alice's recording is untouched and still hers.
    let (s, v) = cloud
        .get(
            &format!(
                "/api/v1/channels/{channel}/recordings?start_ms={}&end_ms={}",
                now - 3_600_000,
                now
            ),
            Some(&alice),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(v["recordings"][0]["id"], json!(rec));
    let (s, v) = cloud
        .get(&format!("/api/v1/devices/{device}"), Some(&alice))
        .await;
    assert_eq!(s, 200);
    assert!(v.get("snapshot_requested_ms").is_none(), "{v}");
}

#[tokio::test]
async fn the_cloud_serves_the_app_to_browsers_only_and_its_files_with_a_strict_policy() {
    let cloud = TestCloud::spawn(Backend::Sqlite).await;
    let get = |path: &str, accept: &str| {
        cloud
            .http
            .get(format!("{}{path}", cloud.base))
            .header("accept", accept)
            .send()
    };
    let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    let r = get("/", browser).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(r.text().await.unwrap().contains("/web/app.js"));

    // Scripts and API clients: the JSON 404 as before.
    for accept in ["*/*", "application/json"] {
        let r = get("/", accept).await.unwrap();
        assert_eq!(r.status(), 404, "{accept}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["code"], json!("not_found"));
    }
    for (file, mime) in [
        ("app.js", "text/javascript"),
        ("keys.js", "text/javascript"),
        ("style.css", "text/css"),
        ("icon.svg", "image/svg+xml"),
    ] {
        let r = get(&format!("/web/{file}"), "*/*").await.unwrap();
        assert_eq!(r.status(), 200, "{file}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(mime),
            "{file}"
        );
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    }
    for bad in [
        "/web/nope.js",
        "/web/..%2Fsrc%2Flib.rs",
        "/web/",
        "/web/app.js/x",
    ] {
        let r = get(bad, browser).await.unwrap();
        assert_eq!(r.status(), 404, "{bad}");
    }
}
