//! Deleting many objects at once: S3 `DeleteObjects` (`POST /<bucket>?delete`, up to
//! 1,000 keys a request, `Content-MD5` of the XML body), so retention costs one request
//! per thousand segments instead of one per segment. S3 reports a missing key as
//! deleted; a key the store could not delete comes back in the answer's `<Error>` list
//! and is returned to the caller, which keeps it queued.

use rusty_s3::S3Action as _;
use rusty_s3::actions::{DeleteObjectsResponse, ObjectIdentifier};

use super::{OWN_TTL, Store, StoreError, ok_200};

/// The most keys S3 takes in one `DeleteObjects`.
pub const MAX_KEYS: usize = 1000;

impl Store {
    /// Delete `keys` (any number, sent 1,000 a request); returns the keys that could not
    /// be deleted.
    pub async fn delete_many(&self, keys: &[String]) -> Result<Vec<String>, StoreError> {
        let mut failed = Vec::new();
        for chunk in keys.chunks(MAX_KEYS) {
            let ids: Vec<ObjectIdentifier> = chunk
                .iter()
                .map(|k| ObjectIdentifier::new(k.clone()))
                .collect();
            let mut action = self.internal.delete_objects(Some(&self.creds), ids.iter());
            action.set_quiet(true);
            let url = action.sign(OWN_TTL);
            let (body, md5) = action.body_with_md5();
            let resp = self
                .http
                .post(url)
                .header("content-md5", md5)
                .header("content-type", "application/xml")
                .body(body)
                .send()
                .await?;
            let text = ok_200(resp, "DeleteObjects")?.text().await?;
            let answer = DeleteObjectsResponse::parse(&text)
                .map_err(|_| StoreError::Parse("DeleteObjects"))?;
            failed.extend(answer.errors.into_iter().map(|e| e.key));
        }
        Ok(failed)
    }
}
