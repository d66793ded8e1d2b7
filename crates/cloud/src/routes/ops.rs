//! Operations endpoints: health, metrics, the OpenAPI document, and the JSON 404.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use eyrie_protocol::api::Health;

use crate::error::ApiError;
use crate::state::AppState;

/// Liveness and database reachability.
#[utoipa::path(get, path = "/healthz", tag = "ops",
    responses((status = 200, body = Health), (status = 503, body = eyrie_protocol::api::ErrorBody)))]
pub async fn healthz(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    state.db.ping().await?;
    Ok(Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    }))
}

/// Prometheus text exposition.
pub async fn metrics() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::metrics::render(),
    )
}

/// The OpenAPI 3 document of this API.
pub async fn openapi() -> impl IntoResponse {
    Json(crate::openapi::document())
}

pub async fn not_found() -> ApiError {
    ApiError::NotFound("route")
}

/// The cloud's own CA certificate (PEM), for clients that hold its pin from the cloud
/// link (`docs/api.md`, "TLS and the cloud link"). 404 with a certificate from a public CA.
#[utoipa::path(get, path = "/api/v1/tls/ca.pem", tag = "ops",
    responses((status = 200, content_type = "application/x-pem-file", body = String),
              (status = 404, body = eyrie_protocol::api::ErrorBody)))]
pub async fn ca_certificate(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let (pem, _) = state
        .ca
        .as_ref()
        .ok_or(ApiError::NotFound("CA certificate"))?;
    Ok((
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        pem.clone(),
    ))
}
