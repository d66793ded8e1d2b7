//! One single-node Garage per test binary: an S3 implementation we did not write.
//!
//! `garage server --single-node --default-bucket` with a generated configuration and
//! generated keys. When `garage` is not installed the tests that need it say so loudly and
//! skip (`build-aux/setup` installs it; it takes ~20 minutes to build).

use std::io::Write as _;
use std::sync::OnceLock;
use std::time::Duration;

use eyrie_cloud::S3Settings;

use crate::net::{free_port, wait_port};
use crate::process::Guarded;

struct Node {
    settings: S3Settings,
    _process: Guarded,
    _dir: tempfile::TempDir,
}

static NODE: OnceLock<Option<Node>> = OnceLock::new();

/// Where `garage` is installed, if it is.
pub fn binary() -> Option<std::path::PathBuf> {
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    [
        home.map(|h| h.join(".cargo/bin/garage")),
        Some("/usr/local/bin/garage".into()),
        Some("/usr/bin/garage".into()),
    ]
    .into_iter()
    .flatten()
    .find(|p| p.exists())
}

/// The S3 settings of this test binary's Garage node, or None (loudly) when `garage` is
/// not installed.
pub fn settings() -> Option<S3Settings> {
    NODE.get_or_init(start).as_ref().map(|n| n.settings.clone())
}

fn start() -> Option<Node> {
    let Some(bin) = binary() else {
        eprintln!(
            "\n!!!!!!!! SKIPPING GARAGE TESTS: the `garage` binary is not installed \
             (build-aux/setup runs `cargo install garage --locked`) !!!!!!!!\n"
        );
        return None;
    };
    let dir = tempfile::Builder::new()
        .prefix("eyrie-garage")
        .tempdir()
        .expect("tempdir");
    let (rpc, s3) = (free_port(), free_port());
    let conf = dir.path().join("garage.toml");
    let mut f = std::fs::File::create(&conf).expect("config");
    write!(
        f,
        "metadata_dir = \"{d}/meta\"\ndata_dir = \"{d}/data\"\ndb_engine = \"sqlite\"\n\
         replication_factor = 1\nrpc_bind_addr = \"127.0.0.1:{rpc}\"\nrpc_public_addr = \"127.0.0.1:{rpc}\"\n\
         rpc_secret = \"{}\"\n[s3_api]\ns3_region = \"garage\"\napi_bind_addr = \"127.0.0.1:{s3}\"\n\
         root_domain = \".s3.garage.localhost\"\n",
        hex::encode(rand::random::<[u8; 32]>()),
        d = dir.path().display()
    )
    .expect("write config");
    let access = format!("GK{}", hex::encode(rand::random::<[u8; 12]>()));
    let secret_key = hex::encode(rand::random::<[u8; 32]>());
    let server = format!(
        "{} -c {} server --single-node --default-bucket >{}/log 2>&1",
        bin.display(),
        conf.display(),
        dir.path().display()
    );
    let process = Guarded::spawn(
        &[],
        &server,
        "TERM",
        dir.path(),
        &[
            ("GARAGE_DEFAULT_ACCESS_KEY", &access),
            ("GARAGE_DEFAULT_SECRET_KEY", &secret_key),
            ("GARAGE_DEFAULT_BUCKET", "eyrie"),
            ("RUST_LOG", "warn"),
        ],
    );
    assert!(
        wait_port(s3, Duration::from_secs(30)),
        "garage did not start"
    );
    Some(Node {
        settings: S3Settings {
            endpoint: format!("http://127.0.0.1:{s3}").parse().expect("url"),
            public_endpoint: None,
            bucket: "eyrie".into(),
            region: "garage".into(),
            access_key: access,
            secret_key,
            virtual_host: false,
        },
        _process: process,
        _dir: dir,
    })
}
