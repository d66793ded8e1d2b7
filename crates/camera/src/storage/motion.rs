//! Motion detection on the sub stream, by frame differencing.
//!
//! A thread decodes the sub stream to a small grey picture and compares each picture
//! with the one before: a pixel "moved" when its brightness changed by more than a fixed
//! step, and there is motion when more than a share of the pixels moved — the share set by
//! the sensitivity (0–100). Motion starts an event at once; the event stops after
//! `cooldown` without motion. Only every `stride`-th decoded picture is compared, which is
//! plenty for people and cars and keeps the cost low.
//!
//! ```text
//!  RingBuffer sub ─► appsrc ─► h264parse ─► avdec_h264 ─► videoconvert ─► videoscale
//!       ─► video/x-raw,GRAY8,160x90 ─► appsink ─► MotionDetector ─► Command::EventStart/Stop(Motion)
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;

use super::StorageError;
use super::recorder::{Command, EventSource};
use crate::ring::{ReadError, RingBuffer, StartAt};

/// Width and height of the analysed picture.
pub const GRAY_SIZE: (usize, usize) = (160, 90);
/// Brightness change (0–255) that counts as a moved pixel.
const PIXEL_STEP: u8 = 24;

/// Motion settings.
#[derive(Debug, Clone)]
pub struct MotionConfig {
    /// 0 (never) – 100 (the slightest change).
    pub sensitivity: u8,
    /// How long without motion before the event stops.
    pub cooldown: Duration,
    /// Compare every n-th picture.
    pub stride: u32,
}

impl Default for MotionConfig {
    fn default() -> Self {
        Self {
            sensitivity: 50,
            cooldown: Duration::from_secs(10),
            stride: 3,
        }
    }
}

/// The pure part: feed grey pictures, learn whether they moved.
#[derive(Debug)]
pub struct MotionDetector {
    prev: Option<Vec<u8>>,
    /// Share of moved pixels (0–1) above which a picture has motion.
    threshold: f64,
}

impl MotionDetector {
    pub fn new(sensitivity: u8) -> Self {
        // 100 → 0.2 % of the pixels, 50 → 5 %, 1 → ~10 %; 0 → never.
        let s = f64::from(sensitivity.min(100));
        let threshold = if s == 0.0 {
            f64::INFINITY
        } else {
            0.002 + (100.0 - s) / 100.0 * 0.098
        };
        Self {
            prev: None,
            threshold,
        }
    }

    /// Share of pixels that changed since the last picture (0 for the first one).
    pub fn changed_share(&mut self, gray: &[u8]) -> f64 {
        let share = match &self.prev {
            Some(p) if p.len() == gray.len() && !gray.is_empty() => {
                let moved = p
                    .iter()
                    .zip(gray)
                    .filter(|(a, b)| a.abs_diff(**b) > PIXEL_STEP)
                    .count();
                moved as f64 / gray.len() as f64
            }
            _ => 0.0,
        };
        self.prev = Some(gray.to_vec());
        share
    }

    /// Feed a picture: true when it shows motion.
    pub fn feed(&mut self, gray: &[u8]) -> bool {
        self.changed_share(gray) > self.threshold
    }
}

/// The running motion thread.
pub struct Motion {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Motion {
    pub fn start(
        config: MotionConfig,
        sub: RingBuffer,
        commands: Sender<Command>,
    ) -> Result<Self, StorageError> {
        let err = |e: &dyn std::fmt::Display| StorageError::Pipeline(format!("motion: {e}"));
        let (pipeline, src, sink) = super::app_pipeline(&format!(
            "appsrc name=src format=time is-live=false block=true max-bytes=1048576 \
             caps=video/x-h264,stream-format=byte-stream,alignment=au \
             ! h264parse ! avdec_h264 ! videoconvert ! videoscale \
             ! video/x-raw,format=GRAY8,width={},height={} ! appsink name=sink sync=false max-buffers=4 drop=true",
            GRAY_SIZE.0, GRAY_SIZE.1
        ))
        .map_err(|e| err(&e))?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::Builder::new()
            .name("eyrie-motion".into())
            .spawn(move || {
                let mut reader = sub.reader(StartAt::NewestKeyframe);
                let mut det = MotionDetector::new(config.sensitivity);
                let mut n = 0u32;
                let mut last_motion: Option<Instant> = None;
                while !stop2.load(Ordering::Relaxed) {
                    match reader.next_blocking(Duration::from_millis(200)) {
                        Ok(f) => {
                            let mut buf = gst::Buffer::from_slice(f.data.clone());
                            if let Some(b) = buf.get_mut() {
                                b.set_pts(gst::ClockTime::from_useconds(f.pts_us));
                            }
                            if src.push_buffer(buf).is_err() {
                                break;
                            }
                        }
                        Err(ReadError::Timeout) => {}
                        Err(ReadError::Closed) => break,
                    }
                    while let Some(sample) = sink.try_pull_sample(gst::ClockTime::ZERO) {
                        n = n.wrapping_add(1);
                        if !n.is_multiple_of(config.stride.max(1)) {
                            continue;
                        }
                        let Some(b) = sample.buffer() else { continue };
                        let Ok(map) = b.map_readable() else { continue };
                        if det.feed(map.as_slice()) {
                            if last_motion.is_none() {
                                tracing::info!("motion detected");
                                let _ = commands.send(Command::EventStart(EventSource::Motion));
                            }
                            last_motion = Some(Instant::now());
                        }
                    }
                    if let Some(t) = last_motion
                        && t.elapsed() >= config.cooldown
                    {
                        tracing::info!("motion ended");
                        let _ = commands.send(Command::EventStop(EventSource::Motion, None));
                        last_motion = None;
                    }
                }
                let _ = pipeline.set_state(gst::State::Null);
            })
            .map_err(|e| err(&e))?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }

    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Motion {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picture(fill: impl Fn(usize) -> u8) -> Vec<u8> {
        (0..GRAY_SIZE.0 * GRAY_SIZE.1).map(fill).collect()
    }

    #[test]
    fn still_picture_has_no_motion_and_a_moving_block_has() {
        let mut d = MotionDetector::new(50);
        let still = picture(|i| (i % 200) as u8);
        assert!(!d.feed(&still));
        assert!(!d.feed(&still));
        // Sensor noise below the step is not motion.
        assert!(!d.feed(&picture(|i| (i % 200) as u8 + 3)));
        // A 40×40 block (11 % of the picture) changes.
        let moved = picture(|i| {
            if (i % 160) < 40 && (i / 160) < 40 {
                255
            } else {
                (i % 200) as u8 + 3
            }
        });
        assert!(d.feed(&moved));
    }

    #[test]
    fn sensitivity_sets_the_share() {
        let base = picture(|_| 0);
        // 2 % of the pixels change.
        let small = picture(|i| if i % 50 == 0 { 200 } else { 0 });
        let mut low = MotionDetector::new(10);
        low.feed(&base);
        assert!(!low.feed(&small));
        let mut high = MotionDetector::new(90);
        high.feed(&base);
        assert!(high.feed(&small));
        let mut off = MotionDetector::new(0);
        off.feed(&base);
        assert!(!off.feed(&picture(|_| 255)));
    }
}
