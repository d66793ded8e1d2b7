//! `build-aux/run-cluster`: start the cluster of `eyrie_testkit::cluster` on loopback,
//! print the one URL, stop everything on Ctrl-C.
//!
//! Usage: `run_cluster <path to eyrie> [instances] [lease seconds]`.

use eyrie_testkit::cluster::{Cluster, ClusterOptions};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let Some(eyrie) = args.next() else {
        eprintln!("usage: run_cluster <path to eyrie> [instances] [lease seconds]");
        std::process::exit(2);
    };
    let mut options = ClusterOptions::new(eyrie);
    if let Some(n) = args.next().and_then(|n| n.parse().ok()) {
        options.instances = n;
    }
    if let Some(n) = args.next().and_then(|n| n.parse().ok()) {
        options.lease_secs = n;
    }
    eprintln!("run-cluster: starting PostgreSQL …");
    let db = eyrie_testkit::postgres::database().await;
    eprintln!(
        "run-cluster: starting Garage (3 nodes), mosquitto, {} cloud instances, HAProxy …",
        options.instances
    );
    let cluster = match Cluster::start(options, db.clone()).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("run-cluster: {e}");
            std::process::exit(1);
        }
    };
    println!("run-cluster: cloud      {}", cluster.url());
    println!(
        "run-cluster: S3 (HAProxy) http://127.0.0.1:{}",
        cluster.haproxy.s3_port
    );
    println!(
        "run-cluster: MQTT       mqtt://127.0.0.1:{} (mosquitto, dynamic security)",
        cluster.broker.port
    );
    println!("run-cluster: PostgreSQL {db}");
    for (i, inst) in cluster.instances.iter().enumerate() {
        println!(
            "run-cluster: instance {i} http://127.0.0.1:{} (pid {:?})",
            inst.port,
            inst.pid()
        );
    }
    println!("run-cluster: files      {}", cluster.dir.path().display());
    println!(
        "run-cluster: e.g. eyrie camera --cloud {} …; Ctrl-C stops everything",
        cluster.url()
    );
    let _ = tokio::signal::ctrl_c().await;
    eprintln!("run-cluster: stopping");
    drop(cluster);
}
