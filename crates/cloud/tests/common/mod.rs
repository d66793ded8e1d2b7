//! Test harness: `spawn_app` starts the real service on random loopback ports, on SQLite
//! (embedded) or PostgreSQL, with the embedded object store or a real Garage node.
//!
//! PostgreSQL: one server per test binary, `initdb` run as the `postgres` user in a temp
//! dir, on a random port, trust auth; a fresh database per test. Garage: one
//! `garage server --single-node --default-bucket` per test binary with a generated config.
//! Both are started through a shell that kills them when its stdin closes, i.e. when the
//! test process exits, so nothing outlives the run.
#![allow(dead_code)]

use std::io::Write as _;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::OnceLock;
use std::time::Duration;

use eyrie_cloud::startup::StopHandle;
use eyrie_cloud::{Application, Config, S3Settings, StoreConfig};
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub state: eyrie_cloud::state::AppState,
    pub mqtt: String,
    pub database_url: Option<String>,
    pub s3: S3Settings,
    stop: StopHandle,
    _dir: tempfile::TempDir,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop.stop();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn wait_port(port: u16, secs: u64) -> bool {
    let t0 = std::time::Instant::now();
    while t0.elapsed() < Duration::from_secs(secs) {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// A child that dies with the test process (its stdin is our pipe).
struct Guarded(#[allow(dead_code)] Mutex<Child>);

fn pg_bin() -> Option<std::path::PathBuf> {
    let mut found: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|e| e.path().join("bin"))
        .collect();
    found.sort();
    found.pop().filter(|p| p.join("initdb").exists())
}

struct Pg {
    port: u16,
    _child: Guarded,
    _dir: tempfile::TempDir,
}

static PG: OnceLock<Pg> = OnceLock::new();

fn pg() -> &'static Pg {
    PG.get_or_init(|| {
        let bin = pg_bin().expect("PostgreSQL is not installed (apt install postgresql)");
        let dir = tempfile::Builder::new().prefix("eyrie-pg").tempdir_in("/tmp").expect("tempdir");
        let data = dir.path().join("data");
        Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir.path()).status().expect("chown");
        let ok = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(bin.join("initdb"))
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("initdb")
            .success();
        assert!(ok, "initdb failed");
        let port = free_port();
        let script = format!(
            "{} -D {} -p {port} -h 127.0.0.1 -k {} -c fsync=off -c max_connections=300 >{}/log 2>&1 & p=$!; cat >/dev/null; kill -INT $p; wait $p; rm -rf {}",
            bin.join("postgres").display(),
            data.display(),
            dir.path().display(),
            dir.path().display(),
            dir.path().display(),
        );
        // The server lives in a static, whose TempDir is never dropped: the shell removes
        // the cluster once the server has stopped (~130 MB per test binary otherwise).
        let child = Command::new("runuser")
            .args(["-u", "postgres", "--", "sh", "-c", &script])
            .stdin(Stdio::piped())
            .spawn()
            .expect("start postgres");
        assert!(wait_port(port, 30), "postgres did not start");
        Pg { port, _child: Guarded(Mutex::new(child)), _dir: dir }
    })
}

/// A fresh PostgreSQL database URL.
pub async fn pg_database() -> String {
    let pg = pg();
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    let admin = format!("postgres://postgres@127.0.0.1:{}/postgres", pg.port);
    let mut last = None;
    for _ in 0..50 {
        match <sqlx::PgConnection as sqlx::Connection>::connect(&admin).await {
            Ok(mut c) => {
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut c)
                    .await
                    .expect("create database");
                return format!("postgres://postgres@127.0.0.1:{}/{name}", pg.port);
            }
            Err(e) => {
                last = Some(e);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    panic!("cannot connect to test PostgreSQL: {last:?}");
}

struct Garage {
    settings: S3Settings,
    _child: Guarded,
    _dir: tempfile::TempDir,
}

static GARAGE: OnceLock<Option<Garage>> = OnceLock::new();

fn garage_bin() -> Option<std::path::PathBuf> {
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let candidates = [
        home.map(|h| h.join(".cargo/bin/garage")),
        Some("/usr/local/bin/garage".into()),
        Some("/usr/bin/garage".into()),
    ];
    candidates.into_iter().flatten().find(|p| p.exists())
}

/// Settings of the per-binary Garage node, or None (loudly) when `garage` is not installed.
pub fn garage() -> Option<S3Settings> {
    GARAGE
        .get_or_init(|| {
            let Some(bin) = garage_bin() else {
                eprintln!(
                    "\n!!!!!!!! SKIPPING GARAGE TESTS: the `garage` binary is not installed \
                     (build-aux/setup runs `cargo install garage --locked`) !!!!!!!!\n"
                );
                return None;
            };
            let dir = tempfile::Builder::new().prefix("eyrie-garage").tempdir().expect("tempdir");
            let (rpc, s3) = (free_port(), free_port());
            let mut secret = [0u8; 32];
            rand::fill(&mut secret);
            let conf = dir.path().join("garage.toml");
            let mut f = std::fs::File::create(&conf).expect("config");
            write!(
                f,
                "metadata_dir = \"{d}/meta\"\ndata_dir = \"{d}/data\"\ndb_engine = \"sqlite\"\n\
                 replication_factor = 1\nrpc_bind_addr = \"127.0.0.1:{rpc}\"\nrpc_public_addr = \"127.0.0.1:{rpc}\"\n\
                 rpc_secret = \"{}\"\n[s3_api]\ns3_region = \"garage\"\napi_bind_addr = \"127.0.0.1:{s3}\"\n\
                 root_domain = \".s3.garage.localhost\"\n",
                hex::encode(secret),
                d = dir.path().display()
            )
            .expect("write config");
            let mut kid = [0u8; 12];
            rand::fill(&mut kid);
            let mut sk = [0u8; 32];
            rand::fill(&mut sk);
            let (access, secret_key) = (format!("GK{}", hex::encode(kid)), hex::encode(sk));
            let script = format!(
                "{} -c {} server --single-node --default-bucket >{}/log 2>&1 & p=$!; cat >/dev/null; kill $p; wait $p; rm -rf {}",
                bin.display(),
                conf.display(),
                dir.path().display(),
                dir.path().display()
            );
            let child = Command::new("sh")
                .args(["-c", &script])
                .env("GARAGE_DEFAULT_ACCESS_KEY", &access)
                .env("GARAGE_DEFAULT_SECRET_KEY", &secret_key)
                .env("GARAGE_DEFAULT_BUCKET", "eyrie")
                .env("RUST_LOG", "warn")
                .stdin(Stdio::piped())
                .spawn()
                .expect("start garage");
            assert!(wait_port(s3, 30), "garage did not start");
            Some(Garage {
                settings: S3Settings {
                    endpoint: format!("http://127.0.0.1:{s3}").parse().expect("url"),
                    public_endpoint: None,
                    bucket: "eyrie".into(),
                    region: "garage".into(),
                    access_key: access,
                    secret_key,
                    virtual_host: false,
                },
                _child: Guarded(Mutex::new(child)),
                _dir: dir,
            })
        })
        .as_ref()
        .map(|g| g.settings.clone())
}

/// Fast settings for tests: cheap Argon2 (production keeps the default), short ticks.
pub fn test_config(dir: &std::path::Path) -> Config {
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

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

pub async fn spawn_app_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = test_config(dir.path());
    if backend == Backend::Postgres {
        config.database_url = Some(pg_database().await);
    }
    tweak(&mut config);
    let database_url = config.database_url.clone();
    let app = Application::build(config).await.expect("build app");
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
    TestApp {
        base,
        http: reqwest::Client::new(),
        state,
        mqtt,
        database_url,
        s3,
        stop,
        _dir: dir,
    }
}

/// A status and a JSON body (Null when empty).
pub type Reply = (u16, Value);

impl TestApp {
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut rb = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.call(reqwest::Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    /// Register and log in a fresh user; returns (user id, token).
    pub async fn user(&self, name: &str) -> (String, String) {
        let (s, _) = self
            .post(
                "/api/v1/accounts",
                None,
                json!({"username": name, "password": "correct horse"}),
            )
            .await;
        assert_eq!(s, 201);
        let (s, v) = self
            .post(
                "/api/v1/login",
                None,
                json!({"username": name, "password": "correct horse"}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        (
            v["user"]["id"].as_str().unwrap().into(),
            v["token"].as_str().unwrap().into(),
        )
    }

    /// A device of `token`'s user, activated; returns the credentials JSON.
    pub async fn device(&self, token: &str, name: &str) -> Value {
        let (s, v) = self
            .post("/api/v1/devices", Some(token), json!({"name": name}))
            .await;
        assert_eq!(s, 201, "{v}");
        let code = v["activation_code"].as_str().unwrap().to_owned();
        let (s, creds) = self
            .post("/api/v1/activate", None, json!({"activation_code": code}))
            .await;
        assert_eq!(s, 200, "{creds}");
        creds
    }

    /// Upload one segment as the device; returns the recording id.
    pub async fn segment(&self, creds: &Value, start_ms: i64, end_ms: i64, body: &[u8]) -> String {
        let dev = creds["device_token"].as_str().unwrap();
        let ch = creds["channels"]["main"].as_str().unwrap();
        let (s, slot) = self
            .post(
                &format!("/api/v1/channels/{ch}/recordings"),
                Some(dev),
                json!({"start_ms": start_ms, "end_ms": end_ms}),
            )
            .await;
        assert_eq!(s, 201, "{slot}");
        let put = self
            .http
            .put(slot["upload"]["url"].as_str().unwrap())
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        assert!(put.status().is_success(), "PUT {}", put.status());
        let id = slot["recording_id"].as_str().unwrap().to_owned();
        let (s, v) = self
            .post(
                &format!("/api/v1/recordings/{id}/complete"),
                Some(dev),
                json!({"size": body.len(), "sha256": sha256(body)}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        id
    }
}

pub fn sha256(b: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(b))
}

pub fn now_ms() -> i64 {
    eyrie_protocol::clock::unix_ms()
}

/// Write both the SQLite and the PostgreSQL variant of a test.
#[macro_export]
macro_rules! both_backends {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::common::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::common::Backend::Postgres).await;
            }
        }
    };
}
pub mod flows;
