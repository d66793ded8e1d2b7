//! The pixel clock: a capture timestamp drawn into the picture as black and white blocks,
//! so that anyone who receives a frame — a live viewer, a test, the timeline of a
//! recording — can tell when it was captured without any side channel.
//!
//! The camera's test pattern draws it into every raw frame before encoding
//! ([`encode_luma`]); a receiver decodes it from any decoded frame ([`decode_luma`],
//! [`decode_pixel_clock`]). Comparing it with the wall clock at display time gives the
//! glass-to-glass latency when both ends share a clock (same machine).
//!
//! Layout (all positions relative to the frame size, so it survives scaling to the sub
//! stream and H.264 at SD bit rates):
//!
//! ```text
//!   ┌─ strip: top H/18 rows, split into 64 equal cells across the full width ─────────┐
//!   │ W │ B │ b47 │ b46 │ … │ b0 │ c7 │ … │ c0 │ B … B │   (W white, B black)          │
//!   └──────────────────────────────────────────────────────────────────────────────────┘
//!   cells 0–1: reference white and black; 2–49: the capture time, unix milliseconds,
//!   48 bits, most significant first (white = 1); 50–57: XOR of its six bytes; 58–63: black.
//! ```
//!
//! The decoder averages the middle half of each cell and thresholds halfway between the
//! two reference cells; it refuses a frame whose references are too close together or
//! whose check byte does not match, so it never returns a wrong time silently.

use gstreamer_video as gst_video;
use gstreamer_video::prelude::*;

/// Cells across the width.
const CELLS: usize = 64;
/// Bits of time.
const TIME_BITS: usize = 48;
const WHITE: u8 = 235;
const BLACK: u8 = 16;

/// Height of the strip in rows for a frame of `height` rows.
pub fn strip_height(height: usize) -> usize {
    (height / 18).max(4)
}

fn cell_bits(unix_ms: u64) -> [bool; CELLS] {
    let mut bits = [false; CELLS];
    bits[0] = true;
    let t = unix_ms & ((1 << TIME_BITS) - 1);
    for i in 0..TIME_BITS {
        bits[2 + i] = (t >> (TIME_BITS - 1 - i)) & 1 == 1;
    }
    let check = checksum(t);
    for i in 0..8 {
        bits[2 + TIME_BITS + i] = (check >> (7 - i)) & 1 == 1;
    }
    bits
}

fn checksum(t: u64) -> u8 {
    t.to_be_bytes()[2..].iter().fold(0x5a, |a, b| a ^ b)
}

/// Draw `unix_ms` into a luma plane (8-bit, `stride` bytes per row).
pub fn encode_luma(plane: &mut [u8], stride: usize, width: usize, height: usize, unix_ms: u64) {
    let bits = cell_bits(unix_ms);
    let rows = strip_height(height).min(height);
    for y in 0..rows {
        let Some(row) = plane.get_mut(y * stride..y * stride + width) else {
            return;
        };
        for (x, px) in row.iter_mut().enumerate() {
            let cell = x * CELLS / width;
            *px = if bits[cell] { WHITE } else { BLACK };
        }
    }
}

/// Read the time back from a luma plane; `None` if there is no valid code.
pub fn decode_luma(plane: &[u8], stride: usize, width: usize, height: usize) -> Option<u64> {
    decode_with(width, height, |x, y| plane.get(y * stride + x).copied())
}

fn decode_with(
    width: usize,
    height: usize,
    luma: impl Fn(usize, usize) -> Option<u8>,
) -> Option<u64> {
    if width < CELLS * 2 || height < 16 {
        return None;
    }
    let rows = strip_height(height);
    let (y0, y1) = (rows / 4, (rows * 3 / 4).max(rows / 4 + 1));
    let mean = |cell: usize| -> Option<u32> {
        let x0 = cell * width / CELLS;
        let x1 = (cell + 1) * width / CELLS;
        let (a, b) = (x0 + (x1 - x0) / 4, x1 - (x1 - x0) / 4);
        let (mut sum, mut n) = (0u32, 0u32);
        for y in y0..y1 {
            for x in a..b.max(a + 1) {
                sum += u32::from(luma(x, y)?);
                n += 1;
            }
        }
        Some(sum / n.max(1))
    };
    let white = mean(0)?;
    let black = mean(1)?;
    if white < black + 60 {
        return None;
    }
    let threshold = (white + black) / 2;
    let mut value = 0u64;
    for i in 0..TIME_BITS {
        value = (value << 1) | u64::from(mean(2 + i)? > threshold);
    }
    let mut check = 0u8;
    for i in 0..8 {
        check = (check << 1) | u8::from(mean(2 + TIME_BITS + i)? > threshold);
    }
    (check == checksum(value)).then_some(value)
}

/// Read the time from a decoded GStreamer frame: any YUV format (luma plane) or packed
/// RGB (luma computed).
pub fn decode_pixel_clock(frame: &gst_video::VideoFrameRef<&gstreamer::BufferRef>) -> Option<u64> {
    let info = frame.info();
    let (w, h) = (info.width() as usize, info.height() as usize);
    let finfo = info.format_info();
    let stride = *frame.plane_stride().first()? as usize;
    let plane = frame.plane_data(0).ok()?;
    if finfo.is_yuv() || finfo.is_gray() {
        let pstride = finfo.pixel_stride()[0].max(1) as usize;
        let off = finfo.poffset()[0] as usize;
        if pstride == 1 {
            return decode_luma(plane, stride, w, h);
        }
        return decode_with(w, h, |x, y| {
            plane.get(y * stride + x * pstride + off).copied()
        });
    }
    if finfo.is_rgb() && finfo.n_planes() == 1 {
        let pstride = finfo.pixel_stride()[0] as usize;
        let offs = finfo.poffset();
        let (r, g, b) = (offs[0] as usize, offs[1] as usize, offs[2] as usize);
        return decode_with(w, h, |x, y| {
            let p = y * stride + x * pstride;
            let (r, g, b) = (*plane.get(p + r)?, *plane.get(p + g)?, *plane.get(p + b)?);
            Some(((u32::from(r) * 77 + u32::from(g) * 150 + u32::from(b) * 29) >> 8) as u8)
        });
    }
    None
}

/// Now, in the pixel clock's unit: unsigned Unix milliseconds, as [`encode_luma`] draws
/// and [`decode_luma`] returns them. Read from [`eyrie_protocol::clock::unix_ms`], the one
/// clock of the system, so a decoded stamp and this compare directly.
pub fn now_unix_ms() -> u64 {
    u64::try_from(eyrie_protocol::clock::unix_ms()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_at_both_sizes_and_with_noise() {
        for (w, h) in [(1280usize, 720usize), (640, 360), (320, 180)] {
            let stride = w + 32;
            let mut plane = vec![128u8; stride * h];
            let t = 1_795_000_123_456u64;
            encode_luma(&mut plane, stride, w, h, t);
            assert_eq!(decode_luma(&plane, stride, w, h), Some(t));
            // Compression-like noise: ±40 on every pixel still decodes.
            for (i, p) in plane.iter_mut().enumerate() {
                let n = ((i * 7919) % 81) as i32 - 40;
                *p = (i32::from(*p) + n).clamp(0, 255) as u8;
            }
            assert_eq!(decode_luma(&plane, stride, w, h), Some(t));
        }
    }

    #[test]
    fn refuses_frames_without_a_code() {
        let plane = vec![128u8; 640 * 360];
        assert_eq!(decode_luma(&plane, 640, 640, 360), None);
        let mut plane = vec![0u8; 640 * 360];
        encode_luma(&mut plane, 640, 640, 360, 42);
        // Flip one time bit: the check byte no longer matches.
        let cell = 2 + 47;
        for y in 0..strip_height(360) {
            for x in cell * 10..(cell + 1) * 10 {
                plane[y * 640 + x] = 255 - plane[y * 640 + x];
            }
        }
        assert_eq!(decode_luma(&plane, 640, 640, 360), None);
    }
}
