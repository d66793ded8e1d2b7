//! Shared state of the handlers and background workers.

use std::sync::Arc;

use tokio::sync::Notify;

use crate::config::Config;
use crate::crypto::MasterKey;
use crate::db::Db;
use crate::store::Store;

/// How viewers and devices reach the broker.
#[derive(Debug, Clone)]
pub struct BrokerEndpoint {
    /// A fixed host (external broker); None: the cloud's public address.
    pub host: Option<String>,
    pub port: u16,
    pub tls: bool,
}

/// Cheap to clone: everything behind one `Arc`.
#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

pub struct Inner {
    pub db: Db,
    pub store: Store,
    pub master: MasterKey,
    pub config: Config,
    pub broker: BrokerEndpoint,
    /// The link that keeps an external mosquitto's logins and ACLs (dynamic security).
    pub broker_admin: Option<crate::mqtt::dynsec::DynSec>,
    /// How the cloud names itself to clients.
    pub public: crate::public::PublicAddr,
    /// The cloud's own CA (PEM) and its pin, when it made its TLS certificate itself.
    pub ca: Option<(String, eyrie_protocol::trust::CaPin)>,
    /// Poked when a recording completes, so waiting clips are looked at at once.
    pub clip_kick: Notify,
    /// A real hash of a random password, verified against when the user is unknown so
    /// that a login's timing does not tell whether the name exists.
    pub dummy_hash: String,
    /// WHEP sessions and how their relay reaches the broker (`crate::whep`).
    pub whep: crate::whep::Whep,
}

impl Inner {
    /// The broker host to hand to the client being served.
    pub fn broker_host(&self) -> String {
        match &self.broker.host {
            Some(h) => h.clone(),
            None => self.public.host(),
        }
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
