//! The integration API: the bank's own back end asks sigillo to authorize a payment for
//! one of its users (who approves it on the phone, by the transaction OTP or by SMS) and
//! reads the outcome, or receives it by webhook. Authenticated with an API key from the
//! configuration (`X-Api-Key`).

use super::error::{ApiError, ErrorBody};
use super::extract::Body;
use super::operations::{NewPayment, OperationBody};
use crate::config::IntegrationClient;
use crate::middleware::client::ApiOrigin;
use crate::router::AppState;
use crate::service::ServiceError;
use axum::Json;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The header carrying the API key.
pub const API_KEY_HEADER: &str = "x-api-key";

/// The integration client the request's API key belongs to.
pub struct Client(pub IntegrationClient);

impl FromRequestParts<AppState> for Client {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = parts.headers.get(API_KEY_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
        match state.services.integration_client(key.trim()) {
            Some(client) if !key.is_empty() => Ok(Self(client.clone())),
            _ => Err(ServiceError::Unauthenticated.into()),
        }
    }
}

/// A payment the bank's back end wants one of its users to approve: the customer API's
/// payment fields (see `NewPayment`) plus the user and the bank's reference. Unknown
/// fields are refused (no callback URL can be slipped in: webhooks go only to the URL in
/// the configuration).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntegrationPayment {
    /// The user's code (8 digits) or alias.
    user: String,
    /// The bank's own reference, returned with the outcome (1–64 characters).
    #[serde(default)]
    reference: Option<String>,
    kind: String,
    amount: String,
    currency: String,
    payee: String,
    #[serde(default)]
    iban: Option<String>,
    #[serde(default)]
    bill_code: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

impl IntegrationPayment {
    fn payment(&self) -> NewPayment {
        NewPayment {
            kind: self.kind.clone(),
            amount: self.amount.clone(),
            currency: self.currency.clone(),
            payee: self.payee.clone(),
            iban: self.iban.clone(),
            bill_code: self.bill_code.clone(),
            description: self.description.clone(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct IntegrationOperation {
    #[serde(skip_serializing_if = "Option::is_none")]
    reference: Option<String>,
    #[serde(flatten)]
    operation: OperationBody,
}

/// Asks `user` to approve a payment. Their phones are notified at once; the outcome is
/// posted to the client's webhook (`Sigillo-Signature: t=…,v1=HMAC-SHA256(secret, "t.body")`).
#[utoipa::path(post, path = "/api/v1/integration/operations", tag = "integration", request_body = IntegrationPayment,
    params(("X-Api-Key" = String, Header, description = "The integration client's API key")),
    responses((status = 201, body = IntegrationOperation), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, description = "No such user", body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    Client(client): Client,
    Body(req): Body<IntegrationPayment>,
) -> Result<(StatusCode, Json<IntegrationOperation>), ApiError> {
    let payment = req.payment();
    let view = state
        .services
        .integration_create(&client, &req.user, &payment.request(), req.reference.as_deref(), &origin)
        .await?;
    Ok((StatusCode::CREATED, Json(IntegrationOperation { reference: req.reference, operation: view.into() })))
}

/// One of the client's operations.
#[utoipa::path(get, path = "/api/v1/integration/operations/{id}", tag = "integration", params(("id" = String, Path),
    ("X-Api-Key" = String, Header, description = "The integration client's API key")),
    responses((status = 200, body = IntegrationOperation), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Client(client): Client,
    Path(id): Path<String>,
) -> Result<Json<IntegrationOperation>, ApiError> {
    let (view, reference) = state.services.integration_view(&client, &id).await?;
    Ok(Json(IntegrationOperation { reference, operation: view.into() }))
}
