//! mosquitto's logins and ACLs, kept by the cloud through the dynamic security plugin.
//!
//! With an external mosquitto (`--mqtt-host` plus `--mqtt-admin-user`), no password or ACL
//! file is edited by hand: the cloud is an administrator of the broker's
//! `mosquitto_dynamic_security.so` and tells it, on its `$CONTROL/dynamic-security/v1`
//! topic, what changed — a device activated (its client, role, and its owner's rights
//! on it), a device removed (client deleted, which disconnects it at once, role and
//! rights gone), a viewer asking for a ticket (its client with a password). The rights are
//! the table of `docs/signalling.md`, written as roles in [`rules`].
//!
//! ```text
//!  route (activate / delete / ticket)
//!     │ DynSec::run([commands])            one MQTT connection per instance,
//!     ▼                                    subscribed to …/v1/response
//!  PUBLISH $CONTROL/dynamic-security/v1 {"commands":[…, "correlationData":"<n>:<i>"]}
//!     ▼
//!  mosquitto (dynsec plugin) ── applies in order, saves its JSON file, kicks changed logins
//!     ▼
//!  PUBLISH …/v1/response {"responses":[{"command","error"?,"data"?,"correlationData"}]}
//!     ▼
//!  the waiting route gets its answers (or an error after 5 s)
//! ```
//!
//! The broker keeps its state in its own file, so a restarted mosquitto has every login
//! and ACL back. Each command is idempotent or its "already there" error is harmless,
//! so two instances doing the same change, or a retried one, end in the same state.
//!
//! Viewer passwords: mosquitto keeps one password per client and disconnects a client
//! whose password changes, while a user may hold many tickets at once. So all tickets of
//! a user share one broker password for 12 hours, wherever they were issued: the
//! password is kept in the broker client's `textdescription`, sealed with the master key
//! (context bound to the user and the expiry), so any instance can read it back and
//! hand out the same one; past two thirds of its life, the next ticket makes a new one.

pub mod rules;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use eyrie_protocol::clock::unix_ms;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::{Value, json};
use tokio::sync::{Mutex, oneshot};
use uuid::Uuid;

use crate::crypto::{MasterKey, random_token};

const CONTROL: &str = "$CONTROL/dynamic-security/v1";
const RESPONSE: &str = "$CONTROL/dynamic-security/v1/response";
/// How long a command list may wait for its answers.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);
/// Lifetime of a viewer broker password (as the embedded broker's viewer logins).
pub const VIEWER_PASSWORD_MS: i64 = 12 * 3600 * 1000;

/// How the cloud logs in to administer the broker.
#[derive(Clone)]
pub struct AdminLogin {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for AdminLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminLogin")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &"…")
            .finish()
    }
}

/// A failure to change the broker.
#[derive(Debug, thiserror::Error)]
pub enum DynSecError {
    #[error("broker administration link: {0}")]
    Link(String),
    #[error("the broker did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the broker refused {command}: {error}")]
    Refused { command: String, error: String },
}

/// One command's answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub command: String,
    pub error: Option<String>,
    pub data: Option<Value>,
}

type Pending = Arc<std::sync::Mutex<HashMap<u64, (usize, oneshot::Sender<Vec<(usize, Answer)>>)>>>;

/// The cloud's administration link to mosquitto's dynamic security plugin.
pub struct DynSec {
    client: AsyncClient,
    pending: Pending,
    next: AtomicU64,
    /// Prefix of this link's correlation data (other instances' answers carry another).
    tag: String,
    /// Whether the link is up with the answers subscribed. Commands are not queued while
    /// it is down: a route that answered 503 must not see its change applied later,
    /// when the broker comes back and the client sends what it had queued.
    up: Arc<AtomicBool>,
    /// Serialises viewer password rotation within this instance.
    viewer_lock: Mutex<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for DynSec {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl DynSec {
    /// Log in, subscribe to the answers and set the default access to "deny".
    pub async fn connect(login: &AdminLogin) -> Result<DynSec, DynSecError> {
        let id = format!("eyrie-cloud-{}", random_token(9));
        let mut mo = MqttOptions::new(id, login.host.clone(), login.port);
        mo.set_credentials(login.username.clone(), login.password.clone());
        mo.set_keep_alive(Duration::from_secs(10));
        mo.set_clean_session(true);
        mo.set_max_packet_size(4 * 1024 * 1024, 4 * 1024 * 1024);
        let (client, mut events) = AsyncClient::new(mo, 64);
        let pending: Pending = Default::default();
        let tag = random_token(9);
        let (ready_tx, ready_rx) = oneshot::channel::<()>();
        let up = Arc::new(AtomicBool::new(false));
        let (p, c, t, u) = (pending.clone(), client.clone(), tag.clone(), up.clone());
        let task = tokio::spawn(async move {
            let mut ready = Some(ready_tx);
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        // Answers are asked for again after every reconnect.
                        let _ = c.subscribe(RESPONSE, QoS::AtLeastOnce).await;
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        u.store(true, Ordering::Release);
                        if let Some(r) = ready.take() {
                            let _ = r.send(());
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(msg))) if msg.topic == RESPONSE => {
                        deliver(&p, &t, &msg.payload);
                    }
                    Ok(_) => {}
                    Err(e) => {
                        u.store(false, Ordering::Release);
                        // Whatever waits for an answer will not get one on this
                        // connection: fail it now rather than at its timeout.
                        p.lock().expect("pending map").clear();
                        tracing::warn!("broker administration link: {e}");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
        });
        let ds = DynSec {
            client,
            pending,
            next: AtomicU64::new(1),
            tag,
            up,
            viewer_lock: Mutex::new(()),
            task,
        };
        tokio::time::timeout(ANSWER_TIMEOUT, ready_rx)
            .await
            .map_err(|_| DynSecError::Timeout(ANSWER_TIMEOUT))?
            .map_err(|_| DynSecError::Link("closed".into()))?;
        ds.run_checked(vec![rules::default_access()]).await?;
        Ok(ds)
    }

    /// Send `commands` in one message and wait for every answer, in order.
    pub async fn run(&self, mut commands: Vec<Value>) -> Result<Vec<Answer>, DynSecError> {
        if !self.up.load(Ordering::Acquire) {
            return Err(DynSecError::Link("not connected to the broker".into()));
        }
        let batch = self.next.fetch_add(1, Ordering::Relaxed);
        for (i, c) in commands.iter_mut().enumerate() {
            c["correlationData"] = json!(format!("{}:{batch}:{i}", self.tag));
        }
        let (tx, rx) = oneshot::channel();
        self.pending
            .lock()
            .expect("pending map")
            .insert(batch, (commands.len(), tx));
        let body = serde_json::to_vec(&json!({ "commands": commands })).expect("JSON");
        let sent = self
            .client
            .publish(CONTROL, QoS::AtLeastOnce, false, body)
            .await;
        let forget = || self.pending.lock().expect("pending map").remove(&batch);
        if let Err(e) = sent {
            forget();
            return Err(DynSecError::Link(e.to_string()));
        }
        match tokio::time::timeout(ANSWER_TIMEOUT, rx).await {
            Ok(Ok(mut answers)) => {
                answers.sort_by_key(|(i, _)| *i);
                Ok(answers.into_iter().map(|(_, a)| a).collect())
            }
            Ok(Err(_)) => Err(DynSecError::Link("connection lost".into())),
            Err(_) => {
                forget();
                Err(DynSecError::Timeout(ANSWER_TIMEOUT))
            }
        }
    }

    /// [`Self::run`], failing on the first error that is not [`rules::harmless`].
    pub async fn run_checked(&self, commands: Vec<Value>) -> Result<Vec<Answer>, DynSecError> {
        let answers = self.run(commands).await?;
        for a in &answers {
            if let Some(e) = &a.error
                && !rules::harmless(&a.command, e)
            {
                return Err(DynSecError::Refused {
                    command: a.command.clone(),
                    error: e.clone(),
                });
            }
        }
        Ok(answers)
    }

    /// A device was activated for `owner` with broker password `password`.
    pub async fn device_activated(
        &self,
        device: &Uuid,
        owner: &Uuid,
        password: &str,
    ) -> Result<(), DynSecError> {
        self.run_checked(rules::device_activated(device, owner, password))
            .await
            .map(drop)
    }

    /// A device was removed: it is off the broker when this returns.
    pub async fn device_removed(&self, device: &Uuid, owner: &Uuid) -> Result<(), DynSecError> {
        self.run_checked(rules::device_removed(device, owner))
            .await
            .map(drop)
    }

    /// The broker password of `user`'s viewers, made (or renewed) when needed.
    pub async fn viewer_password(
        &self,
        master: &MasterKey,
        user: &Uuid,
    ) -> Result<String, DynSecError> {
        let _one = self.viewer_lock.lock().await;
        let name = rules::viewer_name(user);
        let got = self
            .run(vec![json!({"command": "getClient", "username": name})])
            .await?;
        let now = unix_ms();
        let existing = got.first().filter(|a| a.error.is_none());
        if let Some(a) = existing
            && let Some(desc) = a
                .data
                .as_ref()
                .and_then(|d| d["client"]["textdescription"].as_str())
            && let Some((expires, password)) = open_description(master, user, desc)
            && expires - now > VIEWER_PASSWORD_MS / 3
        {
            return Ok(password);
        }
        let password = random_token(24);
        let expires = now + VIEWER_PASSWORD_MS;
        let desc = format!(
            "{expires} {}",
            master.wrap(&context(user, expires), password.as_bytes())
        );
        let cmds = if existing.is_some() {
            rules::rotate_viewer(user, &password, &desc)
        } else {
            rules::create_viewer(user, &password, &desc)
        };
        self.run_checked(cmds).await?;
        Ok(password)
    }
}

fn context(user: &Uuid, expires: i64) -> String {
    format!("broker-viewer:{user}:{expires}")
}

/// The expiry and password sealed in a viewer client's description.
fn open_description(master: &MasterKey, user: &Uuid, desc: &str) -> Option<(i64, String)> {
    let (expires, sealed) = desc.split_once(' ')?;
    let expires: i64 = expires.parse().ok()?;
    let plain = master.unwrap(&context(user, expires), sealed)?;
    Some((expires, String::from_utf8(plain).ok()?))
}

/// Hand the answers of a response message to whoever waits for them.
fn deliver(pending: &Pending, tag: &str, payload: &[u8]) {
    let Ok(v) = serde_json::from_slice::<Value>(payload) else {
        tracing::warn!("broker administration: unreadable answer");
        return;
    };
    let Some(list) = v["responses"].as_array() else {
        return;
    };
    let mut by_batch: HashMap<u64, Vec<(usize, Answer)>> = HashMap::new();
    for r in list {
        let Some((batch, i)) = r["correlationData"]
            .as_str()
            .and_then(|c| c.strip_prefix(tag)?.strip_prefix(':')?.split_once(':'))
            .and_then(|(b, i)| Some((b.parse::<u64>().ok()?, i.parse::<usize>().ok()?)))
        else {
            continue;
        };
        by_batch.entry(batch).or_default().push((
            i,
            Answer {
                command: r["command"].as_str().unwrap_or_default().to_owned(),
                error: r["error"].as_str().map(str::to_owned),
                data: r.get("data").cloned(),
            },
        ));
    }
    let mut map = pending.lock().expect("pending map");
    for (batch, answers) in by_batch {
        if let Some((want, _)) = map.get(&batch)
            && answers.len() >= *want
            && let Some((_, tx)) = map.remove(&batch)
        {
            let _ = tx.send(answers);
        }
    }
}
