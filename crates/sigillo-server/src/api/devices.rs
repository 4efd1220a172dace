//! The customer's phones over JSON: activation codes, the list, removal, unblock.

use super::error::{ApiError, ErrorBody};
use super::extract::ApiSession;
use crate::middleware::client::ApiOrigin;
use crate::router::AppState;
use crate::service::binding::{ActivationIssued, DeviceView};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

/// An activation code and its signed QR payload for a new phone (10 minutes, single
/// use). Needs a full session, made with password and SMS OTP.
#[utoipa::path(post, path = "/api/v1/devices/activation", tag = "devices", security(("bearer" = [])),
    responses((status = 201, body = ActivationIssued), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn activation(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    ApiSession(ctx): ApiSession,
) -> Result<(StatusCode, Json<ActivationIssued>), ApiError> {
    ctx.require_full()?;
    Ok((StatusCode::CREATED, Json(state.services.issue_activation(&ctx.user, &origin).await?)))
}

/// The user's phones (not the removed ones).
#[utoipa::path(get, path = "/api/v1/devices", tag = "devices", security(("bearer" = [])),
    responses((status = 200, body = [DeviceView]), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    ApiSession(ctx): ApiSession,
) -> Result<Json<Vec<DeviceView>>, ApiError> {
    ctx.require_full()?;
    Ok(Json(state.services.list_devices(&ctx.user.id).await?))
}

/// Removes one of the user's phones.
#[utoipa::path(delete, path = "/api/v1/devices/{id}", tag = "devices", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    ApiSession(ctx): ApiSession,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    ctx.require_full()?;
    state.services.remove_device(&ctx.user.id, &id, &ctx.actor(), &origin).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Unblocks a phone blocked after five wrong PINs; its app then asks for a new PIN.
#[utoipa::path(post, path = "/api/v1/devices/{id}/unblock", tag = "devices", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn unblock(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    ApiSession(ctx): ApiSession,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    ctx.require_full()?;
    state.services.unblock_device(&ctx.user.id, &id, &ctx.actor(), &origin).await?;
    Ok(StatusCode::NO_CONTENT)
}
