//! Eyrie cloud service: the NVR API.
//!
//! The cloud keeps metadata and hands out permissions; it never carries media. Cameras
//! upload segments and snapshots straight to an S3-compatible store with presigned PUTs,
//! viewers download with presigned GETs, and the database is the source of truth for what
//! exists. Live video goes peer to peer; the cloud only issues the signed ticket that lets a
//! viewer talk to a camera over MQTT, and the ICE servers.
//!
//! ```text
//!              ┌──────────── Application ────────────┐
//!  HTTP ──────►│ axum Router (routes/*)              │
//!              │   │ AppState: Db, Store, MasterKey  │
//!              │   ▼                                 │
//!              │ Db (sqlx Any + typed pool for       │
//!              │     listings: SQLite | PostgreSQL)  │
//!              │ Store (rusty-s3 presigning + HTTP)──┼──► S3 (embedded s3s-fs | Garage | AWS)
//!              │ background: clips, reconciler,      │
//!              │             retention               │
//!              │ embedded broker (rumqttd) ◄─ auth ──┼─── MQTT logins (devices, viewers)
//!              └─────────────────────────────────────┘
//! ```
//!
//! Library use (the demo and the tests embed it): build a [`Config`], then
//! `Application::build(config).await?` and `run_until_stopped()`.

pub mod auth;
pub mod config;
pub mod crypto;
pub mod db;
pub mod error;
pub mod metrics;
pub mod mqtt;
pub mod openapi;
pub mod public;
pub mod ratelimit;
pub mod routes;
pub mod startup;
pub mod state;
pub mod store;
pub mod testing;
pub mod tls;
pub mod web;
pub mod whep;
pub mod workers;

use clap::Args;

pub use config::{Config, IceConfig, MqttConfig, S3Settings, StoreConfig};
pub use startup::Application;

/// `eyrie cloud` options. Every flag can also come from the environment variable shown.
#[derive(Debug, Args)]
pub struct CloudArgs {
    /// Address of the REST API (loopback by default).
    #[arg(long, env = "EYRIE_LISTEN", default_value = "127.0.0.1:8470")]
    pub listen: std::net::SocketAddr,
    /// Directory for the embedded database, object store, credentials and master key
    /// (default: $XDG_DATA_HOME/eyrie/cloud).
    #[arg(long, env = "EYRIE_DATA_DIR")]
    pub data_dir: Option<std::path::PathBuf>,
    /// Database: `postgres://user:pass@host/db` or `sqlite://path`; default SQLite in data dir.
    #[arg(long, env = "EYRIE_DATABASE_URL")]
    pub database_url: Option<String>,
    /// External S3-compatible endpoint (e.g. http://127.0.0.1:3900); default: embedded store.
    #[arg(long, env = "EYRIE_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// Endpoint written into presigned URLs, when clients reach the store by another name.
    #[arg(long, env = "EYRIE_S3_PUBLIC_ENDPOINT")]
    pub s3_public_endpoint: Option<String>,
    #[arg(long, env = "EYRIE_S3_BUCKET", default_value = "eyrie")]
    pub s3_bucket: String,
    #[arg(long, env = "EYRIE_S3_REGION", default_value = "us-east-1")]
    pub s3_region: String,
    #[arg(long, env = "EYRIE_S3_ACCESS_KEY", hide_env_values = true)]
    pub s3_access_key: Option<String>,
    #[arg(long, env = "EYRIE_S3_SECRET_KEY", hide_env_values = true)]
    pub s3_secret_key: Option<String>,
    /// Use virtual-host style URLs (bucket.host) instead of path style.
    #[arg(long, env = "EYRIE_S3_VIRTUAL_HOST")]
    pub s3_virtual_host: bool,
    /// Address of the embedded object store (default: the API's address, port + 1).
    #[arg(long, env = "EYRIE_S3_LISTEN")]
    pub s3_listen: Option<std::net::SocketAddr>,
    /// External MQTT broker host; default: embedded broker.
    #[arg(long, env = "EYRIE_MQTT_HOST")]
    pub mqtt_host: Option<String>,
    #[arg(long, env = "EYRIE_MQTT_PORT", default_value_t = 1883)]
    pub mqtt_port: u16,
    #[arg(long, env = "EYRIE_MQTT_TLS")]
    pub mqtt_tls: bool,
    /// Administrator of the external broker's dynamic security plugin (mosquitto): the
    /// cloud then keeps the broker's logins and ACLs itself (`docs/signalling.md`).
    #[arg(long, env = "EYRIE_MQTT_ADMIN_USER")]
    pub mqtt_admin_user: Option<String>,
    /// Password of --mqtt-admin-user.
    #[arg(long, env = "EYRIE_MQTT_ADMIN_PASSWORD", hide_env_values = true)]
    pub mqtt_admin_password: Option<String>,
    /// Plain-MQTT port of the external broker for the administration link (default:
    /// --mqtt-port); give a loopback listener's port when clients use TLS.
    #[arg(long, env = "EYRIE_MQTT_ADMIN_PORT")]
    pub mqtt_admin_port: Option<u16>,
    /// Address of the embedded MQTT broker (default: the API's address, port + 2).
    #[arg(long, env = "EYRIE_MQTT_LISTEN")]
    pub mqtt_listen: Option<std::net::SocketAddr>,
    /// Comma-separated STUN URLs (stun:host:port).
    #[arg(long, env = "EYRIE_STUN_URLS")]
    pub stun_urls: Option<String>,
    /// Comma-separated TURN URLs (turn:host:port?transport=udp).
    #[arg(long, env = "EYRIE_TURN_URLS")]
    pub turn_urls: Option<String>,
    /// coturn static-auth-secret: enables time-limited TURN credentials.
    #[arg(long, env = "EYRIE_TURN_SECRET", hide_env_values = true)]
    pub turn_secret: Option<String>,
    /// Lifetime of the TURN credentials handed out, seconds (10..=604800): a ticket's
    /// and a camera's (which fetches new ones when 80 % of it has passed).
    #[arg(long, env = "EYRIE_TURN_TTL", default_value_t = 6 * 3600)]
    pub turn_ttl_secs: u64,
    /// Lifetime of presigned URLs, seconds (10..=3600).
    #[arg(long, env = "EYRIE_PRESIGN_TTL", default_value_t = 300)]
    pub presign_ttl_secs: u64,
    /// Delete recordings older than this many days (0: keep forever).
    #[arg(long, env = "EYRIE_RETENTION_DAYS", default_value_t = 30)]
    pub retention_days: u32,
    /// How long a clip waits for segments still uploading, seconds.
    #[arg(long, env = "EYRIE_CLIP_WAIT", default_value_t = 120)]
    pub clip_wait_secs: u64,
    /// How long a background job (clip assembly, reconciler, retention) stays with an
    /// instance that stopped renewing it, seconds (1..=600): with several instances on
    /// one database, a dead instance's job moves to another after this.
    #[arg(long, env = "EYRIE_JOB_LEASE_SECS", default_value_t = 30)]
    pub job_lease_secs: u64,
    /// The URL clients reach this cloud at (e.g. https://cams.example.org:8470); its host
    /// goes into presigned URLs, the broker address and the TLS certificate. Default: the
    /// listen address, or the host each client used when listening on 0.0.0.0.
    #[arg(long, env = "EYRIE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// TLS on the API, the embedded store and the embedded broker: auto (whenever one
    /// listens off loopback), on, or off (refused off loopback).
    #[arg(long, env = "EYRIE_TLS", value_enum, default_value_t = config::TlsMode::Auto)]
    pub tls: config::TlsMode,
    /// Certificate chain (PEM) to serve, e.g. from Let's Encrypt; default: one from the
    /// cloud's own CA, made on first start in <data-dir>/tls.
    #[arg(long, env = "EYRIE_TLS_CERT")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// Private key (PEM) of --tls-cert.
    #[arg(long, env = "EYRIE_TLS_KEY")]
    pub tls_key: Option<std::path::PathBuf>,
    /// A reverse proxy in front of the cloud (repeat for several): requests from this
    /// address are from the client its `X-Forwarded-For` header names, for the login and
    /// registration limits. Without it the header is ignored.
    #[arg(long, env = "EYRIE_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxy: Vec<std::net::IpAddr>,
    /// Master key (base64url, 32 bytes) sealing device secrets and recording keys;
    /// default: <data-dir>/master.key, created on first start.
    #[arg(long, env = "EYRIE_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<String>,
}

/// Run the cloud service until it is stopped (Ctrl-C or SIGTERM).
pub async fn run(args: CloudArgs) -> anyhow::Result<()> {
    let config = Config::from_args(&args)?;
    let app = Application::build(config).await?;
    println!("eyrie cloud: API   {}", app.api_url());
    if let Some(link) = app.cloud_link() {
        println!("eyrie cloud: link  {link}");
        println!(
            "eyrie cloud: (cameras and the app trust this cloud through the link: eyrie camera --cloud '{link}')"
        );
    }
    println!(
        "eyrie cloud: S3    {} (bucket {})",
        app.s3_endpoint(),
        app.s3_bucket()
    );
    println!("eyrie cloud: MQTT  {}", app.mqtt_addr());
    println!("eyrie cloud: data  {}", app.data_dir().display());
    app.run_until_stopped().await
}
