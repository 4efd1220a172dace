//! The device API's endpoints. Keys, signatures and challenges travel as base64url
//! without padding; public keys are uncompressed SEC1 P-256 points.

use super::signed::Signed;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::Body;
use crate::api::sse::{Followed, follow};
use crate::events::Topic;
use crate::middleware::client::ApiOrigin;
use crate::router::AppState;
use crate::service::approvals::PendingOperation;
use crate::service::binding::{Activated, ActivationRequest, DeviceView, KeyReplaced};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde::{Deserialize, Serialize};
use sigillo_core::device::keys::Factor;
use sigillo_core::device::{b64, unb64};
use std::convert::Infallible;
use utoipa::ToSchema;

fn bytes(field: &'static str, text: &str) -> Result<Vec<u8>, ApiError> {
    unb64(text).ok_or_else(|| ApiError::Malformed(format!("{field} is not base64url without padding")))
}

#[derive(Serialize, ToSchema)]
pub struct Info {
    /// The master public key (base64url SEC1) the app pins: it signs QR payloads,
    /// activation answers and operation data.
    master_key: String,
    protocol: &'static str,
}

/// The server's protocol version and master public key.
#[utoipa::path(get, path = "/device/v1/info", tag = "device", responses((status = 200, body = Info)))]
pub async fn info(State(state): State<AppState>) -> Json<Info> {
    Json(Info { master_key: b64(&state.services.master_public_key()), protocol: "sigillo-device/1" })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Proofs {
    possession: String,
    knowledge: String,
    biometry: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivationBody {
    /// The activation code as typed or read from the QR.
    code: String,
    device_name: String,
    platform: String,
    possession_key: String,
    knowledge_key: String,
    biometry_key: Option<String>,
    /// Each key's signature over `sigillo/activation/v1` (PROTOCOL.md §4.1).
    proofs: Proofs,
}

/// Activation: the phone offers its public keys with an activation code.
#[utoipa::path(post, path = "/device/v1/activation", tag = "device", request_body = ActivationBody,
    responses((status = 201, body = Activated), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn activate(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    Body(body): Body<ActivationBody>,
) -> Result<(StatusCode, Json<Activated>), ApiError> {
    let mut proofs = vec![
        (Factor::Possession, bytes("proofs.possession", &body.proofs.possession)?),
        (Factor::Knowledge, bytes("proofs.knowledge", &body.proofs.knowledge)?),
    ];
    if let Some(b) = &body.proofs.biometry {
        proofs.push((Factor::Biometry, bytes("proofs.biometry", b)?));
    }
    let req = ActivationRequest {
        code: body.code,
        device_name: body.device_name,
        platform: body.platform,
        possession_key: bytes("possession_key", &body.possession_key)?,
        knowledge_key: bytes("knowledge_key", &body.knowledge_key)?,
        biometry_key: body.biometry_key.as_deref().map(|k| bytes("biometry_key", k)).transpose()?,
        proofs,
    };
    let activated = state.services.activate_device(&req, &origin).await?;
    Ok((StatusCode::CREATED, Json(activated)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChallengeBody {
    binding: String,
}

#[derive(Serialize, ToSchema)]
pub struct Challenge {
    /// 32 random bytes, base64url: sign it within `expires_at`, once.
    challenge: String,
    expires_at: i64,
}

/// A fresh challenge for the next signed request of a binding.
#[utoipa::path(post, path = "/device/v1/challenge", tag = "device", request_body = ChallengeBody,
    responses((status = 200, body = Challenge), (status = 401, body = ErrorBody)))]
pub async fn challenge(
    State(state): State<AppState>,
    Body(body): Body<ChallengeBody>,
) -> Result<Json<Challenge>, ApiError> {
    let (challenge, expires_at) = state.services.device_challenge(&body.binding).await?;
    Ok(Json(Challenge { challenge, expires_at }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommitBody {
    /// HMAC-SHA-256 under each OTP key (PROTOCOL.md §4.3), base64url.
    possession_confirmation: String,
    knowledge_confirmation: String,
}

/// Commit: the phone stored the binding and derived the same keys. Signed: possession + PIN.
#[utoipa::path(post, path = "/device/v1/bindings/{id}/commit", tag = "device", request_body = CommitBody,
    params(("id" = String, Path)), responses((status = 200, body = DeviceView), (status = 401, body = ErrorBody)))]
pub async fn commit(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    Path(id): Path<String>,
    req: Signed,
) -> Result<Json<DeviceView>, ApiError> {
    req.for_binding(&id)?;
    let body: CommitBody = req.json()?;
    let confirmations = [
        (Factor::Possession, bytes("possession_confirmation", &body.possession_confirmation)?),
        (Factor::Knowledge, bytes("knowledge_confirmation", &body.knowledge_confirmation)?),
    ];
    Ok(Json(state.services.commit_binding(&req.proof, &req.message(), &confirmations, &origin).await?))
}

/// The binding's status. Signed: possession.
#[utoipa::path(get, path = "/device/v1/bindings/{id}", tag = "device", params(("id" = String, Path)),
    responses((status = 200, body = DeviceView), (status = 401, body = ErrorBody)))]
pub async fn status(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    Path(id): Path<String>,
    req: Signed,
) -> Result<Json<DeviceView>, ApiError> {
    req.for_binding(&id)?;
    Ok(Json(state.services.device_status(&req.proof, &req.message(), &origin).await?))
}

/// The phone removes its binding. Signed: possession.
#[utoipa::path(delete, path = "/device/v1/bindings/{id}", tag = "device", params(("id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    Path(id): Path<String>,
    req: Signed,
) -> Result<StatusCode, ApiError> {
    req.for_binding(&id)?;
    state.services.remove_own_binding(&req.proof, &req.message(), &origin).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKeyBody {
    /// The new public key (base64url SEC1).
    key: String,
    /// The new key's signature over `sigillo/new-key/v1`.
    proof: String,
}

/// A new PIN: a new knowledge key. Signed: possession + the old PIN, or possession alone
/// once after an unblock.
#[utoipa::path(post, path = "/device/v1/bindings/{id}/pin", tag = "device", request_body = NewKeyBody,
    params(("id" = String, Path)), responses((status = 200, body = KeyReplaced), (status = 401, body = ErrorBody)))]
pub async fn pin(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    Path(id): Path<String>,
    req: Signed,
) -> Result<Json<KeyReplaced>, ApiError> {
    req.for_binding(&id)?;
    let body: NewKeyBody = req.json()?;
    let (key, proof) = (bytes("key", &body.key)?, bytes("proof", &body.proof)?);
    Ok(Json(state.services.replace_knowledge_key(&req.proof, &req.message(), &key, &proof, &origin).await?))
}

/// Biometry on. Signed: possession + PIN.
#[utoipa::path(post, path = "/device/v1/bindings/{id}/biometry", tag = "device", request_body = NewKeyBody,
    params(("id" = String, Path)), responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn biometry_on(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    Path(id): Path<String>,
    req: Signed,
) -> Result<StatusCode, ApiError> {
    req.for_binding(&id)?;
    let body: NewKeyBody = req.json()?;
    let (key, proof) = (bytes("key", &body.key)?, bytes("proof", &body.proof)?);
    state.services.enrol_biometry(&req.proof, &req.message(), &key, &proof, &origin).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Biometry off. Signed: possession.
#[utoipa::path(delete, path = "/device/v1/bindings/{id}/biometry", tag = "device", params(("id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn biometry_off(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    Path(id): Path<String>,
    req: Signed,
) -> Result<StatusCode, ApiError> {
    req.for_binding(&id)?;
    state.services.revoke_biometry(&req.proof, &req.message(), &origin).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushBody {
    /// `apns` or `fcm`.
    provider: String,
    token: String,
}

/// Where push notifications for this binding go. Signed: possession.
#[utoipa::path(put, path = "/device/v1/bindings/{id}/push", tag = "device", request_body = PushBody,
    params(("id" = String, Path)), responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn push(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    Path(id): Path<String>,
    req: Signed,
) -> Result<StatusCode, ApiError> {
    req.for_binding(&id)?;
    let body: PushBody = req.json()?;
    state.services.set_push_token(&req.proof, &req.message(), &body.provider, &body.token, &origin).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrimaryBody {
    primary: bool,
}

/// Whether this binding is its phone's primary user. Signed: possession.
#[utoipa::path(put, path = "/device/v1/bindings/{id}/primary", tag = "device", request_body = PrimaryBody,
    params(("id" = String, Path)), responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn primary(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    Path(id): Path<String>,
    req: Signed,
) -> Result<StatusCode, ApiError> {
    req.for_binding(&id)?;
    let body: PrimaryBody = req.json()?;
    state.services.set_primary(&req.proof, &req.message(), body.primary, &origin).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct AppSession {
    /// A bearer token for the app's session (5 minutes idle, like the web).
    token: String,
    must_change_password: bool,
}

/// In-app login (DESIGN flow 5). Signed: possession + PIN or biometry.
#[utoipa::path(post, path = "/device/v1/login", tag = "device",
    responses((status = 200, body = AppSession), (status = 401, body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    req: Signed,
) -> Result<Json<AppSession>, ApiError> {
    let grant = state.services.app_login(&req.proof, &req.message(), &origin).await?;
    Ok(Json(AppSession { token: grant.token, must_change_password: grant.must_change_password }))
}

/// The user's operations waiting for approval. Signed: possession.
#[utoipa::path(get, path = "/device/v1/operations", tag = "device",
    responses((status = 200, body = [PendingOperation]), (status = 401, body = ErrorBody)))]
pub async fn operations(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    req: Signed,
) -> Result<Json<Vec<PendingOperation>>, ApiError> {
    Ok(Json(state.services.pending_operations(&req.proof, &req.message(), &origin).await?))
}

/// The phone's event stream (server-sent events): a `pending` event with the ids of the
/// operations waiting for it, now and at every change, for as long as the phone keeps it
/// open. It wakes `sigillo-device listen`; a real app is woken by push instead, and either
/// then lists the operations with `GET /device/v1/operations`. Signed: possession.
#[utoipa::path(get, path = "/device/v1/events", tag = "device",
    responses((status = 200, description = "text/event-stream of `pending` events `{\"pending\": [ids]}`", content_type = "text/event-stream"),
              (status = 401, body = ErrorBody)))]
pub async fn events(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    req: Signed,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let ctx = state.services.authenticate_listener(&req.proof, &req.message(), &origin).await?;
    let (user, binding) = (ctx.user.id.clone(), ctx.binding.id.clone());
    let woken = state.services.events.subscribe(Topic::User(user.clone()));
    let first = PendingIds(state.services.pending_ids(&user, &binding).await?);
    let fetch = move || {
        let (state, user, binding) = (state.clone(), user.clone(), binding.clone());
        async move { state.services.pending_ids(&user, &binding).await.ok().map(PendingIds) }
    };
    Ok(Sse::new(follow(woken, first, fetch)).keep_alive(KeepAlive::default()))
}

struct PendingIds(Vec<String>);

impl Followed for PendingIds {
    fn key(&self) -> String {
        self.0.join(",")
    }
    fn is_final(&self) -> bool {
        false
    }
    fn event(&self) -> Event {
        Event::default().event("pending").json_data(serde_json::json!({ "pending": self.0 })).unwrap_or_default()
    }
}

/// The body of an approval: for a login, the number the customer picked (number
/// matching). It is inside the signed approval message, so the body itself is not signed.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveBody {
    #[serde(default)]
    answer: Option<String>,
}

/// Approves an operation. The signatures are over `sigillo/approval/v1` with the
/// operation's bytes (PROTOCOL.md §7), or for a login over `sigillo/approval-answer/v1`
/// with the picked number too, not over the request: possession + PIN or biometry.
#[utoipa::path(post, path = "/device/v1/operations/{id}/approve", tag = "device", params(("id" = String, Path)),
    request_body = ApproveBody,
    responses((status = 204), (status = 401, body = ErrorBody), (status = 409, description = "Number matching failed: the login is refused", body = ErrorBody),
              (status = 410, body = ErrorBody)))]
pub async fn approve(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    Path(id): Path<String>,
    req: Signed,
) -> Result<StatusCode, ApiError> {
    let body: ApproveBody = req.json()?;
    state.services.approve_operation(&id, &req.proof, body.answer.as_deref(), &origin).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Rejects an operation ("non sono io"). Signed: possession.
#[utoipa::path(post, path = "/device/v1/operations/{id}/reject", tag = "device", params(("id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 410, body = ErrorBody)))]
pub async fn reject(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    Path(id): Path<String>,
    req: Signed,
) -> Result<StatusCode, ApiError> {
    state.services.reject_operation(&id, &req.proof, &req.message(), &origin).await?;
    Ok(StatusCode::NO_CONTENT)
}
