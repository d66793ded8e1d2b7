//! Prometheus metrics in text exposition format, from process-wide atomic counters: cheap
//! enough to bump on every request, no registry to thread through the handlers.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// A monotonically increasing counter.
pub struct Counter {
    name: &'static str,
    help: &'static str,
    value: AtomicU64,
}

impl Counter {
    const fn new(name: &'static str, help: &'static str) -> Self {
        Self {
            name,
            help,
            value: AtomicU64::new(0),
        }
    }

    pub fn inc(&self) {
        self.add(1);
    }

    pub fn add(&self, n: u64) {
        self.value.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.value.load(Ordering::Relaxed)
    }
}

pub static REQUESTS: Counter = Counter::new("eyrie_http_requests_total", "HTTP requests served");
pub static RESPONSES_4XX: Counter = Counter::new(
    "eyrie_http_responses_4xx_total",
    "HTTP answers with a 4xx status",
);
pub static RESPONSES_5XX: Counter = Counter::new(
    "eyrie_http_responses_5xx_total",
    "HTTP answers with a 5xx status",
);
pub static REQUEST_MICROS: Counter = Counter::new(
    "eyrie_http_request_duration_microseconds_total",
    "Time spent answering",
);
pub static PRESIGNED: Counter = Counter::new("eyrie_presigned_urls_total", "Presigned URLs issued");
pub static LOGIN_FAILURES: Counter = Counter::new(
    "eyrie_login_failures_total",
    "Failed or rate-limited logins",
);
pub static RECORDINGS_COMPLETED: Counter = Counter::new(
    "eyrie_recordings_completed_total",
    "Recordings marked complete by notice",
);
pub static RECORDINGS_RECONCILED: Counter = Counter::new(
    "eyrie_recordings_reconciled_total",
    "Recordings completed by the reconciler (notice lost)",
);
pub static CLIPS_FINISHED: Counter = Counter::new("eyrie_clips_finished_total", "Clips finished");
pub static CLIPS_FAILED: Counter = Counter::new("eyrie_clips_failed_total", "Clips failed");
pub static CLIP_PARTS_COPIED: Counter = Counter::new(
    "eyrie_clip_parts_copied_total",
    "Clip parts copied inside the store (UploadPartCopy)",
);
pub static CLIP_BYTES_STREAMED: Counter = Counter::new(
    "eyrie_clip_bytes_streamed_total",
    "Clip bytes read from the store and written back by the cloud",
);
pub static OBJECTS_DELETED: Counter = Counter::new(
    "eyrie_objects_deleted_total",
    "Objects deleted (retention, deletions)",
);
pub static TICKETS: Counter =
    Counter::new("eyrie_tickets_issued_total", "Signalling tickets issued");
pub static MQTT_LOGINS_REFUSED: Counter = Counter::new(
    "eyrie_mqtt_logins_refused_total",
    "Embedded broker logins refused",
);

const ALL: &[&Counter] = &[
    &REQUESTS,
    &RESPONSES_4XX,
    &RESPONSES_5XX,
    &REQUEST_MICROS,
    &PRESIGNED,
    &LOGIN_FAILURES,
    &RECORDINGS_COMPLETED,
    &RECORDINGS_RECONCILED,
    &CLIPS_FINISHED,
    &CLIPS_FAILED,
    &CLIP_PARTS_COPIED,
    &CLIP_BYTES_STREAMED,
    &OBJECTS_DELETED,
    &TICKETS,
    &MQTT_LOGINS_REFUSED,
];

/// The text exposition of every counter.
pub fn render() -> String {
    let mut out = String::new();
    for c in ALL {
        let _ = writeln!(
            out,
            "# HELP {} {}\n# TYPE {} counter\n{} {}",
            c.name,
            c.help,
            c.name,
            c.name,
            c.get()
        );
    }
    out
}

/// Middleware: count requests, error answers and time spent.
pub async fn track(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let t0 = std::time::Instant::now();
    let resp = next.run(req).await;
    REQUESTS.inc();
    REQUEST_MICROS.add(t0.elapsed().as_micros() as u64);
    if resp.status().is_client_error() {
        RESPONSES_4XX.inc();
    } else if resp.status().is_server_error() {
        RESPONSES_5XX.inc();
    }
    resp
}
