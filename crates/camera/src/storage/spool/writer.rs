//! Writing one segment into the spool: ciphertext streamed into `tmp/<name>.part` while
//! its SHA-256 is computed on the way, then the commit protocol of the module above.

use super::*;

pub(super) fn remove_files(seg: &Path) {
    let manifest = seg.with_extension("json");
    if let Err(err) = fs::remove_file(&manifest) {
        tracing::warn!(%err, file = %manifest.display(), "spool: could not delete manifest");
    }
    if let Err(err) = fs::remove_file(seg) {
        tracing::warn!(%err, file = %seg.display(), "spool: could not delete segment");
    }
}

/// A file that hashes what is written to it.
pub(super) struct HashingFile {
    pub(super) file: File,
    pub(super) hash: Sha256,
    pub(super) len: u64,
}

impl Write for HashingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hash.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// One file being written into the spool. Dropping it without [`SpoolWriter::commit`]
/// deletes the partial file.
pub struct SpoolWriter {
    pub(super) spool: Spool,
    pub(super) name: String,
    pub(super) path: PathBuf,
    pub(super) key_id: KeyId,
    pub(super) writer: Option<SegmentWriter<HashingFile>>,
}

impl SpoolWriter {
    /// Append plaintext (encrypted on the way to disk).
    pub fn write(&mut self, data: &[u8]) -> Result<(), SpoolError> {
        let w = self
            .writer
            .as_mut()
            .ok_or(SpoolError::Segment(SegmentError::Finished))?;
        w.push(data)?;
        Ok(())
    }

    /// Plaintext bytes written so far.
    pub fn plaintext_len(&self) -> u64 {
        self.writer.as_ref().map_or(0, SegmentWriter::plaintext_len)
    }

    /// Seal, fsync and queue the file for upload.
    pub fn commit(mut self, info: SegmentInfo) -> Result<SpoolEntry, SpoolError> {
        let writer = self
            .writer
            .take()
            .ok_or(SpoolError::Segment(SegmentError::Finished))?;
        let hashing = writer.finish()?;
        hashing.file.sync_all().map_err(io_at(&self.path))?;
        let sha256 = hashing
            .hash
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let manifest = Manifest {
            id: Uuid::new_v4(),
            kind: info.kind,
            channel_id: info.channel_id,
            start_ms: info.start_ms,
            end_ms: info.end_ms,
            event: info.event,
            key_id: self.key_id.to_hex(),
            size: hashing.len,
            sha256,
            duration_us: info.duration_us,
            created_ms: eyrie_protocol::clock::unix_ms(),
        };
        let dir = &self.spool.inner.dir;
        let staged = dir.join("tmp").join(format!("{}.json", self.name));
        let json = serde_json::to_vec_pretty(&manifest).map_err(|source| SpoolError::Manifest {
            path: staged.clone(),
            source,
        })?;
        let mut f = File::create(&staged).map_err(io_at(&staged))?;
        f.write_all(&json)
            .and_then(|()| f.sync_all())
            .map_err(io_at(&staged))?;
        let seg = dir.join("pending").join(format!("{}.seg", self.name));
        fs::rename(&self.path, &seg).map_err(io_at(&self.path))?;
        let man = dir.join("pending").join(format!("{}.json", self.name));
        fs::rename(&staged, &man).map_err(io_at(&staged))?;
        fsync_dir(&dir.join("pending"))?;
        fsync_dir(&dir.join("tmp"))?;
        let entry = SpoolEntry {
            name: self.name.clone(),
            manifest,
            path: seg,
        };
        tracing::debug!(segment = %entry.name, size = entry.manifest.size, "spool: queued");
        self.spool.insert(entry.clone());
        Ok(entry)
    }
}

impl Drop for SpoolWriter {
    fn drop(&mut self) {
        if self.writer.take().is_some() {
            let _ = fs::remove_file(&self.path);
        }
    }
}
