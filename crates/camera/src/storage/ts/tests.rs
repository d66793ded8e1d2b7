use super::*;
use std::collections::HashMap;

#[test]
fn crc_is_mpeg2() {
    // The catalogued check value of CRC-32/MPEG-2.
    assert_eq!(crc32_mpeg2(b"123456789"), 0x0376_E6E7);
}

/// Packets → (pid → list of (PES bytes, first packet's adaptation flags, PCR)).
type Pes = (Vec<u8>, u8, Option<u64>);
fn parse(ts: &[u8]) -> HashMap<u16, Vec<Pes>> {
    assert_eq!(ts.len() % PACKET, 0, "whole packets");
    let mut cc: HashMap<u16, u8> = HashMap::new();
    let mut out: HashMap<u16, Vec<Pes>> = HashMap::new();
    for p in ts.chunks(PACKET) {
        assert_eq!(p[0], 0x47, "sync byte");
        let start = p[1] & 0x40 != 0;
        let pid = (u16::from(p[1] & 0x1F) << 8) | u16::from(p[2]);
        let afc = (p[3] >> 4) & 3;
        assert!(afc == 1 || afc == 3, "payload in every packet");
        let c = p[3] & 0x0F;
        if let Some(prev) = cc.insert(pid, c) {
            assert_eq!(c, (prev + 1) & 0x0F, "continuity on PID {pid:#x}");
        } else {
            assert_eq!(c, 0, "counters start at 0");
        }
        let mut i = 4;
        let (mut flags, mut pcr) = (0, None);
        if afc == 3 {
            let len = p[4] as usize;
            assert!(5 + len <= PACKET, "adaptation field fits");
            if len > 0 {
                flags = p[5];
                if flags & 0x10 != 0 {
                    let b = &p[6..12];
                    pcr = Some(
                        (u64::from(b[0]) << 25)
                            | (u64::from(b[1]) << 17)
                            | (u64::from(b[2]) << 9)
                            | (u64::from(b[3]) << 1)
                            | u64::from(b[4] >> 7),
                    );
                }
                assert!(
                    p[5 + 1 + if pcr.is_some() { 6 } else { 0 }..5 + len]
                        .iter()
                        .all(|&b| b == 0xFF)
                );
            }
            i = 5 + len;
        }
        let list = out.entry(pid).or_default();
        if start {
            list.push((Vec::new(), flags, pcr));
        }
        list.last_mut()
            .expect("starts with PUSI")
            .0
            .extend_from_slice(&p[i..]);
    }
    out
}

fn pes_pts(pes: &[u8]) -> u64 {
    let h = &pes[9..14];
    (u64::from(h[0] >> 1 & 7) << 30)
        | (u64::from(h[1]) << 22)
        | (u64::from(h[2] >> 1) << 15)
        | (u64::from(h[3]) << 7)
        | u64::from(h[4] >> 1)
}

#[test]
fn every_size_packs_into_whole_packets_and_comes_back() {
    let mut w = TsWriter::new(Some(2));
    let mut out = Vec::new();
    let mut sent = Vec::new();
    // Every length around the packet boundaries (1- and 2-byte padding included).
    for (i, len) in (1..=600).chain([65_530, 65_531, 200_000]).enumerate() {
        let mut au = vec![0, 0, 0, 1, 0x65];
        au.extend((0..len).map(|j| (j * 7 + i) as u8));
        let key = i % 100 == 0;
        w.video(i as u64 * 3000, key, &au, &mut out);
        sent.push((au, key));
        w.audio(i as u64 * 1800, &[0xFC; 300][..i % 300 + 1], &mut out);
    }
    let got = parse(&out);
    let video = &got[&VIDEO_PID];
    assert_eq!(video.len(), sent.len());
    for (i, ((pes, flags, pcr), (au, key))) in video.iter().zip(&sent).enumerate() {
        assert_eq!(&pes[..4], &[0, 0, 1, 0xE0]);
        let pts = pes_pts(pes);
        assert_eq!(pts, i as u64 * 3000 + PTS_OFFSET);
        assert_eq!(*pcr, Some(pts - PCR_LEAD), "PCR with every frame");
        assert_eq!(flags & 0x40 != 0, *key, "random access on keyframes");
        let es = &pes[14..];
        assert_eq!(&es[..6], &[0, 0, 0, 1, 0x09, 0xF0], "AUD added");
        assert_eq!(&es[6..], &au[..]);
        let len = u16::from_be_bytes([pes[4], pes[5]]) as usize;
        if len != 0 {
            assert_eq!(len, pes.len() - 6);
        } else {
            assert!(pes.len() - 6 > 65_535);
        }
    }
    let audio = &got[&AUDIO_PID];
    assert_eq!(audio.len(), sent.len());
    for (i, (pes, _, pcr)) in audio.iter().enumerate() {
        assert_eq!(&pes[..4], &[0, 0, 1, 0xBD]);
        assert_eq!(pcr, &None);
        assert_eq!(pes_pts(pes), i as u64 * 1800 + PTS_OFFSET);
        let n = i % 300 + 1;
        let mut j = 16;
        let mut size = 0;
        assert_eq!(&pes[14..16], &[0x7F, 0xE0]);
        while pes[j] == 0xFF {
            size += 255;
            j += 1;
        }
        size += pes[j] as usize;
        assert_eq!(size, n);
        assert_eq!(pes.len(), j + 1 + n);
    }
    // Tables before every keyframe (frames 0, 100, …, 600): a PAT and a PMT each.
    assert_eq!(got[&0].len(), 7);
    assert_eq!(got[&PMT_PID].len(), 7);
    let pmt = &got[&PMT_PID][0].0;
    let sec_len = (usize::from(pmt[2] & 0x0F) << 8) | usize::from(pmt[3]);
    let sec = &pmt[1..4 + sec_len];
    assert_eq!(crc32_mpeg2(sec), 0, "a section with its CRC checks to 0");
}

#[test]
fn an_access_unit_delimiter_is_not_doubled() {
    let mut w = TsWriter::new(None);
    let mut out = Vec::new();
    let au = [0, 0, 0, 1, 0x09, 0xF0, 0, 0, 0, 1, 0x65, 1, 2, 3];
    w.video(0, true, &au, &mut out);
    w.audio(0, &[1, 2, 3], &mut out);
    let got = parse(&out);
    assert_eq!(&got[&VIDEO_PID][0].0[14..], &au);
    assert!(!got.contains_key(&AUDIO_PID), "no audio track, no audio");
}

#[test]
fn timestamps_wrap_at_33_bits() {
    let mut w = TsWriter::new(None);
    let mut out = Vec::new();
    w.video(WRAP - PTS_OFFSET + 5, true, &[0, 0, 0, 1, 0x65], &mut out);
    let got = parse(&out);
    let (pes, _, pcr) = &got[&VIDEO_PID][0];
    assert_eq!(pes_pts(pes), 5);
    assert_eq!(*pcr, Some(WRAP + 5 - PCR_LEAD));
}
