//! The presenter: pulls decoded frames from the decode pipeline and shows each at its
//! time on the playback clock, re-anchoring after a seek, a late frame or a PTS jump.

use super::*;

pub(super) struct Presenter {
    pub(super) sink: gst_app::AppSink,
    pub(super) bus: gst::Bus,
    pub(super) cancel: Arc<AtomicBool>,
    pub(super) shared: Arc<Mutex<Shared>>,
    pub(super) control: Arc<Control>,
    pub(super) display: gst_app::AppSrc,
    pub(super) notices: mpsc::UnboundedSender<Notice>,
    pub(super) ended: mpsc::UnboundedSender<RunEnd>,
    pub(super) generation: u64,
    pub(super) target_ms: i64,
    /// Nothing after this is shown (a clip's end).
    pub(super) end_ms: Option<i64>,
}

/// Frames this close before the target still count as "at" it.
const SEEK_SLACK_MS: i64 = 20;
/// A frame later than this re-anchors the clock instead of being rushed out.
const LATE: Duration = Duration::from_millis(250);
/// A PTS jump larger than this re-anchors the clock instead of waiting it out.
const MAX_STEP_MS: i64 = 2_000;

impl Presenter {
    pub(super) fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }

    pub(super) fn finish(&self, last_ms: i64) {
        if self.cancelled() {
            return;
        }
        let resume_at = self.shared.lock().ok().and_then(|s| s.resume_at);
        let _ = self.ended.send(RunEnd {
            generation: self.generation,
            last_ms,
            resume_at,
        });
    }

    pub(super) fn run(self) {
        let mut map: Option<(i64, i64)> = None; // (first PTS ns, its unix ms)
        let mut anchor: Option<(Instant, i64, u64)> = None; // (wall, unix ms, epoch)
        let mut shown_first = false;
        let mut last_ms = self.target_ms;
        let mut caps: Option<gst::Caps> = None;
        loop {
            if self.cancelled() {
                return;
            }
            if let Some(msg) = self.bus.pop_filtered(&[gst::MessageType::Error]) {
                if let gst::MessageView::Error(e) = msg.view() {
                    tracing::warn!("playback decode error: {}", e.error());
                }
                self.finish(last_ms);
                return;
            }
            let Some(sample) = self
                .sink
                .try_pull_sample(gst::ClockTime::from_mseconds(100))
            else {
                if self.sink.is_eos() {
                    self.finish(last_ms);
                    return;
                }
                continue;
            };
            let Some(buffer) = sample.buffer_owned() else {
                continue;
            };
            let Some(pts) = buffer.pts() else { continue };
            let pts_ns = pts.nseconds() as i64;
            let (p0, u0) = *map.get_or_insert_with(|| {
                let u = self
                    .shared
                    .lock()
                    .ok()
                    .and_then(|s| s.first_unix)
                    .unwrap_or(self.target_ms);
                (pts_ns, u)
            });
            let unix = u0 + (pts_ns - p0) / 1_000_000;
            if unix < self.target_ms - SEEK_SLACK_MS {
                continue; // decoded only as a reference for the target frame
            }
            if self.end_ms.is_some_and(|end| unix > end) {
                if !self.cancelled() {
                    let _ = self.ended.send(RunEnd {
                        generation: self.generation,
                        last_ms,
                        resume_at: None,
                    });
                }
                return;
            }
            // Pause and single steps (the first frame after a seek always shows).
            let (rate, epoch) = {
                let Ok(mut c) = self.control.ctl.lock() else {
                    return;
                };
                while c.paused && c.steps == 0 && shown_first {
                    if self.cancelled() {
                        return;
                    }
                    c = match self.control.cv.wait_timeout(c, Duration::from_millis(50)) {
                        Ok((c, _)) => c,
                        Err(_) => return,
                    };
                }
                if c.paused {
                    c.steps = c.steps.saturating_sub(u32::from(shown_first));
                    anchor = None;
                }
                (c.rate.max(0.01), c.epoch)
            };
            // Pace against the wall clock.
            let paused_step = anchor.is_none() && shown_first;
            loop {
                let a = match anchor {
                    Some(a)
                        if a.2 == epoch
                            && (unix - a.1).abs() <= MAX_STEP_MS * rate as i64 + MAX_STEP_MS =>
                    {
                        a
                    }
                    _ => {
                        let a = (Instant::now(), unix, epoch);
                        anchor = Some(a);
                        a
                    }
                };
                let due =
                    a.0 + Duration::from_secs_f64(((unix - a.1).max(0) as f64) / 1000.0 / rate);
                let now = Instant::now();
                if now > due + LATE {
                    // Stalled (waiting for a segment at the present, or a slow machine):
                    // carry on from here instead of rushing to catch up.
                    anchor = Some((now, unix, epoch));
                    break;
                }
                if due <= now || paused_step || self.cancelled() {
                    break;
                }
                std::thread::sleep((due - now).min(Duration::from_millis(20)));
                let changed = self
                    .control
                    .ctl
                    .lock()
                    .map(|c| c.epoch != epoch)
                    .unwrap_or(true);
                if changed {
                    break; // re-evaluated with the new pace on the next frame
                }
            }
            if self.cancelled() {
                return;
            }
            if caps.as_ref().map(|c| c.as_ref()) != sample.caps() {
                caps = sample.caps_owned();
                if let Some(c) = &caps {
                    self.display.set_caps(Some(c));
                }
            }
            let mut out = buffer;
            {
                let b = out.make_mut();
                b.set_pts(gst::ClockTime::NONE);
                b.set_dts(gst::ClockTime::NONE);
            }
            if self.display.push_buffer(out).is_err() {
                return;
            }
            last_ms = unix;
            if let Ok(mut c) = self.control.ctl.lock() {
                c.position_ms = Some(unix);
            }
            if !shown_first {
                shown_first = true;
                let _ = self.notices.send(Notice::SeekDone {
                    target_ms: self.target_ms,
                    frame_ms: unix,
                });
            }
        }
    }
}
