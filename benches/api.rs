//! Cloud API benchmark: `cargo bench --bench api`.
//!
//! Starts the real service (embedded store; SQLite, or PostgreSQL when
//! `EYRIE_BENCH_DATABASE_URL` is set), seeds a channel with 24 h of 30 s segments (2,880)
//! and measures, through the typed client over HTTP:
//! - `list_24h_p50_ms`: one listing of the 24 h with a presigned GET per segment (p50);
//! - `presign_us`: the cost of one presigned URL;
//! - `list_rps_c16`: one-hour listings per second with 16 concurrent clients;
//! - `clip_finish_ms`: from the answer to the notice of the last covering segment to the
//!   clip reading `finished` (p50, clip of three real 1 MiB segments).
//!
//! The last line printed is one JSON object with these figures.

use std::time::{Duration, Instant};

use eyrie_client::api::{Activation, ApiClient};
use eyrie_protocol::api::{
    ActivateRequest, ClipStatus, CreateClipRequest, UploadNotice, UploadSlotRequest,
};

fn p50(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

fn main() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(bench())
}

async fn bench() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut config = eyrie_cloud::Config::embedded(dir.path());
    config.database_url = std::env::var("EYRIE_BENCH_DATABASE_URL").ok();
    config.tick = Duration::from_millis(500);
    let app = eyrie_cloud::Application::build(config).await?;
    let base = app.api_url();
    let state = app.state();
    let backend = if state.config.database_url.is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    tokio::spawn(app.run_until_stopped());

    let anon = ApiClient::new(&base);
    anon.register("bench", "bench password").await?;
    let user = anon.with_token(anon.login("bench", "bench password").await?.token);
    let created = user.create_device("Bench cam").await?;
    let req = ActivateRequest {
        activation_code: Some(created.activation_code),
        pairing_token: None,
    };
    let Activation::Ready(creds) = anon.activate(&req).await? else {
        anyhow::bail!("activation pending")
    };
    let device = anon.with_token(creds.device_token.clone());
    let ch = creds.channels.main;

    // 24 h of 30 s segments ending an hour ago.
    let day_end = eyrie_protocol::clock::unix_ms() / 30_000 * 30_000 - 3_600_000;
    let day_start = day_end - 24 * 3_600_000;
    let rows: Vec<(i64, i64, u64)> = (0..2880)
        .map(|i| {
            (
                day_start + i * 30_000,
                day_start + (i + 1) * 30_000,
                1_000_000,
            )
        })
        .collect();
    eyrie_cloud::testing::seed_recordings(&state, &creds.device_id, &ch, &rows).await?;

    // list_24h
    let mut lat = Vec::new();
    for i in 0..25 {
        let t = Instant::now();
        let l = user.recordings(ch, day_start, day_end).await?;
        let ms = t.elapsed().as_secs_f64() * 1e3;
        anyhow::ensure!(
            l.recordings.len() == 2880 && l.gaps.is_empty(),
            "unexpected listing"
        );
        if i >= 5 {
            lat.push(ms);
        }
    }
    let list_24h_p50_ms = p50(lat);

    // Where the listing's time goes, measured in-process (p50 of 20 each): the query,
    // the presigned GETs, the JSON encoding, and the client's decoding of that JSON.
    let (mut q_ms, mut sign_ms, mut enc_ms, mut dec_ms) = (vec![], vec![], vec![], vec![]);
    for _ in 0..20 {
        let t = Instant::now();
        let rows = eyrie_cloud::db::recordings::complete_in_range(
            &state.db, &ch, day_start, day_end, 10_001,
        )
        .await?;
        q_ms.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let sign = state.store.get_signer();
        let recs: Vec<_> = rows
            .into_iter()
            .map(|(mut r, key)| {
                r.download = Some(sign(&key));
                r
            })
            .collect();
        sign_ms.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let body = serde_json::to_vec(&recs)?;
        enc_ms.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let back: Vec<eyrie_protocol::api::Recording> = serde_json::from_slice(&body)?;
        dec_ms.push(t.elapsed().as_secs_f64() * 1e3);
        anyhow::ensure!(back.len() == 2880, "unexpected decode");
    }
    let list_body_bytes = {
        let l = user.recordings(ch, day_start, day_end).await?;
        serde_json::to_vec(&l)?.len()
    };
    let (q_ms, sign_ms, enc_ms, dec_ms) = (p50(q_ms), p50(sign_ms), p50(enc_ms), p50(dec_ms));
    if std::env::var_os("EYRIE_BENCH_LIST_ONLY").is_some() {
        // For profiling: keep listing.
        for _ in 0..400 {
            user.recordings(ch, day_start, day_end).await?;
        }
    }

    // presign
    let n = 20_000;
    let t = Instant::now();
    for i in 0..n {
        std::hint::black_box(state.store.presign_get(&format!("d/x/c/y/r/20260101/{i}")));
    }
    let presign_us = t.elapsed().as_secs_f64() * 1e6 / n as f64;

    // list_rps_c16: one hour, 16 concurrent clients for 3 s.
    let hour_start = day_end - 3_600_000;
    let until = Instant::now() + Duration::from_secs(3);
    let t = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let c = user.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < until {
                if c.recordings(ch, hour_start, day_end)
                    .await
                    .is_ok_and(|l| l.recordings.len() == 120)
                {
                    n += 1;
                }
            }
            n
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await?;
    }
    let list_rps_c16 = total as f64 / t.elapsed().as_secs_f64();

    // clip_finish: three real 1 MiB segments; the clip is asked first, the last segment's
    // notice starts the clock.
    let mut clip_lat = Vec::new();
    let seg = vec![0x5au8; 1 << 20];
    for round in 0..5i64 {
        let s0 = day_start - (round + 1) * 600_000;
        let clip = user
            .create_clip(
                ch,
                &CreateClipRequest {
                    start_ms: s0,
                    end_ms: s0 + 90_000,
                    name: None,
                },
            )
            .await?;
        let mut last = Instant::now();
        for k in 0..3 {
            let slot = device
                .upload_slot(
                    ch,
                    &UploadSlotRequest {
                        start_ms: s0 + k * 30_000,
                        end_ms: s0 + (k + 1) * 30_000,
                        event: false,
                        key_id: None,
                        size: Some(seg.len() as u64),
                        sha256: Some(sha256_hex(&seg)),
                    },
                )
                .await?;
            device.put_presigned(&slot.upload, seg.clone()).await?;
            let notice = UploadNotice {
                size: seg.len() as u64,
                sha256: sha256_hex(&seg),
            };
            device
                .complete_recording(slot.recording_id, &notice)
                .await?;
            last = Instant::now();
        }
        loop {
            let c = user.clip(clip.id).await?;
            if c.status == ClipStatus::Finished {
                break;
            }
            anyhow::ensure!(
                c.status == ClipStatus::InProgress,
                "clip failed: {:?}",
                c.reason
            );
            anyhow::ensure!(
                last.elapsed() < Duration::from_secs(20),
                "clip did not finish"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        clip_lat.push(last.elapsed().as_secs_f64() * 1e3);
    }
    let clip_finish_ms = p50(clip_lat);

    println!("eyrie cloud API benchmark ({backend}, embedded object store, loopback)");
    println!(
        "  list 24 h (2,880 segments + presigned GETs), p50: {list_24h_p50_ms:.2} ms  (goal <= 20)"
    );
    println!(
        "    of which in-process: query {q_ms:.2} ms, presign {sign_ms:.2} ms, JSON encode {enc_ms:.2} ms, client decode {dec_ms:.2} ms; body {} kB",
        list_body_bytes / 1000
    );
    println!("  presign one URL:                                {presign_us:.2} us");
    println!("  list 1 h at concurrency 16:                     {list_rps_c16:.0} req/s");
    println!(
        "  clip finish after last notice, p50:             {clip_finish_ms:.1} ms  (goal <= 1000)"
    );
    println!(
        "{}",
        serde_json::json!({
            "backend": backend,
            "list_24h_p50_ms": (list_24h_p50_ms * 100.0).round() / 100.0,
            "list_24h_query_ms": (q_ms * 100.0).round() / 100.0,
            "list_24h_presign_ms": (sign_ms * 100.0).round() / 100.0,
            "list_24h_encode_ms": (enc_ms * 100.0).round() / 100.0,
            "list_24h_decode_ms": (dec_ms * 100.0).round() / 100.0,
            "list_24h_body_bytes": list_body_bytes,
            "presign_us": (presign_us * 100.0).round() / 100.0,
            "list_rps_c16": list_rps_c16.round(),
            "clip_finish_ms": (clip_finish_ms * 10.0).round() / 10.0,
        })
    );
    Ok(())
}
