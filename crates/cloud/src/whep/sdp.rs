//! The little SDP work WHEP needs, on text (no SDP library in the cloud: it never
//! negotiates media, the camera does): check an offer, learn its m-lines, put the camera's
//! candidates into the answer, and read a PATCH's `application/trickle-ice-sdpfrag`
//! (RFC 8840).

use eyrie_protocol::signalling::{MAX_CANDIDATE_BYTES, MAX_MLINE_INDEX, MAX_SDP_BYTES};

/// What the cloud needs to know of an offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferInfo {
    /// `a=mid` of each m-line, in order (`""` where one has none).
    pub mids: Vec<String>,
    /// The first `a=ice-ufrag`.
    pub ufrag: Option<String>,
    /// The audio m-line sends (`sendrecv`/`sendonly`): the player wants to talk.
    pub talk: bool,
}

/// Check a player's offer; the error says what is wrong with it.
pub fn check_offer(sdp: &str) -> Result<OfferInfo, String> {
    if sdp.len() > MAX_SDP_BYTES {
        return Err(format!("the offer is larger than {MAX_SDP_BYTES} bytes"));
    }
    if !sdp.starts_with("v=0") {
        return Err("the offer is not an SDP (it must start with v=0)".into());
    }
    if eyrie_protocol::signalling::sdp_fingerprint(sdp).is_none() {
        return Err("the offer has no a=fingerprint (DTLS-SRTP is required)".into());
    }
    let mut mids = Vec::new();
    let mut kinds = Vec::new();
    let mut ufrag = None;
    let mut talk = false;
    let mut audio = false;
    let mut audio_dir: Option<&str> = None;
    for line in sdp.lines().map(str::trim_end) {
        if let Some(m) = line.strip_prefix("m=") {
            if audio {
                talk |= audio_dir.is_none_or(|d| d == "sendrecv" || d == "sendonly");
            }
            let kind = m.split(' ').next().unwrap_or("");
            audio = kind == "audio";
            audio_dir = None;
            kinds.push(kind.to_owned());
            mids.push(String::new());
        } else if let Some(mid) = line.strip_prefix("a=mid:") {
            if let Some(last) = mids.last_mut() {
                *last = mid.trim().to_owned();
            }
        } else if let Some(u) = line.strip_prefix("a=ice-ufrag:") {
            ufrag.get_or_insert_with(|| u.trim().to_owned());
        } else if let Some(d) = ["sendrecv", "sendonly", "recvonly", "inactive"]
            .into_iter()
            .find(|d| line.strip_prefix("a=") == Some(*d))
            && audio
        {
            audio_dir = Some(d);
        }
    }
    if audio {
        talk |= audio_dir.is_none_or(|d| d == "sendrecv" || d == "sendonly");
    }
    if !kinds.iter().any(|k| k == "video") {
        return Err("the offer has no video m-line".into());
    }
    if mids.len() > MAX_MLINE_INDEX as usize + 1 {
        return Err(format!(
            "the offer has more than {} m-lines",
            MAX_MLINE_INDEX + 1
        ));
    }
    Ok(OfferInfo { mids, ufrag, talk })
}

/// One transport for a bundle (RFC 8843 §7.3.1): an offerer may give each bundled
/// m-line its own ICE credentials and candidates (aiortc does; browsers with
/// `max-bundle` do not), expecting the answerer to keep the first one's. The camera's
/// webrtcbin wants one set, so each bundled m-line after the first takes the first's
/// `a=ice-ufrag`/`a=ice-pwd` and loses its own candidates. Other offers come back as
/// they were.
pub fn unify_bundle(sdp: &str) -> String {
    let lines: Vec<&str> = sdp.lines().map(str::trim_end).collect();
    let Some(group) = lines.iter().find_map(|l| l.strip_prefix("a=group:BUNDLE ")) else {
        return sdp.to_owned();
    };
    let bundled: Vec<&str> = group.split_whitespace().collect();
    let Some(&tag) = bundled.first() else {
        return sdp.to_owned();
    };
    // Split into the session part and the m-sections.
    let mut sections: Vec<Vec<&str>> = vec![Vec::new()];
    for l in &lines {
        if l.starts_with("m=") {
            sections.push(Vec::new());
        }
        if let Some(last) = sections.last_mut() {
            last.push(l);
        }
    }
    let mid_of = |sec: &[&str]| {
        sec.iter()
            .find_map(|l| l.strip_prefix("a=mid:"))
            .map(str::trim)
            .map(str::to_owned)
    };
    let attr = |sec: &[&str], name: &str| {
        sec.iter()
            .find_map(|l| l.strip_prefix(name))
            .map(str::to_owned)
    };
    let Some(tagged) = sections[1..]
        .iter()
        .find(|s| mid_of(s).as_deref() == Some(tag))
    else {
        return sdp.to_owned();
    };
    let (Some(ufrag), Some(pwd)) = (attr(tagged, "a=ice-ufrag:"), attr(tagged, "a=ice-pwd:"))
    else {
        return sdp.to_owned();
    };
    let mut out = String::with_capacity(sdp.len());
    for (i, sec) in sections.iter().enumerate() {
        let mid = mid_of(sec);
        let follower = i > 0
            && mid
                .as_deref()
                .is_some_and(|m| m != tag && bundled.contains(&m));
        for l in sec {
            if follower {
                if l.starts_with("a=candidate:") || *l == "a=end-of-candidates" {
                    continue;
                }
                if l.starts_with("a=ice-ufrag:") {
                    out.push_str(&format!("a=ice-ufrag:{ufrag}\r\n"));
                    continue;
                }
                if l.starts_with("a=ice-pwd:") {
                    out.push_str(&format!("a=ice-pwd:{pwd}\r\n"));
                    continue;
                }
            }
            if !l.is_empty() {
                out.push_str(l);
                out.push_str("\r\n");
            }
        }
    }
    out
}

/// The answer with the camera's candidates (`(m-line index, "candidate:…")`) added to
/// their m-sections, and `a=end-of-candidates` in each when `complete`.
pub fn with_candidates(answer: &str, candidates: &[(u32, String)], complete: bool) -> String {
    let mut out = String::with_capacity(answer.len() + candidates.len() * 100);
    let mut index: Option<u32> = None;
    let flush = |out: &mut String, index: Option<u32>| {
        let Some(i) = index else { return };
        for (_, c) in candidates.iter().filter(|(m, _)| *m == i) {
            out.push_str("a=");
            out.push_str(c.strip_prefix("a=").unwrap_or(c));
            out.push_str("\r\n");
        }
        if complete {
            out.push_str("a=end-of-candidates\r\n");
        }
    };
    for line in answer.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
        if line.starts_with("m=") {
            flush(&mut out, index);
            index = Some(index.map_or(0, |i| i + 1));
        }
        if line == "a=end-of-candidates" {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    flush(&mut out, index);
    out
}

/// A PATCH body read against the offer's m-lines.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fragment {
    pub ufrag: Option<String>,
    /// `(m-line index, "candidate:…")`; `""` for `a=end-of-candidates`.
    pub candidates: Vec<(u32, String)>,
}

/// Read an `application/trickle-ice-sdpfrag` body; m-lines are found by `a=mid` (RFC
/// 8840), else by their order in the fragment.
pub fn parse_fragment(body: &str, mids: &[String]) -> Result<Fragment, String> {
    let mut frag = Fragment::default();
    let mut index: Option<u32> = None;
    let mut seen_m = 0u32;
    for line in body.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
        if line.starts_with("m=") {
            index = Some(seen_m);
            seen_m += 1;
        } else if let Some(mid) = line.strip_prefix("a=mid:") {
            let i = mids
                .iter()
                .position(|m| m == mid.trim())
                .ok_or_else(|| format!("a=mid:{} is not an m-line of the offer", mid.trim()))?;
            index = Some(i as u32);
        } else if let Some(u) = line.strip_prefix("a=ice-ufrag:") {
            frag.ufrag.get_or_insert_with(|| u.trim().to_owned());
        } else if let Some(c) = line.strip_prefix("a=candidate:") {
            if c.len() + 10 > MAX_CANDIDATE_BYTES || c.trim().is_empty() {
                return Err("a candidate line is empty or too long".into());
            }
            frag.candidates
                .push((index.unwrap_or(0), format!("candidate:{}", c.trim())));
        } else if line == "a=end-of-candidates" {
            frag.candidates.push((index.unwrap_or(0), String::new()));
        } else if !line.starts_with("a=") || !line.is_ascii() {
            return Err(format!("not an SDP fragment line: {:.40}", line));
        }
        if frag.candidates.len() > super::MAX_PATCH_CANDIDATES {
            return Err(format!(
                "more than {} candidates in one PATCH",
                super::MAX_PATCH_CANDIDATES
            ));
        }
    }
    if index.is_some_and(|i| i as usize >= mids.len().max(1)) {
        return Err("the fragment names more m-lines than the offer has".into());
    }
    Ok(frag)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\na=ice-ufrag:abcd\r\na=fingerprint:sha-256 AA:BB\r\na=recvonly\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:1\r\na=sendrecv\r\n";

    #[test]
    fn an_offer_is_read() {
        let i = check_offer(OFFER).unwrap();
        assert_eq!(i.mids, ["0", "1"]);
        assert_eq!(i.ufrag.as_deref(), Some("abcd"));
        assert!(i.talk);
        let recv = OFFER.replace("a=sendrecv", "a=recvonly");
        assert!(!check_offer(&recv).unwrap().talk);
        assert!(check_offer("hello").is_err());
        assert!(check_offer(&OFFER.replace("a=fingerprint", "a=x")).is_err());
        assert!(check_offer(&OFFER.replace("m=video", "m=text")).is_err());
    }

    #[test]
    fn a_bundle_gets_one_transport() {
        let two = OFFER
            .replace("a=mid:1\r\n", "a=mid:1\r\na=ice-ufrag:wxyz\r\na=ice-pwd:p2\r\na=candidate:9 1 udp 1 10.0.0.1 9 typ host\r\n")
            .replace("a=ice-ufrag:abcd\r\n", "a=ice-ufrag:abcd\r\na=ice-pwd:p1\r\n");
        let one = unify_bundle(&two);
        assert_eq!(one.matches("a=ice-ufrag:abcd").count(), 2, "{one}");
        assert_eq!(one.matches("a=ice-pwd:p1").count(), 2, "{one}");
        assert!(!one.contains("wxyz") && !one.contains("10.0.0.1"), "{one}");
        assert_eq!(check_offer(&one).unwrap().mids, ["0", "1"]);
    }

    #[test]
    fn candidates_go_into_their_m_section() {
        let a = with_candidates(
            OFFER,
            &[(0, "candidate:1 1 UDP 1 127.0.0.1 5 typ host".into())],
            true,
        );
        let v = a.find("m=video").unwrap();
        let c = a.find("a=candidate:1 1 UDP").unwrap();
        let m = a.find("m=audio").unwrap();
        assert!(v < c && c < m, "{a}");
        assert_eq!(a.matches("a=end-of-candidates").count(), 2);
    }

    #[test]
    fn fragments_are_read_by_mid() {
        let mids = vec!["0".to_owned(), "1".to_owned()];
        let f = parse_fragment(
            "a=ice-ufrag:abcd\r\na=ice-pwd:x\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:1\r\na=candidate:2 1 udp 9 127.0.0.1 9 typ host\r\na=end-of-candidates\r\n",
            &mids,
        )
        .unwrap();
        assert_eq!(f.ufrag.as_deref(), Some("abcd"));
        assert_eq!(
            f.candidates,
            [
                (1, "candidate:2 1 udp 9 127.0.0.1 9 typ host".to_owned()),
                (1, String::new())
            ]
        );
        assert!(parse_fragment("a=mid:7\r\n", &mids).is_err());
        assert!(parse_fragment("hello world", &mids).is_err());
    }
}
