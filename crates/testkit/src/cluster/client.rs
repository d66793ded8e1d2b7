//! The REST steps the cluster tests and the load generator take, as any client takes
//! them (plain HTTP against the one URL, JSON bodies of `docs/api.md`).

use serde_json::{Value, json};

use crate::cloud::{request, sha256};

/// A client of one cloud URL.
#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
}

/// A failed step: what was asked and what came back.
pub type StepError = String;

impl Client {
    pub fn new(base: impl Into<String>) -> Client {
        Client {
            base: base.into(),
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(64)
                .build()
                .expect("HTTP client"),
        }
    }

    /// One request; the status and JSON body (`Null` when none).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Result<(u16, Value), StepError> {
        let url = format!("{}{path}", self.base);
        request(&self.http, method.clone(), url, token, body)
            .await
            .map_err(|e| format!("{method} {path}: {e}"))
    }

    /// `call`, wanting `want`.
    pub async fn expect(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        want: u16,
    ) -> Result<Value, StepError> {
        let (s, v) = self.call(method.clone(), path, token, body).await?;
        if s != want {
            return Err(format!("{method} {path}: {s} {v}"));
        }
        Ok(v)
    }

    /// Register and sign in `name`; its session token.
    pub async fn user(&self, name: &str) -> Result<String, StepError> {
        let creds = json!({"username": name, "password": crate::cloud::PASSWORD});
        self.expect(
            reqwest::Method::POST,
            "/api/v1/accounts",
            None,
            Some(creds.clone()),
            201,
        )
        .await?;
        let v = self
            .expect(
                reqwest::Method::POST,
                "/api/v1/login",
                None,
                Some(creds),
                200,
            )
            .await?;
        Ok(v["token"].as_str().unwrap_or_default().to_owned())
    }

    /// A device of `token`'s user, activated: its credentials.
    pub async fn device(&self, token: &str, name: &str) -> Result<Value, StepError> {
        let v = self
            .expect(
                reqwest::Method::POST,
                "/api/v1/devices",
                Some(token),
                Some(json!({"name": name})),
                201,
            )
            .await?;
        let code = v["activation_code"].as_str().unwrap_or_default();
        self.expect(
            reqwest::Method::POST,
            "/api/v1/activate",
            None,
            Some(json!({"activation_code": code})),
            200,
        )
        .await
    }

    /// PUT `body` to a presigned upload (JSON `{url, headers}`).
    pub async fn put(&self, upload: &Value, body: Vec<u8>) -> Result<(), StepError> {
        let url = upload["url"].as_str().ok_or("slot without an upload URL")?;
        let mut put = self.http.put(url).body(body);
        if let Some(headers) = upload["headers"].as_object() {
            for (name, value) in headers {
                if name != "content-length" {
                    put = put.header(name.as_str(), value.as_str().unwrap_or_default());
                }
            }
        }
        let r = put.send().await.map_err(|e| format!("PUT: {e}"))?;
        if !r.status().is_success() {
            return Err(format!(
                "PUT {}: {}",
                r.status(),
                r.text().await.unwrap_or_default()
            ));
        }
        Ok(())
    }

    /// Ask for a slot (a recording id and its upload).
    pub async fn slot(
        &self,
        creds: &Value,
        start: i64,
        end: i64,
        body: &[u8],
    ) -> Result<Value, StepError> {
        let dev = creds["device_token"].as_str().unwrap_or_default();
        let ch = creds["channels"]["main"].as_str().unwrap_or_default();
        self.expect(
            reqwest::Method::POST,
            &format!("/api/v1/channels/{ch}/recordings"),
            Some(dev),
            Some(json!({"start_ms": start, "end_ms": end, "size": body.len(), "sha256": sha256(body)})),
            201,
        )
        .await
    }

    /// Send the completion notice of a recording.
    pub async fn complete(&self, creds: &Value, id: &str, body: &[u8]) -> Result<(), StepError> {
        let dev = creds["device_token"].as_str().unwrap_or_default();
        self.expect(
            reqwest::Method::POST,
            &format!("/api/v1/recordings/{id}/complete"),
            Some(dev),
            Some(json!({"size": body.len(), "sha256": sha256(body)})),
            200,
        )
        .await
        .map(drop)
    }

    /// Slot, PUT, notice: one recorded segment; its recording id.
    pub async fn segment(
        &self,
        creds: &Value,
        start: i64,
        end: i64,
        body: Vec<u8>,
    ) -> Result<String, StepError> {
        let slot = self.slot(creds, start, end, &body).await?;
        let id = slot["recording_id"].as_str().unwrap_or_default().to_owned();
        self.put(&slot["upload"], body.clone()).await?;
        self.complete(creds, &id, &body).await?;
        Ok(id)
    }

    /// Ask for a clip of the main channel; its id.
    pub async fn clip(
        &self,
        token: &str,
        creds: &Value,
        start: i64,
        end: i64,
    ) -> Result<String, StepError> {
        let ch = creds["channels"]["main"].as_str().unwrap_or_default();
        let v = self
            .expect(
                reqwest::Method::POST,
                &format!("/api/v1/channels/{ch}/clips"),
                Some(token),
                Some(json!({"start_ms": start, "end_ms": end})),
                202,
            )
            .await?;
        Ok(v["id"].as_str().unwrap_or_default().to_owned())
    }
}
