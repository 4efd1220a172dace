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
use crate::service::operations::OperationView;
use crate::service::{Origin, ServiceError};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;
use serde::{Deserialize, Serialize};
use sigillo_core::payment::PaymentRequest;
use sigillo_store::repo::users::User;
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
        "key6_view" => "op_kind_key6_view",
        "key6_unlock" => "op_kind_key6_unlock",
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
pub(crate) struct PageState {
    pub(crate) error: Option<String>,
    pub(crate) notice: Option<&'static str>,
    pub(crate) fallback_open: bool,
    pub(crate) sms_sent: bool,
}

/// What kind of operation an authorization page is about: payments and Key6 views and
/// unlocks share the page (`payment.html`), its event stream and its code forms, each
/// under its own path and with its own texts.
pub(crate) struct Authorize {
    /// The page's path; its forms post to `{base}/otp`, `{base}/sms` and `{base}/cancel`
    /// and its events are at `{base}/events`.
    pub(crate) base: String,
    /// Text keys: the heading while pending, the prefix of the outcome (`…_{status}`),
    /// what to check on the phone, the SMS hint, the cancel button.
    pub(crate) title: &'static str,
    pub(crate) result_prefix: &'static str,
    pub(crate) push_check: &'static str,
    pub(crate) sms_hint: &'static str,
    pub(crate) sms_sent: &'static str,
    pub(crate) cancel: &'static str,
    /// The way back: href, link id, text key.
    pub(crate) back: (String, &'static str, &'static str),
    /// Once approved: a form that uses the approval (path, button text key).
    pub(crate) done: Option<(String, &'static str)>,
    /// The operations this page shows: of these kinds, and about this subject if set.
    pub(crate) kinds: fn(&str) -> bool,
    pub(crate) subject: Option<String>,
}

impl Authorize {
    fn payment(id: &str) -> Self {
        Self {
            base: format!("/payments/{id}"),
            title: "payment_authorize_title",
            result_prefix: "payment_result_",
            push_check: "payment_push_check",
            sms_hint: "payment_sms_hint",
            sms_sent: "payment_sms_sent",
            cancel: "payment_cancel",
            back: (BANKING.to_owned(), "banking-back", "banking_back"),
            done: None,
            kinds: is_payment,
            subject: None,
        }
    }

    /// Whether this page is the one for `v`.
    pub(crate) fn shows(&self, v: &OperationView) -> bool {
        (self.kinds)(&v.kind) && self.subject.as_ref().is_none_or(|s| v.subject.as_ref() == Some(s))
    }
}

fn is_payment(kind: &str) -> bool {
    kind.starts_with("payment.")
}

pub(crate) fn authorize_page(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    v: &OperationView,
    page: PageState,
    about: &Authorize,
) -> Response {
    // The paths go into the page unescaped (`|safe`, so they read as paths): they are
    // made of ids, and anything else is refused rather than written into HTML.
    let path_like = |p: &str| p.bytes().all(|b| b.is_ascii_alphanumeric() || b"/-_".contains(&b));
    if !(path_like(&about.base) && path_like(&about.back.0) && about.done.as_ref().is_none_or(|d| path_like(&d.0))) {
        return not_found(state, ctx, about);
    }
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
            base => &about.base,
            kind => kind_key(&v.kind),
            title_key => about.title,
            push_check_key => about.push_check,
            sms_hint_key => about.sms_hint,
            cancel_key => about.cancel,
            back_href => &about.back.0,
            back_id => about.back.1,
            back_key => about.back.2,
            done_action => about.done.as_ref().map(|d| d.0.as_str()),
            done_key => about.done.as_ref().map(|d| d.1),
            status_key => format!("op_status_{}", v.status),
            result_key => format!("{}{}", about.result_prefix, v.status),
            pending => v.status == "pending",
            approved => v.status == "approved",
            fields => fields,
            push => v.methods.contains(&"push"),
            otp => v.methods.contains(&"otp"),
            sms => v.methods.contains(&"sms"),
            qr_svg => qr,
            qr_payload => v.qr.as_deref(),
            until => when(v.expires_at, ctx.lang),
            until_iso => iso(v.expires_at),
            events => format!("{}/events", about.base),
            next => &about.base,
            error => page.error,
            notice => page.notice,
            fallback_open => page.fallback_open || page.sms_sent,
            sms_sent => page.sms_sent,
        },
    )
}

/// An operation that is not this customer's, or none: one answer for both.
fn not_found(state: &AppState, ctx: &Ctx, about: &Authorize) -> Response {
    state.web.message(ctx, StatusCode::NOT_FOUND, "err_payment_not_found", (&about.back.0, about.back.2))
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
    show_authorize(&state, ctx, &s.user.id, &id, q.sms.is_some(), &Authorize::payment(&id)).await
}

/// The authorization page of operation `id` as `about` describes it; not found when it
/// is not the user's or not of `about`'s kinds.
pub(crate) async fn show_authorize(
    state: &AppState,
    ctx: Ctx,
    user_id: &str,
    id: &str,
    sms: bool,
    about: &Authorize,
) -> Response {
    match state.services.operation_view(user_id, id).await {
        Ok(v) if about.shows(&v) => {
            let sms_sent = sms && v.status == "pending";
            let notice = sms_sent.then_some(about.sms_sent);
            let page = PageState { sms_sent, notice, ..PageState::default() };
            authorize_page(state, &ctx, StatusCode::OK, &v, page, about)
        }
        Ok(_) | Err(ServiceError::NotFound) => not_found(state, &ctx, about),
        Err(e) => state.web.error(ctx, e),
    }
}

/// The status as the stream sends it.
pub(crate) struct StatusEvent(pub(crate) String);

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
    follow_operation(state, s.user.id, id, &Authorize::payment("")).await
}

/// An operation's status as server-sent events, for the user's operations of `kinds`.
pub(crate) async fn follow_operation(state: AppState, user_id: String, id: String, about: &Authorize) -> Response {
    let woken = state.services.events.subscribe(Topic::Operation(id.clone()));
    let first = match state.services.operation_view(&user_id, &id).await {
        Ok(v) if about.shows(&v) => v.status,
        Ok(_) | Err(ServiceError::NotFound) => return StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            tracing::error!(error = %e, "operation events");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let fetch = move || {
        let (state, user_id, id) = (state.clone(), user_id.clone(), id.clone());
        async move { state.services.operation_view(&user_id, &id).await.ok().map(|v| StatusEvent(v.status)) }
    };
    Sse::new(follow(woken, StatusEvent(first), fetch)).keep_alive(KeepAlive::default()).into_response()
}

/// A failed action on an operation: decided meanwhile → its page shows the outcome;
/// unknown → not found; anything else → the error page.
fn action_failed(state: &AppState, ctx: Ctx, about: &Authorize, e: ServiceError) -> Response {
    match e {
        ServiceError::FlowOver => Redirect::to(&about.base).into_response(),
        ServiceError::NotFound => not_found(state, &ctx, about),
        other => state.web.error(ctx, other),
    }
}

/// Whether operation `id` of the user is one `about`'s page shows: `NotFound` if not.
async fn shown_on(state: &AppState, user_id: &str, id: &str, about: &Authorize) -> Result<(), ServiceError> {
    let v = state.services.operation_view(user_id, id).await?;
    if about.shows(&v) { Ok(()) } else { Err(ServiceError::NotFound) }
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
    submit_code(&state, ctx, &origin, &s.user, &id, &form, &Authorize::payment(&id)).await
}

/// A code typed on an authorization page: approved → the page shows it; wrong → the
/// page again with the error.
pub(crate) async fn submit_code(
    state: &AppState,
    ctx: Ctx,
    origin: &Origin,
    user: &User,
    id: &str,
    form: &OtpForm,
    about: &Authorize,
) -> Response {
    let code = form.code().trim();
    if let Err(e) = shown_on(state, &user.id, id, about).await {
        return action_failed(state, ctx, about, e);
    }
    match state.services.submit_operation_otp(user, id, code, origin).await {
        Ok(_) => Redirect::to(&about.base).into_response(),
        Err(ServiceError::AuthFailed) => match state.services.operation_view(&user.id, id).await {
            Ok(v) if v.status == "pending" => {
                let page = PageState {
                    error: Some("err_authentication_failed".into()),
                    fallback_open: true,
                    sms_sent: code.len() == 6 && v.methods.contains(&"sms"),
                    ..PageState::default()
                };
                authorize_page(state, &ctx, StatusCode::UNAUTHORIZED, &v, page, about)
            }
            // Too many wrong codes failed it: the page says so.
            Ok(_) => Redirect::to(&about.base).into_response(),
            Err(e) => action_failed(state, ctx, about, e),
        },
        Err(e) => action_failed(state, ctx, about, e),
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
    send_code(&state, ctx, &origin, &s.user, &id, &Authorize::payment(&id)).await
}

/// Sends an operation's SMS code from its authorization page.
pub(crate) async fn send_code(
    state: &AppState,
    ctx: Ctx,
    origin: &Origin,
    user: &User,
    id: &str,
    about: &Authorize,
) -> Response {
    if let Err(e) = shown_on(state, &user.id, id, about).await {
        return action_failed(state, ctx, about, e);
    }
    match state.services.send_operation_sms(user, id, origin).await {
        Ok(_) => Redirect::to(&format!("{}?sms=sent", about.base)).into_response(),
        Err(e @ (ServiceError::TooManyCodes | ServiceError::Forbidden)) => {
            match state.services.operation_view(&user.id, id).await {
                Ok(v) => {
                    let page = PageState {
                        error: Some(format!("err_{}", e.code())),
                        fallback_open: true,
                        ..PageState::default()
                    };
                    authorize_page(state, &ctx, e.http_status(), &v, page, about)
                }
                Err(e) => action_failed(state, ctx, about, e),
            }
        }
        Err(e) => action_failed(state, ctx, about, e),
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
    cancel(&state, ctx, &origin, &s.user, &id, &Authorize::payment(&id)).await
}

/// Withdraws an operation from its authorization page.
pub(crate) async fn cancel(
    state: &AppState,
    ctx: Ctx,
    origin: &Origin,
    user: &User,
    id: &str,
    about: &Authorize,
) -> Response {
    if let Err(e) = shown_on(state, &user.id, id, about).await {
        return action_failed(state, ctx, about, e);
    }
    match state.services.cancel_operation(user, id, origin).await {
        Ok(_) => Redirect::to(&about.base).into_response(),
        Err(e) => action_failed(state, ctx, about, e),
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
