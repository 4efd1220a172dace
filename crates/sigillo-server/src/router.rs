//! The HTTP surface: every route, the layers around them, and the operational endpoints.

use crate::api;
use crate::middleware::{headers, rate_limit};
use crate::service::Services;
use crate::web;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use sigillo_store::repo::outbox;
use std::sync::Arc;
use std::time::Duration;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;

/// What every handler gets.
#[derive(Clone, Debug)]
pub struct AppState {
    pub services: Services,
    pub limiter: Arc<rate_limit::Limiter>,
    pub web: Arc<web::Web>,
    /// Dev mode's push recorder (`GET /dev/push`).
    pub dev_push: Option<crate::push::dev::DevPush>,
}

/// Requests bodies are small forms and JSON: anything bigger is refused.
const BODY_LIMIT: usize = 16 * 1024;

pub fn router(state: AppState) -> Router {
    let limited = api::auth_routes()
        .merge(web::auth_routes())
        .merge(crate::device_api::routes())
        .merge(crate::acs::auth_routes())
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), rate_limit::limit));
    let mut app = Router::new()
        .merge(limited)
        .merge(api::routes())
        .merge(web::routes())
        .merge(crate::acs::routes())
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi));
    if state.services.cfg.dev_mode {
        app = app.route("/dev/outbox", get(dev_outbox)).route("/dev/push", get(dev_push));
    }
    let dev_mode = state.services.cfg.dev_mode;
    let request_id = axum::http::HeaderName::from_static("x-request-id");
    let app = app.with_state(state);
    // Outside dev mode sigillo is reached over TLS (terminated in front of it): browsers
    // must never fall back to plain HTTP.
    let app = if dev_mode {
        app
    } else {
        app.layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            axum::http::HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        ))
    };
    app
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn(headers::security_headers))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(move |req: &axum::http::Request<_>| {
            // Method, redacted path and request id only: query strings and flow handles are secrets.
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
            tracing::info_span!("request", method = %req.method(), path = %redact_path(req.uri().path()), request_id = %id)
        }))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
}

async fn healthz(State(state): State<AppState>) -> Response {
    match state.services.store.ping().await {
        Ok(()) => (StatusCode::OK, axum::Json(serde_json::json!({ "status": "ok" }))).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, axum::Json(serde_json::json!({ "status": "database_unreachable" })))
                .into_response()
        }
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    if let Ok(mut conn) = state.services.store.conn().await {
        if let Ok(n) = outbox::backlog(&mut conn).await {
            state.services.metrics.outbox_backlog.set(n);
        }
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.services.metrics.render()).into_response()
}

async fn openapi() -> Response {
    axum::Json(api::ApiDoc::openapi()).into_response()
}

#[derive(Serialize)]
struct DevMessage {
    channel: String,
    to: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<String>,
    text: String,
    at: String,
}

/// Dev mode only: the SMS and emails sigillo sent, newest last (DESIGN.md interface).
async fn dev_outbox(State(state): State<AppState>) -> Response {
    match state.services.outbox_messages(500).await {
        Ok(messages) => axum::Json(
            messages
                .into_iter()
                // Push rows have their own view, `GET /dev/push`.
                .filter(|m| m.channel != "push")
                .map(|m| DevMessage {
                    channel: m.channel,
                    to: m.recipient,
                    subject: m.subject,
                    text: m.body,
                    at: rfc3339(m.created_at),
                })
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "dev outbox");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Dev mode only: the push notifications sent, newest last
/// (`{"provider", "token", "op", "kind", "at"}`).
async fn dev_push(State(state): State<AppState>) -> Response {
    axum::Json(state.dev_push.map(|d| d.notes()).unwrap_or_default()).into_response()
}

/// A path fit for logs: segments long enough to be a bearer handle (flow ids, tokens)
/// are replaced, so `/api/v1/login/<handle>/otp` logs as `/api/v1/login/…/otp`.
pub fn redact_path(path: &str) -> String {
    path.split('/').map(|seg| if seg.len() >= 20 { "…" } else { seg }).collect::<Vec<_>>().join("/")
}

/// Unix milliseconds as an RFC 3339 UTC timestamp.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    /// R22: flow handles never reach the logs.
    #[test]
    fn handles_are_redacted_from_logged_paths() {
        assert_eq!(
            super::redact_path("/api/v1/login/2MLaQBxpclzrBnM2wdyjDDwBp3d0Dizb2Oe5Qylxkro/otp"),
            "/api/v1/login/…/otp"
        );
        assert_eq!(super::redact_path("/api/v1/me"), "/api/v1/me");
    }

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(super::rfc3339(951_782_400_123), "2000-02-29T00:00:00.123Z");
    }
}
