//! Eyrie on distributed engines (`eyrie_testkit::cluster`): PostgreSQL, a 3-node Garage
//! cluster, mosquitto with dynamic security, two `eyrie cloud` processes behind HAProxy.
//! Needs `--features test-hooks`: an instance pauses in the middle of each clip
//! (`EYRIE_TEST_CLIP_PAUSE_MS`) so the test can kill it there.

mod cluster_support;

use std::time::{Duration, Instant};

use eyrie_protocol::clock::unix_ms;
use eyrie_testkit::cluster::client::Client;
use eyrie_testkit::cluster::{Cluster, ClusterOptions};

/// The lines of every instance's log that mention `clip` and `what`.
fn mentions(c: &Cluster, clip: &str, what: &str) -> usize {
    c.instances
        .iter()
        .map(|i| {
            i.log()
                .lines()
                .filter(|l| l.contains(clip) && l.contains(what))
                .count()
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clip_whose_instance_is_killed_is_finished_once_by_the_other() {
    if eyrie_testkit::garage::binary().is_none() {
        eprintln!("\n!!!!!!!! SKIPPING: the `garage` binary is not installed !!!!!!!!\n");
        return;
    }
    let mut options = ClusterOptions::new(env!("CARGO_BIN_EXE_eyrie"));
    options.lease_secs = 2;
    options.extra_env = vec![
        ("EYRIE_TEST_CLIP_PAUSE_MS".into(), "1500".into()),
        (
            "RUST_LOG".into(),
            "warn,eyrie_cloud::workers::clips=info".into(),
        ),
        ("NO_COLOR".into(), "1".into()),
    ];
    let db = eyrie_testkit::postgres::database().await;
    let mut cluster = Cluster::start(options, db).await.expect("cluster");
    let api = Client::new(cluster.url());
    let alice = api.user("alice").await.unwrap();
    let creds = api.device(&alice, "Porch").await.unwrap();
    let t0 = unix_ms() - 300_000;
    for i in 0..4u8 {
        let start = t0 + i64::from(i) * 10_000;
        api.segment(&creds, start, start + 10_000, vec![i; 200_000])
            .await
            .unwrap();
    }
    let mut clips = Vec::new();
    for _ in 0..4 {
        clips.push(api.clip(&alice, &creds, t0, t0 + 40_000).await.unwrap());
    }
    // Find the instance in the middle of a clip and kill it there.
    let t = Instant::now();
    let (victim, clip) = loop {
        let found = cluster.instances.iter().enumerate().find_map(|(i, inst)| {
            let log = inst.log();
            clips
                .iter()
                .find(|c| {
                    log.lines()
                        .any(|l| l.contains(c.as_str()) && l.contains("pausing"))
                })
                .map(|c| (i, c.clone()))
        });
        if let Some(f) = found {
            break f;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "no instance took a clip"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    cluster.kill_instance(victim);
    assert_eq!(
        mentions(&cluster, &clip, "clip finished"),
        0,
        "killed too late"
    );
    // Every clip is finished (the killed one after its claim ran out) through the one URL.
    let t = Instant::now();
    for id in &clips {
        loop {
            let (s, c) = api
                .call(
                    reqwest::Method::GET,
                    &format!("/api/v1/clips/{id}"),
                    Some(&alice),
                    None,
                )
                .await
                .unwrap();
            assert_eq!(s, 200, "{c}");
            if c["status"] == "finished" {
                assert_eq!(c["size"], 800_000, "{c}");
                let url = c["download"]["url"].as_str().expect("download");
                let body = api
                    .http
                    .get(url)
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap();
                assert_eq!(body.len(), 800_000);
                break;
            }
            assert_ne!(c["status"], "failed", "{c}");
            assert!(
                t.elapsed() < Duration::from_secs(40),
                "clip not finished: {c}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // Each finished exactly once, the killed instance's clip by the other one.
    for id in &clips {
        assert_eq!(mentions(&cluster, id, "clip finished"), 1, "clip {id}");
    }
    let other = 1 - victim;
    assert_eq!(
        cluster.instances[other]
            .log()
            .lines()
            .filter(|l| l.contains(clip.as_str()) && l.contains("clip finished"))
            .count(),
        1,
        "the survivor took the killed instance's clip over"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_hour_of_twenty_cameras_survives_a_dead_instance_a_stopped_garage_node_and_a_broker_restart()
 {
    use eyrie_testkit::cluster::load::{self, LoadOptions};
    if eyrie_testkit::garage::binary().is_none() {
        eprintln!("\n!!!!!!!! SKIPPING: the `garage` binary is not installed !!!!!!!!\n");
        return;
    }
    let mut options = ClusterOptions::new(env!("CARGO_BIN_EXE_eyrie"));
    options.lease_secs = 2;
    let db = eyrie_testkit::postgres::database().await;
    let mut cluster = Cluster::start(options, db).await.expect("cluster");
    let url = cluster.url();
    let talk = cluster_support::start(&url).await;
    let o = LoadOptions {
        cameras: 20,
        viewers: 2,
        sim: Duration::from_secs(3600),
        time_scale: 600.0,
        segment: Duration::from_secs(300),
        segment_bytes: 16 * 1024,
    };
    let load = tokio::spawn({
        let (url, o) = (url.clone(), o.clone());
        async move { load::run(&url, &o).await }
    });
    // Mid-run: one instance dies (SIGKILL), one Garage node stops and comes back.
    tokio::time::sleep(Duration::from_secs(2)).await;
    cluster.kill_instance(1);
    tokio::time::sleep(Duration::from_secs(1)).await;
    cluster.garage.stop_node(2);
    tokio::time::sleep(Duration::from_secs(1)).await;
    // mosquitto restarted: the links reconnect, the broker has its logins and ACLs back.
    let talk_from = unix_ms() - 2_000;
    cluster.broker.restart();
    let restarted = unix_ms();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let report = load.await.unwrap();
    cluster.garage.start_node(2).unwrap();
    eprintln!("{}", report.text());
    // Signalling went on across the restart, and Bob never read or wrote Alice's.
    while unix_ms() < restarted + 10_000 {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (silence, answers_after) = talk.longest_silence(talk_from, restarted + 6_000);
    {
        let seen = talk.seen.lock().unwrap();
        eprintln!(
            "signalling: {} answers, longest silence around the broker restart {silence} ms",
            seen.pongs.len()
        );
        assert!(
            seen.bob_read.is_empty(),
            "Bob's viewer read {:?}",
            seen.bob_read
        );
        assert!(
            seen.camera_got_forged.is_empty(),
            "camera A got {:?}",
            seen.camera_got_forged
        );
    }
    assert!(
        silence <= 6_000,
        "no answer for {silence} ms around the broker restart (link back-off is at most 5 s)"
    );
    assert!(answers_after > 0, "no answer after the broker restart");
    assert!(report.errors.is_empty(), "errors:\n{}", report.text());
    let segments: usize = report.cameras.iter().map(|c| c.segments.len()).sum();
    assert_eq!(report.cameras.len(), 20);
    assert_eq!(segments, 20 * 12, "every camera uploaded its hour");
    assert!(!report.clips.is_empty(), "viewers asked for clips");
    let problems = load::verify(&url, &report, Duration::from_secs(30)).await;
    assert!(problems.is_empty(), "lost or wrong: {problems:#?}");
    // The node that was down rejoins by itself (bootstrap peers), without `node connect`.
    let rejoined =
        tokio::task::block_in_place(|| cluster.garage.wait_connected(2, Duration::from_secs(60)))
            .expect("garage node 2 rejoins");
    eprintln!("garage node 2 rejoined {rejoined:?} after the run");
}
