//! Multipart uploads, for clip assembly: create, upload or server-side copy each part,
//! complete (or abort). Part N of a clip is normally an UploadPartCopy of segment N, so
//! the bytes stay inside the store; stores that do not copy parts get the bytes
//! streamed through [`Store::multipart_part`] instead (see `workers::clips`).

use rusty_s3::S3Action as _;
use rusty_s3::actions::CreateMultipartUpload;

use super::{OWN_TTL, Store, StoreError, ok_200};

impl Store {
    /// Start a multipart upload; returns its upload id.
    pub async fn multipart_create(&self, key: &str) -> Result<String, StoreError> {
        let url = self
            .internal
            .create_multipart_upload(Some(&self.creds), key)
            .sign(OWN_TTL);
        let resp = ok_200(self.http.post(url).send().await?, "CreateMultipartUpload")?;
        let text = resp.text().await?;
        let parsed = CreateMultipartUpload::parse_response(&text)
            .map_err(|_| StoreError::Parse("CreateMultipartUpload"))?;
        Ok(parsed.upload_id().to_owned())
    }

    /// Upload part `n` (1-based); returns its ETag.
    pub async fn multipart_part(
        &self,
        key: &str,
        upload_id: &str,
        n: u16,
        body: Vec<u8>,
    ) -> Result<String, StoreError> {
        let url = self
            .internal
            .upload_part(Some(&self.creds), key, n, upload_id)
            .sign(OWN_TTL);
        let resp = ok_200(self.http.put(url).body(body).send().await?, "UploadPart")?;
        resp.headers()
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or(StoreError::Parse("UploadPart ETag"))
    }

    /// Make part `n` a server-side copy of the whole object `source` (UploadPartCopy:
    /// the bytes never leave the store). `Ok(None)` when the store does not do it
    /// (501, or 400 `NotImplemented`): the caller streams instead.
    pub async fn multipart_part_copy(
        &self,
        key: &str,
        upload_id: &str,
        n: u16,
        source: &str,
    ) -> Result<Option<String>, StoreError> {
        let mut action = self
            .internal
            .upload_part(Some(&self.creds), key, n, upload_id);
        // Signed with the request (it is in X-Amz-SignedHeaders), so it must be sent as is.
        let copy_source = copy_source(&self.bucket_name, source);
        action
            .headers_mut()
            .insert("x-amz-copy-source", copy_source.clone());
        let url = action.sign(OWN_TTL);
        let resp = self
            .http
            .put(url)
            .header("x-amz-copy-source", copy_source)
            .send()
            .await?;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        if status == 501 || text.contains("<Code>NotImplemented</Code>") {
            return Ok(None);
        }
        if status != 200 || text.contains("<Error>") {
            return Err(StoreError::Status {
                op: "UploadPartCopy",
                status,
            });
        }
        xml_text(&text, "ETag")
            .map(|etag| Some(etag.replace("&quot;", "\"")))
            .ok_or(StoreError::Parse("UploadPartCopy ETag"))
    }

    /// Finish a multipart upload with the parts' ETags in order.
    pub async fn multipart_complete(
        &self,
        key: &str,
        upload_id: &str,
        etags: &[String],
    ) -> Result<(), StoreError> {
        let action = self.internal.complete_multipart_upload(
            Some(&self.creds),
            key,
            upload_id,
            etags.iter().map(String::as_str),
        );
        let url = action.sign(OWN_TTL);
        let body = action.body();
        let resp = self.http.post(url).body(body).send().await?;
        let status = resp.status().as_u16();
        // S3 may answer 200 with an error document; check for it.
        let text = resp.text().await.unwrap_or_default();
        if status != 200 || text.contains("<Error>") {
            return Err(StoreError::Status {
                op: "CompleteMultipartUpload",
                status,
            });
        }
        Ok(())
    }

    /// Abandon a multipart upload (best effort).
    pub async fn multipart_abort(&self, key: &str, upload_id: &str) {
        let url = self
            .internal
            .abort_multipart_upload(Some(&self.creds), key, upload_id)
            .sign(OWN_TTL);
        let _ = self.http.delete(url).send().await;
    }
}

/// `x-amz-copy-source`: `/bucket/key`, the key percent-encoded except for `/`.
fn copy_source(bucket: &str, key: &str) -> String {
    let mut out = format!("/{bucket}/");
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The text of the first `<tag>…</tag>` in a small XML answer.
fn xml_text<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find(&format!("</{tag}>"))?;
    Some(xml[start..start + len].trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_source_encodes_the_key() {
        assert_eq!(copy_source("b", "d/1/r/a b+c"), "/b/d/1/r/a%20b%2Bc");
    }

    #[test]
    fn etag_from_copy_part_result() {
        let xml = r#"<?xml version="1.0"?><CopyPartResult><LastModified>x</LastModified><ETag>&quot;abc&quot;</ETag></CopyPartResult>"#;
        assert_eq!(xml_text(xml, "ETag"), Some("&quot;abc&quot;"));
        assert_eq!(xml_text("<a></a>", "ETag"), None);
    }
}
