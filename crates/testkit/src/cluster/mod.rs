//! [`Cluster`]: Eyrie on distributed engines, on this machine and loopback only —
//! PostgreSQL, a 3-node Garage cluster (replication factor 3), mosquitto with its logins
//! and ACLs kept by the cloud (dynamic security), N `eyrie cloud` processes sharing one
//! master key, and HAProxy in front of the instances and of the Garage nodes. It prints
//! (and [`Cluster::url`] gives) the one URL cameras and viewers use. `build-aux/run-cluster`
//! and the cluster tests both start it here.
//!
//! ```text
//!   cameras, viewers ──HTTP──► HAProxy :api ──┬─► eyrie cloud #0 ─┐
//!                                             └─► eyrie cloud #1 ─┼─► PostgreSQL
//!                  ──presigned──► HAProxy :s3 ──► garage 0 / 1 / 2 ◄┤   (leases, rows)
//!                  ──MQTT───────► mosquitto (dynsec) ◄── admin link ┘
//! ```
//!
//! Instances are processes so that one can be killed (`SIGKILL`) as a machine dies; a
//! Garage node can be stopped and started again the same way.

pub mod client;
pub mod garage3;
pub mod haproxy;
pub mod load;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::mosquitto::Mosquitto;
use crate::net::{free_port, wait_port};

pub use garage3::GarageCluster;
pub use haproxy::Haproxy;

/// What to start.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// The `eyrie` binary.
    pub eyrie: PathBuf,
    pub instances: usize,
    pub garage_nodes: usize,
    /// `--job-lease-secs` of the instances.
    pub lease_secs: u64,
    /// Environment given to every instance on top of the cluster's own.
    pub extra_env: Vec<(String, String)>,
}

impl ClusterOptions {
    pub fn new(eyrie: impl Into<PathBuf>) -> ClusterOptions {
        ClusterOptions {
            eyrie: eyrie.into(),
            instances: 2,
            garage_nodes: 3,
            lease_secs: 30,
            extra_env: Vec::new(),
        }
    }
}

/// One `eyrie cloud` process.
pub struct Instance {
    pub port: u16,
    env: Vec<(String, String)>,
    dir: PathBuf,
    child: Option<Child>,
}

/// Everything running.
pub struct Cluster {
    pub options: ClusterOptions,
    pub database_url: String,
    pub garage: GarageCluster,
    pub broker: Mosquitto,
    pub instances: Vec<Instance>,
    pub haproxy: Haproxy,
    pub dir: tempfile::TempDir,
}

impl Cluster {
    /// Start it all; `database_url` is an empty PostgreSQL database
    /// ([`crate::postgres::database`]).
    pub async fn start(options: ClusterOptions, database_url: String) -> Result<Cluster, String> {
        let dir = tempfile::Builder::new()
            .prefix("eyrie-cluster")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let garage_bin = crate::garage::binary()
            .ok_or("the `garage` binary is not installed (build-aux/setup)")?;
        let (gdir, n) = (dir.path().to_owned(), options.garage_nodes);
        let garage =
            tokio::task::spawn_blocking(move || GarageCluster::start(&garage_bin, &gdir, n))
                .await
                .map_err(|e| e.to_string())??;
        let broker = tokio::task::spawn_blocking(Mosquitto::with_dynsec)
            .await
            .map_err(|e| e.to_string())?;
        let ports: Vec<u16> = (0..options.instances).map(|_| free_port()).collect();
        let s3: Vec<u16> = garage.nodes.iter().map(|n| n.s3_port).collect();
        let haproxy = Haproxy::start(dir.path(), &ports, &s3)?;
        let master = {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
        };
        let (admin_user, admin_password) = broker.admin.clone().expect("dynsec broker");
        let mut instances = Vec::new();
        for (i, port) in ports.iter().enumerate() {
            let idir = dir.path().join(format!("cloud{i}"));
            std::fs::create_dir_all(&idir).map_err(|e| e.to_string())?;
            let mut env: Vec<(String, String)> = [
                ("EYRIE_LISTEN", format!("127.0.0.1:{port}")),
                ("EYRIE_DATA_DIR", idir.display().to_string()),
                ("EYRIE_DATABASE_URL", database_url.clone()),
                (
                    "EYRIE_S3_ENDPOINT",
                    format!("http://127.0.0.1:{}", haproxy.s3_port),
                ),
                ("EYRIE_S3_BUCKET", garage.bucket.clone()),
                ("EYRIE_S3_REGION", "garage".into()),
                ("EYRIE_S3_ACCESS_KEY", garage.access_key.clone()),
                ("EYRIE_S3_SECRET_KEY", garage.secret_key.clone()),
                ("EYRIE_MQTT_HOST", "127.0.0.1".into()),
                ("EYRIE_MQTT_PORT", broker.port.to_string()),
                ("EYRIE_MQTT_ADMIN_USER", admin_user.clone()),
                ("EYRIE_MQTT_ADMIN_PASSWORD", admin_password.clone()),
                ("EYRIE_MASTER_KEY", master.clone()),
                (
                    "EYRIE_PUBLIC_URL",
                    format!("http://127.0.0.1:{}", haproxy.api_port),
                ),
                ("EYRIE_TRUSTED_PROXIES", "127.0.0.1".into()),
                ("EYRIE_TLS", "off".into()),
                ("EYRIE_JOB_LEASE_SECS", options.lease_secs.to_string()),
                ("RUST_LOG", "warn".into()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
            env.extend(options.extra_env.iter().cloned());
            let mut inst = Instance {
                port: *port,
                env,
                dir: idir,
                child: None,
            };
            inst.start(&options.eyrie)?;
            instances.push(inst);
        }
        let c = Cluster {
            options,
            database_url,
            garage,
            broker,
            instances,
            haproxy,
            dir,
        };
        c.wait_healthy().await?;
        Ok(c)
    }

    /// The one URL cameras and viewers use.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.haproxy.api_port)
    }

    /// Kill instance `i` with SIGKILL (a machine gone: no lease given back).
    pub fn kill_instance(&mut self, i: usize) {
        self.instances[i].kill();
    }

    /// Start instance `i` again.
    pub fn restart_instance(&mut self, i: usize) -> Result<(), String> {
        let bin = self.options.eyrie.clone();
        self.instances[i].start(&bin)
    }

    /// Wait until HAProxy answers through at least one healthy instance.
    pub async fn wait_healthy(&self) -> Result<(), String> {
        let http = reqwest::Client::new();
        for _ in 0..200 {
            if let Ok(r) = http.get(format!("{}/healthz", self.url())).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err("the cluster did not become healthy".into())
    }
}

impl Instance {
    fn start(&mut self, bin: &Path) -> Result<(), String> {
        let log = std::fs::File::create(self.dir.join("log")).map_err(|e| e.to_string())?;
        let child = Command::new(bin)
            .arg("cloud")
            .env_clear()
            .envs(std::env::vars().filter(|(k, _)| k == "PATH" || k == "HOME"))
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("eyrie cloud: {e}"))?;
        self.child = Some(child);
        if !wait_port(self.port, Duration::from_secs(60)) {
            let log = std::fs::read_to_string(self.dir.join("log")).unwrap_or_default();
            return Err(format!(
                "eyrie cloud on {} did not start:\n{log}",
                self.port
            ));
        }
        Ok(())
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// What the instance logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}
