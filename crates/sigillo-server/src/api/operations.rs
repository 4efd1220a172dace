//! Payments over JSON (DESIGN.md "Interfaces"): create one for the customer's approval,
//! follow it (also as server-sent events), approve it with a code, ask for its SMS OTP.

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiSession, Body};
use super::sse::{Followed, follow};
use crate::events::Topic;
use crate::middleware::client::ApiOrigin;
use crate::router::AppState;
use crate::service::operations::OperationView;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde::{Deserialize, Serialize};
use sigillo_core::payment::PaymentRequest;
use std::convert::Infallible;
use utoipa::ToSchema;
use zeroize::Zeroizing;

/// A payment to approve.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPayment {
    /// `payment` or `credit_transfer` (a SEPA credit transfer: needs `iban`), or `bill`
    /// (needs `bill_code`).
    pub(super) kind: String,
    /// A plain decimal with at most the currency's decimals, e.g. `"12.50"`.
    pub(super) amount: String,
    /// ISO 4217, e.g. `"EUR"`.
    pub(super) currency: String,
    /// 1–70 characters.
    pub(super) payee: String,
    #[serde(default)]
    pub(super) iban: Option<String>,
    #[serde(default)]
    pub(super) bill_code: Option<String>,
    /// Remittance information, at most 140 characters.
    #[serde(default)]
    pub(super) description: Option<String>,
}

impl NewPayment {
    pub fn request(&self) -> PaymentRequest<'_> {
        PaymentRequest {
            kind: if self.kind == "payment" { "credit_transfer" } else { &self.kind },
            amount: &self.amount,
            currency: &self.currency,
            payee: &self.payee,
            iban: self.iban.as_deref(),
            bill_code: self.bill_code.as_deref(),
            description: self.description.as_deref(),
        }
    }
}

/// An operation as its customer sees it.
#[derive(Serialize, ToSchema)]
pub struct OperationBody {
    id: String,
    /// `payment.credit_transfer`, `payment.bill`, `login`.
    kind: String,
    /// `pending`, `approved`, `rejected`, `expired`, `failed`, `canceled`.
    status: String,
    created_at: i64,
    expires_at: i64,
    /// The labelled fields the phone shows and signs, in order (amount, currency, payee, …).
    #[schema(value_type = Vec<Vec<String>>)]
    fields: Vec<(String, String)>,
    /// How it may still be approved: `push`, `otp` (transaction OTP from the QR), `sms`.
    methods: Vec<&'static str>,
    /// While pending and a phone is bound: the signed QR payload for the app's
    /// "OTP dispositiva".
    #[serde(skip_serializing_if = "Option::is_none")]
    qr: Option<String>,
    /// How it was decided: `push`, `transaction_otp`, `sms` (a login: also `login_otp`).
    #[serde(skip_serializing_if = "Option::is_none")]
    method: Option<String>,
}

impl From<OperationView> for OperationBody {
    fn from(v: OperationView) -> Self {
        Self {
            id: v.id,
            kind: v.kind,
            status: v.status,
            created_at: v.created_at,
            expires_at: v.expires_at,
            fields: v.fields,
            methods: v.methods,
            qr: v.qr,
            method: v.method,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeBody {
    /// The app's 8-digit transaction OTP or the 6-digit SMS OTP.
    #[schema(value_type = String)]
    code: Zeroizing<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SmsSent {
    to: String,
    sends_left: u32,
}

/// Creates a payment for approval on the phone; nothing is stored if it is invalid.
#[utoipa::path(post, path = "/api/v1/operations", tag = "operations", security(("bearer" = [])), request_body = NewPayment,
    responses((status = 201, body = OperationBody), (status = 400, description = "Invalid payment: `field` names what to correct", body = ErrorBody),
              (status = 401, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    ApiSession(ctx): ApiSession,
    Body(req): Body<NewPayment>,
) -> Result<(StatusCode, Json<OperationBody>), ApiError> {
    ctx.require_full()?;
    let view = state.services.create_payment(&ctx.user, &req.request(), "customer", None, None, &origin).await?;
    Ok((StatusCode::CREATED, Json(view.into())))
}

/// The customer's recent payments, newest first.
#[utoipa::path(get, path = "/api/v1/operations", tag = "operations", security(("bearer" = [])),
    responses((status = 200, body = [OperationBody]), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    ApiSession(ctx): ApiSession,
) -> Result<Json<Vec<OperationBody>>, ApiError> {
    ctx.require_full()?;
    let list = state.services.list_payments(&ctx.user.id).await?;
    Ok(Json(list.into_iter().map(Into::into).collect()))
}

/// One operation of the customer's.
#[utoipa::path(get, path = "/api/v1/operations/{id}", tag = "operations", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = OperationBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    ApiSession(ctx): ApiSession,
    Path(id): Path<String>,
) -> Result<Json<OperationBody>, ApiError> {
    ctx.require_full()?;
    Ok(Json(state.services.operation_view(&ctx.user.id, &id).await?.into()))
}

/// Approves a pending payment with the app's transaction OTP or its SMS OTP, or a Key6
/// view or unlock with its SMS OTP.
#[utoipa::path(post, path = "/api/v1/operations/{id}/otp", tag = "operations", security(("bearer" = [])), params(("id" = String, Path)),
    request_body = CodeBody,
    responses((status = 200, body = OperationBody), (status = 401, description = "Wrong code (counted)", body = ErrorBody),
              (status = 410, description = "No longer pending", body = ErrorBody)))]
pub async fn otp(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    ApiSession(ctx): ApiSession,
    Path(id): Path<String>,
    Body(req): Body<CodeBody>,
) -> Result<Json<OperationBody>, ApiError> {
    ctx.require_full()?;
    Ok(Json(state.services.submit_operation_otp(&ctx.user, &id, &req.code, &origin).await?.into()))
}

/// Sends the operation's SMS OTP (its text states amount and payee, or which card's Key6
/// it lets the customer view or unlock), at most
/// `security.otp_max_sends` times (3 by default).
#[utoipa::path(post, path = "/api/v1/operations/{id}/sms", tag = "operations", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 202, body = SmsSent), (status = 403, description = "SMS is not offered to this customer", body = ErrorBody),
              (status = 410, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn sms(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    ApiSession(ctx): ApiSession,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<SmsSent>), ApiError> {
    ctx.require_full()?;
    let sent = state.services.send_operation_sms(&ctx.user, &id, &origin).await?;
    Ok((StatusCode::ACCEPTED, Json(SmsSent { to: sent.to, sends_left: sent.sends_left })))
}

/// Withdraws a pending payment or Key6 operation.
#[utoipa::path(post, path = "/api/v1/operations/{id}/cancel", tag = "operations", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = OperationBody), (status = 410, body = ErrorBody)))]
pub async fn cancel(
    State(state): State<AppState>,
    ApiOrigin(origin): ApiOrigin,
    ApiSession(ctx): ApiSession,
    Path(id): Path<String>,
) -> Result<Json<OperationBody>, ApiError> {
    ctx.require_full()?;
    Ok(Json(state.services.cancel_operation(&ctx.user, &id, &origin).await?.into()))
}

/// The operation as Server-Sent Events: a `status` event now and at each change, ending
/// when it is no longer pending.
#[utoipa::path(get, path = "/api/v1/operations/{id}/events", tag = "operations", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "text/event-stream of `status` events (OperationBody)", content_type = "text/event-stream")))]
pub async fn events(
    State(state): State<AppState>,
    ApiSession(ctx): ApiSession,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    ctx.require_full()?;
    let woken = state.services.events.subscribe(Topic::Operation(id.clone()));
    let first = state.services.operation_view(&ctx.user.id, &id).await?;
    let user = ctx.user.id.clone();
    let fetch = move || {
        let (state, user, id) = (state.clone(), user.clone(), id.clone());
        async move { state.services.operation_view(&user, &id).await.ok().map(OperationEvent) }
    };
    Ok(Sse::new(follow(woken, OperationEvent(first), fetch)).keep_alive(KeepAlive::default()))
}

struct OperationEvent(OperationView);

impl Followed for OperationEvent {
    fn key(&self) -> String {
        self.0.status.clone()
    }
    fn is_final(&self) -> bool {
        self.0.status != "pending"
    }
    fn event(&self) -> Event {
        let body = OperationBody::from(self.0.clone());
        Event::default().event("status").json_data(&body).unwrap_or_default()
    }
}
