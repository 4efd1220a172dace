//! The customer's cards and their Key6 over JSON (issue 5, DESIGN flow 8): list, set or
//! change, and view or unlock after an SCA. The SCA is an operation about the card,
//! approved on the phone (push) or with its SMS OTP through the operations endpoints
//! (`POST /api/v1/operations/{op}/sms`, `…/otp`); each approval serves one view or one
//! unlock, within two minutes.

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiSession, Body};
use crate::middleware::client::ApiOrigin;
use crate::router::AppState;
use crate::service::cards::{CardView, Key6Action};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zeroize::Zeroizing;

/// A card as its holder sees it: never more than the last four digits.
#[derive(Serialize, ToSchema)]
pub struct CardBody {
    card_id: String,
    last4: String,
    /// `visa` or `mastercard`.
    brand: String,
    /// `debit`, `credit` or `prepaid`.
    kind: String,
    corporate: bool,
    /// Enrolled in 3-D Secure.
    enrolled: bool,
    key6_set: bool,
    /// Blocked after five wrong Key6 or OTP entries: unlock it with an SCA.
    key6_blocked: bool,
}

impl From<CardView> for CardBody {
    fn from(v: CardView) -> Self {
        Self {
            card_id: v.card_id,
            last4: v.last4,
            brand: v.brand,
            kind: v.kind,
            corporate: v.corporate,
            enrolled: v.enrolled,
            key6_set: v.key6_set,
            key6_blocked: v.key6_blocked,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Key6Body {
    /// Six digits, not trivial (no repeated digits, runs, common patterns, nor the card's
    /// last four digits).
    #[schema(value_type = String)]
    key6: Zeroizing<String>,
}

impl Key6Body {
    pub fn code(&self) -> &str {
        &self.key6
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScaAction {
    View,
    Unlock,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScaBody {
    action: ScaAction,
}

impl ScaBody {
    pub fn action(&self) -> Key6Action {
        match self.action {
            ScaAction::View => Key6Action::View,
            ScaAction::Unlock => Key6Action::Unlock,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ScaStarted {
    /// The operation to approve; follow it at `/api/v1/operations/{operation}` (or its
    /// `events`).
    operation: String,
    /// How it may be approved: `push` (a bound phone), `sms` (`POST
    /// /api/v1/operations/{operation}/sms`, then `…/otp`).
    methods: Vec<&'static str>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovedBody {
    /// An approved operation of the matching action for this card, not used before.
    operation: String,
}

impl ApprovedBody {
    pub fn operation(&self) -> &str {
        &self.operation
    }
}

#[derive(Serialize, ToSchema)]
pub struct Key6Shown {
    #[schema(value_type = String)]
    key6: Zeroizing<String>,
}

impl Key6Shown {
    pub fn new(key6: Zeroizing<String>) -> Self {
        Self { key6 }
    }
}

/// The customer's cards (personal and corporate ones they hold).
#[utoipa::path(get, path = "/api/v1/cards", tag = "cards", security(("bearer" = [])),
    responses((status = 200, body = [CardBody]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(State(state): State<AppState>, ApiSession(ctx): ApiSession) -> Result<Json<Vec<CardBody>>, ApiError> {
    ctx.require_full()?;
    let cards = state.services.cards_of(&ctx.user.id).await?;
    Ok(Json(cards.into_iter().map(Into::into).collect()))
}

/// Sets or changes the card's Key6.
#[utoipa::path(put, path = "/api/v1/cards/{id}/key6", tag = "cards", security(("bearer" = [])), params(("id" = String, Path)),
    request_body = Key6Body,
    responses((status = 204), (status = 403, description = "The Key6 is blocked: unlock it first", body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 422, description = "`key6.not_six_digits`, `key6.trivial` or `key6.contains_card_digits`", body = ErrorBody)))]
pub async fn set_key6(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    ApiSession(ctx): ApiSession,
    Path(id): Path<String>,
    Body(req): Body<Key6Body>,
) -> Result<StatusCode, ApiError> {
    ctx.require_full()?;
    state.services.set_key6(&ctx.user.id, &id, req.code(), &origin).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Starts the SCA that viewing or unlocking the Key6 needs: an operation about the card,
/// pushed to the customer's phones.
#[utoipa::path(post, path = "/api/v1/cards/{id}/key6/sca", tag = "cards", security(("bearer" = [])), params(("id" = String, Path)),
    request_body = ScaBody,
    responses((status = 201, body = ScaStarted), (status = 404, body = ErrorBody)))]
pub async fn start_sca(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    ApiSession(ctx): ApiSession,
    Path(id): Path<String>,
    Body(req): Body<ScaBody>,
) -> Result<(StatusCode, Json<ScaStarted>), ApiError> {
    ctx.require_full()?;
    let op = state.services.start_key6_sca(&ctx.user.id, &id, req.action(), &origin).await?;
    let view = state.services.operation_view(&ctx.user.id, &op).await?;
    Ok((StatusCode::CREATED, Json(ScaStarted { operation: op, methods: view.methods })))
}

/// Shows the Key6, once per approved `view` operation.
#[utoipa::path(post, path = "/api/v1/cards/{id}/key6/reveal", tag = "cards", security(("bearer" = [])), params(("id" = String, Path)),
    request_body = ApprovedBody,
    responses((status = 200, body = Key6Shown),
              (status = 403, description = "No approved, unused `view` operation for this card", body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn reveal(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    ApiSession(ctx): ApiSession,
    Path(id): Path<String>,
    Body(req): Body<ApprovedBody>,
) -> Result<Json<Key6Shown>, ApiError> {
    ctx.require_full()?;
    let key6 = state.services.reveal_key6(&ctx.user.id, &id, req.operation(), &origin).await?;
    Ok(Json(Key6Shown::new(key6)))
}

/// Unlocks a blocked Key6 with an approved `unlock` operation (once).
#[utoipa::path(post, path = "/api/v1/cards/{id}/key6/unlock", tag = "cards", security(("bearer" = [])), params(("id" = String, Path)),
    request_body = ApprovedBody,
    responses((status = 204),
              (status = 403, description = "No approved, unused `unlock` operation for this card", body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn unlock(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    ApiSession(ctx): ApiSession,
    Path(id): Path<String>,
    Body(req): Body<ApprovedBody>,
) -> Result<StatusCode, ApiError> {
    ctx.require_full()?;
    state.services.unlock_key6(&ctx.user.id, &id, req.operation(), &origin).await?;
    Ok(StatusCode::NO_CONTENT)
}
