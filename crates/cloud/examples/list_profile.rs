//! Where the time of the 24-hour listing goes, over HTTP: `cargo run --release -p
//! eyrie-cloud --example list_profile` (the `api` benchmark measures the same listing
//! through the typed client; this one splits it, and builds without the app).
//!
//! Prints p50s of: the whole request as a client sees it (bytes only, and decoded), and
//! the server's share (handler until the response is built, from the metrics counter).

use std::time::{Duration, Instant};

use eyrie_protocol::api::RecordingList;
use serde_json::{Value, json};

fn p50(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut config = eyrie_cloud::Config::embedded(dir.path());
    config.database_url = std::env::var("EYRIE_BENCH_DATABASE_URL").ok();
    config.tick = Duration::from_millis(500);
    let app = eyrie_cloud::Application::build(config).await?;
    let base = app.api_url();
    let state = app.state();
    tokio::spawn(app.run_until_stopped());
    let http = reqwest::Client::new();
    let post = |path: &str, token: Option<&str>, body: Value| {
        let mut rb = http.post(format!("{base}{path}")).json(&body);
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        async move { anyhow::Ok(rb.send().await?.json::<Value>().await?) }
    };
    let user = json!({"username": "prof", "password": "profile password"});
    post("/api/v1/accounts", None, user.clone()).await?;
    let login = post("/api/v1/login", None, user).await?;
    let token = login["token"].as_str().unwrap_or_default().to_owned();
    let dev = post("/api/v1/devices", Some(&token), json!({"name": "cam"})).await?;
    let creds = post(
        "/api/v1/activate",
        None,
        json!({"activation_code": dev["activation_code"]}),
    )
    .await?;
    let device: uuid::Uuid = creds["device_id"].as_str().unwrap_or_default().parse()?;
    let ch: uuid::Uuid = creds["channels"]["main"]
        .as_str()
        .unwrap_or_default()
        .parse()?;
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
    eyrie_cloud::testing::seed_recordings(&state, &device, &ch, &rows).await?;
    let url =
        format!("{base}/api/v1/channels/{ch}/recordings?start_ms={day_start}&end_ms={day_end}");
    let (mut bytes_ms, mut decoded_ms, mut server_ms) = (vec![], vec![], vec![]);
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    for i in 0..rounds {
        let m0 = eyrie_cloud::metrics::REQUEST_MICROS.get();
        let t = Instant::now();
        let body = http
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await?
            .bytes()
            .await?;
        let t_bytes = t.elapsed().as_secs_f64() * 1e3;
        let l: RecordingList = serde_json::from_slice(&body)?;
        let t_all = t.elapsed().as_secs_f64() * 1e3;
        let server = (eyrie_cloud::metrics::REQUEST_MICROS.get() - m0) as f64 / 1e3;
        anyhow::ensure!(l.recordings.len() == 2880, "unexpected listing");
        if i >= 5 {
            bytes_ms.push(t_bytes);
            decoded_ms.push(t_all);
            server_ms.push(server);
        }
    }
    println!(
        "24 h listing p50: client total {:.2} ms, body received {:.2} ms, server handler {:.2} ms",
        p50(decoded_ms),
        p50(bytes_ms),
        p50(server_ms)
    );
    Ok(())
}
