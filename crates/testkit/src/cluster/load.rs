//! The load generator: C cameras and V viewers against any cloud URL, with a time scale
//! so that an hour of camera life takes seconds or minutes.
//!
//! ```text
//!  camera (every segment of simulated time)     viewer (every few simulated minutes)
//!   heartbeat                                    list the last 10 min of each camera
//!   slot ─► PUT to the presigned URL ─► notice   ticket for one camera
//!   event start/end (every 10 min)               clip of a past range ─► wait ─► download
//!   snapshot slot ─► PUT ─► confirm (15 min)
//! ```
//!
//! Cameras are spread over the viewers' accounts. Recorded time lies in the past
//! (ending a minute before the run starts), so nothing depends on the clocks agreeing.
//! Every operation is retried as our clients retry (transport errors and any refusal,
//! up to 6 tries, 100–800 ms apart); only an operation that failed every try is an
//! error. [`Report`] gives throughput and p50/p99 per operation, every error, and
//! [`verify`] checks afterwards that nothing was lost: every segment PUT is listed
//! complete, every listed recording's object downloads, every clip finished whole.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::client::Client;
use crate::cloud::sha256;

/// What to simulate.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub cameras: usize,
    pub viewers: usize,
    /// Simulated duration.
    pub sim: Duration,
    /// Simulated seconds per real second.
    pub time_scale: f64,
    /// Simulated length of a segment.
    pub segment: Duration,
    /// Bytes per segment.
    pub segment_bytes: usize,
}

/// What one run did.
#[derive(Debug, Default)]
pub struct Report {
    /// Latencies (ms) per operation, successful ones.
    pub latencies: BTreeMap<&'static str, Vec<f64>>,
    /// Operations that failed every try.
    pub errors: Vec<String>,
    /// Per camera: its credentials, its owner's token, and the recordings it completed
    /// (id, start, end, size).
    pub cameras: Vec<CameraRecord>,
    /// Clips requested: (owner token, clip id, expected size).
    pub clips: Vec<(String, String, u64)>,
    pub real: Duration,
}

/// One simulated camera's account of what it uploaded.
#[derive(Debug, Clone)]
pub struct CameraRecord {
    pub creds: Value,
    pub owner: String,
    pub segments: Vec<(String, i64, i64, usize)>,
}

impl Report {
    /// p-th percentile (0..=100) of an operation's latencies, ms.
    pub fn percentile(&self, op: &str, p: f64) -> Option<f64> {
        let v = self.latencies.get(op)?;
        let mut v = v.clone();
        v.sort_by(f64::total_cmp);
        let i = ((p / 100.0) * (v.len() as f64 - 1.0)).round() as usize;
        v.get(i).copied()
    }

    /// All latencies of all operations, p-th percentile.
    pub fn overall(&self, p: f64) -> f64 {
        let mut v: Vec<f64> = self.latencies.values().flatten().copied().collect();
        v.sort_by(f64::total_cmp);
        if v.is_empty() {
            return 0.0;
        }
        v[((p / 100.0) * (v.len() as f64 - 1.0)).round() as usize]
    }

    /// Operations per real second.
    pub fn throughput(&self) -> f64 {
        let n: usize = self.latencies.values().map(Vec::len).sum();
        n as f64 / self.real.as_secs_f64().max(1e-9)
    }

    /// One line per operation, then the errors.
    pub fn text(&self) -> String {
        let mut out = format!(
            "{:>12} {:>7} {:>9} {:>9}\n",
            "operation", "count", "p50 ms", "p99 ms"
        );
        for (op, v) in &self.latencies {
            out.push_str(&format!(
                "{op:>12} {:>7} {:>9.1} {:>9.1}\n",
                v.len(),
                self.percentile(op, 50.0).unwrap_or(0.0),
                self.percentile(op, 99.0).unwrap_or(0.0)
            ));
        }
        out.push_str(&format!(
            "throughput {:.0} ops/s over {:.1} s; {} errors\n",
            self.throughput(),
            self.real.as_secs_f64(),
            self.errors.len()
        ));
        for e in &self.errors {
            out.push_str(&format!("error: {e}\n"));
        }
        out
    }
}

#[derive(Default)]
struct Shared {
    latencies: BTreeMap<&'static str, Vec<f64>>,
    errors: Vec<String>,
}

type Sink = Arc<Mutex<Shared>>;

/// Run `f` as operation `name`, retried; None (and an error recorded) when every try failed.
async fn op<T, F, Fut>(sink: &Sink, name: &'static str, f: F) -> Option<T>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let t0 = Instant::now();
    let mut delay = Duration::from_millis(100);
    let mut last = String::new();
    for _ in 0..6 {
        match f().await {
            Ok(v) => {
                let ms = t0.elapsed().as_secs_f64() * 1000.0;
                sink.lock()
                    .unwrap()
                    .latencies
                    .entry(name)
                    .or_default()
                    .push(ms);
                return Some(v);
            }
            Err(e) => last = e,
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(800));
    }
    sink.lock().unwrap().errors.push(format!("{name}: {last}"));
    None
}

/// Deterministic segment content (different per camera and segment).
fn body(camera: usize, k: usize, len: usize) -> Vec<u8> {
    let seed = (camera * 7919 + k) as u8;
    (0..len)
        .map(|i| seed.wrapping_add((i % 251) as u8))
        .collect()
}

/// Run the load against `base`.
pub async fn run(base: &str, o: &LoadOptions) -> Report {
    let api = Client::new(base);
    let sink: Sink = Default::default();
    let t_start = Instant::now();
    let run_tag = format!("{:06x}", rand::random::<u32>() & 0xff_ffff);
    // Accounts and devices.
    let mut owners = Vec::new();
    for v in 0..o.viewers.max(1) {
        let name = format!("load-{run_tag}-{v}");
        if let Some(t) = op(&sink, "register", || api.user(&name)).await {
            owners.push(t);
        }
    }
    let mut cams = Vec::new();
    for c in 0..o.cameras {
        let Some(owner) = owners.get(c % owners.len().max(1)).cloned() else {
            break;
        };
        let name = format!("cam {c}");
        if let Some(creds) = op(&sink, "activate", || api.device(&owner, &name)).await {
            cams.push((c, owner, creds));
        }
    }
    let sim_ms = o.sim.as_millis() as i64;
    let seg_ms = o.segment.as_millis() as i64;
    let t0_sim = eyrie_protocol::clock::unix_ms() - sim_ms - 60_000;
    let real_start = Instant::now();
    let scale = o.time_scale;
    // Real instant of simulated time `t` (ms since t0_sim).
    let at = move |t: i64| real_start + Duration::from_secs_f64(t as f64 / 1000.0 / scale);
    let records: Arc<Mutex<Vec<CameraRecord>>> = Default::default();
    let mut tasks = Vec::new();
    for (c, owner, creds) in cams.clone() {
        let (api, sink, records, o) = (api.clone(), sink.clone(), records.clone(), o.clone());
        tasks.push(tokio::spawn(async move {
            let dev = creds["device_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let id = creds["device_id"].as_str().unwrap_or_default().to_owned();
            let ch = creds["channels"]["main"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let mut rec = CameraRecord {
                creds: creds.clone(),
                owner,
                segments: Vec::new(),
            };
            let n = sim_ms / seg_ms;
            for k in 0..n {
                tokio::time::sleep_until(at((k + 1) * seg_ms).into()).await;
                let (start, end) = (t0_sim + k * seg_ms, t0_sim + (k + 1) * seg_ms);
                let hb = json!({"queued_segments": 0, "dropped_segments": 0});
                let path = format!("/api/v1/devices/{id}/heartbeat");
                op(&sink, "heartbeat", || {
                    api.expect(
                        reqwest::Method::POST,
                        &path,
                        Some(&dev),
                        Some(hb.clone()),
                        200,
                    )
                })
                .await;
                let b = body(c, k as usize, o.segment_bytes);
                let Some(slot) = op(&sink, "slot", || api.slot(&creds, start, end, &b)).await
                else {
                    continue;
                };
                let rid = slot["recording_id"].as_str().unwrap_or_default().to_owned();
                if op(&sink, "put", || api.put(&slot["upload"], b.clone()))
                    .await
                    .is_none()
                {
                    continue;
                }
                if op(&sink, "complete", || api.complete(&creds, &rid, &b))
                    .await
                    .is_some()
                {
                    rec.segments.push((rid, start, end, b.len()));
                }
                let minute = 60_000;
                if (k * seg_ms) % (10 * minute) < seg_ms {
                    let path = format!("/api/v1/channels/{ch}/events");
                    let start_body = json!({"kind": "motion", "start_ms": start});
                    if let Some(ev) = op(&sink, "event", || {
                        api.expect(
                            reqwest::Method::POST,
                            &path,
                            Some(&dev),
                            Some(start_body.clone()),
                            201,
                        )
                    })
                    .await
                    {
                        let end_path = format!(
                            "/api/v1/events/{}/end",
                            ev["id"].as_str().unwrap_or_default()
                        );
                        let end_body = json!({"end_ms": end});
                        op(&sink, "event", || {
                            api.expect(
                                reqwest::Method::POST,
                                &end_path,
                                Some(&dev),
                                Some(end_body.clone()),
                                200,
                            )
                        })
                        .await;
                    }
                }
                if (k * seg_ms) % (15 * minute) < seg_ms {
                    let img = body(c + 1000, k as usize, 20_000);
                    let path = format!("/api/v1/channels/{ch}/snapshots");
                    let req =
                        json!({"taken_at_ms": start, "size": img.len(), "sha256": sha256(&img)});
                    op(&sink, "snapshot", || async {
                        let s = api
                            .expect(
                                reqwest::Method::POST,
                                &path,
                                Some(&dev),
                                Some(req.clone()),
                                201,
                            )
                            .await?;
                        api.put(&s["upload"], img.clone()).await?;
                        let sid = s["snapshot"]["id"].as_str().unwrap_or_default();
                        api.expect(
                            reqwest::Method::POST,
                            &format!("/api/v1/snapshots/{sid}/confirm"),
                            Some(&dev),
                            None,
                            200,
                        )
                        .await
                    })
                    .await;
                }
            }
            records.lock().unwrap().push(rec);
        }));
    }
    let clips: Arc<Mutex<Vec<(String, String, u64)>>> = Default::default();
    for (v, owner) in owners.iter().enumerate() {
        let mine: Vec<Value> = cams
            .iter()
            .filter(|(_, o, _)| o == owner)
            .map(|(_, _, c)| c.clone())
            .collect();
        let (api, sink, clips, owner, o) = (
            api.clone(),
            sink.clone(),
            clips.clone(),
            owner.clone(),
            o.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let step = 5 * 60_000;
            let mut t = step + (v as i64 * 17_000) % step;
            let mut round = 0usize;
            while t < sim_ms {
                tokio::time::sleep_until(at(t).into()).await;
                for creds in &mine {
                    let ch = creds["channels"]["main"].as_str().unwrap_or_default();
                    let path = format!(
                        "/api/v1/channels/{ch}/recordings?start_ms={}&end_ms={}",
                        t0_sim + t - 10 * 60_000,
                        t0_sim + t
                    );
                    op(&sink, "list", || {
                        api.expect(reqwest::Method::GET, &path, Some(&owner), None, 200)
                    })
                    .await;
                }
                if let Some(creds) = mine.get(round % mine.len().max(1)) {
                    let dev = creds["device_id"].as_str().unwrap_or_default();
                    let path = format!("/api/v1/devices/{dev}/tickets");
                    op(&sink, "ticket", || {
                        api.expect(
                            reqwest::Method::POST,
                            &path,
                            Some(&owner),
                            Some(json!({})),
                            200,
                        )
                    })
                    .await;
                    // A clip of two segments well in the past of the simulated clock.
                    let seg = o.segment.as_millis() as i64;
                    let end = ((t - 3 * seg) / seg) * seg;
                    if round % 2 == 1 && end >= 2 * seg {
                        let (s, e) = (t0_sim + end - 2 * seg, t0_sim + end);
                        if let Some(id) = op(&sink, "clip", || api.clip(&owner, creds, s, e)).await
                        {
                            clips.lock().unwrap().push((
                                owner.clone(),
                                id,
                                2 * o.segment_bytes as u64,
                            ));
                        }
                    }
                }
                round += 1;
                t += step;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let real = t_start.elapsed();
    let shared = std::mem::take(&mut *sink.lock().unwrap());
    let cameras = std::mem::take(&mut *records.lock().unwrap());
    let clips = std::mem::take(&mut *clips.lock().unwrap());
    Report {
        latencies: shared.latencies,
        errors: shared.errors,
        cameras,
        clips,
        real,
    }
}

/// After a run: every segment uploaded is listed complete and its object downloads whole,
/// no recording is listed that was not uploaded, every clip finishes with the size of its
/// segments and downloads. Returns the problems found (empty: nothing lost).
pub async fn verify(base: &str, report: &Report, clip_timeout: Duration) -> Vec<String> {
    let api = Client::new(base);
    let mut problems = Vec::new();
    for cam in &report.cameras {
        let ch = cam.creds["channels"]["main"].as_str().unwrap_or_default();
        let (Some(first), Some(last)) = (cam.segments.first(), cam.segments.last()) else {
            continue;
        };
        let path = format!(
            "/api/v1/channels/{ch}/recordings?start_ms={}&end_ms={}",
            first.1, last.2
        );
        let listed = match api
            .expect(reqwest::Method::GET, &path, Some(&cam.owner), None, 200)
            .await
        {
            Ok(v) => v["recordings"].as_array().cloned().unwrap_or_default(),
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        let by_id: BTreeMap<&str, &Value> = listed
            .iter()
            .filter_map(|r| Some((r["id"].as_str()?, r)))
            .collect();
        for (id, _, _, size) in &cam.segments {
            match by_id.get(id.as_str()) {
                None => problems.push(format!("recording {id} uploaded but not listed")),
                Some(r) if r["status"] != "complete" || r["size"] != *size => {
                    problems.push(format!("recording {id} listed as {r}"));
                }
                Some(r) => {
                    let url = r["download"]["url"].as_str().unwrap_or_default();
                    match api.http.get(url).send().await {
                        Ok(resp) if resp.status().is_success() => {
                            let got = resp.bytes().await.map(|b| b.len()).unwrap_or(0);
                            if got != *size {
                                problems.push(format!(
                                    "recording {id}: object has {got} bytes, not {size}"
                                ));
                            }
                        }
                        Ok(resp) => {
                            problems.push(format!("recording {id}: object GET {}", resp.status()));
                        }
                        Err(e) => problems.push(format!("recording {id}: object GET {e}")),
                    }
                }
            }
        }
        let ours: std::collections::BTreeSet<&str> =
            cam.segments.iter().map(|s| s.0.as_str()).collect();
        for id in by_id.keys() {
            if !ours.contains(id) {
                problems.push(format!("recording {id} listed but never uploaded"));
            }
        }
    }
    for (owner, id, size) in &report.clips {
        let t0 = Instant::now();
        loop {
            match api
                .expect(
                    reqwest::Method::GET,
                    &format!("/api/v1/clips/{id}"),
                    Some(owner),
                    None,
                    200,
                )
                .await
            {
                Ok(c) if c["status"] == "finished" => {
                    if c["size"] != *size {
                        problems.push(format!("clip {id}: size {} not {size}", c["size"]));
                    }
                    break;
                }
                Ok(c) if c["status"] == "failed" => {
                    problems.push(format!("clip {id} failed: {}", c["reason"]));
                    break;
                }
                Ok(_) if t0.elapsed() < clip_timeout => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Ok(c) => {
                    problems.push(format!("clip {id} not finished: {c}"));
                    break;
                }
                Err(e) => {
                    problems.push(e);
                    break;
                }
            }
        }
    }
    problems
}
