//! What a viewer saw, frame by frame, read from the pixel clock the camera's test pattern
//! burns into every picture (`eyrie_rtc::pixel_clock`): when each decoded frame arrived
//! and which capture instant it shows. From that: frozen time (the picture did not move
//! on), the longest freeze, and glass-to-glass age (the lab's hosts share one clock).
//!
//! A frame counts as progress only when its clock decodes and is newer than every frame
//! before it: a repeated, stale or damaged picture (the decoder refuses a strip whose
//! check byte is wrong) is no progress. A gap between two progressing frames longer than
//! [`FREEZE_MS`] is a freeze, counted whole — what a person sees as a stuck picture.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gstreamer as gst;

/// A gap between progressing frames longer than this is a freeze (six frames at 30 fps;
/// WebRTC's own rule, max(3 × frame interval, frame interval + 150 ms), gives 183 ms).
pub const FREEZE_MS: u64 = 200;

/// One decoded frame.
#[derive(Clone, Copy, Debug)]
pub struct Seen {
    pub at: Instant,
    /// Wall clock when it arrived, Unix ms.
    pub unix_ms: u64,
    /// Its pixel clock (capture time, Unix ms), if it decoded.
    pub clock: Option<u64>,
}

/// Every frame an appsink from [`frame_log_sink`] received.
#[derive(Clone, Default)]
pub struct FrameLog {
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// Frozen time over a window.
#[derive(Clone, Copy, Debug, Default)]
pub struct Freezes {
    pub window_ms: u64,
    pub frozen_ms: u64,
    pub longest_ms: u64,
    pub count: usize,
    /// Frames that moved the picture on.
    pub progressing: usize,
    /// Frames decoded in all (progressing or not).
    pub frames: usize,
}

impl Freezes {
    pub fn frozen_pct(&self) -> f64 {
        self.frozen_ms as f64 * 100.0 / self.window_ms.max(1) as f64
    }
}

/// An appsink (I420, not synchronised: frames are logged as they are decoded) and the
/// log it fills.
pub fn frame_log_sink() -> (gst::Element, FrameLog) {
    let log = FrameLog::default();
    let seen = log.seen.clone();
    let sink = super::roles::pixel_clock_sink(move |clock| {
        if let Ok(mut seen) = seen.lock() {
            seen.push(Seen {
                at: Instant::now(),
                unix_ms: eyrie_client::pixel_clock::now_unix_ms(),
                clock,
            });
        }
    });
    (sink, log)
}

impl FrameLog {
    pub fn snapshot(&self) -> Vec<Seen> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The newest pixel clock seen.
    pub fn latest_clock(&self) -> Option<u64> {
        self.snapshot().iter().filter_map(|s| s.clock).max()
    }

    /// Frozen time between `from` and `to` (see the module docs): the gaps between
    /// progressing frames, and from `from` to the first and from the last to `to`.
    pub fn freezes(&self, from: Instant, to: Instant) -> Freezes {
        let seen = self.snapshot();
        let mut newest = seen
            .iter()
            .filter(|s| s.at < from)
            .filter_map(|s| s.clock)
            .max()
            .unwrap_or(0);
        let mut out = Freezes {
            window_ms: to.saturating_duration_since(from).as_millis() as u64,
            ..Freezes::default()
        };
        let mut last = from;
        let gap = |out: &mut Freezes, a: Instant, b: Instant| {
            let ms = b.saturating_duration_since(a).as_millis() as u64;
            out.longest_ms = out.longest_ms.max(ms);
            if ms > FREEZE_MS {
                out.frozen_ms += ms;
                out.count += 1;
            }
        };
        for s in seen.iter().filter(|s| s.at >= from && s.at <= to) {
            out.frames += 1;
            match s.clock {
                Some(c) if c > newest => {
                    newest = c;
                    out.progressing += 1;
                    gap(&mut out, last, s.at);
                    last = s.at;
                }
                _ => {}
            }
        }
        gap(&mut out, last, to);
        out
    }

    /// The median age of the progressing frames between `from` and `to` (arrival wall
    /// clock minus pixel clock, ms): glass to glass, less the display.
    pub fn median_age_ms(&self, from: Instant, to: Instant) -> Option<f64> {
        let mut newest = 0;
        let mut ages: Vec<f64> = Vec::new();
        for s in self
            .snapshot()
            .iter()
            .filter(|s| s.at >= from && s.at <= to)
        {
            if let Some(c) = s.clock
                && c > newest
            {
                newest = c;
                ages.push(s.unix_ms as f64 - c as f64);
            }
        }
        ages.sort_by(f64::total_cmp);
        ages.get(ages.len() / 2).copied()
    }

    /// Waits up to `timeout` for a frame whose clock decodes; when it came.
    pub fn wait_first(&self, timeout: Duration) -> Option<Instant> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.snapshot().iter().find(|s| s.clock.is_some()) {
                return Some(s.at);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
