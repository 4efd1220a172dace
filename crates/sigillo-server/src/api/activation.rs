//! The activation of acquired banks' customers over the JSON API (DESIGN flow 10): the
//! same steps as the pages under `/activation`, on the same service. The activation's
//! handle is a bearer secret in the path.

use super::error::{ApiError, ErrorBody};
use super::extract::Body;
use crate::middleware::client::ApiOrigin;
use crate::router::AppState;
use crate::service::activation::{ActivationView, BankChoice};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zeroize::Zeroizing;

#[derive(Serialize, ToSchema)]
pub struct BankBody {
    id: String,
    name: String,
    /// The old credentials, in the customers' words.
    credentials_label: String,
    open: bool,
    /// When activation opens (YYYY-MM-DD).
    opens_on: String,
    closed: bool,
}

impl From<BankChoice> for BankBody {
    fn from(b: BankChoice) -> Self {
        Self {
            id: b.id,
            name: b.name,
            credentials_label: b.credentials_label,
            open: b.open,
            opens_on: b.opens_on,
            closed: b.closed,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    bank: String,
    /// The customer code at the old bank.
    legacy_code: String,
    #[schema(value_type = String)]
    password: Zeroizing<String>,
}

#[derive(Serialize, ToSchema)]
pub struct StartResponse {
    /// The activation's handle: keep it secret, it is what finishes the activation.
    activation: String,
    /// Where the SMS code went (masked).
    phone: String,
}

#[derive(Serialize, ToSchema)]
pub struct ActivationBody {
    bank: String,
    /// `otp`, `confirm`, `email`, `password`, `done` or `failed`.
    step: String,
    phone: String,
    email: Option<String>,
    email_verified: bool,
    hardware_token: bool,
}

impl From<ActivationView> for ActivationBody {
    fn from(v: ActivationView) -> Self {
        Self {
            bank: v.bank,
            step: v.step,
            phone: v.phone,
            email: v.email,
            email_verified: v.email_verified,
            hardware_token: v.hardware_token,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    #[schema(value_type = String)]
    code: Zeroizing<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmRequest {
    /// The address to validate; leave out for the imported one.
    #[serde(default)]
    email: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailTokenRequest {
    token: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteRequest {
    #[schema(value_type = String)]
    new_password: Zeroizing<String>,
    #[serde(default)]
    alias: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CompleteResponse {
    user_code: String,
    alias: Option<String>,
    /// The security code recovery asks for: shown this once.
    security_code: String,
    /// SMS codes at login until a phone is bound (a former hardware-token customer).
    hardware_token: bool,
}

/// The acquired banks and whether each is open now.
#[utoipa::path(get, path = "/api/v1/activation/banks", tag = "activation", responses((status = 200, body = Vec<BankBody>)))]
pub async fn banks(State(state): State<AppState>) -> Json<Vec<BankBody>> {
    Json(state.services.activation_banks().into_iter().map(BankBody::from).collect())
}

/// Step one: the old customer code and password; the SMS code goes out at once.
#[utoipa::path(post, path = "/api/v1/activation", tag = "activation", request_body = StartRequest,
    responses((status = 201, body = StartResponse), (status = 401, description = "Any failure, whatever its cause", body = ErrorBody),
              (status = 403, description = "Not open yet: `not_yet_open`, the message gives the date", body = ErrorBody),
              (status = 410, description = "Closed", body = ErrorBody)))]
pub async fn start(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    Body(req): Body<StartRequest>,
) -> Result<(StatusCode, Json<StartResponse>), ApiError> {
    let handle = state.services.start_activation(&req.bank, &req.legacy_code, &req.password, &origin).await?;
    let view = state.services.activation_view(&handle).await?;
    Ok((StatusCode::CREATED, Json(StartResponse { activation: handle, phone: view.phone })))
}

/// Where an activation stands.
#[utoipa::path(get, path = "/api/v1/activation/{activation}", tag = "activation", params(("activation" = String, Path)),
    responses((status = 200, body = ActivationBody), (status = 410, body = ErrorBody)))]
pub async fn get(State(state): State<AppState>, Path(handle): Path<String>) -> Result<Json<ActivationBody>, ApiError> {
    Ok(Json(state.services.activation_view(&handle).await?.into()))
}

/// Sends the SMS code again (at most 3 per activation).
#[utoipa::path(post, path = "/api/v1/activation/{activation}/sms", tag = "activation", params(("activation" = String, Path)),
    responses((status = 202), (status = 410, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn sms(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    Path(handle): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.services.send_activation_otp(&handle, &origin).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Step two: the SMS code.
#[utoipa::path(post, path = "/api/v1/activation/{activation}/otp", tag = "activation", params(("activation" = String, Path)),
    request_body = CodeRequest, responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn otp(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    Path(handle): Path<String>,
    Body(req): Body<CodeRequest>,
) -> Result<StatusCode, ApiError> {
    state.services.submit_activation_otp(&handle, &req.code, &origin).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Step three: the certified phone confirmed, the email to validate (the imported one if
/// left out); the link goes out (again, on a repeat).
#[utoipa::path(post, path = "/api/v1/activation/{activation}/confirm", tag = "activation", params(("activation" = String, Path)),
    request_body = ConfirmRequest, responses((status = 202), (status = 410, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn confirm(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    Path(handle): Path<String>,
    Body(req): Body<ConfirmRequest>,
) -> Result<StatusCode, ApiError> {
    state.services.confirm_activation(&handle, req.email.as_deref(), &origin).await?;
    Ok(StatusCode::ACCEPTED)
}

/// The email's link: validates the activation's address (once).
#[utoipa::path(post, path = "/api/v1/activation/email", tag = "activation", request_body = EmailTokenRequest,
    responses((status = 204), (status = 410, body = ErrorBody)))]
pub async fn email(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    Body(req): Body<EmailTokenRequest>,
) -> Result<StatusCode, ApiError> {
    state.services.verify_activation_email(&req.token, &origin).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The end: the new password (the bank's policy) and an optional alias → the new user code.
#[utoipa::path(post, path = "/api/v1/activation/{activation}/complete", tag = "activation", params(("activation" = String, Path)),
    request_body = CompleteRequest, responses((status = 201, body = CompleteResponse), (status = 409, description = "The alias is taken", body = ErrorBody),
              (status = 410, description = "Over, or the credentials were used meanwhile", body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn complete(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    Path(handle): Path<String>,
    Body(req): Body<CompleteRequest>,
) -> Result<(StatusCode, Json<CompleteResponse>), ApiError> {
    let done = state.services.complete_activation(&handle, &req.new_password, req.alias.as_deref(), &origin).await?;
    Ok((
        StatusCode::CREATED,
        Json(CompleteResponse {
            user_code: done.user_code,
            alias: done.alias,
            security_code: done.security_code,
            hardware_token: done.hardware_token,
        }),
    ))
}
