//! The signed-in customer over JSON: profile, logout, password, alias, email.

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiSession, Body};
use crate::middleware::client::ApiOrigin;
use crate::router::AppState;
use crate::service::ServiceError;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use sigillo_core::identity;
use utoipa::ToSchema;
use zeroize::Zeroizing;

#[derive(Serialize, ToSchema)]
pub struct Me {
    user_code: String,
    alias: Option<String>,
    /// The certified phone, masked.
    phone: String,
    phone_certified: bool,
    email: Option<String>,
    email_verified: bool,
    status: &'static str,
    /// This session may only change the envelope's initial password.
    must_change_password: bool,
}

/// The signed-in customer.
#[utoipa::path(get, path = "/api/v1/me", tag = "account", security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
pub async fn me(ApiSession(ctx): ApiSession) -> Json<Me> {
    let must_change_password = ctx.must_change_password();
    let u = ctx.user;
    Json(Me {
        user_code: u.user_code,
        alias: u.alias,
        phone: identity::mask_phone(&u.phone),
        phone_certified: u.phone_certified,
        email: u.email,
        email_verified: u.email_verified,
        status: u.status.as_str(),
        must_change_password,
    })
}

/// Ends the session.
#[utoipa::path(post, path = "/api/v1/logout", tag = "account", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn logout(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    ApiSession(ctx): ApiSession,
) -> Result<StatusCode, ApiError> {
    state.services.logout(&ctx, &origin).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordRequest {
    #[schema(value_type = String)]
    current: Zeroizing<String>,
    #[schema(value_type = String)]
    new: Zeroizing<String>,
    /// The flow of `POST /api/v1/password/otp` (not needed at first access).
    flow: Option<String>,
    /// The SMS OTP of that flow (not needed at first access).
    #[schema(value_type = Option<String>)]
    code: Option<Zeroizing<String>>,
    /// At first access only: an alias to set with the new password.
    alias: Option<String>,
}

/// Changes the password. After a login with an envelope's initial password this is all
/// the session may do, and `current` + `new` suffice (the login itself was SCA);
/// otherwise the SMS OTP of `POST /api/v1/password/otp` is needed too.
#[utoipa::path(post, path = "/api/v1/password", tag = "account", security(("bearer" = [])), request_body = PasswordRequest,
    responses((status = 204), (status = 401, description = "Wrong current password or code, or no session", body = ErrorBody),
              (status = 422, description = "The new password breaks the policy", body = ErrorBody)))]
pub async fn password(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    ApiSession(ctx): ApiSession,
    Body(req): Body<PasswordRequest>,
) -> Result<StatusCode, ApiError> {
    if ctx.must_change_password() {
        state.services.complete_first_access(&ctx, &req.current, &req.new, req.alias.as_deref(), &origin).await?;
        return Ok(StatusCode::NO_CONTENT);
    }
    if req.alias.is_some() {
        return Err(ServiceError::Invalid("alias_not_here").into());
    }
    let (Some(flow), Some(code)) = (req.flow.as_deref(), req.code.as_deref()) else {
        return Err(ServiceError::Invalid("otp_required").into());
    };
    state.services.change_password(&ctx, &req.current, &req.new, flow, code, &origin).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct PasswordOtpResponse {
    flow: String,
    /// The certified phone, masked.
    to: String,
    sends_left: u32,
}

/// Sends the SMS OTP that a password change needs.
#[utoipa::path(post, path = "/api/v1/password/otp", tag = "account", security(("bearer" = [])),
    responses((status = 202, body = PasswordOtpResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn password_otp(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    ApiSession(ctx): ApiSession,
) -> Result<(StatusCode, Json<PasswordOtpResponse>), ApiError> {
    let (started, sent) = state.services.start_password_change(&ctx, &origin).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(PasswordOtpResponse { flow: started.flow, to: sent.to, sends_left: sent.sends_left }),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AliasRequest {
    /// The new alias, or null to remove it.
    alias: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AliasResponse {
    alias: Option<String>,
}

/// Sets or removes the alias (3–32 letters, digits, `.`, `-`, `_`; not digits only; unique).
#[utoipa::path(put, path = "/api/v1/alias", tag = "account", security(("bearer" = [])), request_body = AliasRequest,
    responses((status = 200, body = AliasResponse), (status = 409, description = "Taken", body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn alias(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    ApiSession(ctx): ApiSession,
    Body(req): Body<AliasRequest>,
) -> Result<Json<AliasResponse>, ApiError> {
    let alias = state.services.set_alias(&ctx, req.alias.as_deref(), &origin).await?;
    Ok(Json(AliasResponse { alias }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailVerifyRequest {
    /// The token of the validation link.
    token: String,
}

/// Validates the email address with the link's token (once).
#[utoipa::path(post, path = "/api/v1/email/verify", tag = "account", request_body = EmailVerifyRequest,
    responses((status = 204), (status = 410, description = "Used, expired or unknown", body = ErrorBody)))]
pub async fn email_verify(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    Body(req): Body<EmailVerifyRequest>,
) -> Result<StatusCode, ApiError> {
    state.services.confirm_email(&req.token, &origin).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sends a new validation link to the user's unverified address.
#[utoipa::path(post, path = "/api/v1/email/resend", tag = "account", security(("bearer" = [])),
    responses((status = 202), (status = 422, body = ErrorBody)))]
pub async fn email_resend(State(state): State<AppState>, ApiSession(ctx): ApiSession) -> Result<StatusCode, ApiError> {
    state.services.resend_email_validation(&ctx).await?;
    Ok(StatusCode::ACCEPTED)
}
