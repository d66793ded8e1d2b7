//! A small MPEG transport stream writer (ISO/IEC 13818-1) for recording segments: one
//! program, H.264 video and optional Opus audio, written on the recorder's own thread.
//!
//! Why not `mpegtsmux`: a GStreamer pipeline per segment costs three streaming threads,
//! their queues and the plugin's code — over a megabyte resident while recording (the
//! storage bench's `storage_mem_bitrate_s` fell from 9.9 to 4.6 seconds of bitrate
//! without it; the budget is 2) — and a drain at every segment end. What a camera
//! records needs a tiny subset of the format: the frames are already access units with
//! SPS/PPS on every keyframe and no B-frames, so a packet is a header and a copy. This
//! writer holds no media: each frame becomes 188-byte packets that go straight to the
//! encryptor.
//!
//! Layout, written so other players need nothing special (`docs/segment-format.md`,
//! "What is inside"):
//!
//! - PAT (PID 0) and PMT (PID 0x20) at the start and again before every keyframe, so any
//!   keyframe is a place to start reading;
//! - video on PID 0x41, `stream_type` 0x1B, PES `stream_id` 0xE0, one access unit per PES,
//!   an access-unit delimiter added when the encoder did not write one (§2.14.1 of the
//!   standard), the PCR in the adaptation field of every frame's first packet and the
//!   random-access flag on keyframes;
//! - audio on PID 0x42, `stream_type` 0x06 with the registration descriptor `Opus` and
//!   the DVB extension descriptor 0x80 carrying the channel count (as FFmpeg and
//!   GStreamer read it), PES `stream_id` 0xBD, one Opus packet per PES behind its
//!   `opus_control_header`;
//! - timestamps on the 90 kHz clock: PTS = (capture PTS − `base`) + [`PTS_OFFSET`],
//!   DTS = PTS (no B-frames), PCR = PTS − [`PCR_LEAD`]; all 33-bit, wrapping as the
//!   standard says (after 26.5 h).

/// Packet size.
pub const PACKET: usize = 188;
pub const PMT_PID: u16 = 0x20;
pub const VIDEO_PID: u16 = 0x41;
pub const AUDIO_PID: u16 = 0x42;
/// Added to every PTS so the PCR, which runs ahead of it, never goes below zero.
pub const PTS_OFFSET: u64 = 90_000; // 1 s
/// How far the PCR runs ahead of the frame it is sent with (decoder buffering).
pub const PCR_LEAD: u64 = 9_000; // 100 ms
const WRAP: u64 = 1 << 33;
const PAYLOAD: usize = PACKET - 4;

/// Microseconds to 90 kHz ticks.
pub fn ticks(us: u64) -> u64 {
    (u128::from(us) * 9 / 100) as u64
}

/// Writes one segment's transport stream, packet by packet, into a [`PacketSink`].
#[derive(Debug)]
pub struct TsWriter {
    audio_channels: Option<u8>,
    cc_pat: u8,
    cc_pmt: u8,
    cc_video: u8,
    cc_audio: u8,
}

impl TsWriter {
    /// A segment with video and, when `audio_channels` is `Some(1 | 2)`, an Opus track.
    pub fn new(audio_channels: Option<u8>) -> Self {
        Self {
            audio_channels: audio_channels.map(|c| c.clamp(1, 2)),
            cc_pat: 0,
            cc_pmt: 0,
            cc_video: 0,
            cc_audio: 0,
        }
    }

    pub fn has_audio(&self) -> bool {
        self.audio_channels.is_some()
    }

    /// PAT and PMT.
    pub fn tables(&mut self, out: &mut impl PacketSink) {
        // PAT: program 1 → PMT_PID.
        let mut pat = Vec::with_capacity(16);
        pat.extend_from_slice(&[0x00, 0x01]); // program_number 1
        pat.extend_from_slice(&(0xE000 | PMT_PID).to_be_bytes());
        section(out, 0, &mut self.cc_pat, 0x00, 0x0001, &pat);

        // PMT.
        let mut pmt = Vec::with_capacity(48);
        pmt.extend_from_slice(&(0xE000 | VIDEO_PID).to_be_bytes()); // PCR_PID
        pmt.extend_from_slice(&[0xF0, 0x00]); // program_info_length 0
        pmt.push(0x1B); // H.264
        pmt.extend_from_slice(&(0xE000 | VIDEO_PID).to_be_bytes());
        pmt.extend_from_slice(&[0xF0, 0x00]);
        if let Some(ch) = self.audio_channels {
            pmt.push(0x06); // PES private data
            pmt.extend_from_slice(&(0xE000 | AUDIO_PID).to_be_bytes());
            let desc = [
                0x05, 0x04, b'O', b'p', b'u', b's', // registration descriptor
                0x7F, 0x02, 0x80, ch, // DVB extension: Opus channel configuration
            ];
            pmt.extend_from_slice(&(0xF000 | desc.len() as u16).to_be_bytes());
            pmt.extend_from_slice(&desc);
        }
        section(out, PMT_PID, &mut self.cc_pmt, 0x02, 0x0001, &pmt);
    }

    /// One H.264 access unit (Annex B byte stream) with its PTS in 90 kHz ticks (before
    /// [`PTS_OFFSET`]). Keyframes are preceded by the tables.
    pub fn video(&mut self, pts: u64, keyframe: bool, au: &[u8], out: &mut impl PacketSink) {
        if keyframe {
            self.tables(out);
        }
        let pts = (pts + PTS_OFFSET) % WRAP;
        let aud: &[u8] = if starts_with_aud(au) {
            &[]
        } else {
            &[0, 0, 0, 1, 0x09, 0xF0]
        };
        let mut header = [0u8; 14];
        let es_len = aud.len() + au.len();
        // PES_packet_length counts from after itself: 3 header bytes + 5 PTS + data; 0
        // ("unbounded", allowed for video) when that does not fit in 16 bits.
        let pes_len = u16::try_from(8 + es_len).unwrap_or(0);
        pes_header(&mut header, 0xE0, pes_len, pts);
        let pcr = (pts + WRAP - PCR_LEAD) % WRAP;
        let af = Adaptation {
            random_access: keyframe,
            pcr: Some(pcr),
        };
        packetize(out, VIDEO_PID, &mut self.cc_video, af, &[&header, aud, au]);
    }

    /// One Opus packet with its PTS in 90 kHz ticks (before [`PTS_OFFSET`]). Ignored
    /// when the segment has no audio track.
    pub fn audio(&mut self, pts: u64, packet: &[u8], out: &mut impl PacketSink) {
        if self.audio_channels.is_none() {
            return;
        }
        let pts = (pts + PTS_OFFSET) % WRAP;
        // opus_control_header: 0x7FE0 with no trim and no extension, then au_size as a
        // run of 0xFF bytes and the remainder.
        let mut control = Vec::with_capacity(2 + packet.len() / 255 + 1);
        control.extend_from_slice(&[0x7F, 0xE0]);
        let mut n = packet.len();
        while n >= 255 {
            control.push(0xFF);
            n -= 255;
        }
        control.push(n as u8);
        let mut header = [0u8; 14];
        let pes_len = u16::try_from(8 + control.len() + packet.len()).unwrap_or(0);
        pes_header(&mut header, 0xBD, pes_len, pts);
        let af = Adaptation {
            random_access: true,
            pcr: None,
        };
        packetize(
            out,
            AUDIO_PID,
            &mut self.cc_audio,
            af,
            &[&header, &control, packet],
        );
    }
}

fn starts_with_aud(au: &[u8]) -> bool {
    let nal = if au.starts_with(&[0, 0, 0, 1]) {
        au.get(4)
    } else if au.starts_with(&[0, 0, 1]) {
        au.get(3)
    } else {
        None
    };
    nal.is_some_and(|b| b & 0x1F == 9)
}

/// PES header with a PTS only (DTS equal), data-aligned: 14 bytes.
fn pes_header(h: &mut [u8; 14], stream_id: u8, pes_len: u16, pts: u64) {
    h[..4].copy_from_slice(&[0, 0, 1, stream_id]);
    h[4..6].copy_from_slice(&pes_len.to_be_bytes());
    h[6] = 0x84; // '10', not scrambled, data_alignment_indicator
    h[7] = 0x80; // PTS only
    h[8] = 5;
    h[9] = 0x21 | (((pts >> 30) as u8 & 0x07) << 1);
    h[10] = (pts >> 22) as u8;
    h[11] = (((pts >> 15) as u8) << 1) | 1;
    h[12] = (pts >> 7) as u8;
    h[13] = ((pts as u8) << 1) | 1;
}

#[derive(Clone, Copy)]
struct Adaptation {
    random_access: bool,
    pcr: Option<u64>,
}

/// Split `parts` (one PES) into packets on `pid`; the first packet carries the
/// adaptation fields asked, the last is padded with adaptation-field stuffing.
fn packetize(
    sink: &mut impl PacketSink,
    pid: u16,
    cc: &mut u8,
    first: Adaptation,
    parts: &[&[u8]],
) {
    let mut left: usize = parts.iter().map(|p| p.len()).sum();
    let mut reader = Parts {
        parts,
        part: 0,
        offset: 0,
    };
    let mut start = true;
    while left > 0 {
        // The adaptation field's contents after its length byte: flags and the PCR.
        let mut fields = [0u8; 7];
        let mut n_fields = 0;
        if start && (first.random_access || first.pcr.is_some()) {
            fields[0] = if first.random_access { 0x40 } else { 0 };
            n_fields = 1;
            if let Some(pcr) = first.pcr {
                fields[0] |= 0x10;
                fields[1..7].copy_from_slice(&[
                    (pcr >> 25) as u8,
                    (pcr >> 17) as u8,
                    (pcr >> 9) as u8,
                    (pcr >> 1) as u8,
                    (((pcr & 1) as u8) << 7) | 0x7E, // 6 reserved bits; extension 0
                    0x00,
                ]);
                n_fields = 7;
            }
        }
        let af_len = if n_fields > 0 { 1 + n_fields } else { 0 };
        let room = PAYLOAD - af_len;
        let take = left.min(room);
        let pad = room - take;
        // The last packet is filled up by growing the adaptation field: a field of
        // length 0 is one byte; a longer one needs the flags byte.
        let (n_fields, stuffing) = match (n_fields, pad) {
            (_, 0) => (n_fields, 0),
            (0, 1) => (0, 0),
            (0, pad) => (1, pad - 2),
            (n, pad) => (n, pad),
        };
        let with_af = af_len > 0 || pad > 0;
        let mut out = Packet::new();
        header(&mut out, pid, cc, start, with_af);
        if with_af {
            out.push((n_fields + stuffing) as u8);
            out.extend_from_slice(&fields[..n_fields]);
            out.fill(stuffing, 0xFF);
        }
        reader.copy(&mut out, take);
        sink.packet(out.full());
        left -= take;
        start = false;
    }
}

/// A cursor over the pieces of one PES.
struct Parts<'a> {
    parts: &'a [&'a [u8]],
    part: usize,
    offset: usize,
}

impl Parts<'_> {
    fn copy(&mut self, out: &mut Packet, mut n: usize) {
        while n > 0 {
            let p = self.parts[self.part];
            let k = (p.len() - self.offset).min(n);
            out.extend_from_slice(&p[self.offset..self.offset + k]);
            n -= k;
            self.offset += k;
            if self.offset == p.len() {
                self.part += 1;
                self.offset = 0;
            }
        }
    }
}

fn header(out: &mut Packet, pid: u16, cc: &mut u8, start: bool, adaptation: bool) {
    out.push(0x47);
    out.push((u8::from(start) << 6) | ((pid >> 8) as u8 & 0x1F));
    out.push(pid as u8);
    out.push(if adaptation { 0x30 } else { 0x10 } | *cc);
    *cc = (*cc + 1) & 0x0F;
}

/// One PSI section (pointer field 0, syntax, version 0, CRC) in one packet.
fn section(sink: &mut impl PacketSink, pid: u16, cc: &mut u8, table_id: u8, id: u16, body: &[u8]) {
    let mut out = Packet::new();
    header(&mut out, pid, cc, true, false);
    out.push(0); // pointer_field
    let sec_start = out.len;
    let section_length = 5 + body.len() + 4;
    out.push(table_id);
    out.extend_from_slice(&(0xB000 | section_length as u16).to_be_bytes());
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&[0xC1, 0x00, 0x00]); // version 0, current; section 0 of 0
    out.extend_from_slice(body);
    let crc = crc32_mpeg2(&out.bytes[sec_start..out.len]);
    out.extend_from_slice(&crc.to_be_bytes());
    out.fill(PACKET - out.len, 0xFF);
    sink.packet(out.full());
}

/// Where finished packets go: straight on to the encryptor in the recorder, a byte
/// vector in tests.
pub trait PacketSink {
    /// One whole 188-byte packet.
    fn packet(&mut self, packet: &[u8]);
}

impl PacketSink for Vec<u8> {
    fn packet(&mut self, packet: &[u8]) {
        self.extend_from_slice(packet);
    }
}

/// One packet being built, on the stack.
struct Packet {
    bytes: [u8; PACKET],
    len: usize,
}

impl Packet {
    fn new() -> Self {
        Self {
            bytes: [0; PACKET],
            len: 0,
        }
    }

    fn push(&mut self, b: u8) {
        self.bytes[self.len] = b;
        self.len += 1;
    }

    fn extend_from_slice(&mut self, b: &[u8]) {
        self.bytes[self.len..self.len + b.len()].copy_from_slice(b);
        self.len += b.len();
    }

    fn fill(&mut self, n: usize, b: u8) {
        self.bytes[self.len..self.len + n].fill(b);
        self.len += n;
    }

    fn full(&self) -> &[u8] {
        debug_assert_eq!(self.len, PACKET, "a packet is filled to 188 bytes");
        &self.bytes
    }
}

/// CRC-32/MPEG-2: polynomial 0x04C11DB7, initial 0xFFFFFFFF, no reflection, no final xor.
pub fn crc32_mpeg2(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04C1_1DB7
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests;
