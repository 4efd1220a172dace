//! Login and recovery over JSON.

use super::error::{ApiError, ErrorBody};
use super::extract::Body;
use super::sse::{Followed, follow};
use crate::events::Topic;
use crate::middleware::client::ApiOrigin;
use crate::notify::texts::OtpPurpose;
use crate::router::AppState;
use crate::service::ServiceError;
use crate::service::login::{FlowStatus, flow_id};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde::{Deserialize, Serialize};
use std::convert::Infallible;
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
    /// Second factors this flow accepts: `push` (approve on the phone), `otp` (the app's
    /// login OTP), `sms`.
    methods: Vec<&'static str>,
    /// Number matching: show it; the customer picks it among three on the phone.
    #[serde(skip_serializing_if = "Option::is_none")]
    number: Option<u8>,
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
    Ok(Json(FlowResponse { flow: started.flow, methods: started.methods, number: started.number }))
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
/// per change, ending when the flow is no longer pending. The server pushes the change
/// as soon as the phone answers (on any node); the client does not poll.
#[utoipa::path(get, path = "/api/v1/login/{flow}/events", tag = "auth", params(("flow" = String, Path)),
    responses((status = 200, description = "text/event-stream of `status` events", content_type = "text/event-stream")))]
pub async fn login_events(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    Path(flow): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    // Subscribe before the first read, so an approval in between is not missed.
    let woken = state.services.events.subscribe(Topic::Flow(flow_id(&flow)));
    // Fail fast on an unknown flow, with a normal error response.
    let first = state.services.login_status(&flow, &origin).await?;
    let fetch = move || {
        let (state, origin, flow) = (state.clone(), origin.clone(), flow.clone());
        async move { state.services.login_status(&flow, &origin).await.ok().map(FlowEvent) }
    };
    Ok(Sse::new(follow(woken, FlowEvent(first), fetch)).keep_alive(KeepAlive::default()))
}

struct FlowEvent(FlowStatus);

impl Followed for FlowEvent {
    fn key(&self) -> String {
        self.0.status.to_owned()
    }
    fn is_final(&self) -> bool {
        self.0.status != "pending"
    }
    fn always_send(&self) -> bool {
        self.0.grant.is_some()
    }
    fn event(&self) -> Event {
        let body = FlowStatusResponse {
            status: self.0.status,
            must_change_password: self.0.grant.as_ref().map(|g| g.must_change_password),
            token: self.0.grant.as_ref().map(|g| g.token.clone()),
        };
        Event::default().event("status").json_data(&body).unwrap_or_default()
    }
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
    Ok(Json(FlowResponse { flow: started.flow, methods: started.methods, number: None }))
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
