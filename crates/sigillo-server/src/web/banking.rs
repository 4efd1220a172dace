//! A demo web banking area (DESIGN flow 4 from the customer's side): a demo balance,
//! the "Bonifico" and "Bollettino" forms, the customer's operations, and the page that
//! authorizes one payment.
//!
//! The authorization page waits for the push approval over server-sent events
//! (`GET /payments/{id}/events`, woken by the phone's answer, no polling); its fallback
//! is the signed transaction QR with the app's 8-digit code ("Genera OTP → OTP
//! dispositiva"), or an SMS code whose text names amount and payee. The balance is a
//! fixed figure and says so: sigillo authorizes payments, it keeps no accounts.

use super::auth::{CsrfOnly, OtpForm};
use super::devices::{iso, qr_svg, when};
use super::extract::{CsrfForm, FullSession, has_csrf};
use super::forms::Ctx;
use super::i18n::Lang;
use crate::api::sse::{Followed, follow};
use crate::events::Topic;
use crate::middleware::client::WebOrigin;
use crate::router::AppState;
use crate::service::ServiceError;
use crate::service::operations::OperationView;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;
use serde::{Deserialize, Serialize};
use sigillo_core::payment::PaymentRequest;
use std::collections::BTreeMap;

/// The banking area's path.
const BANKING: &str = "/banking";

/// A payment form as typed: the values come back on the page when something is wrong.
#[derive(Deserialize, Serialize, Default)]
pub struct PaymentForm {
    #[serde(skip_serializing)]
    csrf: String,
    /// `credit_transfer` or `bill`.
    kind: String,
    #[serde(default)]
    payee: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    iban: String,
    #[serde(default)]
    bill_code: String,
    #[serde(default)]
    description: String,
}

has_csrf!(PaymentForm);

impl PaymentForm {
    /// What the service validates. Helps with what people type and the core leaves to
    /// the caller: a decimal comma (`12,50`), a bill code printed in groups, an empty
    /// currency (EUR); everything else is the core's to judge.
    fn request<'a>(&'a self, amount: &'a str, bill_code: &'a str) -> PaymentRequest<'a> {
        let transfer = self.kind == "credit_transfer";
        PaymentRequest {
            kind: &self.kind,
            amount,
            currency: if self.currency.trim().is_empty() { "EUR" } else { self.currency.trim() },
            payee: &self.payee,
            iban: transfer.then_some(self.iban.as_str()),
            bill_code: (!transfer).then_some(bill_code),
            description: transfer.then_some(self.description.as_str()),
        }
    }
}

/// `12,50` → `12.50` (Italian decimal comma), when there is no dot to confuse it with.
fn amount_as_typed(raw: &str) -> String {
    let raw = raw.trim();
    if !raw.contains('.') && raw.matches(',').count() == 1 { raw.replace(',', ".") } else { raw.to_owned() }
}

/// One operation in the list.
#[derive(Serialize)]
struct Row {
    id: String,
    kind: &'static str,
    status: String,
    amount: String,
    currency: String,
    payee: String,
    created: String,
    created_iso: String,
}

fn kind_key(kind: &str) -> &'static str {
    match kind {
        "payment.bill" => "op_kind_bill",
        _ => "op_kind_credit_transfer",
    }
}

impl Row {
    fn new(v: &OperationView, lang: Lang) -> Self {
        let field = |l: &str| v.field(l).unwrap_or_default().to_owned();
        Self {
            id: v.id.clone(),
            kind: kind_key(&v.kind),
            status: v.status.clone(),
            amount: field("amount"),
            currency: field("currency"),
            payee: field("payee"),
            created: when(v.created_at, lang),
            created_iso: iso(v.created_at),
        }
    }
}

/// The demo balance, in the page's language (a fixed figure: see the module docs).
fn demo_balance(lang: Lang) -> &'static str {
    match lang {
        Lang::It => "12.345,67 EUR",
        Lang::En => "EUR 12,345.67",
    }
}

/// The banking page; `form` is the form that came back with `field_error` (a text key
/// per field) or a general `error`.
fn banking_page(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    ops: &[OperationView],
    form: Option<&PaymentForm>,
    field_errors: BTreeMap<&str, String>,
    error: Option<String>,
) -> Response {
    let lang = ctx.lang;
    let rows: Vec<Row> = ops.iter().map(|v| Row::new(v, lang)).collect();
    state.web.render(
        ctx,
        status,
        "banking.html",
        context! {
            signed_in => true,
            balance => demo_balance(lang),
            operations => rows,
            form_kind => form.map(|f| f.kind.as_str()),
            values => form,
            field_errors => field_errors,
            error => error,
        },
    )
}

/// `GET /banking`.
pub async fn banking(State(state): State<AppState>, ctx: Ctx, FullSession(s): FullSession) -> Response {
    match state.services.list_payments(&s.user.id).await {
        Ok(ops) => banking_page(&state, &ctx, StatusCode::OK, &ops, None, BTreeMap::new(), None),
        Err(e) => state.web.error(ctx, e),
    }
}

/// The fields a payment form shows an error next to.
const FORM_FIELDS: &[&str] = &["payee", "iban", "bill_code", "amount", "currency", "description"];

/// `POST /banking/payments`: "Bonifico" or "Bollettino". Valid: the payment is stored and
/// pushed to the phone, and the browser goes to its authorization page. Invalid: the
/// form again, the values kept, the error next to the field; nothing is stored.
pub async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    WebOrigin(origin): WebOrigin,
    FullSession(s): FullSession,
    CsrfForm(form): CsrfForm<PaymentForm>,
) -> Response {
    let amount = amount_as_typed(&form.amount);
    let bill_code: String = form.bill_code.chars().filter(|c| !c.is_whitespace()).collect();
    let created = state
        .services
        .create_payment(&s.user, &form.request(&amount, &bill_code), "customer", None, None, &origin)
        .await;
    match created {
        Ok(view) => Redirect::to(&format!("/payments/{}", view.id)).into_response(),
        Err(ServiceError::BadRequest { field, .. }) => {
            let ops = match state.services.list_payments(&s.user.id).await {
                Ok(ops) => ops,
                Err(e) => return state.web.error(ctx, e),
            };
            let mut field_errors = BTreeMap::new();
            let mut error = None;
            if FORM_FIELDS.contains(&field) {
                field_errors.insert(field, format!("err_payment_{field}"));
            } else {
                error = Some("err_payment_kind".to_owned());
            }
            banking_page(&state, &ctx, StatusCode::BAD_REQUEST, &ops, Some(&form), field_errors, error)
        }
        Err(e) => state.web.error(ctx, e),
    }
}

#[derive(Deserialize)]
pub struct PaymentQuery {
    sms: Option<String>,
}

/// What the authorization page needs besides the operation.
#[derive(Default)]
struct PageState {
    error: Option<String>,
    notice: Option<&'static str>,
    fallback_open: bool,
    sms_sent: bool,
}

fn payment_page(state: &AppState, ctx: &Ctx, status: StatusCode, v: &OperationView, page: PageState) -> Response {
    let qr = v.qr.as_deref().and_then(|payload| {
        let svg = qr_svg(payload);
        if svg.is_none() {
            tracing::error!("the transaction QR could not be encoded");
        }
        svg
    });
    let fields: Vec<(String, &str)> = v.fields.iter().map(|(l, val)| (format!("field_{l}"), val.as_str())).collect();
    state.web.render(
        ctx,
        status,
        "payment.html",
        context! {
            signed_in => true,
            id => &v.id,
            kind => kind_key(&v.kind),
            status_key => format!("op_status_{}", v.status),
            result_key => format!("payment_result_{}", v.status),
            pending => v.status == "pending",
            approved => v.status == "approved",
            fields => fields,
            amount => v.field("amount"),
            currency => v.field("currency"),
            payee => v.field("payee"),
            push => v.methods.contains(&"push"),
            otp => v.methods.contains(&"otp"),
            sms => v.methods.contains(&"sms"),
            qr_svg => qr,
            qr_payload => v.qr.as_deref(),
            until => when(v.expires_at, ctx.lang),
            until_iso => iso(v.expires_at),
            events => format!("/payments/{}/events", v.id),
            next => format!("/payments/{}", v.id),
            error => page.error,
            notice => page.notice,
            fallback_open => page.fallback_open || page.sms_sent,
            sms_sent => page.sms_sent,
        },
    )
}

/// A payment that is not this customer's, or no payment: one answer for both.
fn not_found(state: &AppState, ctx: &Ctx) -> Response {
    state.web.message(ctx, StatusCode::NOT_FOUND, "err_payment_not_found", (BANKING, "banking_back"))
}

/// `GET /payments/{id}`: the summary, then the wait for the phone with its fallbacks
/// while pending; the outcome once decided.
pub async fn payment(
    State(state): State<AppState>,
    ctx: Ctx,
    FullSession(s): FullSession,
    Path(id): Path<String>,
    Query(q): Query<PaymentQuery>,
) -> Response {
    match state.services.operation_view(&s.user.id, &id).await {
        Ok(v) if v.kind.starts_with("payment.") => {
            let sms_sent = q.sms.is_some() && v.status == "pending";
            let notice = sms_sent.then_some("payment_sms_sent");
            payment_page(&state, &ctx, StatusCode::OK, &v, PageState { sms_sent, notice, ..PageState::default() })
        }
        Ok(_) | Err(ServiceError::NotFound) => not_found(&state, &ctx),
        Err(e) => state.web.error(ctx, e),
    }
}

/// The status as the stream sends it.
struct StatusEvent(String);

impl Followed for StatusEvent {
    fn key(&self) -> String {
        self.0.clone()
    }
    fn is_final(&self) -> bool {
        self.0 != "pending"
    }
    fn event(&self) -> Event {
        Event::default().event("status").data(&self.0)
    }
}

/// `GET /payments/{id}/events`: the payment's status as server-sent events, woken by
/// the phone's answer (no polling).
pub async fn events(State(state): State<AppState>, FullSession(s): FullSession, Path(id): Path<String>) -> Response {
    let woken = state.services.events.subscribe(Topic::Operation(id.clone()));
    let first = match state.services.operation_view(&s.user.id, &id).await {
        Ok(v) if v.kind.starts_with("payment.") => v.status,
        Ok(_) | Err(ServiceError::NotFound) => return StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            tracing::error!(error = %e, "payment events");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let user_id = s.user.id;
    let fetch = move || {
        let (state, user_id, id) = (state.clone(), user_id.clone(), id.clone());
        async move { state.services.operation_view(&user_id, &id).await.ok().map(|v| StatusEvent(v.status)) }
    };
    Sse::new(follow(woken, StatusEvent(first), fetch)).keep_alive(KeepAlive::default()).into_response()
}

/// A failed action on a payment: decided meanwhile → its page shows the outcome;
/// unknown → not found; anything else → the error page.
fn action_failed(state: &AppState, ctx: Ctx, id: &str, e: ServiceError) -> Response {
    match e {
        ServiceError::FlowOver => Redirect::to(&format!("/payments/{id}")).into_response(),
        ServiceError::NotFound => not_found(state, &ctx),
        other => state.web.error(ctx, other),
    }
}

/// `POST /payments/{id}/otp`: the app's 8-digit transaction OTP, or the 6-digit SMS code.
pub async fn otp_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    WebOrigin(origin): WebOrigin,
    FullSession(s): FullSession,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<OtpForm>,
) -> Response {
    let code = form.code().trim();
    match state.services.submit_payment_otp(&s.user, &id, code, &origin).await {
        Ok(_) => Redirect::to(&format!("/payments/{id}")).into_response(),
        Err(ServiceError::AuthFailed) => match state.services.operation_view(&s.user.id, &id).await {
            Ok(v) if v.status == "pending" => {
                let page = PageState {
                    error: Some("err_authentication_failed".into()),
                    fallback_open: true,
                    sms_sent: code.len() == 6 && v.methods.contains(&"sms"),
                    ..PageState::default()
                };
                payment_page(&state, &ctx, StatusCode::UNAUTHORIZED, &v, page)
            }
            // Too many wrong codes failed it: the page says so.
            Ok(_) => Redirect::to(&format!("/payments/{id}")).into_response(),
            Err(e) => action_failed(&state, ctx, &id, e),
        },
        Err(e) => action_failed(&state, ctx, &id, e),
    }
}

/// `POST /payments/{id}/sms`: sends the payment's SMS code (its text names amount and
/// payee), then the page shows the field for it.
pub async fn sms_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    WebOrigin(origin): WebOrigin,
    FullSession(s): FullSession,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<CsrfOnly>,
) -> Response {
    match state.services.send_payment_sms(&s.user, &id, &origin).await {
        Ok(_) => Redirect::to(&format!("/payments/{id}?sms=sent")).into_response(),
        Err(e @ (ServiceError::TooManyCodes | ServiceError::Forbidden)) => {
            match state.services.operation_view(&s.user.id, &id).await {
                Ok(v) => {
                    let page = PageState {
                        error: Some(format!("err_{}", e.code())),
                        fallback_open: true,
                        ..PageState::default()
                    };
                    payment_page(&state, &ctx, e.http_status(), &v, page)
                }
                Err(e) => action_failed(&state, ctx, &id, e),
            }
        }
        Err(e) => action_failed(&state, ctx, &id, e),
    }
}

/// `POST /payments/{id}/cancel`: the customer withdraws the payment.
pub async fn cancel_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    WebOrigin(origin): WebOrigin,
    FullSession(s): FullSession,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<CsrfOnly>,
) -> Response {
    match state.services.cancel_payment(&s.user, &id, &origin).await {
        Ok(_) => Redirect::to(&format!("/payments/{id}")).into_response(),
        Err(e) => action_failed(&state, ctx, &id, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decimal_comma_is_read_as_a_point() {
        assert_eq!(amount_as_typed(" 12,50 "), "12.50");
        assert_eq!(amount_as_typed("12.50"), "12.50");
        // Ambiguous: left for the core to refuse.
        assert_eq!(amount_as_typed("1.234,50"), "1.234,50");
        assert_eq!(amount_as_typed("1,2,3"), "1,2,3");
    }

    #[test]
    fn a_bill_request_carries_no_iban_and_a_transfer_no_bill_code() {
        let form = PaymentForm {
            kind: "bill".into(),
            iban: "IT60X0542811101000000123456".into(),
            description: "x".into(),
            ..PaymentForm::default()
        };
        let r = form.request("1.00", "ABC123");
        assert_eq!((r.iban, r.description, r.bill_code, r.currency), (None, None, Some("ABC123"), "EUR"));
        let form = PaymentForm { kind: "credit_transfer".into(), currency: " USD ".into(), ..PaymentForm::default() };
        let r = form.request("1.00", "");
        assert_eq!((r.bill_code, r.currency), (None, "USD"));
    }
}
