//! The web viewer (`docs/web-viewer.md`): a small app of plain HTML, CSS and JavaScript
//! modules from `crates/cloud/web/`, compiled into the binary with `include_str!` — no
//! build step, nothing read from disk at run time.
//!
//! ```text
//!  GET /            Accept prefers text/html ─► index.html   (else the JSON 404 as before)
//!  GET /web/<file>  one of ASSETS            ─► the file      (else the JSON 404)
//! ```
//!
//! The app talks to the REST API of the same origin with the session token (`/api/v1`,
//! nothing added for it) and fetches presigned object URLs from the store, which answers
//! reads with `Access-Control-Allow-Origin: *`. Everything it decrypts is decrypted in the
//! browser (`keys.js`, `segment.js`). Every answer carries a Content-Security-Policy that
//! allows only this origin's scripts and styles, and `connect-src` wide enough for the
//! object store (its origin can be another host: an external S3 endpoint).
//!
//! The design choice worth knowing: the app is a single page with hash routes
//! (`#/cameras`, `#/camera/<id>`, `#/browser`), so the server needs exactly two routes and
//! no knowledge of the app's pages.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// One file of the app: its name under `/web/`, its media type, its bytes.
struct Asset {
    name: &'static str,
    mime: &'static str,
    body: &'static str,
}

const JS: &str = "text/javascript; charset=utf-8";

/// An [`Asset`] of `crates/cloud/web/<name>`: a macro, because `include_str!` takes its path
/// as a literal; the name is written once, so the URL and the file cannot drift apart.
macro_rules! asset {
    ($name:literal, $mime:expr) => {
        Asset {
            name: $name,
            mime: $mime,
            body: include_str!(concat!("../web/", $name)),
        }
    };
}

/// Every file served under `/web/`.
const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("keys.js", JS),
    asset!("segment.js", JS),
    asset!("views.js", JS),
    asset!("camera.js", JS),
    asset!("live.js", JS),
    asset!("icon.svg", "image/svg+xml"),
];

/// The policy every file is served with: scripts and styles only from here, media and
/// images from here or from `blob:` URLs the app makes of what it decrypted.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self' http: https:; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn serve(asset: &Asset) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(asset.mime)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
        ],
        asset.body,
    )
        .into_response()
}

/// `GET /`: the app when the caller prefers HTML (a browser), else the JSON 404 every
/// unknown route answers (scripts and API clients see no change).
pub async fn root(headers: HeaderMap) -> Response {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if prefers_html(accept) {
        serve(&ASSETS[0])
    } else {
        ApiError::NotFound("route").into_response()
    }
}

/// `GET /web/{file}`.
pub async fn file(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.name == name) {
        Some(a) => serve(a),
        None => ApiError::NotFound("file").into_response(),
    }
}

/// Whether an `Accept` header ranks `text/html` at least as high as JSON and above zero.
/// Browsers send `text/html,…,*/*;q=0.8`; curl sends `*/*` (not HTML: the wildcard alone
/// does not count).
pub fn prefers_html(accept: &str) -> bool {
    let q_of = |want: &str| -> Option<f32> {
        accept.split(',').find_map(|range| {
            let mut parts = range.split(';');
            let media = parts.next()?.trim();
            if !media.eq_ignore_ascii_case(want) {
                return None;
            }
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|v| v.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            Some(q)
        })
    };
    match q_of("text/html") {
        Some(html) if html > 0.0 => q_of("application/json").is_none_or(|json| html >= json),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsers_get_html_and_scripts_do_not() {
        assert!(prefers_html(
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        ));
        assert!(!prefers_html("*/*"));
        assert!(!prefers_html(""));
        assert!(!prefers_html("application/json"));
        assert!(!prefers_html("application/json, text/html;q=0.5"));
        assert!(!prefers_html("text/html;q=0"));
        assert!(prefers_html("TEXT/HTML; q=0.7, application/json;q=0.7"));
    }

    #[test]
    fn every_asset_has_a_name_a_type_and_content() {
        for a in ASSETS {
            assert!(!a.body.is_empty(), "{}", a.name);
            assert!(!a.mime.is_empty(), "{}", a.name);
        }
    }
}
