//! Login and recovery over JSON.

use super::error::{ApiError, ErrorBody};
use super::extract::Body;
use crate::middleware::client::ApiOrigin;
use crate::notify::texts::OtpPurpose;
use crate::router::AppState;
use crate::service::ServiceError;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde::{Deserialize, Serialize};
use std::convert::Infallible;
use std::time::Duration;
use utoipa::ToSchema;
use zeroize::Zeroizing;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// User code (8 digits) or alias.
    username: String,
    #[schema(value_type = String)]
    password: Zeroizing<String>,
}

#[derive(Serialize, ToSchema)]
pub struct FlowResponse {
    /// The flow's handle: keep it secret, it is what finishes the login.
    flow: String,
    /// Second factors this flow accepts: `sms`.
    methods: Vec<&'static str>,
}

#[derive(Serialize, ToSchema)]
pub struct OtpSentResponse {
    /// The certified phone, masked.
    to: String,
    sends_left: u32,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OtpRequest {
    #[schema(value_type = String)]
    code: Zeroizing<String>,
}

#[derive(Serialize, ToSchema)]
pub struct FlowStatusResponse {
    /// `pending`, `approved`, `rejected` or `expired`.
    status: &'static str,
    /// The session token, once, in the first answer after approval.
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
    /// The session may only change the envelope's initial password.
    #[serde(skip_serializing_if = "Option::is_none")]
    must_change_password: Option<bool>,
}

/// Step one of a login: user code or alias and password.
#[utoipa::path(post, path = "/api/v1/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = FlowResponse), (status = 401, description = "Any failure, whatever its cause", body = ErrorBody),
              (status = 429, description = "Rate limited", body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    Body(req): Body<LoginRequest>,
) -> Result<Json<FlowResponse>, ApiError> {
    let started = state.services.start_login(&req.username, &req.password, &origin).await?;
    Ok(Json(FlowResponse { flow: started.flow, methods: started.methods }))
}

/// Sends the flow's SMS OTP to the certified phone (at most 3 per flow).
#[utoipa::path(post, path = "/api/v1/login/{flow}/sms", tag = "auth", params(("flow" = String, Path)),
    responses((status = 202, body = OtpSentResponse), (status = 410, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn login_sms(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    Path(flow): Path<String>,
) -> Result<(StatusCode, Json<OtpSentResponse>), ApiError> {
    let sent = state.services.send_flow_otp(&flow, OtpPurpose::Login, &origin).await?;
    Ok((StatusCode::ACCEPTED, Json(OtpSentResponse { to: sent.to, sends_left: sent.sends_left })))
}

/// Step two: the SMS OTP. Answers with the session token.
#[utoipa::path(post, path = "/api/v1/login/{flow}/otp", tag = "auth", params(("flow" = String, Path)), request_body = OtpRequest,
    responses((status = 200, body = FlowStatusResponse), (status = 401, body = ErrorBody)))]
pub async fn login_otp(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    Path(flow): Path<String>,
    Body(req): Body<OtpRequest>,
) -> Result<Json<FlowStatusResponse>, ApiError> {
    let grant = state.services.submit_login_otp(&flow, &req.code, &origin).await?;
    Ok(Json(FlowStatusResponse {
        status: "approved",
        token: Some(grant.token),
        must_change_password: Some(grant.must_change_password),
    }))
}

/// Where a login stands; the first answer after approval carries the session token.
#[utoipa::path(get, path = "/api/v1/login/{flow}", tag = "auth", params(("flow" = String, Path)),
    responses((status = 200, body = FlowStatusResponse), (status = 404, body = ErrorBody)))]
pub async fn login_status(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    Path(flow): Path<String>,
) -> Result<Json<FlowStatusResponse>, ApiError> {
    let s = state.services.login_status(&flow, &origin).await?;
    Ok(Json(status_body(s)))
}

fn status_body(s: crate::service::login::FlowStatus) -> FlowStatusResponse {
    FlowStatusResponse {
        status: s.status,
        must_change_password: s.grant.as_ref().map(|g| g.must_change_password),
        token: s.grant.map(|g| g.token),
    }
}

/// The same as `GET /api/v1/login/{flow}`, as Server-Sent Events: one `status` event
/// per change, ending when the flow is no longer pending.
#[utoipa::path(get, path = "/api/v1/login/{flow}/events", tag = "auth", params(("flow" = String, Path)),
    responses((status = 200, description = "text/event-stream of `status` events", content_type = "text/event-stream")))]
pub async fn login_events(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    Path(flow): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    // Fail fast on an unknown flow, with a normal error response.
    let first = state.services.login_status(&flow, &origin).await?;
    let stream = status_events(state, origin, flow, first);
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

fn status_events(
    state: AppState,
    origin: crate::service::Origin,
    flow: String,
    first: crate::service::login::FlowStatus,
) -> impl Stream<Item = Result<Event, Infallible>> {
    futures::stream::unfold(Some((Some(first), None::<&'static str>)), move |st| {
        let state = state.clone();
        let origin = origin.clone();
        let flow = flow.clone();
        async move {
            let (mut next, last) = st?;
            loop {
                let current = match next.take() {
                    Some(s) => s,
                    None => {
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        state.services.login_status(&flow, &origin).await.ok()?
                    }
                };
                let done = current.status != "pending";
                if Some(current.status) != last || current.grant.is_some() {
                    let status = current.status;
                    let body = status_body(current);
                    let event = Event::default().event("status").json_data(&body).unwrap_or_default();
                    return Some((Ok(event), if done { None } else { Some((None, Some(status))) }));
                }
            }
        }
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoveryRequest {
    /// User code (or alias).
    username: String,
    /// The envelope's 20-character security code (case and dashes ignored).
    #[schema(value_type = String)]
    security_code: Zeroizing<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoveryComplete {
    #[schema(value_type = String)]
    code: Zeroizing<String>,
    #[schema(value_type = String)]
    new_password: Zeroizing<String>,
}

/// Recovery, step one: user code + security code.
#[utoipa::path(post, path = "/api/v1/recovery", tag = "auth", request_body = RecoveryRequest,
    responses((status = 200, body = FlowResponse), (status = 401, body = ErrorBody)))]
pub async fn recovery_start(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    Body(req): Body<RecoveryRequest>,
) -> Result<Json<FlowResponse>, ApiError> {
    let started = state.services.start_recovery(&req.username, &req.security_code, &origin).await?;
    Ok(Json(FlowResponse { flow: started.flow, methods: started.methods }))
}

/// Recovery: sends the SMS OTP.
#[utoipa::path(post, path = "/api/v1/recovery/{flow}/sms", tag = "auth", params(("flow" = String, Path)),
    responses((status = 202, body = OtpSentResponse), (status = 410, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn recovery_sms(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    Path(flow): Path<String>,
) -> Result<(StatusCode, Json<OtpSentResponse>), ApiError> {
    let sent = state.services.send_flow_otp(&flow, OtpPurpose::Recovery, &origin).await?;
    Ok((StatusCode::ACCEPTED, Json(OtpSentResponse { to: sent.to, sends_left: sent.sends_left })))
}

/// Recovery, step two: SMS OTP + new password. Unlocks a locked user.
#[utoipa::path(post, path = "/api/v1/recovery/{flow}/complete", tag = "auth", params(("flow" = String, Path)), request_body = RecoveryComplete,
    responses((status = 204), (status = 401, body = ErrorBody), (status = 422, description = "The new password breaks the policy", body = ErrorBody)))]
pub async fn recovery_complete(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    Path(flow): Path<String>,
    Body(req): Body<RecoveryComplete>,
) -> Result<StatusCode, ApiError> {
    match state.services.complete_recovery(&flow, &req.code, &req.new_password, &origin).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(ServiceError::FlowOver) => Err(ServiceError::AuthFailed.into()),
        Err(e) => Err(e.into()),
    }
}
