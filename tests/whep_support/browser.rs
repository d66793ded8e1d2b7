//! Headless Chromium (Debian's) driven over WebDriver with plain HTTP: chromedriver on a
//! free loopback port, one session with a new empty profile, scripts run in a page of
//! the cloud's origin.

use std::time::Duration;

use serde_json::{Value, json};

pub struct Browser {
    http: reqwest::Client,
    url: String,
    _driver: eyrie_testkit::process::Guarded,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Start chromedriver and a Chromium session (fake camera and microphone allowed).
    pub async fn start() -> Browser {
        assert!(
            std::path::Path::new("/usr/bin/chromedriver").exists(),
            "chromedriver missing: apt install chromium chromium-driver (build-aux/setup)"
        );
        let port = eyrie_testkit::free_port();
        let profile = tempfile::tempdir().unwrap();
        let driver = eyrie_testkit::process::Guarded::spawn(
            &[],
            &format!(
                "exec /usr/bin/chromedriver --port={port} --allowed-ips=127.0.0.1 --log-level=SEVERE >/dev/null 2>&1"
            ),
            "TERM",
            profile.path().join("nothing").as_path(),
            &[],
        );
        assert!(
            eyrie_testkit::wait_port(port, Duration::from_secs(10)),
            "chromedriver listens"
        );
        let http = reqwest::Client::new();
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--autoplay-policy=no-user-gesture-required",
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            "--allow-loopback-in-peer-connection",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .chain([format!("--user-data-dir={}", profile.path().display())])
        .collect::<Vec<_>>();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args}
        }}});
        let v: Value = http
            .post(format!("http://127.0.0.1:{port}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("a WebDriver session: {v}"))
            .to_owned();
        let b = Browser {
            http,
            url: format!("http://127.0.0.1:{port}/session/{id}"),
            _driver: driver,
            _profile: profile,
        };
        b.cmd("timeouts", json!({"script": 60_000})).await;
        b
    }

    async fn cmd(&self, path: &str, body: Value) -> Value {
        let v: Value = self
            .http
            .post(format!("{}/{path}", self.url))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["value"].clone()
    }

    pub async fn goto(&self, url: &str) {
        self.cmd("url", json!({"url": url})).await;
    }

    /// Run `script` (a function body; `arguments` are `args`) and return its value.
    pub async fn eval(&self, script: &str, args: Value) -> Value {
        self.cmd("execute/sync", json!({"script": script, "args": args}))
            .await
    }

    /// Run an async script: its last argument is the callback to call with the result.
    pub async fn eval_async(&self, script: &str, args: Value) -> Value {
        self.cmd("execute/async", json!({"script": script, "args": args}))
            .await
    }

    pub async fn quit(self) {
        let _ = self.http.delete(&self.url).send().await;
    }
}
