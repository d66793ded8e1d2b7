//! Property tests: wraparound, several readers, keyframe search.

use super::*;
use proptest::prelude::*;

fn frame(i: u64, keyframe: bool, size: usize) -> Frame {
    Frame {
        pts_us: i * 33_333,
        duration_us: 33_333,
        keyframe,
        data: Bytes::from(vec![0u8; size]),
        capture_unix_ms: 0,
    }
}

fn small(duration_ms: u64, max_bytes: usize) -> RingConfig {
    RingConfig {
        duration: Duration::from_millis(duration_ms),
        fps: 30,
        max_bytes,
        keyframe_interval: Duration::from_millis(0),
    }
}

/// (keyframe?, size) per frame; frame 0 is always a keyframe.
fn stream() -> impl Strategy<Value = Vec<(bool, usize)>> {
    prop::collection::vec((prop::bool::weighted(0.1), 1usize..4000), 1..600).prop_map(|mut v| {
        v[0].0 = true;
        v
    })
}

#[test]
fn newest_keyframe_and_seconds_back_basic() {
    let ring = RingBuffer::new("t", RingConfig::default());
    for i in 0..300 {
        ring.push(frame(i, i % 60 == 0, 100));
    }
    let mut r = ring.reader(StartAt::NewestKeyframe);
    let f = r.try_next().unwrap().unwrap();
    assert!(f.keyframe);
    assert_eq!(f.pts_us, 240 * 33_333);
    // 3 s back from frame 299 = frame 209, keyframe before it = 180.
    let mut r = ring.reader(StartAt::SecondsBack(3.0));
    assert_eq!(r.try_next().unwrap().unwrap().pts_us, 180 * 33_333);
    // A PTS start lands on the first frame at or after it.
    let mut r = ring.reader(StartAt::Pts(100 * 33_333 + 1));
    assert_eq!(r.try_next().unwrap().unwrap().pts_us, 101 * 33_333);
}

#[test]
fn empty_ring_reader_waits_for_first_frame() {
    let ring = RingBuffer::new("t", RingConfig::default());
    let mut r = ring.reader(StartAt::NewestKeyframe);
    assert_eq!(r.try_next().unwrap().map(|f| f.pts_us), None);
    assert_eq!(
        r.next_blocking(Duration::from_millis(20)).unwrap_err(),
        ReadError::Timeout
    );
    let ring2 = ring.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        ring2.push(frame(7, true, 10));
    });
    assert_eq!(
        r.next_blocking(Duration::from_secs(5)).unwrap().pts_us,
        7 * 33_333
    );
    t.join().unwrap();
    ring.close();
    assert_eq!(
        r.next_blocking(Duration::from_secs(5)).unwrap_err(),
        ReadError::Closed
    );
}

#[tokio::test]
async fn async_wait_and_close() {
    let ring = RingBuffer::new("t", RingConfig::default());
    let mut r = ring.reader(StartAt::Next);
    let ring2 = ring.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        ring2.push(frame(1, true, 10));
        tokio::time::sleep(Duration::from_millis(20)).await;
        ring2.close();
    });
    assert_eq!(r.next().await.map(|f| f.pts_us), Some(33_333));
    assert!(r.next().await.is_none());
}

#[test]
fn slow_reader_jumps_to_newest_keyframe_and_counts() {
    let ring = RingBuffer::new("t", small(1000, usize::MAX));
    let slots = ring.capacity() as u64;
    let mut r = ring.reader(StartAt::Next);
    for i in 0..slots * 3 {
        ring.push(frame(i, i % 10 == 0, 10));
    }
    let f = r.try_next().unwrap().unwrap();
    assert!(f.keyframe);
    assert!(r.skipped() > 0);
    assert_eq!(r.skipped() + 1, f.pts_us / 33_333 + 1);
    assert_eq!(ring.stats().reader_skips, r.skipped());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever is pushed, the ring holds a bounded, contiguous, correctly counted window
    /// that always keeps the newest keyframe and everything after it (when the slots allow).
    #[test]
    fn wraparound_invariants(frames in stream(), dur in 200u64..3000, cap in 2000usize..200_000) {
        let ring = RingBuffer::new("p", small(dur, cap));
        let slots = ring.capacity();
        let mut last_kf = 0u64;
        for (i, &(kf, size)) in frames.iter().enumerate() {
            let i = i as u64;
            if kf { last_kf = i; }
            ring.push(frame(i, kf, size));
            let st = ring.stats();
            prop_assert!(st.held >= 1 && st.held <= slots);
            prop_assert_eq!(st.pushed, i + 1);
            // Bytes match exactly what is held.
            let oldest = i + 1 - st.held as u64;
            let expect: usize = frames[oldest as usize..=i as usize].iter().map(|f| f.1).sum();
            prop_assert_eq!(st.bytes, expect);
            // Newest GOP kept unless the slots themselves overflowed.
            if i - last_kf < slots as u64 {
                prop_assert!(oldest <= last_kf);
                let mut r = ring.reader(StartAt::NewestKeyframe);
                let f = r.try_next().unwrap().unwrap();
                prop_assert!(f.keyframe);
                prop_assert_eq!(f.pts_us, last_kf * 33_333);
            }
            // Anything older than the newest keyframe obeys the duration and byte caps.
            if oldest < last_kf {
                prop_assert!((i - oldest) * 33_333 <= ring.config().effective_duration().as_micros() as u64);
                prop_assert!(st.bytes <= cap);
            }
        }
    }

    /// Several readers reading at different paces each see strictly increasing frames,
    /// land on a keyframe after every skip, and account for every frame: delivered +
    /// skipped = frames pushed after they started.
    #[test]
    fn several_readers(frames in stream(), paces in prop::collection::vec(1usize..40, 1..6)) {
        let ring = RingBuffer::new("p", small(500, usize::MAX));
        let mut readers: Vec<(RingReader, Option<u64>)> =
            paces.iter().map(|_| (ring.reader(StartAt::Next), None)).collect();
        for (i, &(kf, size)) in frames.iter().enumerate() {
            ring.push(frame(i as u64, kf, size));
            for (n, (r, last)) in readers.iter_mut().enumerate() {
                if i % paces[n] != 0 { continue; }
                let before = r.skipped();
                while let Some(f) = r.try_next().unwrap() {
                    let idx = f.pts_us / 33_333;
                    if let Some(l) = *last { prop_assert!(idx > l); }
                    if r.skipped() > before && Some(idx) != last.map(|l| l + 1) {
                        prop_assert!(f.keyframe);
                    }
                    *last = Some(idx);
                }
            }
        }
        for (r, _) in readers.iter_mut() {
            while r.try_next().unwrap().is_some() {}
            prop_assert_eq!(r.delivered() + r.skipped(), frames.len() as u64);
        }
    }

    /// SecondsBack lands exactly where the seed says: `secs × fps` frames back from the
    /// newest, then on back to the keyframe at or before it (forward to the first keyframe
    /// held if none is before), checked against a plain model of the held window.
    #[test]
    fn keyframe_search(frames in stream(), secs in 0.0f64..12.0) {
        let ring = RingBuffer::new("p", RingConfig { max_bytes: usize::MAX, ..RingConfig::default() });
        for (i, &(kf, size)) in frames.iter().enumerate() {
            ring.push(frame(i as u64, kf, size));
        }
        let st = ring.stats();
        let newest = frames.len() as u64 - 1;
        let oldest = newest + 1 - st.held as u64;
        let target = newest.saturating_sub((secs * 30.0).round() as u64).max(oldest);
        let is_kf = |s: u64| frames[s as usize].0;
        let expect = (oldest..=target).rev().find(|&s| is_kf(s))
            .or_else(|| (target..=newest).find(|&s| is_kf(s)));
        let mut r = ring.reader(StartAt::SecondsBack(secs));
        let got = r.try_next().unwrap().map(|f| f.pts_us / 33_333);
        prop_assert_eq!(got, expect);
    }
}
