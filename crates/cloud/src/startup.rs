//! Building and running the service (Zero-to-Production style): `Application::build`
//! binds every listener — so callers learn the real ports before anything runs — and
//! `run_until_stopped` serves until Ctrl-C/SIGTERM or [`Application::stop_handle`] fires.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

use crate::config::{Config, MqttConfig, StoreConfig};
use crate::db::Db;
use crate::state::{AppState, BrokerEndpoint, Inner};
use crate::store::Store;

/// A built, not yet running, cloud service.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    api_addr: SocketAddr,
    mqtt_addr: String,
    stop_tx: watch::Sender<bool>,
    stop_rx: watch::Receiver<bool>,
    logins: Option<tokio::sync::mpsc::Receiver<crate::mqtt::LoginCheck>>,
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
        let url = config
            .database_url
            .clone()
            .unwrap_or_else(|| Db::sqlite_url(&config.data_dir));
        let db = Db::connect(&url).await?;
        let settings = match &config.store {
            StoreConfig::Embedded { listen } => {
                crate::store::embedded::start(&config.data_dir, *listen, stop_rx.clone())
                    .await?
                    .1
            }
            StoreConfig::External(s) => s.clone(),
        };
        let store = Store::new(&settings, config.presign_ttl)?;
        if let Err(e) = store.check().await {
            anyhow::bail!("object store at {} does not answer: {e}", store.endpoint());
        }
        let (broker, mqtt_addr, logins) = match &config.mqtt {
            MqttConfig::Embedded { listen } => {
                let (addr, rx) = crate::mqtt::start(*listen)?;
                (
                    BrokerEndpoint {
                        host: addr.ip().to_string(),
                        port: addr.port(),
                        tls: false,
                    },
                    format!("mqtt://{addr}"),
                    Some(rx),
                )
            }
            MqttConfig::External { host, port, tls } => (
                BrokerEndpoint {
                    host: host.clone(),
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
        let listener = TcpListener::bind(config.listen).await?;
        let api_addr = listener.local_addr()?;
        let params = config.password;
        let dummy_hash =
            tokio::task::spawn_blocking(move || params.hash(&crate::crypto::random_token(16)))
                .await?
                .map_err(|e| anyhow::anyhow!("password hashing: {e}"))?;
        let state = AppState(Arc::new(Inner {
            db,
            store,
            master,
            config,
            broker,
            clip_kick: Notify::new(),
            dummy_hash,
        }));
        Ok(Self {
            listener,
            state,
            api_addr,
            mqtt_addr,
            stop_tx,
            stop_rx,
            logins,
        })
    }

    pub fn api_addr(&self) -> SocketAddr {
        self.api_addr
    }

    /// Base URL of the API, e.g. `http://127.0.0.1:8470`.
    pub fn api_url(&self) -> String {
        format!("http://{}", self.api_addr)
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
        if let Some(rx) = self.logins.take() {
            tokio::spawn(crate::mqtt::serve_logins(self.state.clone(), rx));
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
            self.listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await;
        let _ = self.stop_tx.send(true);
        served.map_err(Into::into)
    }
}

async fn terminate() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}
