//! The spool: a bounded, crash-safe queue of encrypted segments on disk.
//!
//! Recording never waits for the network. The segmenter streams each segment through the
//! encryptor straight into a spool file (memory: one 64 KiB chunk), and the uploader takes
//! finished segments oldest first. An outage only makes the queue longer; when the queue
//! passes its byte bound the oldest segments are deleted — counted, logged and reported in
//! the status, never silently.
//!
//! Layout under the spool directory:
//!
//! ```text
//! tmp/<name>.part       segment being written (ciphertext so far)
//! tmp/<name>.json       its manifest, written just before the commit
//! pending/<name>.seg    finished segment, waiting for upload
//! pending/<name>.json   its manifest (channel, start/end, key id, event flag, size, sha256)
//! ```
//!
//! `<name>` is `<created unix ms, 13 digits>-<uuid>`, so names sort oldest first.
//!
//! Commit protocol (each step survives a crash at any point, including SIGKILL):
//! 1. finish the segment, fsync `tmp/<name>.part`;
//! 2. write `tmp/<name>.json`, fsync;
//! 3. rename the segment to `pending/<name>.seg`;
//! 4. rename the manifest to `pending/<name>.json`; fsync both directories.
//!
//! Recovery on open: a `pending/*.seg` without its manifest gets it back from `tmp/` (crash
//! between 3 and 4) or, if there is none, is deleted; a manifest without a segment is
//! deleted; whatever is left in `tmp/` was a segment still being recorded and is deleted
//! (counted as lost: a crash costs at most the segment in progress). Removal after upload
//! deletes the manifest first, then the segment.

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use eyrie_protocol::segment::{DEFAULT_CHUNK_SIZE, KeyId, SegmentError, SegmentKey, SegmentWriter};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// What a spooled file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A recording segment (MPEG-TS inside).
    Segment,
    /// A snapshot (JPEG inside).
    Snapshot,
}

/// The sidecar manifest of a spooled file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub id: Uuid,
    pub kind: EntryKind,
    pub channel_id: Uuid,
    /// Unix ms of the first frame.
    pub start_ms: i64,
    /// Unix ms just past the last frame.
    pub end_ms: i64,
    /// The segment overlaps an event.
    pub event: bool,
    /// Key id in the segment header (16 hex characters).
    pub key_id: String,
    /// Ciphertext bytes on disk.
    pub size: u64,
    /// SHA-256 of the ciphertext, lowercase hex.
    pub sha256: String,
    /// Media duration in microseconds (from the timestamps inside).
    pub duration_us: u64,
    pub created_ms: i64,
}

/// Metadata known only when a segment ends.
#[derive(Debug, Clone, Copy)]
pub struct SegmentInfo {
    pub kind: EntryKind,
    pub channel_id: Uuid,
    pub start_ms: i64,
    pub end_ms: i64,
    pub event: bool,
    pub duration_us: u64,
}

/// A finished, spooled file.
#[derive(Debug, Clone)]
pub struct SpoolEntry {
    pub name: String,
    pub manifest: Manifest,
    pub path: PathBuf,
}

/// Counters for the status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpoolStats {
    pub queued: usize,
    pub queued_bytes: u64,
    /// Start of the oldest queued entry (unix ms).
    pub oldest_start_ms: Option<i64>,
    /// Entries deleted because the spool was full (or refused by the store).
    pub dropped: u64,
    pub dropped_bytes: u64,
    /// Partial segments found (and deleted) at start-up.
    pub lost_partial: u64,
}

/// Why the spool failed.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool I/O failed at {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("encrypting into the spool failed: {0}")]
    Segment(#[from] SegmentError),
    #[error("spool manifest {path} is unreadable: {source}")]
    Manifest {
        path: PathBuf,
        source: serde_json::Error,
    },
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io {
        path: path.to_path_buf(),
        source,
    }
}

struct State {
    pending: BTreeMap<String, SpoolEntry>,
    in_flight: HashSet<String>,
    stats: SpoolStats,
}

struct Inner {
    dir: PathBuf,
    max_bytes: u64,
    chunk_size: u32,
    state: Mutex<State>,
    changed: tokio::sync::Notify,
}

/// A handle on the spool; clones share it.
#[derive(Clone)]
pub struct Spool {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Spool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spool")
            .field("dir", &self.inner.dir)
            .finish()
    }
}

fn fsync_dir(dir: &Path) -> Result<(), SpoolError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_at(dir))
}

fn read_manifest(path: &Path) -> Result<Manifest, SpoolError> {
    let bytes = fs::read(path).map_err(io_at(path))?;
    serde_json::from_slice(&bytes).map_err(|source| SpoolError::Manifest {
        path: path.to_path_buf(),
        source,
    })
}

impl Spool {
    /// Open (and recover) the spool in `dir`, bounded to `max_bytes` of queued ciphertext.
    pub fn open(dir: impl Into<PathBuf>, max_bytes: u64) -> Result<Self, SpoolError> {
        Self::open_with_chunk_size(dir, max_bytes, DEFAULT_CHUNK_SIZE)
    }

    pub fn open_with_chunk_size(
        dir: impl Into<PathBuf>,
        max_bytes: u64,
        chunk_size: u32,
    ) -> Result<Self, SpoolError> {
        let dir = dir.into();
        let tmp = dir.join("tmp");
        let pending = dir.join("pending");
        fs::create_dir_all(&tmp).map_err(io_at(&tmp))?;
        fs::create_dir_all(&pending).map_err(io_at(&pending))?;
        let mut stats = SpoolStats::default();
        let mut entries = BTreeMap::new();

        // Finish commits cut between steps 3 and 4, then drop orphans.
        for e in fs::read_dir(&pending).map_err(io_at(&pending))? {
            let path = e.map_err(io_at(&pending))?.path();
            let Some(name) = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else {
                continue;
            };
            match path.extension().and_then(|s| s.to_str()) {
                Some("seg") => {
                    let manifest = pending.join(format!("{name}.json"));
                    let staged = tmp.join(format!("{name}.json"));
                    if !manifest.exists() {
                        if staged.exists() {
                            fs::rename(&staged, &manifest).map_err(io_at(&staged))?;
                        } else {
                            tracing::warn!(segment = %path.display(), "spool: segment without manifest, deleting");
                            fs::remove_file(&path).map_err(io_at(&path))?;
                            continue;
                        }
                    }
                    match read_manifest(&manifest) {
                        Ok(m) => {
                            entries.insert(
                                name.clone(),
                                SpoolEntry {
                                    name,
                                    manifest: m,
                                    path,
                                },
                            );
                        }
                        Err(err) => {
                            tracing::warn!(%err, "spool: unreadable manifest, deleting its segment");
                            let _ = fs::remove_file(&manifest);
                            let _ = fs::remove_file(&path);
                            stats.lost_partial += 1;
                        }
                    }
                }
                Some("json") if !pending.join(format!("{name}.seg")).exists() => {
                    fs::remove_file(&path).map_err(io_at(&path))?;
                }
                _ => {}
            }
        }
        for e in fs::read_dir(&tmp).map_err(io_at(&tmp))? {
            let path = e.map_err(io_at(&tmp))?.path();
            if path.extension().is_some_and(|x| x == "part") {
                stats.lost_partial += 1;
                tracing::warn!(file = %path.display(), "spool: deleting a segment cut off by a crash");
            }
            fs::remove_file(&path).map_err(io_at(&path))?;
        }
        fsync_dir(&pending)?;
        fsync_dir(&tmp)?;
        if !entries.is_empty() {
            tracing::info!(count = entries.len(), "spool: recovered queued segments");
        }
        let spool = Self {
            inner: Arc::new(Inner {
                dir,
                max_bytes,
                chunk_size,
                state: Mutex::new(State {
                    pending: entries,
                    in_flight: HashSet::new(),
                    stats,
                }),
                changed: tokio::sync::Notify::new(),
            }),
        };
        {
            let mut st = spool.lock();
            Self::recount(&mut st);
            spool.enforce_bound(&mut st);
        }
        Ok(spool)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Start a new spooled file, encrypted under `key` (segment format version 2).
    pub fn begin(&self, key: &SegmentKey, key_id: KeyId) -> Result<SpoolWriter, SpoolError> {
        self.begin_sealed(&super::sealing::SealingKey::content(key.clone(), key_id))
    }

    /// Start a new spooled file sealed under `sealing`, in its format version.
    pub fn begin_sealed(
        &self,
        sealing: &super::sealing::SealingKey,
    ) -> Result<SpoolWriter, SpoolError> {
        let (key, key_id) = (&sealing.key, sealing.key_id);
        let name = format!(
            "{:013}-{}",
            eyrie_protocol::clock::unix_ms().max(0),
            Uuid::new_v4()
        );
        let path = self.inner.dir.join("tmp").join(format!("{name}.part"));
        let file = File::create(&path).map_err(io_at(&path))?;
        let hashing = HashingFile {
            file,
            hash: Sha256::new(),
            len: 0,
        };
        let writer = SegmentWriter::with_version(
            hashing,
            key,
            key_id,
            self.inner.chunk_size,
            sealing.version,
        )?;
        Ok(SpoolWriter {
            spool: self.clone(),
            name,
            path,
            key_id,
            writer: Some(writer),
        })
    }

    /// Drop the oldest entries (never one being uploaded) until under the byte bound.
    fn enforce_bound(&self, st: &mut State) {
        while st.stats.queued_bytes > self.inner.max_bytes {
            let victim = st
                .pending
                .keys()
                .find(|k| !st.in_flight.contains(*k))
                .cloned();
            let Some(victim) = victim else { break };
            if let Some(entry) = st.pending.remove(&victim) {
                st.stats.dropped += 1;
                st.stats.dropped_bytes += entry.manifest.size;
                tracing::warn!(
                    segment = %entry.name,
                    size = entry.manifest.size,
                    dropped = st.stats.dropped,
                    "spool full: dropped the oldest segment"
                );
                remove_files(&entry.path);
            }
            Self::recount(st);
        }
    }

    fn recount(st: &mut State) {
        st.stats.queued = st.pending.len();
        st.stats.queued_bytes = st.pending.values().map(|e| e.manifest.size).sum();
        st.stats.oldest_start_ms = st.pending.values().map(|e| e.manifest.start_ms).min();
    }

    fn insert(&self, entry: SpoolEntry) {
        let mut st = self.lock();
        st.pending.insert(entry.name.clone(), entry);
        Self::recount(&mut st);
        self.enforce_bound(&mut st);
        drop(st);
        self.inner.changed.notify_waiters();
    }

    /// The oldest queued entry that is not being uploaded, marking it as being uploaded.
    pub fn claim_oldest(&self) -> Option<SpoolEntry> {
        let mut st = self.lock();
        let entry = st
            .pending
            .values()
            .find(|e| !st.in_flight.contains(&e.name))
            .cloned()?;
        st.in_flight.insert(entry.name.clone());
        Some(entry)
    }

    /// Give a claimed entry back (upload failed; it stays queued).
    pub fn release(&self, entry: &SpoolEntry) {
        let mut st = self.lock();
        st.in_flight.remove(&entry.name);
    }

    /// The entry is uploaded (or refused for good): delete it.
    pub fn remove(&self, entry: &SpoolEntry) {
        let mut st = self.lock();
        st.in_flight.remove(&entry.name);
        if st.pending.remove(&entry.name).is_some() {
            remove_files(&entry.path);
        }
        Self::recount(&mut st);
        drop(st);
        self.inner.changed.notify_waiters();
    }

    /// Count an entry as dropped (refused for good) and delete it.
    pub fn drop_entry(&self, entry: &SpoolEntry, why: &str) {
        tracing::warn!(segment = %entry.name, why, "spool: dropping a segment the cloud refused");
        {
            let mut st = self.lock();
            st.stats.dropped += 1;
            st.stats.dropped_bytes += entry.manifest.size;
        }
        self.remove(entry);
    }

    pub fn stats(&self) -> SpoolStats {
        self.lock().stats
    }

    /// Wait until something is queued or removed.
    pub async fn changed(&self) {
        self.inner.changed.notified().await;
    }

    /// A future that completes on the next change; made before checking the state so no
    /// wake-up is lost.
    pub fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.inner.changed.notified()
    }
}

mod writer;

pub use writer::SpoolWriter;
use writer::{HashingFile, remove_files};

#[cfg(test)]
mod tests;
