//! `cargo bench --bench storage`: cloud-storage figures.
//!
//! - `aes_gcm_gbps`: the segment encryptor's throughput on one core (plaintext through
//!   `SegmentWriter`, 64 KiB chunks); `seg_decrypt_gbps` for the reader.
//! - `storage_cpu_pct`: a real `eyrie camera --source test` process at 720p30, 2 Mbit/s
//!   main stream, against the embedded cloud (which runs in this bench process, so its
//!   CPU is not counted). The camera's CPU time (utime + stime from /proc) is measured in
//!   phases with the store mode `none` (capture, encoding, idle storage) and `continuous`
//!   (the same plus recording, muxing, encryption, spooling and upload, 10 s segments),
//!   alternating off/on three times (30 s each); the figure is the median difference in %
//!   of one core.
//! - `storage_mem_bitrate_s`: the camera's resident memory (VmRSS, mean over the
//!   `continuous` phases) while recording minus before it ever recorded (the first `none`
//!   phase, once the idle camera has settled), over the main bitrate in bytes/s —
//!   i.e. everything recording costs in RAM and keeps (TS writer, encryptor chunk, upload
//!   threads and buffers, connections to the store, allocator slack), not only its data
//!   buffers. Storage at rest (the idle recorder thread, the uploader and heartbeat tasks)
//!   is in both sides and not counted.
//! - `upload_vs_rclone`: the same encrypted segments (8 × 7.5 MB, a 30 s segment at
//!   2 Mbit/s each) uploaded to the same store (through the same loopback relay) by our
//!   uploader (slot → PUT → notice with SHA-256, 2 workers) and by `rclone copy
//!   --transfers 2` (Debian's rclone, S3 remote configured from the environment); the
//!   ratio of our throughput to rclone's, best of two rounds each.
//! - `wrap_keys_us`: wrapping one content key to 10 viewer keys (HPKE X25519 / HKDF-SHA256
//!   / AES-256-GCM, `docs/keys.md` §3), as the camera does at every rotation; the median
//!   of 200 rounds, in µs (goal ≤ 2,000). `unwrap_key_us`: one viewer opening its wrap.
//!
//! `EYRIE_BENCH_PAIRS=N` changes the number of off/on pairs (default 3);
//! `EYRIE_BENCH_WARMUP_SECS=N` the idle wait before the first phase (default 150);
//! `EYRIE_BENCH_VERBOSE=1` prints the camera's RSS every second of each phase and per
//! minute of the wait.
//!
//! The LAST line printed is one JSON object.

#[path = "../tests/storage_support/mod.rs"]
mod storage_support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use eyrie_camera::storage::spool::{EntryKind, SegmentInfo, Spool};
use eyrie_camera::storage::upload::{UploadConfig, Uploader};
use eyrie_protocol::api::RecordingPolicy;
use eyrie_protocol::segment::{KeyId, SegmentKey, SegmentWriter, decrypt_to_vec};
use storage_support::Cloud;

const MAIN_BYTES_PER_S: f64 = 2_000_000.0 / 8.0;

/// Median µs to wrap a fresh content key to 10 viewer keys, and to unwrap one.
fn wrap_keys() -> (f64, f64) {
    use eyrie_protocol::e2e::viewer::ViewerKeys;
    use eyrie_protocol::e2e::wrap;
    let viewers: Vec<ViewerKeys> = (0..10).map(|_| ViewerKeys::generate()).collect();
    let device = uuid::Uuid::new_v4().to_string();
    let (mut wraps, mut unwraps) = (Vec::new(), Vec::new());
    for _ in 0..200 {
        let key = SegmentKey::generate();
        let key_id = KeyId(rand::random()).to_hex();
        let t = std::time::Instant::now();
        let wrapped: Vec<_> = viewers
            .iter()
            .map(|v| wrap::wrap(&key, v.public(), &device, &key_id).expect("wrap"))
            .collect();
        wraps.push(t.elapsed().as_secs_f64() * 1e6);
        let t = std::time::Instant::now();
        let back = wrap::unwrap(&wrapped[3], &viewers[3], &device, &key_id).expect("unwrap");
        unwraps.push(t.elapsed().as_secs_f64() * 1e6);
        assert_eq!(back.as_bytes(), key.as_bytes());
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (median(&mut wraps), median(&mut unwraps))
}

fn aes_gcm() -> (f64, f64) {
    let key = SegmentKey::from_bytes([7; 32]);
    let kid = KeyId([1; 8]);
    let block = vec![0x5au8; 1 << 20];
    let total: usize = 512 << 20;
    let mut w = SegmentWriter::new(std::io::sink(), &key, kid, 64 * 1024).expect("writer");
    for _ in 0..32 {
        w.push(&block).expect("push");
    }
    w.finish().expect("finish");
    let t0 = Instant::now();
    let mut w = SegmentWriter::new(std::io::sink(), &key, kid, 64 * 1024).expect("writer");
    let mut done = 0;
    while done < total {
        w.push(&block).expect("push");
        done += block.len();
    }
    w.finish().expect("finish");
    let enc_gbps = total as f64 * 8.0 / t0.elapsed().as_secs_f64() / 1e9;
    let mut w = SegmentWriter::new(Vec::new(), &key, kid, 64 * 1024).expect("writer");
    for _ in 0..64 {
        w.push(&block).expect("push");
    }
    let seg = w.finish().expect("finish");
    let t1 = Instant::now();
    let plain = decrypt_to_vec(&seg, &key, Some(kid)).expect("decrypt");
    let dec_gbps = plain.len() as f64 * 8.0 / t1.elapsed().as_secs_f64() / 1e9;
    (enc_gbps, dec_gbps)
}

/// utime + stime of a process, in seconds.
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("proc stat");
    // Fields after the ")" that ends the command name: state is field 3; utime 14, stime 15.
    let rest = &stat[stat.rfind(')').expect("stat") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap_or(0.0) + f[12].parse::<f64>().unwrap_or(0.0);
    ticks / 100.0 // USER_HZ is 100 on Linux
}

/// The `kB` value of one line (`VmRSS:`, `RssAnon:`, …) of `/proc/<pid>/status`.
fn status_kb(pid: u32, key: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find(|l| l.starts_with(key))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn rss_bytes(pid: u32) -> f64 {
    status_kb(pid, "VmRSS:").unwrap_or(0) as f64 * 1024.0
}

fn verbose() -> bool {
    std::env::var_os("EYRIE_BENCH_VERBOSE").is_some()
}

struct Child(std::process::Child);
impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One phase: wait for the mode to settle, then measure CPU % and mean RSS.
async fn phase(cloud: &Cloud, device: uuid::Uuid, pid: u32, mode: RecordingPolicy) -> (f64, f64) {
    cloud.set_mode_of(device, mode).await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    let (c0, t0) = (cpu_secs(pid), Instant::now());
    let mut rss = Vec::new();
    while t0.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        rss.push(rss_bytes(pid));
    }
    let pct = (cpu_secs(pid) - c0) / t0.elapsed().as_secs_f64() * 100.0;
    if verbose() {
        let mb: Vec<String> = rss.iter().map(|r| format!("{:.1}", r / 1e6)).collect();
        println!("    RSS each second (MB): {}", mb.join(" "));
    }
    let mean = rss.iter().sum::<f64>() / rss.len().max(1) as f64;
    // Where the memory is at the end of the phase: heap and stacks vs mapped code.
    let field = |k: &str| status_kb(pid, k).map_or("?".to_string(), |v| v.to_string());
    println!(
        "  store mode {:<10} camera CPU {pct:5.1} % of a core, RSS {:.1} MB (anon {} kB, file {} kB, {} threads)",
        mode.as_str(),
        mean / 1e6,
        field("RssAnon:"),
        field("RssFile:"),
        field("Threads:"),
    );
    (pct, mean)
}

async fn cpu_and_memory(cloud: &Cloud) -> (f64, f64) {
    let (device, code) = cloud.new_device("Bench").await;
    cloud.set_mode_of(device, RecordingPolicy::None).await;
    let state = tempfile::tempdir().expect("tempdir");
    let child = Child(
        Command::new(env!("CARGO_BIN_EXE_eyrie"))
            .args(["camera", "--cloud", &cloud.base, "--source", "test"])
            .args([
                "--speaker",
                "none",
                "--fps",
                "30",
                "--keyframe-interval",
                "2",
            ])
            .args(["--segment-secs", "10", "--store-mode-poll", "0.5"])
            .args(["--motion-sensitivity", "0", "--activation-code", &code])
            .arg("--state-dir")
            .arg(state.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("eyrie camera"),
    );
    let pid = child.0.id();
    let sock = state.path().join("control.sock");
    let t0 = Instant::now();
    while !sock.exists() && t0.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(sock.exists(), "the camera started");
    // The rings (10 s of media and a GOP, shared with live view, not storage's) fill in
    // the first ~15 s, but the idle camera's RSS goes on rising for about two minutes
    // (encoder and buffer pools, allocator) — ~0.8 MB after the first minute, then flat
    // within ±0.1 MB for the next eight (`EYRIE_BENCH_WARMUP_SECS=600
    // EYRIE_BENCH_VERBOSE=1`). Measured any earlier, that rise lands in storage's figure.
    let warmup: u64 = std::env::var("EYRIE_BENCH_WARMUP_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150);
    let mut samples = Vec::new();
    for _ in 0..warmup {
        tokio::time::sleep(Duration::from_secs(1)).await;
        samples.push((
            rss_bytes(pid),
            status_kb(pid, "RssAnon:").unwrap_or(0) as f64,
        ));
    }
    if verbose() {
        for (minute, chunk) in samples.chunks(60).enumerate() {
            let n = chunk.len() as f64;
            println!(
                "    warm-up minute {minute}: mean RSS {:.2} MB, anon {:.0} kB",
                chunk.iter().map(|s| s.0).sum::<f64>() / n / 1e6,
                chunk.iter().map(|s| s.1).sum::<f64>() / n,
            );
        }
    }
    // Encoding the moving test pattern varies by a few % of a core from phase to phase,
    // more than storage costs: three off/on pairs of 30 s.
    let (off, rss_off) = phase(cloud, device, pid, RecordingPolicy::None).await;
    let (on, rss) = phase(cloud, device, pid, RecordingPolicy::Continuous).await;
    let mut rss_on = vec![rss];
    let mut diffs = vec![on - off];
    let pairs: usize = std::env::var("EYRIE_BENCH_PAIRS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    for _ in 1..pairs {
        let (off, _) = phase(cloud, device, pid, RecordingPolicy::None).await;
        let (on, rss) = phase(cloud, device, pid, RecordingPolicy::Continuous).await;
        diffs.push(on - off);
        rss_on.push(rss);
    }
    // Against the process before it ever recorded: what storage takes and keeps, plus
    // any drift of the rest of the camera over the run (counted against storage).
    let rss_on = rss_on.iter().sum::<f64>() / rss_on.len() as f64;
    // The median: one phase in three can swing by 5 % with the picture's content.
    let mut sorted = diffs.clone();
    sorted.sort_by(f64::total_cmp);
    let cpu = sorted[sorted.len() / 2];
    let mem = (rss_on - rss_off).max(0.0) / MAIN_BYTES_PER_S;
    println!(
        "storage CPU: {cpu:.2} % of one core (median on−off of three pairs: {diffs:.2?}); RSS +{:.1} MB = {mem:.1} s of 2 Mbit/s",
        (rss_on - rss_off) / 1e6
    );
    (cpu, mem)
}

/// Fill a spool with `n` encrypted segments of `size` bytes; copy the files to `copy_to`.
fn fill_spool(cloud: &Cloud, spool: &Spool, n: usize, size: usize, copy_to: &Path) {
    let key = cloud.key();
    let kid = cloud.key_id();
    let mut data = vec![0u8; size];
    let now = storage_support::now_ms();
    for i in 0..n {
        for (j, b) in data.iter_mut().enumerate() {
            *b = (j as u32)
                .wrapping_mul(2_654_435_761)
                .wrapping_add(i as u32) as u8;
        }
        let mut w = spool.begin(&key, kid).expect("spool");
        w.write(&data).expect("write");
        let start = now - 3_000_000 + (i as i64) * 30_000 + (now % 1000) * 37;
        let e = w
            .commit(SegmentInfo {
                kind: EntryKind::Segment,
                channel_id: cloud.creds.channels.main,
                start_ms: start,
                end_ms: start + 30_000,
                event: false,
                duration_us: 30_000_000,
            })
            .expect("commit");
        std::fs::copy(&e.path, copy_to.join(format!("{}.seg", e.name))).expect("copy");
    }
}

async fn ours_vs_rclone(cloud: &Cloud) -> (f64, f64, f64) {
    let (n, size) = (8, 7_500_000);
    let mut best_ours = f64::MAX;
    let mut best_rclone = f64::MAX;
    let mut bytes = 0u64;
    for round in 0..2 {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = dir.path().join("files");
        std::fs::create_dir_all(&files).expect("mkdir");
        let spool = Spool::open(dir.path().join("spool"), 1 << 30).expect("spool");
        fill_spool(cloud, &spool, n, size, &files);
        bytes = spool.stats().queued_bytes;
        let t0 = Instant::now();
        let up = Uploader::start(
            spool.clone(),
            cloud.client(),
            UploadConfig {
                concurrency: 2,
                ..UploadConfig::default()
            },
        );
        while spool.stats().queued > 0 {
            assert!(
                t0.elapsed() < Duration::from_secs(120),
                "uploads did not drain in 2 minutes: {:?}",
                spool.stats()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let ours = t0.elapsed().as_secs_f64();
        up.stop().await;
        assert_eq!(spool.stats().dropped, 0, "every segment uploaded");

        let s3 = &cloud.s3;
        let t1 = Instant::now();
        let out = Command::new("rclone")
            .args(["copy", "--transfers", "2", "--s3-no-check-bucket"])
            .arg(&files)
            .arg(format!("bench:{}/rclone-{round}", s3.bucket))
            .env("RCLONE_CONFIG_BENCH_TYPE", "s3")
            .env("RCLONE_CONFIG_BENCH_PROVIDER", "Other")
            .env("RCLONE_CONFIG_BENCH_ACCESS_KEY_ID", &s3.access_key)
            .env("RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY", &s3.secret_key)
            .env("RCLONE_CONFIG_BENCH_ENDPOINT", s3.endpoint.as_str())
            .env("RCLONE_CONFIG_BENCH_REGION", &s3.region)
            .env("RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE", "true")
            // rclone 1.60's S3 client cannot load AWS_CA_BUNDLE with its own transport
            // ("HTTPClient's transport unsupported type"); the store is plain loopback HTTP.
            .env_remove("AWS_CA_BUNDLE")
            .output()
            .expect("rclone runs");
        let theirs = t1.elapsed().as_secs_f64();
        assert!(
            out.status.success(),
            "rclone: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        println!(
            "  round {round}: ours {:.0} MB/s ({ours:.2} s), rclone {:.0} MB/s ({theirs:.2} s)",
            bytes as f64 / ours / 1e6,
            bytes as f64 / theirs / 1e6
        );
        best_ours = best_ours.min(ours);
        best_rclone = best_rclone.min(theirs);
    }
    let ours_mbs = bytes as f64 / best_ours / 1e6;
    let rclone_mbs = bytes as f64 / best_rclone / 1e6;
    (ours_mbs, rclone_mbs, best_rclone / best_ours)
}

fn main() {
    let (enc_gbps, dec_gbps) = aes_gcm();
    println!(
        "segment encryption: {enc_gbps:.2} Gbit/s ({:.2} GB/s) on one core",
        enc_gbps / 8.0
    );
    println!("segment decryption: {dec_gbps:.2} Gbit/s");
    let (wrap_us, unwrap_us) = wrap_keys();
    println!("content key wrapped to 10 viewers: {wrap_us:.0} µs; one unwrap {unwrap_us:.0} µs");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (cpu, mem, ours, rclone, ratio) = rt.block_on(async {
        // Continuous: the cloud refuses upload slots to a device in store mode `none`
        // (the upload round uses this first device's credentials).
        let cloud = Cloud::start(RecordingPolicy::Continuous).await;
        let (ours, rclone, ratio) = ours_vs_rclone(&cloud).await;
        println!("upload: ours {ours:.0} MB/s, rclone {rclone:.0} MB/s → {ratio:.2}×");
        let (cpu, mem) = cpu_and_memory(&cloud).await;
        (cpu, mem, ours, rclone, ratio)
    });
    println!(
        "{{\"aes_gcm_gbps\": {enc_gbps:.3}, \"aes_gcm_gbytes_per_s\": {:.3}, \"seg_decrypt_gbps\": {dec_gbps:.3}, \"storage_cpu_pct\": {cpu:.2}, \"storage_mem_bitrate_s\": {mem:.2}, \"upload_vs_rclone\": {ratio:.2}, \"upload_mb_s\": {ours:.1}, \"rclone_mb_s\": {rclone:.1}, \"wrap_keys_us\": {wrap_us:.1}, \"unwrap_key_us\": {unwrap_us:.1}}}",
        enc_gbps / 8.0
    );
}
