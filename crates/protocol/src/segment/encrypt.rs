//! Streaming encryption: a `Write` that seals fixed-size chunks as they fill.
//!
//! Memory is one chunk buffer (`chunk_size + 16` bytes); a full chunk is sealed in place
//! and written out as soon as it fills, so a writer over a file never holds more than one
//! chunk of the segment. `finish` seals the (short, maybe empty) final chunk.

use std::io::Write;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::AeadInOut;

use super::{HEADER_LEN, KeyId, SegmentError, SegmentHeader, SegmentKey};

/// Encrypts a segment into an inner writer.
pub struct SegmentWriter<W: Write> {
    inner: Option<W>,
    cipher: Aes256Gcm,
    header: SegmentHeader,
    aad: [u8; HEADER_LEN],
    buf: Vec<u8>,
    index: u32,
    plaintext_len: u64,
}

impl<W: Write> SegmentWriter<W> {
    /// Start a segment: writes the header to `inner` at once.
    pub fn new(
        inner: W,
        key: &SegmentKey,
        key_id: KeyId,
        chunk_size: u32,
    ) -> Result<Self, SegmentError> {
        Self::with_header(inner, key, SegmentHeader::new(key_id, chunk_size)?)
    }

    /// Start a segment of format `version` (1 for a device still on a cloud-made key).
    pub fn with_version(
        inner: W,
        key: &SegmentKey,
        key_id: KeyId,
        chunk_size: u32,
        version: u16,
    ) -> Result<Self, SegmentError> {
        Self::with_header(
            inner,
            key,
            SegmentHeader::with_version(version, key_id, chunk_size)?,
        )
    }

    /// Start a segment with a given header. Only for test vectors: a (key, nonce prefix)
    /// pair must never be used twice, so real writers use [`SegmentWriter::new`].
    pub fn with_header(
        mut inner: W,
        key: &SegmentKey,
        header: SegmentHeader,
    ) -> Result<Self, SegmentError> {
        SegmentHeader::parse(&header.to_bytes())?;
        let aad = header.to_bytes();
        inner.write_all(&aad)?;
        Ok(Self {
            inner: Some(inner),
            cipher: key.cipher(),
            header,
            aad,
            buf: Vec::with_capacity(header.chunk_size as usize + super::TAG_LEN),
            index: 0,
            plaintext_len: 0,
        })
    }

    pub fn header(&self) -> &SegmentHeader {
        &self.header
    }

    /// Plaintext bytes accepted so far.
    pub fn plaintext_len(&self) -> u64 {
        self.plaintext_len
    }

    fn chunk_size(&self) -> usize {
        self.header.chunk_size as usize
    }

    fn seal_buffered(&mut self, last: bool) -> Result<(), SegmentError> {
        let inner = self.inner.as_mut().ok_or(SegmentError::Finished)?;
        let nonce = self.header.nonce(self.index, last);
        let tag = self
            .cipher
            .encrypt_inout_detached(&nonce, &self.aad, self.buf.as_mut_slice().into())
            .map_err(|_| SegmentError::TooLong)?;
        self.buf.extend_from_slice(&tag);
        let res = inner.write_all(&self.buf);
        self.buf.clear();
        if let Err(e) = res {
            // A partly written chunk cannot be resumed: poison the writer.
            self.inner = None;
            return Err(e.into());
        }
        if !last {
            self.index = self.index.checked_add(1).ok_or(SegmentError::TooLong)?;
        }
        Ok(())
    }

    /// Seal the final chunk, flush, and hand back the inner writer.
    pub fn finish(mut self) -> Result<W, SegmentError> {
        self.seal_buffered(true)?;
        let mut inner = self.inner.take().ok_or(SegmentError::Finished)?;
        inner.flush()?;
        Ok(inner)
    }

    /// Push plaintext; seals and writes every chunk that fills.
    pub fn push(&mut self, mut data: &[u8]) -> Result<(), SegmentError> {
        if self.inner.is_none() {
            return Err(SegmentError::Finished);
        }
        while !data.is_empty() {
            let room = self.chunk_size() - self.buf.len();
            let take = room.min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            self.plaintext_len += take as u64;
            if self.buf.len() == self.chunk_size() {
                self.seal_buffered(false)?;
            }
        }
        Ok(())
    }
}

impl<W: Write> Write for SegmentWriter<W> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.push(data).map_err(SegmentError::into_io)?;
        Ok(data.len())
    }

    /// Flushes the inner writer; a partly filled chunk stays buffered (it cannot be sealed
    /// before it is full or final).
    fn flush(&mut self) -> std::io::Result<()> {
        match self.inner.as_mut() {
            Some(w) => w.flush(),
            None => Err(SegmentError::Finished.into_io()),
        }
    }
}

/// Encrypt a whole plaintext in memory (tests, snapshots).
pub fn encrypt_to_vec(
    plaintext: &[u8],
    key: &SegmentKey,
    key_id: KeyId,
    chunk_size: u32,
) -> Result<Vec<u8>, SegmentError> {
    let cap = super::encrypted_len(plaintext.len() as u64, chunk_size.max(1));
    let mut w = SegmentWriter::new(Vec::with_capacity(cap as usize), key, key_id, chunk_size)?;
    w.push(plaintext)?;
    w.finish()
}
