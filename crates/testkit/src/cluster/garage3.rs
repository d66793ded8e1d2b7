//! A Garage cluster of three nodes on loopback, replication factor 3: each node its own
//! configuration, data directory, RPC and S3 ports; one layout (zone `dc1`, every node
//! holding a full copy), one bucket and one key. A node can be stopped and started
//! again (same directory, same ports), as when a machine of the cluster goes down.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use eyrie_cloud::S3Settings;

use crate::net::{free_port, wait_port};

/// One node.
pub struct GarageNode {
    pub s3_port: u16,
    pub rpc_port: u16,
    conf: PathBuf,
    child: Option<Child>,
}

/// The running cluster.
pub struct GarageCluster {
    pub nodes: Vec<GarageNode>,
    /// The key's access key id and secret, and the bucket.
    pub access_key: String,
    pub secret_key: String,
    pub bucket: String,
    bin: PathBuf,
    pub dir: PathBuf,
}

impl GarageCluster {
    /// Start `n` nodes (replication factor `n`, at most 3) under `dir`, lay them out and
    /// make the bucket `eyrie` with a key allowed to use it.
    pub fn start(bin: &Path, dir: &Path, n: usize) -> Result<GarageCluster, String> {
        let secret = hex::encode(rand::random::<[u8; 32]>());
        let mut nodes = Vec::new();
        for i in 0..n {
            let d = dir.join(format!("garage{i}"));
            std::fs::create_dir_all(&d).map_err(|e| e.to_string())?;
            let (rpc, s3) = (free_port(), free_port());
            let conf = d.join("garage.toml");
            let mut f = std::fs::File::create(&conf).map_err(|e| e.to_string())?;
            write!(
                f,
                "metadata_dir = \"{d}/meta\"\ndata_dir = \"{d}/data\"\ndb_engine = \"sqlite\"\n\
                 replication_factor = {n}\nrpc_bind_addr = \"127.0.0.1:{rpc}\"\n\
                 rpc_public_addr = \"127.0.0.1:{rpc}\"\nrpc_secret = \"{secret}\"\n\
                 [s3_api]\ns3_region = \"garage\"\napi_bind_addr = \"127.0.0.1:{s3}\"\n\
                 root_domain = \".s3.garage.localhost\"\n",
                d = d.display()
            )
            .map_err(|e| e.to_string())?;
            nodes.push(GarageNode {
                s3_port: s3,
                rpc_port: rpc,
                conf,
                child: None,
            });
        }
        let mut c = GarageCluster {
            nodes,
            access_key: format!("GK{}", hex::encode(rand::random::<[u8; 12]>())),
            secret_key: hex::encode(rand::random::<[u8; 32]>()),
            bucket: "eyrie".into(),
            bin: bin.to_owned(),
            dir: dir.to_owned(),
        };
        for i in 0..n {
            c.start_node(i)?;
        }
        // Connect the nodes, give each the same capacity in one zone, apply.
        let ids: Vec<String> = (0..n)
            .map(|i| c.cli(i, &["node", "id", "-q"]))
            .collect::<Result<_, _>>()?;
        for id in ids.iter().skip(1) {
            // `node id` prints `<id>@<rpc address>`, what `node connect` takes.
            c.retry(|| c.cli(0, &["node", "connect", id.trim()]))?;
        }
        // A node started again (a machine back) finds the others by itself, as a real
        // deployment's nodes do through `bootstrap_peers`: without it a returning node
        // stays unconnected until someone runs `node connect`.
        let peers: Vec<String> = ids.iter().map(|id| format!("\"{}\"", id.trim())).collect();
        for node in &c.nodes {
            let conf = std::fs::read_to_string(&node.conf).map_err(|e| e.to_string())?;
            let conf = format!("bootstrap_peers = [{}]\n{conf}", peers.join(", "));
            std::fs::write(&node.conf, conf).map_err(|e| e.to_string())?;
        }
        for id in &ids {
            let short = id.trim().split('@').next().unwrap_or_default().to_owned();
            c.retry(|| c.cli(0, &["layout", "assign", "-z", "dc1", "-c", "1G", &short]))?;
        }
        c.cli(0, &["layout", "apply", "--version", "1"])?;
        c.retry(|| c.cli(0, &["bucket", "create", "eyrie"]))?;
        c.cli(
            0,
            &[
                "key",
                "import",
                "--yes",
                "-n",
                "eyrie",
                &c.access_key,
                &c.secret_key,
            ],
        )?;
        c.cli(
            0,
            &[
                "bucket", "allow", "--read", "--write", "--owner", "eyrie", "--key", "eyrie",
            ],
        )?;
        Ok(c)
    }

    /// Start node `i` (again).
    pub fn start_node(&mut self, i: usize) -> Result<(), String> {
        let node = &mut self.nodes[i];
        let log =
            std::fs::File::create(node.conf.with_file_name("log")).map_err(|e| e.to_string())?;
        let child = Command::new(&self.bin)
            .arg("-c")
            .arg(&node.conf)
            .arg("server")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("garage: {e}"))?;
        node.child = Some(child);
        if !wait_port(node.s3_port, Duration::from_secs(30)) {
            return Err(format!("garage node {i} did not listen"));
        }
        Ok(())
    }

    /// Wait until node `via` sees every node connected (a returning node rejoins by
    /// itself through `bootstrap_peers`).
    pub fn wait_connected(&self, via: usize, within: Duration) -> Result<Duration, String> {
        let t0 = Instant::now();
        while self.cli(via, &["status"])?.contains("FAILED NODES") {
            if t0.elapsed() > within {
                return Err(format!(
                    "the garage nodes did not all reconnect within {within:?}"
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(t0.elapsed())
    }

    /// Stop node `i` (SIGKILL: a machine gone).
    pub fn stop_node(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The S3 settings for `endpoint` (a node or a balancer in front of them).
    pub fn settings(&self, endpoint: &str) -> S3Settings {
        S3Settings {
            endpoint: endpoint.parse().expect("url"),
            public_endpoint: None,
            bucket: self.bucket.clone(),
            region: "garage".into(),
            access_key: self.access_key.clone(),
            secret_key: self.secret_key.clone(),
            virtual_host: false,
        }
    }

    /// Run the `garage` command line against node `i`; its standard output.
    pub fn cli(&self, i: usize, args: &[&str]) -> Result<String, String> {
        let out = Command::new(&self.bin)
            .arg("-c")
            .arg(&self.nodes[i].conf)
            .args(args)
            .env("RUST_LOG", "error")
            .output()
            .map_err(|e| format!("garage {args:?}: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "garage {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn retry(&self, f: impl Fn() -> Result<String, String>) -> Result<String, String> {
        let t0 = Instant::now();
        loop {
            match f() {
                Ok(s) => return Ok(s),
                Err(e) if t0.elapsed() > Duration::from_secs(20) => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(300)),
            }
        }
    }
}

impl Drop for GarageCluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.stop_node(i);
        }
    }
}
