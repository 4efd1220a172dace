//! The JSON API's error: `{"error": code, "message"}` with a fitting status.

use crate::service::ServiceError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// A stable machine-readable code, e.g. `authentication_failed`.
    pub error: String,
    /// A human-readable sentence (English).
    pub message: String,
    /// For `invalid_request`: the field to correct.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[derive(Debug)]
pub enum ApiError {
    Service(ServiceError),
    Malformed(String),
    TooLarge,
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        Self::Service(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut field = None;
        let (status, code, message) = match self {
            Self::Malformed(why) => (StatusCode::BAD_REQUEST, "malformed_request".to_owned(), why),
            Self::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large".to_owned(),
                "The request body is too large.".to_owned(),
            ),
            Self::Service(e) => {
                if let ServiceError::Internal(inner) = &e {
                    // Logged once here, with the request's span (and so its id); the
                    // client learns nothing of the cause.
                    tracing::error!(error = %inner, "internal error");
                }
                if let ServiceError::BadRequest { field: f, .. } = &e {
                    field = Some((*f).to_owned());
                }
                let status = e.http_status();
                let message = match &e {
                    ServiceError::AuthFailed => "Authentication failed.".to_owned(),
                    ServiceError::Unauthenticated => {
                        "Sign in first; sessions end after 5 minutes without activity.".to_owned()
                    }
                    ServiceError::Internal(_) => "Something went wrong on our side.".to_owned(),
                    other => capitalise(&other.to_string()),
                };
                (status, e.code().to_owned(), message)
            }
        };
        let mut resp = (status, axum::Json(ErrorBody { error: code, message, field })).into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), c.as_str()),
        None => String::new(),
    }
}
