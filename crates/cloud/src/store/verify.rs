//! The embedded store checks an upload's announced checksum *before* it keeps the bytes.
//!
//! An upload slot's presigned PUT signs `x-amz-checksum-sha256` (and `Content-Length`),
//! so a replay of the URL must send the same header; only the body can differ. AWS and
//! Garage refuse such a body and keep the old object. `s3s-fs` computes the checksum too,
//! but only after it has renamed the new file over the old one: it answers `BadDigest`
//! while the object has already changed. [`Verified`] wraps the file system so the body
//! is hashed as it streams in and, when the digest (or length) is not the announced one,
//! the stream ends in an error before EOF: `s3s-fs` then drops its temporary file and
//! the old object stays. The answer is 400 `BadDigest`, as from the other stores.
//!
//! ```text
//!  PUT ─► s3s (SigV4) ─► Verified::put_object ─► body ⟶ [SHA-256, count] ⟶ s3s-fs tmp file
//!                                                  └ mismatch at EOF: error, tmp dropped
//! ```
//!
//! Every other operation passes through unchanged.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use base64::Engine as _;
use bytes::Bytes;
use futures::Stream;
use s3s::dto::*;
use s3s::stream::{ByteStream, RemainingLength};
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};
use sha2::{Digest, Sha256};

/// `s3s-fs` with checksums checked before the object is replaced.
pub struct Verified(pub s3s_fs::FileSystem);

/// The body of a PUT, hashed on the way through.
struct Checked {
    inner: StreamingBlob,
    hasher: Sha256,
    seen: u64,
    want_sha256: [u8; 32],
    want_len: Option<u64>,
    /// Set when the body was not the announced one.
    bad: Arc<AtomicBool>,
    done: bool,
}

impl Stream for Checked {
    type Item = Result<Bytes, s3s::StdError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(b))) => {
                self.hasher.update(&b);
                self.seen += b.len() as u64;
                Poll::Ready(Some(Ok(b)))
            }
            Poll::Ready(None) => {
                self.done = true;
                let digest: [u8; 32] = std::mem::take(&mut self.hasher).finalize().into();
                if digest != self.want_sha256 || self.want_len.is_some_and(|l| l != self.seen) {
                    self.bad.store(true, Ordering::SeqCst);
                    return Poll::Ready(Some(Err("body is not the announced object".into())));
                }
                Poll::Ready(None)
            }
            other => other,
        }
    }
}

impl ByteStream for Checked {
    fn remaining_length(&self) -> RemainingLength {
        self.inner.remaining_length()
    }
}

#[async_trait::async_trait]
impl S3 for Verified {
    async fn put_object(
        &self,
        mut req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let Some(announced) = req.input.checksum_sha256.as_deref() else {
            return self.0.put_object(req).await;
        };
        let want_sha256: [u8; 32] = base64::engine::general_purpose::STANDARD
            .decode(announced)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| s3_error!(InvalidDigest, "x-amz-checksum-sha256 is not a SHA-256"))?;
        let Some(body) = req.input.body.take() else {
            return Err(s3_error!(IncompleteBody));
        };
        let bad = Arc::new(AtomicBool::new(false));
        req.input.body = Some(StreamingBlob::new(Checked {
            inner: body,
            hasher: Sha256::new(),
            seen: 0,
            want_sha256,
            want_len: req.input.content_length.and_then(|l| u64::try_from(l).ok()),
            bad: bad.clone(),
            done: false,
        }));
        let answer = self.0.put_object(req).await;
        if bad.load(Ordering::SeqCst) {
            return Err(s3_error!(
                BadDigest,
                "the body does not match x-amz-checksum-sha256 or Content-Length; nothing was stored"
            ));
        }
        answer
    }

    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        self.0.create_bucket(req).await
    }
    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        self.0.copy_object(req).await
    }
    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        self.0.delete_bucket(req).await
    }
    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        self.0.delete_object(req).await
    }
    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        self.0.delete_objects(req).await
    }
    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        self.0.get_bucket_location(req).await
    }
    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        self.0.get_object(req).await
    }
    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.0.head_bucket(req).await
    }
    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        self.0.head_object(req).await
    }
    async fn list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        self.0.list_buckets(req).await
    }
    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        self.0.list_objects(req).await
    }
    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        self.0.list_objects_v2(req).await
    }
    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        self.0.create_multipart_upload(req).await
    }
    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        self.0.upload_part(req).await
    }
    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        self.0.upload_part_copy(req).await
    }
    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        self.0.list_parts(req).await
    }
    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        self.0.complete_multipart_upload(req).await
    }
    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        self.0.abort_multipart_upload(req).await
    }
}
