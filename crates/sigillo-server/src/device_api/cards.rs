//! Key6 from the app (issue 5, DESIGN flow 8): the phone lists its user's cards, sets a
//! Key6 (signed with possession + PIN or biometry), and starts the SCA operation that
//! viewing or unlocking needs; it approves that operation like any other (a signature
//! over the operation's bytes, `POST /device/v1/operations/{id}/approve`), then uses the
//! approval, once, to reveal or unlock.

use super::signed::Signed;
use crate::api::cards::{ApprovedBody, CardBody, Key6Body, Key6Shown, ScaBody};
use crate::api::error::{ApiError, ErrorBody};
use crate::middleware::client::ApiOrigin;
use crate::router::AppState;
use crate::service::Origin;
use crate::service::device_auth::Need;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use sigillo_store::repo::bindings::BindingStatus;
use utoipa::ToSchema;

/// The user of the active binding that signed `req` with the factors `need` asks for.
async fn user_of(state: &AppState, req: &Signed, need: Need, origin: &Origin) -> Result<String, ApiError> {
    let ctx =
        state.services.authenticate_device(&req.proof, need, &[BindingStatus::Active], &req.message(), origin).await?;
    Ok(ctx.user.id)
}

/// The user's cards. Signed: possession.
#[utoipa::path(get, path = "/device/v1/cards", tag = "device",
    responses((status = 200, body = [CardBody]), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    req: Signed,
) -> Result<Json<Vec<CardBody>>, ApiError> {
    let user = user_of(&state, &req, Need::Possession, &origin).await?;
    let cards = state.services.cards_of(&user).await?;
    Ok(Json(cards.into_iter().map(Into::into).collect()))
}

/// Sets or changes a card's Key6. Signed: possession + PIN or biometry.
#[utoipa::path(put, path = "/device/v1/cards/{id}/key6", tag = "device", params(("id" = String, Path)),
    request_body = Key6Body,
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_key6(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    Path(id): Path<String>,
    req: Signed,
) -> Result<StatusCode, ApiError> {
    let body: Key6Body = req.json()?;
    let user = user_of(&state, &req, Need::TwoFactors, &origin).await?;
    state.services.set_key6(&user, &id, body.code(), &origin).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct DeviceScaStarted {
    /// The operation to approve (it is among the phone's pending operations).
    operation: String,
}

/// Starts the SCA a Key6 view or unlock needs. Signed: possession (the approval that
/// follows takes the second factor).
#[utoipa::path(post, path = "/device/v1/cards/{id}/key6/sca", tag = "device", params(("id" = String, Path)),
    request_body = ScaBody,
    responses((status = 201, body = DeviceScaStarted), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn start_sca(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    Path(id): Path<String>,
    req: Signed,
) -> Result<(StatusCode, Json<DeviceScaStarted>), ApiError> {
    let body: ScaBody = req.json()?;
    let user = user_of(&state, &req, Need::Possession, &origin).await?;
    let operation = state.services.start_key6_sca(&user, &id, body.action(), &origin).await?;
    Ok((StatusCode::CREATED, Json(DeviceScaStarted { operation })))
}

/// Shows the Key6, once per approved `view` operation. Signed: possession.
#[utoipa::path(post, path = "/device/v1/cards/{id}/key6/reveal", tag = "device", params(("id" = String, Path)),
    request_body = ApprovedBody,
    responses((status = 200, body = Key6Shown), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn reveal(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    Path(id): Path<String>,
    req: Signed,
) -> Result<Json<Key6Shown>, ApiError> {
    let body: ApprovedBody = req.json()?;
    let user = user_of(&state, &req, Need::Possession, &origin).await?;
    let key6 = state.services.reveal_key6(&user, &id, body.operation(), &origin).await?;
    Ok(Json(Key6Shown::new(key6)))
}

/// Unlocks a blocked Key6 with an approved `unlock` operation. Signed: possession.
#[utoipa::path(post, path = "/device/v1/cards/{id}/key6/unlock", tag = "device", params(("id" = String, Path)),
    request_body = ApprovedBody,
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn unlock(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    Path(id): Path<String>,
    req: Signed,
) -> Result<StatusCode, ApiError> {
    let body: ApprovedBody = req.json()?;
    let user = user_of(&state, &req, Need::Possession, &origin).await?;
    state.services.unlock_key6(&user, &id, body.operation(), &origin).await?;
    Ok(StatusCode::NO_CONTENT)
}
