//! Just enough of MQTT 3.1.1 (OASIS standard, §2–§3) for the broker's front: framing of
//! any control packet, and the fields of CONNECT, PUBLISH, SUBSCRIBE and SUBACK the
//! front checks or rewrites. Everything else passes through as opaque bytes.

use tokio::io::{AsyncRead, AsyncReadExt as _};

pub const CONNECT: u8 = 1;
pub const CONNACK: u8 = 2;
pub const PUBLISH: u8 = 3;
pub const SUBSCRIBE: u8 = 8;
pub const SUBACK: u8 = 9;

/// CONNACK return codes (§3.2.2.3).
pub const REFUSED_PROTOCOL: u8 = 0x01;
pub const REFUSED_BAD_LOGIN: u8 = 0x04;
pub const REFUSED_NOT_AUTHORIZED: u8 = 0x05;
/// SUBACK failure (§3.9.3).
pub const SUBACK_FAILURE: u8 = 0x80;

/// One control packet: its first byte (type and flags) and its variable header + payload.
#[derive(Debug, Clone)]
pub struct Packet {
    pub first: u8,
    pub body: Vec<u8>,
}

/// Why a packet was not read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("packet of {0} bytes is over the limit")]
    TooLarge(usize),
    #[error("malformed remaining length")]
    Malformed,
}

impl Packet {
    pub fn kind(&self) -> u8 {
        self.first >> 4
    }

    /// The packet on the wire.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.body.len() + 5);
        out.push(self.first);
        let mut n = self.body.len();
        loop {
            let mut b = (n % 128) as u8;
            n /= 128;
            if n > 0 {
                b |= 0x80;
            }
            out.push(b);
            if n == 0 {
                break;
            }
        }
        out.extend_from_slice(&self.body);
        out
    }
}

/// Read one packet whose remaining length is at most `max`; `Ok(None)` at a clean end
/// of stream. The length is checked before anything is buffered.
pub async fn read<R: AsyncRead + Unpin>(
    r: &mut R,
    max: usize,
) -> Result<Option<Packet>, ReadError> {
    let mut first = [0u8; 1];
    if r.read(&mut first).await? == 0 {
        return Ok(None);
    }
    let mut len = 0usize;
    for i in 0..4 {
        let b = r.read_u8().await?;
        len |= usize::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            if len > max {
                return Err(ReadError::TooLarge(len));
            }
            let mut body = vec![0u8; len];
            r.read_exact(&mut body).await?;
            return Ok(Some(Packet {
                first: first[0],
                body,
            }));
        }
    }
    Err(ReadError::Malformed)
}

/// A cursor over a packet body.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        self.bytes(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.bytes(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
    fn binary(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.bytes(usize::from(n))
    }
    /// A UTF-8 string (§1.5.3): no U+0000.
    fn string(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.binary()?)
            .ok()
            .filter(|s| !s.contains('\0'))
    }
}

fn put_binary(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u16).to_be_bytes());
    out.extend_from_slice(b);
}

/// A last will.
#[derive(Debug, Clone)]
pub struct Will {
    pub topic: String,
    pub message: Vec<u8>,
    pub qos: u8,
    pub retain: bool,
}

/// A CONNECT (§3.1).
#[derive(Debug, Clone)]
pub struct Connect {
    pub protocol: String,
    pub level: u8,
    pub clean_session: bool,
    pub keep_alive: u16,
    pub client_id: String,
    pub will: Option<Will>,
    pub username: Option<String>,
    pub password: Option<Vec<u8>>,
}

impl Connect {
    pub fn parse(body: &[u8]) -> Option<Connect> {
        let mut c = Cursor(body);
        let protocol = c.string()?.to_owned();
        let level = c.u8()?;
        let flags = c.u8()?;
        if flags & 1 != 0 {
            return None;
        }
        let keep_alive = c.u16()?;
        let client_id = c.string()?.to_owned();
        let will = if flags & 0x04 != 0 {
            Some(Will {
                topic: c.string()?.to_owned(),
                message: c.binary()?.to_vec(),
                qos: (flags >> 3) & 3,
                retain: flags & 0x20 != 0,
            })
        } else {
            None
        };
        let username = if flags & 0x80 != 0 {
            Some(c.string()?.to_owned())
        } else {
            None
        };
        let password = if flags & 0x40 != 0 {
            Some(c.binary()?.to_vec())
        } else {
            None
        };
        if !c.0.is_empty() {
            return None;
        }
        Some(Connect {
            protocol,
            level,
            clean_session: flags & 0x02 != 0,
            keep_alive,
            client_id,
            will,
            username,
            password,
        })
    }

    pub fn encode(&self) -> Packet {
        let mut flags = 0u8;
        if self.clean_session {
            flags |= 0x02;
        }
        if let Some(w) = &self.will {
            flags |= 0x04 | ((w.qos & 3) << 3) | if w.retain { 0x20 } else { 0 };
        }
        if self.username.is_some() {
            flags |= 0x80;
        }
        if self.password.is_some() {
            flags |= 0x40;
        }
        let mut body = Vec::new();
        put_binary(&mut body, self.protocol.as_bytes());
        body.push(self.level);
        body.push(flags);
        body.extend_from_slice(&self.keep_alive.to_be_bytes());
        put_binary(&mut body, self.client_id.as_bytes());
        if let Some(w) = &self.will {
            put_binary(&mut body, w.topic.as_bytes());
            put_binary(&mut body, &w.message);
        }
        if let Some(u) = &self.username {
            put_binary(&mut body, u.as_bytes());
        }
        if let Some(p) = &self.password {
            put_binary(&mut body, p);
        }
        Packet {
            first: CONNECT << 4,
            body,
        }
    }
}

/// A CONNACK with `code` (no session present).
pub fn connack(code: u8) -> Packet {
    Packet {
        first: CONNACK << 4,
        body: vec![0, code],
    }
}

/// The checked fields of a PUBLISH (§3.3).
#[derive(Debug)]
pub struct Publish<'a> {
    pub topic: &'a str,
    pub retain: bool,
    pub payload: &'a [u8],
}

impl<'a> Publish<'a> {
    pub fn parse(p: &'a Packet) -> Option<Publish<'a>> {
        let qos = (p.first >> 1) & 3;
        if qos == 3 {
            return None;
        }
        let mut c = Cursor(&p.body);
        let topic = c.string()?;
        if qos > 0 {
            c.u16()?;
        }
        Some(Publish {
            topic,
            retain: p.first & 1 != 0,
            payload: c.0,
        })
    }
}

/// A SUBSCRIBE (§3.8): packet id and (filter, requested QoS) pairs.
#[derive(Debug)]
pub struct Subscribe {
    pub packet_id: u16,
    pub filters: Vec<(String, u8)>,
}

impl Subscribe {
    pub fn parse(p: &Packet) -> Option<Subscribe> {
        if p.first != (SUBSCRIBE << 4) | 0x02 {
            return None;
        }
        let mut c = Cursor(&p.body);
        let packet_id = c.u16()?;
        let mut filters = Vec::new();
        while !c.0.is_empty() {
            let f = c.string()?.to_owned();
            let qos = c.u8()?;
            if qos > 2 || f.is_empty() {
                return None;
            }
            filters.push((f, qos));
        }
        if filters.is_empty() {
            return None;
        }
        Some(Subscribe { packet_id, filters })
    }

    pub fn encode(&self) -> Packet {
        let mut body = self.packet_id.to_be_bytes().to_vec();
        for (f, q) in &self.filters {
            put_binary(&mut body, f.as_bytes());
            body.push(*q);
        }
        Packet {
            first: (SUBSCRIBE << 4) | 0x02,
            body,
        }
    }
}

/// A SUBACK for `packet_id` with one return code per filter.
pub fn suback(packet_id: u16, codes: &[u8]) -> Packet {
    let mut body = packet_id.to_be_bytes().to_vec();
    body.extend_from_slice(codes);
    Packet {
        first: SUBACK << 4,
        body,
    }
}

/// Packet id and return codes of a SUBACK.
pub fn parse_suback(p: &Packet) -> Option<(u16, &[u8])> {
    let mut c = Cursor(&p.body);
    let id = c.u16()?;
    Some((id, c.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_round_trips() {
        let c = Connect {
            protocol: "MQTT".into(),
            level: 4,
            clean_session: true,
            keep_alive: 10,
            client_id: "cid".into(),
            will: Some(Will {
                topic: "eyrie/x/status".into(),
                message: b"offline".to_vec(),
                qos: 1,
                retain: true,
            }),
            username: Some("u".into()),
            password: Some(b"p".to_vec()),
        };
        let p = c.encode();
        let back = Connect::parse(&p.body).unwrap();
        assert_eq!(back.client_id, "cid");
        assert!(back.will.as_ref().unwrap().retain);
        assert_eq!(back.password.as_deref(), Some(&b"p"[..]));
        assert_eq!(back.encode().body, p.body);
    }

    #[tokio::test]
    async fn framing_checks_the_length_first() {
        let p = Packet {
            first: PUBLISH << 4,
            body: vec![0; 300],
        };
        let wire = p.encode();
        let got = read(&mut &wire[..], 300).await.unwrap().unwrap();
        assert_eq!(got.body.len(), 300);
        assert!(matches!(
            read(&mut &wire[..], 299).await,
            Err(ReadError::TooLarge(300))
        ));
    }
}
