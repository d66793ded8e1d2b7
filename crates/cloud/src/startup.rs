//! Building and running the service (Zero-to-Production style): `Application::build`
//! binds every listener — so callers learn the real ports before anything runs — and
//! `run_until_stopped` serves until Ctrl-C/SIGTERM or [`Application::stop_handle`] fires.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

use axum::serve::ListenerExt as _;
use eyrie_protocol::trust::CloudLink;

use crate::config::{Config, MqttConfig, StoreConfig, TlsMode};
use crate::db::Db;
use crate::public::PublicAddr;
use crate::state::{AppState, BrokerEndpoint, Inner};
use crate::store::Store;
use crate::tls::{Tls, TlsListener};

/// A built, not yet running, cloud service.
pub struct Application {
    listener: TlsListener,
    state: AppState,
    api_addr: SocketAddr,
    mqtt_addr: String,
    stop_tx: watch::Sender<bool>,
    stop_rx: watch::Receiver<bool>,
    /// The embedded broker's public listener, its TLS and rumqttd behind the front.
    broker_front: Option<(TcpListener, Option<Tls>, crate::mqtt::Inside)>,
}

/// Stops a running [`Application`].
#[derive(Clone)]
pub struct StopHandle(watch::Sender<bool>);

impl StopHandle {
    pub fn stop(&self) {
        let _ = self.0.send(true);
    }
}

impl Application {
    /// Open the database (migrations), the store and the broker; bind the API.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&config.data_dir)?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let master =
            crate::crypto::load_master_key(config.master_key.as_deref(), &config.data_dir)?;
        let tls = load_tls(&config)?;
        // https when this cloud serves TLS, or when a proxy in front of it does.
        let https = tls.is_some()
            || config
                .public_url
                .as_ref()
                .is_some_and(|u| u.scheme() == "https");
        let public = PublicAddr::new(
            https,
            config
                .public_url
                .as_ref()
                .and_then(|u| u.host_str().map(str::to_owned)),
            config.listen.ip(),
        );
        let url = config
            .database_url
            .clone()
            .unwrap_or_else(|| Db::sqlite_url(&config.data_dir));
        let db = Db::connect(&url).await?;
        let (settings, follow) = match &config.store {
            StoreConfig::Embedded { listen } => {
                let (addr, settings) = crate::store::embedded::start(
                    &config.data_dir,
                    *listen,
                    tls.clone(),
                    stop_rx.clone(),
                )
                .await?;
                (settings, Some((public.clone(), addr.port())))
            }
            StoreConfig::External(s) => (s.clone(), None),
        };
        let store = Store::new(&settings, config.presign_ttl, follow)?;
        if let Err(e) = store.check().await {
            anyhow::bail!("object store at {} does not answer: {e}", settings.endpoint);
        }
        let broker_admin = match &config.mqtt {
            MqttConfig::External {
                admin: Some(login), ..
            } => Some(
                crate::mqtt::dynsec::DynSec::connect(login)
                    .await
                    .map_err(|e| {
                        anyhow::anyhow!(
                            "broker administration at {}:{}: {e}",
                            login.host,
                            login.port
                        )
                    })?,
            ),
            _ => None,
        };
        let (broker, mqtt_addr, broker_front) = match &config.mqtt {
            MqttConfig::Embedded { listen } => {
                let outside = TcpListener::bind(*listen)
                    .await
                    .map_err(|e| anyhow::anyhow!("broker: cannot listen on {listen}: {e}"))?;
                let addr = outside.local_addr()?;
                let inside = crate::mqtt::start_inside()?;
                (
                    BrokerEndpoint {
                        host: None,
                        port: addr.port(),
                        tls: tls.is_some(),
                    },
                    format!("{}://{addr}", if tls.is_some() { "mqtts" } else { "mqtt" }),
                    Some((outside, tls.clone(), inside)),
                )
            }
            MqttConfig::External {
                host, port, tls, ..
            } => (
                BrokerEndpoint {
                    host: Some(host.clone()),
                    port: *port,
                    tls: *tls,
                },
                format!(
                    "{}://{host}:{port} (external)",
                    if *tls { "mqtts" } else { "mqtt" }
                ),
                None,
            ),
        };
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| anyhow::anyhow!("API: cannot listen on {}: {e}", config.listen))?;
        let api_addr = listener.local_addr()?;
        let ca = tls.as_ref().and_then(|t| t.ca.clone());
        let listener = TlsListener::new(listener, tls)?;
        let params = config.password;
        let dummy_hash =
            tokio::task::spawn_blocking(move || params.hash(&crate::crypto::random_token(16)))
                .await?
                .map_err(|e| anyhow::anyhow!("password hashing: {e}"))?;
        let whep_broker = match (&broker_front, &broker.host) {
            (Some((_, _, inside)), _) => inside.relay_access(),
            (None, host) => crate::whep::BrokerAccess::External {
                host: host.clone().unwrap_or_default(),
                port: broker.port,
                tls: broker.tls,
            },
        };
        let state = AppState(Arc::new(Inner {
            db,
            store,
            master,
            config,
            broker,
            broker_admin,
            public,
            ca,
            clip_kick: Notify::new(),
            dummy_hash,
            whep: crate::whep::Whep::new(whep_broker),
        }));
        Ok(Self {
            listener,
            state,
            api_addr,
            mqtt_addr,
            stop_tx,
            stop_rx,
            broker_front,
        })
    }

    pub fn api_addr(&self) -> SocketAddr {
        self.api_addr
    }

    /// Base URL of the API, e.g. `http://127.0.0.1:8470` or `https://192.168.1.5:8470`.
    pub fn api_url(&self) -> String {
        if let Some(u) = &self.state.config.public_url {
            return u.as_str().trim_end_matches('/').to_owned();
        }
        let p = &self.state.public;
        match (&p.fixed_host, self.api_addr.ip().is_unspecified()) {
            (Some(_), _) | (None, true) => p.url(self.api_addr.port()),
            (None, false) => format!("{}://{}", p.scheme, self.api_addr),
        }
    }

    /// The cloud link clients pair with: the API URL and, with the cloud's own CA, its pin
    /// (`https://host:8470#ca=sha256:…`). None without TLS.
    pub fn cloud_link(&self) -> Option<CloudLink> {
        let p = &self.state.public;
        if p.scheme != "https" {
            return None;
        }
        CloudLink::new(&self.api_url(), self.state.ca.as_ref().map(|(_, pin)| *pin)).ok()
    }

    /// Endpoint of the object store presigned URLs point at.
    pub fn s3_endpoint(&self) -> String {
        self.state.store.endpoint().to_string()
    }

    pub fn s3_bucket(&self) -> String {
        self.state.store.bucket().to_owned()
    }

    /// `mqtt://host:port` of the broker.
    pub fn mqtt_addr(&self) -> String {
        self.mqtt_addr.clone()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.state.config.data_dir.clone()
    }

    /// The shared state (for tests and benchmarks that drive workers directly).
    pub fn state(&self) -> AppState {
        self.state.clone()
    }

    pub fn stop_handle(&self) -> StopHandle {
        StopHandle(self.stop_tx.clone())
    }

    /// Serve until stopped.
    pub async fn run_until_stopped(mut self) -> anyhow::Result<()> {
        if let Some((listener, tls, inside)) = self.broker_front.take() {
            let front = crate::mqtt::serve(listener, tls, self.state.clone(), inside);
            let mut stop = self.stop_rx.clone();
            tokio::spawn(async move {
                tokio::select! {
                    () = front => {}
                    _ = stop.changed() => {}
                }
            });
        }
        tokio::spawn(crate::workers::run(
            self.state.clone(),
            self.stop_rx.clone(),
        ));
        let app = crate::routes::router(self.state.clone());
        let mut stop = self.stop_rx.clone();
        let shutdown = async move {
            tokio::select! {
                _ = stop.changed() => {}
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate() => {}
            }
        };
        let served = axum::serve(
            self.listener.tap_io(|_| {}),
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await;
        let _ = self.stop_tx.send(true);
        served.map_err(Into::into)
    }
}

/// TLS as configured, and the rule that nothing is plain off loopback.
fn load_tls(config: &Config) -> anyhow::Result<Option<Tls>> {
    let mut listeners = vec![("API", config.listen)];
    if let StoreConfig::Embedded { listen } = &config.store {
        listeners.push(("object store", *listen));
    }
    if let MqttConfig::Embedded { listen } = &config.mqtt {
        listeners.push(("broker", *listen));
    }
    let exposed = listeners.iter().find(|(_, a)| !a.ip().is_loopback());
    let on = match config.tls.mode {
        TlsMode::On => true,
        TlsMode::Auto => config.tls.cert.is_some() || exposed.is_some(),
        TlsMode::Off => {
            if let Some((what, addr)) = exposed {
                anyhow::bail!(
                    "--tls off: the {what} would listen on {addr} in the clear; plain HTTP and MQTT are for loopback only (drop --tls off, or listen on 127.0.0.1)"
                );
            }
            false
        }
    };
    if !on {
        return Ok(None);
    }
    let tls = match &config.tls.cert {
        Some((cert, key)) => crate::tls::from_files(cert, key)?,
        None => {
            let names = crate::tls::certificate_names(
                config.listen.ip(),
                config.public_url.as_ref().and_then(url::Url::host_str),
            );
            crate::tls::own_ca(&config.data_dir, &names)?
        }
    };
    Ok(Some(tls))
}

async fn terminate() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}
