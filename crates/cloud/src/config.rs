//! Layered configuration: built-in defaults, then environment variables, then flags
//! (clap reads both: a flag wins over its `EYRIE_…` variable). The library's [`Config`]
//! is plain data so that the demo and the tests can build one in code; `eyrie cloud`
//! builds it from [`crate::CloudArgs`].
//!
//! Every part has an embedded default and a "real engine" alternative:
//!
//! | part     | embedded (default)                    | real engine                          |
//! |----------|---------------------------------------|--------------------------------------|
//! | database | SQLite file `<data-dir>/eyrie.db`     | `--database-url postgres://…`        |
//! | store    | s3s-fs under `<data-dir>/objects`     | `--s3-endpoint` + bucket/region/keys |
//! | broker   | rumqttd on `--mqtt-listen`            | `--mqtt-host`/`--mqtt-port`          |

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::crypto::PasswordParams;

/// Everything the service needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// REST API address.
    pub listen: SocketAddr,
    /// Where the embedded engines and the master key live.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; None: SQLite under `data_dir`.
    pub database_url: Option<String>,
    pub store: StoreConfig,
    pub mqtt: MqttConfig,
    pub ice: IceConfig,
    /// Lifetime of presigned URLs.
    pub presign_ttl: Duration,
    /// Recordings older than this are deleted; None keeps them.
    pub retention_days: Option<u32>,
    /// How long a clip waits for segments still uploading before it fails.
    pub clip_wait: Duration,
    /// How often background work (clips, reconciler, retention) runs.
    pub tick: Duration,
    /// How long a background job's lease holds unrenewed (`--job-lease-secs`): another
    /// instance takes over a dead instance's job after this.
    pub lease: Duration,
    /// Uploading recordings older than this are checked against the store by the reconciler.
    pub reconcile_after: Duration,
    /// Argon2 cost (lower it in tests only; there is no flag for it).
    pub password: PasswordParams,
    /// Session lifetime.
    pub session_ttl: Duration,
    /// Base64url master key (else `<data_dir>/master.key`).
    pub master_key: Option<String>,
    /// Id of this instance in clip claims (random by default).
    pub instance_id: String,
    /// TLS on the API, the embedded store and the embedded broker.
    pub tls: TlsConfig,
    /// The address clients reach the cloud at (`--public-url`); its host goes into
    /// presigned URLs and broker addresses. None: the listen address, or the host each
    /// client used when listening on every address.
    pub public_url: Option<url::Url>,
    /// Reverse proxies whose `X-Forwarded-For` names the client (`--trusted-proxy`); the
    /// rate limits key on that client. Empty: the connection's peer is the client.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

/// When the cloud serves TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum TlsMode {
    /// TLS whenever a listener is not on loopback (or a certificate is given).
    #[default]
    Auto,
    /// Always TLS, also on loopback.
    On,
    /// Never; refused for listeners off loopback.
    Off,
}

/// TLS settings.
#[derive(Debug, Clone, Default)]
pub struct TlsConfig {
    pub mode: TlsMode,
    /// A certificate chain and key (PEM) to serve instead of one from the cloud's own CA.
    pub cert: Option<(PathBuf, PathBuf)>,
}

/// Object store.
// Built once at start-up: the size difference does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum StoreConfig {
    /// s3s + s3s-fs served in-process.
    Embedded { listen: SocketAddr },
    /// Any S3-compatible service.
    External(S3Settings),
}

/// How to reach an S3-compatible store.
#[derive(Clone)]
pub struct S3Settings {
    /// Endpoint the cloud itself uses (HEAD, list, clip assembly).
    pub endpoint: url::Url,
    /// Endpoint presigned URLs are made for (what cameras and viewers reach); default `endpoint`.
    pub public_endpoint: Option<url::Url>,
    pub bucket: String,
    pub region: String,
    pub access_key: String,
    pub secret_key: String,
    /// Virtual-host style (`bucket.host`) instead of path style (`host/bucket`).
    pub virtual_host: bool,
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("endpoint", &self.endpoint.as_str())
            .field(
                "public_endpoint",
                &self.public_endpoint.as_ref().map(url::Url::as_str),
            )
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("access_key", &self.access_key)
            .field("secret_key", &"…")
            .field("virtual_host", &self.virtual_host)
            .finish()
    }
}

/// Signalling broker.
#[derive(Debug, Clone)]
pub enum MqttConfig {
    /// rumqttd in-process; logins checked against device and viewer credentials.
    Embedded { listen: SocketAddr },
    /// An external broker; the cloud hands out its address. With `admin`, the cloud keeps
    /// its logins and ACLs through mosquitto's dynamic security plugin
    /// ([`crate::mqtt::dynsec`]); without, it must check the same credentials itself
    /// (e.g. through `POST /api/v1/mqtt/auth`).
    External {
        host: String,
        port: u16,
        tls: bool,
        admin: Option<crate::mqtt::dynsec::AdminLogin>,
    },
}

/// ICE servers handed to viewers and cameras.
#[derive(Clone, Default)]
pub struct IceConfig {
    pub stun_urls: Vec<String>,
    pub turn_urls: Vec<String>,
    /// coturn `static-auth-secret` (REST API credentials); TURN is offered only with it.
    pub turn_secret: Option<String>,
    pub turn_ttl: Duration,
}

impl std::fmt::Debug for IceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IceConfig")
            .field("stun_urls", &self.stun_urls)
            .field("turn_urls", &self.turn_urls)
            .field("turn_secret", &self.turn_secret.as_ref().map(|_| "…"))
            .finish()
    }
}

impl Config {
    /// All embedded, on loopback random ports, under `data_dir`.
    pub fn embedded(data_dir: impl Into<PathBuf>) -> Self {
        let any: SocketAddr = ([127, 0, 0, 1], 0).into();
        Self {
            listen: any,
            data_dir: data_dir.into(),
            database_url: None,
            store: StoreConfig::Embedded { listen: any },
            mqtt: MqttConfig::Embedded { listen: any },
            ice: IceConfig {
                turn_ttl: Duration::from_secs(6 * 3600),
                ..Default::default()
            },
            presign_ttl: Duration::from_secs(300),
            retention_days: Some(30),
            clip_wait: Duration::from_secs(120),
            tick: Duration::from_secs(2),
            lease: Duration::from_secs(30),
            reconcile_after: Duration::from_secs(120),
            password: PasswordParams::default(),
            session_ttl: Duration::from_secs(30 * 24 * 3600),
            master_key: None,
            instance_id: crate::crypto::random_token(9),
            tls: TlsConfig::default(),
            public_url: None,
            trusted_proxies: Vec::new(),
        }
    }

    /// Built from the command line (flags and `EYRIE_…` variables).
    pub fn from_args(args: &crate::CloudArgs) -> anyhow::Result<Self> {
        let data_dir = match &args.data_dir {
            Some(d) => d.clone(),
            None => default_data_dir(),
        };
        let mut c = Self::embedded(data_dir);
        c.listen = args.listen;
        // The embedded store and broker listen beside the API unless told otherwise.
        let beside = |offset: u16| {
            let port = match args.listen.port() {
                0 => 0,
                p => p.saturating_add(offset),
            };
            SocketAddr::new(args.listen.ip(), port)
        };
        c.database_url.clone_from(&args.database_url);
        c.store = match &args.s3_endpoint {
            None => StoreConfig::Embedded {
                listen: args.s3_listen.unwrap_or_else(|| beside(1)),
            },
            Some(endpoint) => StoreConfig::External(S3Settings {
                endpoint: endpoint.parse()?,
                public_endpoint: args
                    .s3_public_endpoint
                    .as_deref()
                    .map(str::parse)
                    .transpose()?,
                bucket: args.s3_bucket.clone(),
                region: args.s3_region.clone(),
                access_key: args.s3_access_key.clone().ok_or_else(|| {
                    anyhow::anyhow!("EYRIE_S3_ACCESS_KEY is required with --s3-endpoint")
                })?,
                secret_key: args.s3_secret_key.clone().ok_or_else(|| {
                    anyhow::anyhow!("EYRIE_S3_SECRET_KEY is required with --s3-endpoint")
                })?,
                virtual_host: args.s3_virtual_host,
            }),
        };
        c.mqtt = match &args.mqtt_host {
            None => MqttConfig::Embedded {
                listen: args.mqtt_listen.unwrap_or_else(|| beside(2)),
            },
            Some(host) => MqttConfig::External {
                host: host.clone(),
                port: args.mqtt_port,
                tls: args.mqtt_tls,
                admin: match (&args.mqtt_admin_user, &args.mqtt_admin_password) {
                    (Some(user), Some(password)) => Some(crate::mqtt::dynsec::AdminLogin {
                        host: host.clone(),
                        port: args.mqtt_admin_port.unwrap_or(args.mqtt_port),
                        username: user.clone(),
                        password: password.clone(),
                    }),
                    (None, None) => None,
                    _ => {
                        anyhow::bail!("--mqtt-admin-user and EYRIE_MQTT_ADMIN_PASSWORD go together")
                    }
                },
            },
        };
        c.ice.stun_urls = split_list(args.stun_urls.as_deref());
        c.ice.turn_urls = split_list(args.turn_urls.as_deref());
        c.ice.turn_secret.clone_from(&args.turn_secret);
        if !(10..=7 * 24 * 3600).contains(&args.turn_ttl_secs) {
            anyhow::bail!(
                "--turn-ttl-secs must be between 10 and 604800 (seconds), not {}",
                args.turn_ttl_secs
            );
        }
        c.ice.turn_ttl = Duration::from_secs(args.turn_ttl_secs);
        c.presign_ttl = Duration::from_secs(args.presign_ttl_secs.clamp(10, 3600));
        c.retention_days = (args.retention_days > 0).then_some(args.retention_days);
        c.clip_wait = Duration::from_secs(args.clip_wait_secs);
        c.lease = Duration::from_secs(args.job_lease_secs.clamp(1, 600));
        c.master_key.clone_from(&args.master_key);
        c.trusted_proxies = args
            .trusted_proxy
            .iter()
            .map(|ip| ip.to_canonical())
            .collect();
        c.tls.mode = args.tls;
        c.tls.cert = match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => Some((cert.clone(), key.clone())),
            (None, None) => None,
            _ => anyhow::bail!("--tls-cert and --tls-key go together"),
        };
        c.public_url = args
            .public_url
            .as_deref()
            .map(|u| {
                let url: url::Url = u
                    .parse()
                    .map_err(|e| anyhow::anyhow!("--public-url {u:?}: {e}"))?;
                if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                    anyhow::bail!("--public-url must be http(s)://host[:port], not {u:?}");
                }
                Ok(url)
            })
            .transpose()?;
        Ok(c)
    }
}

fn split_list(s: Option<&str>) -> Vec<String> {
    s.unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// `$XDG_DATA_HOME/eyrie/cloud`, else `~/.local/share/eyrie/cloud`.
fn default_data_dir() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("eyrie").join("cloud")
}
