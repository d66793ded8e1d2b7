//! Headless Chromium for the web viewer's tests: Debian's `chromium` driven by Debian's
//! `chromedriver` over WebDriver (W3C), spoken here with plain reqwest. Nothing is
//! downloaded; both come from `build-aux/setup`.
//!
//! The browser starts with a fresh, empty profile in a temp dir, headless, with no
//! background networking of its own (no component updates, no sync, no QUIC), and with
//! Chromium's fake camera and microphone so a page may ask for them without a prompt.
#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

/// The key WebDriver uses for an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
pub const TAB: &str = "\u{E004}";
pub const ENTER: &str = "\u{E007}";
pub const SPACE: &str = "\u{E00D}";

struct Driver(Child);
impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One browser window (a WebDriver session), closed when dropped.
pub struct Browser {
    http: reqwest::Client,
    url: String,
    _driver: Driver,
    _profile: tempfile::TempDir,
}

/// Whether the Debian browser and driver are installed (`build-aux/setup` installs them).
pub fn available() -> bool {
    std::path::Path::new("/usr/bin/chromium").exists()
        && std::path::Path::new("/usr/bin/chromedriver").exists()
}

impl Browser {
    /// A headless Chromium with a window of `width` × `height` CSS pixels.
    pub async fn start(width: u32, height: u32) -> Browser {
        assert!(
            available(),
            "the web viewer tests need Debian's chromium and chromium-driver (build-aux/setup installs them)"
        );
        let port = eyrie_testkit::net::free_port();
        let driver = Driver(
            Command::new("/usr/bin/chromedriver")
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("chromedriver starts"),
        );
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let t0 = Instant::now();
        loop {
            if let Ok(r) = http.get(format!("{base}/status")).send().await
                && let Ok(v) = r.json::<Value>().await
                && v["value"]["ready"] == json!(true)
            {
                break;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().expect("profile dir");
        let args = vec![
            "--headless".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-dev-shm-usage".into(),
            "--autoplay-policy=no-user-gesture-required".into(),
            "--use-fake-device-for-media-stream".into(),
            "--use-fake-ui-for-media-stream".into(),
            "--hide-scrollbars".into(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args},
        }}});
        let v: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .expect("session json");
        let id = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {v}"))
            .to_owned();
        let b = Browser {
            http,
            url: format!("{base}/session/{id}"),
            _driver: driver,
            _profile: profile,
        };
        b.resize(width, height).await;
        b
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut rb = self.http.request(method, format!("{}{path}", self.url));
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let v: Value = rb
            .send()
            .await
            .expect("webdriver")
            .json()
            .await
            .expect("webdriver json");
        if v["value"].get("error").is_some() {
            panic!("webdriver {path}: {}", v["value"]);
        }
        v["value"].clone()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.cmd(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn goto(&self, url: &str) {
        self.post("/url", json!({ "url": url })).await;
    }

    /// Set the viewport to `width` × `height` CSS pixels (the window's outer size is
    /// grown by whatever the browser draws around the page).
    pub async fn resize(&self, width: u32, height: u32) {
        self.post("/window/rect", json!({"width": width, "height": height}))
            .await;
        let inner = self
            .js("return [window.innerWidth, window.innerHeight]", json!([]))
            .await;
        let (iw, ih) = (
            inner[0].as_u64().unwrap_or(0) as u32,
            inner[1].as_u64().unwrap_or(0) as u32,
        );
        if (iw, ih) != (width, height) && iw > 0 {
            self.post(
                "/window/rect",
                json!({"width": 2 * width - iw, "height": 2 * height - ih}),
            )
            .await;
        }
    }

    /// Run `script` (a function body; `arguments` holds `args`) and return its value.
    pub async fn js(&self, script: &str, args: Value) -> Value {
        self.post("/execute/sync", json!({"script": script, "args": args}))
            .await
    }

    /// Run an async script: its last argument is the callback to call with the result.
    pub async fn js_async(&self, script: &str, args: Value) -> Value {
        self.post("/execute/async", json!({"script": script, "args": args}))
            .await
    }

    /// Wait (up to `within`) until `expr` (a JavaScript expression) is truthy; its value.
    pub async fn wait(&self, expr: &str, within: Duration) -> Value {
        let t0 = Instant::now();
        loop {
            let v = self
                .js(
                    &format!("try {{ return ({expr}); }} catch (e) {{ return null; }}"),
                    json!([]),
                )
                .await;
            let truthy = match &v {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::String(s) => !s.is_empty(),
                Value::Number(n) => n.as_f64() != Some(0.0),
                _ => true,
            };
            if truthy {
                return v;
            }
            if t0.elapsed() > within {
                let page = self
                    .js(
                        "return document.body ? document.body.innerText : ''",
                        json!([]),
                    )
                    .await;
                panic!("waited {within:?} for `{expr}`; the page says:\n{page}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The element matching `css` (the first), as a WebDriver reference.
    pub async fn find(&self, css: &str) -> String {
        let v = self
            .post("/element", json!({"using": "css selector", "value": css}))
            .await;
        v[ELEMENT].as_str().expect("element").to_owned()
    }

    pub async fn click(&self, css: &str) {
        let e = self.find(css).await;
        self.post(&format!("/element/{e}/click"), json!({})).await;
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.post(&format!("/element/{e}/value"), json!({ "text": text }))
            .await;
    }

    /// Press and release `key` on the keyboard (whatever has the focus gets it).
    pub async fn press(&self, key: &str) {
        self.post(
            "/actions",
            json!({"actions": [{"type": "key", "id": "keyboard", "actions": [
                {"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}]}]}),
        )
        .await;
    }

    /// A PNG of the viewport, saved to `path`.
    pub async fn screenshot(&self, path: &std::path::Path) {
        let v = self.cmd(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().expect("screenshot"))
            .expect("base64 png");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot dir");
        }
        std::fs::write(path, png).expect("write screenshot");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Best effort: the driver is killed right after, taking the browser with it.
        let url = self.url.clone();
        let http = self.http.clone();
        if let Ok(h) = tokio::runtime::Handle::try_current() {
            h.spawn(async move {
                let _ = http.delete(url).send().await;
            });
        }
    }
}

/// JavaScript run in the page: draw a `<video>` (selected by CSS) into a canvas and read
/// the pixel clock the camera's test pattern draws into every frame
/// (`crates/rtc/src/pixel_clock.rs`): 64 cells across the top 1/18 of the picture, white
/// and black references, 48 bits of unix milliseconds, an 8-bit check. Returns
/// `{width, height, clock, spread}` (clock null when the strip does not decode; spread is
/// the luma range over the frame, to tell a picture from a blank).
pub const READ_PIXEL_CLOCK: &str = r#"
const v = document.querySelector(arguments[0]);
if (!v || v.readyState < 2 || !v.videoWidth) return null;
const w = v.videoWidth, h = v.videoHeight;
const c = document.createElement('canvas'); c.width = w; c.height = h;
const g = c.getContext('2d', { willReadFrequently: true });
g.drawImage(v, 0, 0, w, h);
const d = g.getImageData(0, 0, w, h).data;
const Y = (x, y) => { const i = (y * w + x) * 4; return 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2]; };
let lo = 255, hi = 0;
for (let y = 0; y < h; y += 7) for (let x = 0; x < w; x += 7) { const l = Y(x, y); lo = Math.min(lo, l); hi = Math.max(hi, l); }
const rows = Math.max(4, Math.floor(h / 18));
const y0 = Math.floor(rows / 4), y1 = Math.max(Math.floor(rows * 3 / 4), y0 + 1);
const mean = (cell) => {
  const x0 = Math.floor(cell * w / 64), x1 = Math.floor((cell + 1) * w / 64);
  const a = x0 + Math.floor((x1 - x0) / 4), b = x1 - Math.floor((x1 - x0) / 4);
  let s = 0, n = 0;
  for (let y = y0; y < y1; y++) for (let x = a; x < Math.max(b, a + 1); x++) { s += Y(x, y); n++; }
  return s / Math.max(n, 1);
};
const white = mean(0), black = mean(1);
let clock = null;
if (white >= black + 60) {
  const t = (white + black) / 2;
  let value = 0n;
  for (let i = 0; i < 48; i++) value = (value << 1n) | (mean(2 + i) > t ? 1n : 0n);
  let check = 0;
  for (let i = 0; i < 8; i++) check = (check << 1) | (mean(50 + i) > t ? 1 : 0);
  let want = 0x5a;
  for (let i = 5; i >= 0; i--) want ^= Number((value >> BigInt(8 * i)) & 0xffn);
  if (check === want) clock = Number(value);
}
return { width: w, height: h, clock, spread: hi - lo };
"#;
