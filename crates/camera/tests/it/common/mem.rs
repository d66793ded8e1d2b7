//! Memory figures of this process for the leak check: bytes the allocator has handed out
//! and not had back (glibc `mallinfo2`), and the resident set after `malloc_trim`.
//!
//! RSS alone is a poor leak signal here: GStreamer starts and ends a dozen threads per
//! session, glibc gives busy threads their own arenas, and freed memory stays in those
//! arenas, so RSS climbs for a while on a process that leaks nothing. `in_use_bytes`
//! counts only live allocations (every arena, plus mmapped blocks), which is what a leak
//! makes grow.
#![allow(unsafe_code)]

/// glibc's `struct mallinfo2` (glibc ≥ 2.33).
#[repr(C)]
#[derive(Default)]
struct MallInfo2 {
    arena: usize,
    ordblks: usize,
    smblks: usize,
    hblks: usize,
    hblkhd: usize,
    usmblks: usize,
    fsmblks: usize,
    uordblks: usize,
    fordblks: usize,
    keepcost: usize,
}

unsafe extern "C" {
    fn mallinfo2() -> MallInfo2;
    fn malloc_trim(pad: usize) -> i32;
}

/// Bytes allocated with malloc and not freed (all arenas, plus mmapped chunks).
pub fn in_use_bytes() -> u64 {
    // SAFETY: mallinfo2 takes no arguments, only reads the allocator's counters and
    // returns a plain struct by value.
    let m = unsafe { mallinfo2() };
    (m.uordblks + m.hblkhd) as u64
}

/// Give freed memory back to the system, then read VmRSS (KiB).
pub fn trimmed_rss_kib() -> u64 {
    // SAFETY: malloc_trim only releases free memory at the top of / inside arenas.
    unsafe {
        malloc_trim(0);
    }
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Threads of this process now.
pub fn threads() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Threads:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Least-squares slope of `ys` against their index (units of y per step).
pub fn slope(ys: &[f64]) -> f64 {
    let n = ys.len() as f64;
    if ys.len() < 2 {
        return 0.0;
    }
    let mx = (n - 1.0) / 2.0;
    let my = ys.iter().sum::<f64>() / n;
    let (mut num, mut den) = (0.0, 0.0);
    for (i, y) in ys.iter().enumerate() {
        let dx = i as f64 - mx;
        num += dx * (y - my);
        den += dx * dx;
    }
    num / den
}
