//! [`TestCloud`]: the real cloud service in the test's process.
//!
//! It is the same [`eyrie_cloud::Application`] `eyrie cloud` runs, on random loopback
//! ports, with SQLite (a temp dir) or a fresh PostgreSQL database, and the embedded store
//! unless a test points it at Garage. Two things are turned down for speed and nothing
//! else: Argon2 costs (production keeps the defaults) and the workers' tick.
//!
//! The user and device steps (`user`, `device`, `segment`) go through the REST API as any
//! client does, so a test that uses them also checks them.

use std::time::Duration;

use eyrie_cloud::startup::StopHandle;
use eyrie_cloud::{Application, Config, S3Settings, StoreConfig};
use serde_json::{Value, json};

/// Which database the cloud runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A running cloud; stopped when dropped.
pub struct TestCloud {
    /// `http://127.0.0.1:<port>` (no TLS on loopback).
    pub base: String,
    pub http: reqwest::Client,
    pub state: eyrie_cloud::state::AppState,
    /// The embedded broker's `host:port`.
    pub mqtt: String,
    pub database_url: Option<String>,
    /// How to reach the object store directly (as the cloud's own S3 client does).
    pub s3: S3Settings,
    stop: StopHandle,
    pub dir: tempfile::TempDir,
    /// Each account's viewer installation ([`TestCloud::viewer`]), by session token.
    viewers: tokio::sync::Mutex<std::collections::HashMap<String, crate::e2e::TestViewer>>,
}

impl Drop for TestCloud {
    fn drop(&mut self) {
        self.stop.stop();
    }
}

/// The configuration tests run the cloud with: cheap Argon2, short ticks.
pub fn config(dir: &std::path::Path) -> Config {
    let mut c = Config::embedded(dir);
    c.password = eyrie_cloud::crypto::PasswordParams {
        m_cost_kib: 256,
        t_cost: 1,
        p_cost: 1,
    };
    c.tick = Duration::from_millis(200);
    c.clip_wait = Duration::from_secs(2);
    c
}

/// A status and a JSON body (`Null` when empty or not JSON).
pub type Reply = (u16, Value);

/// One request to `url`, with `token` in `Authorization: Bearer` and `body` as JSON; an
/// error only when no answer came. [`TestCloud::call`] and the cluster tests' client both
/// send theirs through here.
pub(crate) async fn request(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: Option<&str>,
    body: Option<Value>,
) -> Result<Reply, reqwest::Error> {
    let mut rb = http.request(method, url);
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let resp = rb.send().await?;
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

/// The password [`TestCloud::user`] registers with.
pub const PASSWORD: &str = "correct horse";

impl TestCloud {
    pub async fn spawn(backend: Backend) -> TestCloud {
        TestCloud::spawn_with(backend, |_| {}).await
    }

    /// Start with [`config`], changed by `tweak` before the service is built.
    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> TestCloud {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = config(dir.path());
        if backend == Backend::Postgres {
            config.database_url = Some(crate::postgres::database().await);
        }
        tweak(&mut config);
        let database_url = config.database_url.clone();
        let app = Application::build(config).await.expect("build the cloud");
        let base = app.api_url();
        let state = app.state();
        let mqtt = app.mqtt_addr();
        let stop = app.stop_handle();
        let s3 = match &state.config.store {
            StoreConfig::External(s) => s.clone(),
            StoreConfig::Embedded { .. } => {
                let raw =
                    std::fs::read(dir.path().join("s3-credentials.json")).expect("s3 credentials");
                let v: Value = serde_json::from_slice(&raw).expect("json");
                S3Settings {
                    endpoint: app.s3_endpoint().parse().expect("url"),
                    public_endpoint: None,
                    bucket: app.s3_bucket(),
                    region: "us-east-1".into(),
                    access_key: v["access_key"].as_str().unwrap_or_default().into(),
                    secret_key: v["secret_key"].as_str().unwrap_or_default().into(),
                    virtual_host: false,
                }
            }
        };
        tokio::spawn(app.run_until_stopped());
        TestCloud {
            base,
            http: reqwest::Client::new(),
            state,
            mqtt,
            database_url,
            s3,
            stop,
            dir,
            viewers: Default::default(),
        }
    }

    /// The viewer installation of `token`'s account (made, with the account's key set, on
    /// first use).
    pub async fn viewer(&self, token: &str) -> crate::e2e::TestViewer {
        self.viewer_if_any(token)
            .await
            .expect("the account's first installation")
    }

    /// [`TestCloud::viewer`], or None when the account has a key set it is not in (the
    /// test made its own).
    async fn viewer_if_any(&self, token: &str) -> Option<crate::e2e::TestViewer> {
        let mut viewers = self.viewers.lock().await;
        if let Some(v) = viewers.get(token) {
            return Some(v.clone());
        }
        let api = eyrie_api::ApiClient::new(self.base.clone()).with_token(token);
        let v = crate::e2e::TestViewer::new(&api).await.ok()?;
        viewers.insert(token.to_owned(), v.clone());
        Some(v)
    }

    /// Give `device` a legacy recording key, as a database upgraded from before end-to-end
    /// keys holds for a device activated then (the cloud makes none any more): the row is
    /// written directly, sealed under the master key as the cloud sealed them. Returns the
    /// key id and the key.
    pub async fn legacy_key(&self, device: uuid::Uuid) -> (String, [u8; 32]) {
        let key: [u8; 32] = rand::random();
        let key_id = hex::encode(rand::random::<[u8; 8]>());
        let sealed = self
            .state
            .master
            .wrap(&format!("recording-key:{key_id}"), &key);
        let url = self
            .database_url
            .clone()
            .unwrap_or_else(|| eyrie_cloud::db::Db::sqlite_url(self.dir.path()));
        sqlx::any::install_default_drivers();
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url)
            .await
            .expect("database");
        sqlx::query(
            "INSERT INTO recording_keys (key_id, device_id, key_sealed, created_ms) VALUES ($1, $2, $3, $4)",
        )
        .bind(&key_id)
        .bind(device.to_string())
        .bind(sealed)
        .bind(0_i64)
        .execute(&mut conn)
        .await
        .expect("legacy key row");
        (key_id, key)
    }

    /// One request to the API; `token` goes in `Authorization: Bearer`.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let url = format!("{}{path}", self.base);
        request(&self.http, method, url, token, body)
            .await
            .expect("request")
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.call(reqwest::Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    /// Register `name` (password [`PASSWORD`]) and sign in; returns (user id, token).
    pub async fn user(&self, name: &str) -> (String, String) {
        let creds = json!({"username": name, "password": PASSWORD});
        let (s, v) = self.post("/api/v1/accounts", None, creds.clone()).await;
        assert_eq!(s, 201, "register {name}: {v}");
        let (s, v) = self.post("/api/v1/login", None, creds).await;
        assert_eq!(s, 200, "sign in {name}: {v}");
        (
            v["user"]["id"].as_str().expect("user id").into(),
            v["token"].as_str().expect("token").into(),
        )
    }

    /// Register `name` (password [`PASSWORD`]) and sign in through the typed client the
    /// app and the camera use; returns it, signed in.
    pub async fn account(&self, name: &str) -> eyrie_api::ApiClient {
        let api = eyrie_api::ApiClient::new(self.base.clone());
        api.register(name, PASSWORD).await.expect("register");
        let login = api.login(name, PASSWORD).await.expect("sign in");
        api.with_token(login.token)
    }

    /// A device of `token`'s user, activated; returns its credentials as JSON. The test
    /// plays the camera: unless the cloud gave a legacy key, it registers a content key
    /// wrapped to the account's key set ([`TestCloud::viewer`]) and puts it in the JSON as
    /// `recording_key` (`key_id`, `key`), as a camera keeps its current content key.
    pub async fn device(&self, token: &str, name: &str) -> Value {
        let (s, v) = self
            .post("/api/v1/devices", Some(token), json!({"name": name}))
            .await;
        assert_eq!(s, 201, "create device: {v}");
        let code = v["activation_code"].as_str().expect("activation code");
        let (s, creds) = self
            .post("/api/v1/activate", None, json!({"activation_code": code}))
            .await;
        assert_eq!(s, 200, "activate: {creds}");
        let mut creds = creds;
        let viewer = match creds.get("recording_key").is_none_or(Value::is_null) {
            true => self.viewer_if_any(token).await,
            false => None,
        };
        if let Some(viewer) = viewer {
            let device: uuid::Uuid = creds["device_id"]
                .as_str()
                .expect("device id")
                .parse()
                .expect("uuid");
            let device_api = eyrie_api::ApiClient::new(self.base.clone())
                .with_token(creds["device_token"].as_str().expect("device token"));
            let (key_id, key) = viewer
                .content_key_for(&device_api, device)
                .await
                .expect("content key");
            creds["recording_key"] = json!({
                "key_id": key_id.to_hex(), "key": key.to_base64url(), "algorithm": "AES-256-GCM",
            });
        }
        creds
    }

    /// PUT `body` to a slot's presigned `upload` (JSON) with the headers signed into it,
    /// as a client does; the store's answer is returned unchecked.
    pub async fn put_upload(&self, upload: &Value, body: &[u8]) -> reqwest::Response {
        let mut put = self
            .http
            .put(upload["url"].as_str().expect("upload url"))
            .body(body.to_vec());
        if let Some(headers) = upload["headers"].as_object() {
            for (name, value) in headers {
                if name != "content-length" {
                    put = put.header(name.as_str(), value.as_str().expect("header value"));
                }
            }
        }
        put.send().await.expect("PUT")
    }

    /// Upload one segment of `body` as the device; returns the recording id.
    pub async fn segment(&self, creds: &Value, start_ms: i64, end_ms: i64, body: &[u8]) -> String {
        let dev = creds["device_token"].as_str().expect("device token");
        let ch = creds["channels"]["main"].as_str().expect("main channel");
        let (s, slot) = self
            .post(
                &format!("/api/v1/channels/{ch}/recordings"),
                Some(dev),
                json!({"start_ms": start_ms, "end_ms": end_ms,
                       "size": body.len(), "sha256": sha256(body)}),
            )
            .await;
        assert_eq!(s, 201, "recording slot: {slot}");
        let put = self.put_upload(&slot["upload"], body).await;
        assert!(put.status().is_success(), "PUT {}", put.status());
        let id = slot["recording_id"]
            .as_str()
            .expect("recording id")
            .to_owned();
        let (s, v) = self
            .post(
                &format!("/api/v1/recordings/{id}/complete"),
                Some(dev),
                json!({"size": body.len(), "sha256": sha256(body)}),
            )
            .await;
        assert_eq!(s, 200, "complete: {v}");
        id
    }
}

/// Lower-case hex SHA-256, as the API carries digests.
pub fn sha256(b: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(b))
}

/// Run `async fn $name(backend: Backend)` as two tests, `$name::sqlite` and
/// `$name::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::Backend::Postgres).await;
            }
        }
    };
}
