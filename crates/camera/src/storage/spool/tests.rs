use std::fs;

use eyrie_protocol::segment::{KeyId, SegmentKey, decrypt_to_vec};
use uuid::Uuid;

use super::*;

fn key() -> SegmentKey {
    SegmentKey::from_bytes([3; 32])
}

fn info(start_ms: i64) -> SegmentInfo {
    SegmentInfo {
        kind: EntryKind::Segment,
        channel_id: Uuid::nil(),
        start_ms,
        end_ms: start_ms + 1000,
        event: false,
        duration_us: 1_000_000,
    }
}

fn put(spool: &Spool, start_ms: i64, len: usize) -> SpoolEntry {
    let mut w = spool.begin(&key(), KeyId([1; 8])).unwrap();
    w.write(&vec![start_ms as u8; len]).unwrap();
    w.commit(info(start_ms)).unwrap()
}

#[test]
fn commit_queues_and_reopen_recovers_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path(), 1 << 30).unwrap();
    let a = put(&spool, 1, 100_000);
    std::thread::sleep(std::time::Duration::from_millis(2));
    let b = put(&spool, 2, 10);
    let bytes = fs::read(&a.path).unwrap();
    assert_eq!(bytes.len() as u64, a.manifest.size);
    let sha: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(sha, a.manifest.sha256);
    assert_eq!(
        decrypt_to_vec(&bytes, &key(), Some(KeyId([1; 8]))).unwrap(),
        vec![1u8; 100_000]
    );
    drop(spool);

    let spool = Spool::open(dir.path(), 1 << 30).unwrap();
    assert_eq!(spool.stats().queued, 2);
    let first = spool.claim_oldest().unwrap();
    assert_eq!(first.name, a.name);
    let second = spool.claim_oldest().unwrap();
    assert_eq!(second.name, b.name, "claimed entry is skipped");
    spool.remove(&first);
    assert_eq!(spool.stats().queued, 1);
    assert!(!first.path.exists());
}

#[test]
fn recovery_finishes_cut_commits_and_deletes_partials() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path(), 1 << 30).unwrap();
    let a = put(&spool, 1, 10);
    // A crash between the two renames: manifest still staged in tmp/.
    let staged = dir.path().join("tmp").join(format!("{}.json", a.name));
    fs::rename(a.path.with_extension("json"), &staged).unwrap();
    // A segment still being written.
    let mut w = spool.begin(&key(), KeyId([1; 8])).unwrap();
    w.write(b"partial").unwrap();
    std::mem::forget(w);
    // A segment without any manifest, and a manifest without a segment.
    fs::write(dir.path().join("pending/0000000000000-x.seg"), b"junk").unwrap();
    fs::write(dir.path().join("pending/0000000000001-y.json"), b"{}").unwrap();
    drop(spool);

    let spool = Spool::open(dir.path(), 1 << 30).unwrap();
    let st = spool.stats();
    assert_eq!(st.queued, 1);
    assert_eq!(st.lost_partial, 1);
    assert_eq!(spool.claim_oldest().unwrap().name, a.name);
    assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    assert_eq!(fs::read_dir(dir.path().join("pending")).unwrap().count(), 2);
}

#[test]
fn full_spool_drops_oldest_but_not_the_uploading_one() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path(), 3000).unwrap();
    let a = put(&spool, 1, 900);
    let claimed = spool.claim_oldest().unwrap();
    assert_eq!(claimed.name, a.name);
    let b = put(&spool, 2, 900);
    let _c = put(&spool, 3, 900);
    assert_eq!(spool.stats().dropped, 0);
    let _d = put(&spool, 4, 900);
    let st = spool.stats();
    assert_eq!(st.dropped, 1);
    assert_eq!(st.queued, 3);
    assert!(st.queued_bytes <= 3000);
    assert!(a.path.exists(), "the uploading segment stays");
    assert!(!b.path.exists(), "the oldest waiting segment went");
}

#[test]
fn abandoned_writer_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path(), 1 << 30).unwrap();
    let mut w = spool.begin(&key(), KeyId([1; 8])).unwrap();
    w.write(b"abc").unwrap();
    drop(w);
    assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    assert_eq!(spool.stats().queued, 0);
}
