//! Streaming decryption: only authenticated plaintext ever comes out.
//!
//! Both decryptors hold one record (`chunk_size + 16` bytes) at a time. A record of full
//! length is always a non-final chunk (the final chunk is shorter by construction), so a
//! full record can be opened as soon as it arrives; whatever is left at end of input is
//! the final chunk. A segment that ends after a full record has lost its final chunk and
//! is reported as [`SegmentError::Truncated`].

use std::io::Read;

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes256Gcm, Tag};

use super::{HEADER_LEN, KeyId, SegmentError, SegmentHeader, SegmentKey, TAG_LEN};

/// Shared state: parsed header, cipher and chunk counter.
struct Opener {
    cipher: Aes256Gcm,
    header: SegmentHeader,
    aad: [u8; HEADER_LEN],
    index: u32,
}

impl Opener {
    fn new(
        key: &SegmentKey,
        expected: Option<KeyId>,
        header_bytes: &[u8],
    ) -> Result<Self, SegmentError> {
        let header = SegmentHeader::parse(header_bytes)?;
        if let Some(expected) = expected
            && expected != header.key_id
        {
            return Err(SegmentError::WrongKeyId {
                expected,
                found: header.key_id,
            });
        }
        Ok(Self {
            cipher: key.cipher(),
            aad: header.to_bytes(),
            header,
            index: 0,
        })
    }

    fn record_len(&self) -> usize {
        self.header.chunk_size as usize + TAG_LEN
    }

    /// Open `record` in place; on success it holds the plaintext (tag cut off).
    fn open(&mut self, record: &mut Vec<u8>, last: bool) -> Result<(), SegmentError> {
        if record.len() < TAG_LEN {
            return Err(SegmentError::Truncated);
        }
        let ct_len = record.len() - TAG_LEN;
        let tag = Tag::try_from(&record[ct_len..]).map_err(|_| SegmentError::Truncated)?;
        let nonce = self.header.nonce(self.index, last);
        self.cipher
            .decrypt_inout_detached(&nonce, &self.aad, (&mut record[..ct_len]).into(), &tag)
            .map_err(|_| SegmentError::Authentication(self.index))?;
        record.truncate(ct_len);
        if !last {
            self.index = self.index.checked_add(1).ok_or(SegmentError::TooLong)?;
        }
        Ok(())
    }
}

/// Push-style decryptor for bytes that arrive in pieces (e.g. an HTTP body).
pub struct Decryptor {
    key: SegmentKey,
    expected: Option<KeyId>,
    opener: Option<Opener>,
    buf: Vec<u8>,
    failed: bool,
}

impl Decryptor {
    /// `expected`: refuse segments sealed under another key id (recommended).
    pub fn new(key: SegmentKey, expected: Option<KeyId>) -> Self {
        Self {
            key,
            expected,
            opener: None,
            buf: Vec::with_capacity(HEADER_LEN),
            failed: false,
        }
    }

    /// The header, once 40 bytes have arrived.
    pub fn header(&self) -> Option<&SegmentHeader> {
        self.opener.as_ref().map(|o| &o.header)
    }

    /// Feed ciphertext; appends any newly authenticated plaintext to `out`.
    pub fn push(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<(), SegmentError> {
        if self.failed {
            return Err(SegmentError::Finished);
        }
        let res = (|| {
            while !input.is_empty() {
                let want = match &self.opener {
                    None => HEADER_LEN,
                    Some(o) => o.record_len(),
                };
                let take = (want - self.buf.len()).min(input.len());
                self.buf.extend_from_slice(&input[..take]);
                input = &input[take..];
                if self.buf.len() < want {
                    break;
                }
                match &mut self.opener {
                    None => {
                        let opener = Opener::new(&self.key, self.expected, &self.buf)?;
                        self.buf = Vec::with_capacity(opener.record_len());
                        self.opener = Some(opener);
                    }
                    Some(opener) => {
                        opener.open(&mut self.buf, false)?;
                        out.extend_from_slice(&self.buf);
                        self.buf.clear();
                    }
                }
            }
            Ok(())
        })();
        if res.is_err() {
            self.failed = true;
        }
        res
    }

    /// End of input: opens the final chunk and appends its plaintext to `out`.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<SegmentHeader, SegmentError> {
        if self.failed {
            return Err(SegmentError::Finished);
        }
        let opener = self.opener.as_mut().ok_or(SegmentError::Truncated)?;
        opener.open(&mut self.buf, true)?;
        out.extend_from_slice(&self.buf);
        Ok(opener.header)
    }
}

/// A `Read` over a segment that yields plaintext, one authenticated chunk at a time.
///
/// Any failure (tampering, truncation, wrong key) surfaces as an `io::Error` of kind
/// `InvalidData` whose inner error is the [`SegmentError`]; see [`SegmentReader::read_all`]
/// for a typed error.
pub struct SegmentReader<R: Read> {
    inner: R,
    opener: Opener,
    buf: Vec<u8>,
    pos: usize,
    done: bool,
    failed: bool,
}

impl<R: Read> SegmentReader<R> {
    /// Reads and checks the header at once.
    pub fn new(
        mut inner: R,
        key: &SegmentKey,
        expected: Option<KeyId>,
    ) -> Result<Self, SegmentError> {
        let mut header = [0u8; HEADER_LEN];
        let n = read_full(&mut inner, &mut header)?;
        let opener = Opener::new(key, expected, &header[..n])?;
        let buf = Vec::with_capacity(opener.record_len());
        Ok(Self {
            inner,
            opener,
            buf,
            pos: 0,
            done: false,
            failed: false,
        })
    }

    pub fn header(&self) -> &SegmentHeader {
        &self.opener.header
    }

    /// Opens the next record into `buf`. Returns false at the (authenticated) end.
    fn fill(&mut self) -> Result<bool, SegmentError> {
        if self.done {
            return Ok(false);
        }
        let len = self.opener.record_len();
        self.buf.resize(len, 0);
        let n = read_full(&mut self.inner, &mut self.buf)?;
        self.buf.truncate(n);
        self.pos = 0;
        let last = n < len;
        self.opener.open(&mut self.buf, last)?;
        self.done = last;
        Ok(true)
    }

    /// Read everything into `out` with a typed error.
    pub fn read_all(mut self, out: &mut Vec<u8>) -> Result<SegmentHeader, SegmentError> {
        loop {
            out.extend_from_slice(&self.buf[self.pos..]);
            self.pos = self.buf.len();
            if !self.fill()? {
                return Ok(self.opener.header);
            }
        }
    }
}

impl<R: Read> Read for SegmentReader<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.failed {
            return Err(SegmentError::Finished.into_io());
        }
        while self.pos == self.buf.len() {
            match self.fill() {
                Ok(true) => {}
                Ok(false) => return Ok(0),
                Err(e) => {
                    self.failed = true;
                    self.buf.clear();
                    self.pos = 0;
                    return Err(e.into_io());
                }
            }
        }
        let n = (self.buf.len() - self.pos).min(out.len());
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Read until `buf` is full or end of input; returns how many bytes were read.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Decrypt a whole segment held in memory.
pub fn decrypt_to_vec(
    segment: &[u8],
    key: &SegmentKey,
    expected: Option<KeyId>,
) -> Result<Vec<u8>, SegmentError> {
    let mut out = Vec::with_capacity(segment.len());
    let mut d = Decryptor::new(key.clone(), expected);
    d.push(segment, &mut out)?;
    d.finish(&mut out)?;
    Ok(out)
}
