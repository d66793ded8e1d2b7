//! The one public address the cloud advertises: the host in presigned URLs and the broker
//! host in tickets and device credentials.
//!
//! ```text
//!  --public-url https://cams.example.org ──► always that host
//!  --listen 192.168.1.5:8470             ──► that address
//!  --listen 0.0.0.0:8470                 ──► the host the client used (its Host header),
//!                                            so a camera that reached the cloud at
//!                                            192.168.1.5 is handed 192.168.1.5 URLs
//! ```
//!
//! The request's host travels to the handlers in a task-local set by [`remember_host`],
//! so presigning deep in a handler needs no extra argument.

use std::net::IpAddr;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

tokio::task_local! {
    static REQUEST_HOST: String;
}

/// Middleware: remember the host this request was sent to.
pub async fn remember_host(req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
        .and_then(host_of);
    match host {
        Some(h) => REQUEST_HOST.scope(h, next.run(req)).await,
        None => next.run(req).await,
    }
}

/// The host part of a `Host` header value (`name`, `1.2.3.4`, `[::1]`), port dropped;
/// None when it is not a plain host name or address.
pub fn host_of(authority: &str) -> Option<String> {
    let url = url::Url::parse(&format!("http://{authority}/")).ok()?;
    if url.username() != "" || url.path() != "/" || url.query().is_some() {
        return None;
    }
    let host = url.host_str()?;
    if host.is_empty() || host.len() > 253 {
        return None;
    }
    Some(host.to_owned())
}

/// The host of the request being served, if any.
pub fn request_host() -> Option<String> {
    REQUEST_HOST.try_with(Clone::clone).ok()
}

/// How the cloud names itself to clients.
#[derive(Debug, Clone)]
pub struct PublicAddr {
    /// `https` when the cloud serves TLS, else `http`.
    pub scheme: &'static str,
    /// A fixed host (from `--public-url` or a specific listen address); None: the host
    /// the client used.
    pub fixed_host: Option<String>,
}

impl PublicAddr {
    pub fn new(tls: bool, public_host: Option<String>, listen: IpAddr) -> Self {
        let fixed_host = public_host.or_else(|| {
            (!listen.is_unspecified()).then(|| match listen {
                IpAddr::V6(v6) => format!("[{v6}]"),
                v4 => v4.to_string(),
            })
        });
        Self {
            scheme: if tls { "https" } else { "http" },
            fixed_host,
        }
    }

    /// The host to advertise now: the fixed one, else the request's, else this host's
    /// first address (background work has no request).
    pub fn host(&self) -> String {
        if let Some(h) = &self.fixed_host {
            return h.clone();
        }
        request_host()
            .or_else(|| {
                crate::tls::local_addresses()
                    .into_iter()
                    .find(IpAddr::is_ipv4)
                    .map(|ip| ip.to_string())
            })
            .unwrap_or_else(|| "127.0.0.1".into())
    }

    /// `scheme://host:port` for one of the cloud's ports.
    pub fn url(&self, port: u16) -> String {
        format!("{}://{}:{port}", self.scheme, self.host())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_header_values() {
        assert_eq!(host_of("10.0.0.5:8470").as_deref(), Some("10.0.0.5"));
        assert_eq!(
            host_of("cams.example.org").as_deref(),
            Some("cams.example.org")
        );
        assert_eq!(host_of("[::1]:8470").as_deref(), Some("[::1]"));
        assert_eq!(host_of("evil/path"), None);
        assert_eq!(host_of("user@host"), None);
        assert_eq!(host_of(""), None);
    }

    #[test]
    fn fixed_host_wins() {
        let p = PublicAddr::new(true, None, "192.168.1.5".parse().unwrap());
        assert_eq!(p.url(8471), "https://192.168.1.5:8471");
        let p = PublicAddr::new(false, Some("cams.lan".into()), "0.0.0.0".parse().unwrap());
        assert_eq!(p.url(1), "http://cams.lan:1");
    }

    #[tokio::test]
    async fn unspecified_listen_uses_the_request_host() {
        let p = PublicAddr::new(true, None, "0.0.0.0".parse().unwrap());
        let url = REQUEST_HOST
            .scope("10.9.8.7".into(), async { p.url(8471) })
            .await;
        assert_eq!(url, "https://10.9.8.7:8471");
    }
}
