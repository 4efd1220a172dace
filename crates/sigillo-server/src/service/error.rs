//! The service layer's error: what went wrong in domain terms. Each surface (JSON API,
//! web pages) maps it to its own response; none of them says which credential failed.

use sigillo_store::StoreError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ServiceError {
    /// Any failed authentication: unknown user, wrong password, wrong or expired code,
    /// locked or blocked user. One message for all (RTS art. 4(3)(a), P9); the reason is audited.
    #[error("authentication failed")]
    AuthFailed,
    /// No session, or one that ended (5 minutes idle, logout).
    #[error("not authenticated")]
    Unauthenticated,
    /// The session may not do this (e.g. it may only change the initial password).
    #[error("not allowed")]
    Forbidden,
    /// The flow is over: expired, failed or used.
    #[error("this operation has expired; start again")]
    FlowOver,
    #[error("no more codes can be sent for this operation")]
    TooManyCodes,
    /// Not open yet: an acquired bank's activation opens on this date (YYYY-MM-DD).
    #[error("this opens on {0}")]
    NotYetOpen(String),
    /// Input that breaks a rule; the code names the rule for translation.
    #[error("invalid input: {0}")]
    Invalid(&'static str),
    /// A request the bank or customer must correct (an IBAN that fails its checksum, an
    /// amount with too many decimals): nothing was stored.
    #[error("{message}")]
    BadRequest { field: &'static str, message: String },
    /// The customer picked another number than the web page showed (number matching):
    /// the login is refused.
    #[error("the number does not match")]
    WrongNumber,
    /// A value another user already has (an alias).
    #[error("already taken: {0}")]
    Taken(&'static str),
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound,
            StoreError::Conflict(what) => Self::Taken(what),
            other => Self::Internal(other.into()),
        }
    }
}

impl ServiceError {
    /// The HTTP status both web surfaces (pages and JSON API) answer this error with.
    pub fn http_status(&self) -> axum::http::StatusCode {
        use axum::http::StatusCode as S;
        match self {
            Self::AuthFailed | Self::Unauthenticated => S::UNAUTHORIZED,
            Self::Forbidden => S::FORBIDDEN,
            Self::FlowOver => S::GONE,
            Self::TooManyCodes => S::TOO_MANY_REQUESTS,
            Self::NotYetOpen(_) => S::FORBIDDEN,
            Self::Invalid(_) => S::UNPROCESSABLE_ENTITY,
            Self::BadRequest { .. } => S::BAD_REQUEST,
            Self::WrongNumber => S::CONFLICT,
            Self::Taken(_) => S::CONFLICT,
            Self::NotFound => S::NOT_FOUND,
            Self::Internal(_) => S::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable code surfaces send to clients and translate.
    pub fn code(&self) -> &'static str {
        match self {
            Self::AuthFailed => "authentication_failed",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::FlowOver => "flow_over",
            Self::TooManyCodes => "too_many_codes",
            Self::NotYetOpen(_) => "not_yet_open",
            Self::Invalid(code) => code,
            Self::BadRequest { .. } => "invalid_request",
            Self::WrongNumber => "wrong_number",
            Self::Taken(_) => "taken",
            Self::NotFound => "not_found",
            Self::Internal(_) => "internal",
        }
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;
