//! The uploader: drains the spool into object storage through presigned PUTs.
//!
//! ```text
//!  Spool (oldest first) ──claim──► worker ──► POST slot {size, sha256} ──► PUT file (store,
//!        ▲                           │   streamed, Content-Length + signed checksum header)
//!        │                           │   ──► POST complete {size, sha256} ──► Spool::remove
//!        └──── release + back-off ◄──┘ (retryable)
//! ```
//!
//! The slot asks for the manifest's size and SHA-256 (of the ciphertext on disk); the
//! cloud signs both into the PUT, so its URL writes this file and nothing else.
//!
//! Each of `concurrency` workers claims the oldest segment nobody is uploading, so an
//! outage followed by recovery drains the backlog in order and in parallel. The file is
//! streamed from disk in 64 KiB reads (never loaded whole) with its exact length, so the
//! store needs no chunked encoding. Which failures may pass is `eyrie_api`'s one policy
//! ([`ApiError::retry`]: network, 5xx, throttling, an expired presigned URL, a cloud that
//! is restarting): they release the segment, and the worker waits by the same
//! [`Backoff`] the client uses (doubling from `retry_initial` to `retry_max`, jittered)
//! before it starts over with a fresh slot; answers that will never change (the cloud
//! refuses the request itself: 400/404/413/422) drop it — counted and reported like a full
//! spool. Nothing is acknowledged to the spool before the cloud has confirmed the object.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use eyrie_api::Backoff;
use eyrie_protocol::api::{UploadNotice, UploadSlotRequest};

use super::link::{ApiError, DeviceClient};
use super::spool::{EntryKind, Spool, SpoolEntry};

/// Retry and parallelism settings.
#[derive(Debug, Clone)]
pub struct UploadConfig {
    pub concurrency: usize,
    /// First back-off delay; doubles up to `retry_max`.
    pub retry_initial: Duration,
    pub retry_max: Duration,
}

impl Default for UploadConfig {
    fn default() -> Self {
        Self {
            concurrency: 2,
            retry_initial: Duration::from_millis(500),
            retry_max: Duration::from_secs(30),
        }
    }
}

/// Counters shared with the status.
#[derive(Debug)]
pub struct UploadCounters {
    pub active: AtomicUsize,
    pub uploaded: AtomicU64,
    pub uploaded_bytes: AtomicU64,
    pub failures: AtomicU64,
    pub last_error: std::sync::Mutex<Option<String>>,
    /// Every entry's end: uploaded (Ok) or dropped (Err with the reason). Retries are not
    /// ends; an entry waiting for the network has not ended.
    pub outcomes: tokio::sync::broadcast::Sender<(String, Result<(), String>)>,
}

impl Default for UploadCounters {
    fn default() -> Self {
        Self {
            active: AtomicUsize::new(0),
            uploaded: AtomicU64::new(0),
            uploaded_bytes: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            last_error: std::sync::Mutex::new(None),
            outcomes: tokio::sync::broadcast::channel(64).0,
        }
    }
}

/// Running upload workers; dropping it stops them (an interrupted upload stays spooled).
pub struct Uploader {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    counters: Arc<UploadCounters>,
}

impl Drop for Uploader {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Uploader {
    /// Start the workers on the current tokio runtime.
    pub fn start(spool: Spool, cloud: DeviceClient, config: UploadConfig) -> Self {
        let counters = Arc::new(UploadCounters::default());
        let tasks = (0..config.concurrency.max(1))
            .map(|_| {
                tokio::spawn(worker(
                    spool.clone(),
                    cloud.clone(),
                    config.clone(),
                    counters.clone(),
                ))
            })
            .collect();
        Self { tasks, counters }
    }

    pub fn counters(&self) -> &Arc<UploadCounters> {
        &self.counters
    }

    /// Stop the workers and wait until they are gone.
    pub async fn stop(mut self) {
        for t in std::mem::take(&mut self.tasks) {
            t.abort();
            let _ = t.await;
        }
    }
}

async fn worker(
    spool: Spool,
    cloud: DeviceClient,
    config: UploadConfig,
    counters: Arc<UploadCounters>,
) {
    let mut backoff = Backoff::new(config.retry_initial, config.retry_max);
    loop {
        let notified = spool.notified();
        let Some(entry) = spool.claim_oldest() else {
            notified.await;
            continue;
        };
        counters.active.fetch_add(1, Ordering::Relaxed);
        let res = upload_one(&cloud, &entry).await;
        counters.active.fetch_sub(1, Ordering::Relaxed);
        match res {
            Ok(()) => {
                counters.uploaded.fetch_add(1, Ordering::Relaxed);
                counters
                    .uploaded_bytes
                    .fetch_add(entry.manifest.size, Ordering::Relaxed);
                tracing::debug!(segment = %entry.name, size = entry.manifest.size, "uploaded");
                spool.remove(&entry);
                if let Ok(mut e) = counters.last_error.lock() {
                    *e = None;
                }
                let _ = counters.outcomes.send((entry.name.clone(), Ok(())));
                backoff.reset();
            }
            Err(err) if err.is_retryable() => {
                counters.failures.fetch_add(1, Ordering::Relaxed);
                spool.release(&entry);
                let wait = backoff.next_delay();
                tracing::warn!(%err, segment = %entry.name, retry_in_ms = wait.as_millis() as u64, "upload failed, will retry");
                if let Ok(mut e) = counters.last_error.lock() {
                    *e = Some(err.to_string());
                }
                tokio::time::sleep(wait).await;
            }
            Err(err) => {
                if let Ok(mut e) = counters.last_error.lock() {
                    *e = Some(err.to_string());
                }
                spool.drop_entry(&entry, &err.to_string());
                let _ = counters
                    .outcomes
                    .send((entry.name.clone(), Err(err.to_string())));
            }
        }
    }
}

/// Upload one spooled file and confirm it with the cloud.
pub async fn upload_one(cloud: &DeviceClient, entry: &SpoolEntry) -> Result<(), ApiError> {
    let m = &entry.manifest;
    match m.kind {
        EntryKind::Segment => {
            let req = UploadSlotRequest {
                start_ms: m.start_ms,
                end_ms: m.end_ms.max(m.start_ms + 1),
                event: m.event,
                key_id: Some(m.key_id.clone()),
                size: Some(m.size),
                sha256: Some(m.sha256.clone()),
            };
            let slot = cloud.upload_slot(m.channel_id, &req).await?;
            cloud.put_file(&slot.upload, &entry.path).await?;
            let notice = UploadNotice {
                size: m.size,
                sha256: m.sha256.clone(),
            };
            cloud.complete(slot.recording_id, &notice).await?;
        }
        EntryKind::Snapshot => {
            let slot = cloud
                .snapshot_slot(m.channel_id, m.start_ms, m.size, &m.sha256)
                .await?;
            cloud.put_file(&slot.upload, &entry.path).await?;
            cloud.snapshot_confirm(slot.snapshot.id).await?;
        }
    }
    Ok(())
}
