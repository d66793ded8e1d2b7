//! The one error of the API client, and what each kind of failure means for trying again.

use std::path::PathBuf;

use eyrie_protocol::api::{ErrorBody, ErrorCode};
use eyrie_protocol::trust::TrustError;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No answer: the connection failed, timed out, or the answer could not be read.
    #[error("cannot reach the cloud: {0}")]
    Http(#[from] reqwest::Error),
    /// The cloud answered with an error ([`ErrorBody`] as `docs/api.md` defines it).
    #[error("cloud answered {status}: {}", body.message)]
    Status { status: u16, body: ErrorBody },
    /// The object store refused a presigned transfer.
    #[error("object store answered {0}")]
    Store(u16),
    /// The cloud or a URL it gave is not to be trusted (plain HTTP off loopback, wrong
    /// CA, bad link).
    #[error(transparent)]
    Trust(#[from] TrustError),
    /// The CA file the user configured cannot be read or holds no certificate.
    #[error("cannot read the CA file {path}: {reason}")]
    CaFile { path: PathBuf, reason: String },
    /// A local file to upload cannot be read.
    #[error("cannot read {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What a failure says about trying the same thing again (see the crate's essay).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// The very same request may succeed in a moment: the connection was refused or cut,
    /// the cloud or a proxy is overloaded or restarting (408, 425, 429, 502, 503, 504).
    /// The client repeats idempotent requests itself.
    Soon,
    /// The operation may succeed later, started again from the beginning: a timeout, a
    /// 500, an expired presigned URL (the store's 400/401/403), credentials that may come
    /// back (the cloud's 401/403), an object the cloud has not seen yet (409).
    Later,
    /// Never as it is: the cloud refused the request itself (other 4xx), or trust failed.
    Never,
}

impl ApiError {
    /// The HTTP status for [`ApiError::Status`] / [`ApiError::Store`].
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. } | ApiError::Store(status) => Some(*status),
            _ => None,
        }
    }

    /// The server's error code, if the server answered.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ApiError::Status { body, .. } => Some(body.code),
            _ => None,
        }
    }

    /// Whether and when trying again may help.
    pub fn retry(&self) -> Retry {
        match self {
            ApiError::Http(e) if e.is_timeout() => Retry::Later,
            ApiError::Http(e) if e.is_connect() || e.is_request() => {
                if is_certificate_error(e) {
                    Retry::Never
                } else {
                    Retry::Soon
                }
            }
            ApiError::Http(e) if e.is_body() => Retry::Soon,
            ApiError::Http(_) => Retry::Never,
            ApiError::Status { status, .. } => match status {
                408 | 425 | 429 | 502..=504 => Retry::Soon,
                401 | 403 | 409 | 500..=599 => Retry::Later,
                _ => Retry::Never,
            },
            ApiError::Store(status) => match status {
                408 | 425 | 429 | 502..=504 => Retry::Soon,
                400 | 401 | 403 | 409 | 500..=599 => Retry::Later,
                _ => Retry::Never,
            },
            ApiError::File { .. } => Retry::Later,
            ApiError::Trust(_) | ApiError::CaFile { .. } => Retry::Never,
        }
    }

    /// Worth trying again, now or later ([`Retry::Soon`] or [`Retry::Later`]).
    pub fn is_retryable(&self) -> bool {
        self.retry() != Retry::Never
    }

    /// A TLS handshake that failed on the server's certificate.
    pub fn is_certificate(&self) -> bool {
        matches!(self, ApiError::Http(e) if is_certificate_error(e))
    }
}

fn is_certificate_error(e: &reqwest::Error) -> bool {
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = source {
        let text = s.to_string();
        if text.contains("certificate") || text.contains("UnknownIssuer") {
            return true;
        }
        source = s.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16) -> ApiError {
        ApiError::Status {
            status,
            body: ErrorBody {
                code: ErrorCode::Unknown,
                message: String::new(),
            },
        }
    }

    #[test]
    fn the_cloud_refusing_a_request_is_final_but_overload_is_not() {
        assert_eq!(status(400).retry(), Retry::Never);
        assert_eq!(status(404).retry(), Retry::Never);
        assert_eq!(status(413).retry(), Retry::Never);
        assert_eq!(status(422).retry(), Retry::Never);
        assert_eq!(status(503).retry(), Retry::Soon);
        assert_eq!(status(429).retry(), Retry::Soon);
        assert_eq!(status(500).retry(), Retry::Later);
        assert_eq!(status(401).retry(), Retry::Later);
        assert_eq!(status(409).retry(), Retry::Later);
    }

    #[test]
    fn an_expired_presigned_url_needs_a_new_one() {
        // Garage says 400, AWS 403: the same URL will not work again, a new slot will.
        assert_eq!(ApiError::Store(400).retry(), Retry::Later);
        assert_eq!(ApiError::Store(403).retry(), Retry::Later);
        assert_eq!(ApiError::Store(503).retry(), Retry::Soon);
        assert_eq!(ApiError::Store(411).retry(), Retry::Never);
        let plain = ApiError::Trust(TrustError::Plain {
            proto: "HTTP",
            host: "example.com".into(),
        });
        assert!(!plain.is_retryable());
    }
}
