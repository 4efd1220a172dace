//! The customer's cards and their Key6 in web banking (issue 5, DESIGN flow 8): the list
//! with each Key6's state, the form that sets or changes it, and "Visualizza Key6" and
//! "Sblocca Key6", which first need an SCA. That SCA is an operation about the card,
//! authorized on the same page as a payment ([`super::banking::Authorize`]: push with
//! server-sent events, SMS fallback); once approved, one button uses the approval to show
//! the Key6 once or to unlock it.
//!
//! The same pages serve the card portal ("Area Riservata", DESIGN flow 9) under
//! `/portal/cards`: [`CardHolder`] says which area a request is in, and every link and
//! redirect stays in it.

use super::auth::{CsrfOnly, OtpForm};
use super::banking::{self, Authorize};
use super::extract::{CardHolder, CsrfForm, has_csrf};
use super::forms::Ctx;
use crate::middleware::client::WebOrigin;
use crate::router::AppState;
use crate::service::ServiceError;
use crate::service::cards::{CardView, Key6Action};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// A card as the pages show it.
#[derive(Serialize)]
struct CardRow {
    id: String,
    brand: String,
    last4: String,
    kind_key: String,
    corporate: bool,
    /// `key6_state_unset`, `key6_state_active` or `key6_state_blocked`.
    state_key: &'static str,
    key6_set: bool,
    blocked: bool,
}

impl From<&CardView> for CardRow {
    fn from(c: &CardView) -> Self {
        let state_key = if c.key6_blocked {
            "key6_state_blocked"
        } else if c.key6_set {
            "key6_state_active"
        } else {
            "key6_state_unset"
        };
        Self {
            id: c.card_id.clone(),
            brand: brand_name(&c.brand).to_owned(),
            last4: c.last4.clone(),
            kind_key: format!("card_kind_{}", c.kind),
            corporate: c.corporate,
            state_key,
            key6_set: c.key6_set,
            blocked: c.key6_blocked,
        }
    }
}

fn brand_name(brand: &str) -> &str {
    match brand {
        "visa" => "Visa",
        "mastercard" => "Mastercard",
        other => other,
    }
}

fn parse_action(action: &str) -> Option<Key6Action> {
    match action {
        "view" => Some(Key6Action::View),
        "unlock" => Some(Key6Action::Unlock),
        _ => None,
    }
}

/// A card that is not this customer's, or none: one answer for both.
fn not_found(state: &AppState, ctx: &Ctx, area: &str) -> Response {
    state.web.message(ctx, StatusCode::NOT_FOUND, "err_card_not_found", (&format!("{area}/cards"), "cards_back"))
}

/// The customer's card `id`; `NotFound` for another's.
async fn own_card(state: &AppState, user_id: &str, id: &str) -> Result<CardView, ServiceError> {
    let cards = state.services.cards_of(user_id).await?;
    cards.into_iter().find(|c| c.card_id == id).ok_or(ServiceError::NotFound)
}

/// The page for an error no form shows.
fn failed(state: &AppState, ctx: Ctx, area: &str, e: ServiceError) -> Response {
    match e {
        ServiceError::NotFound => not_found(state, &ctx, area),
        other => state.web.error(ctx, other),
    }
}

/// `GET /cards`.
pub async fn cards_page(State(state): State<AppState>, ctx: Ctx, h: CardHolder) -> Response {
    match state.services.cards_of(&h.session.user.id).await {
        Ok(cards) => {
            let rows: Vec<CardRow> = cards.iter().map(CardRow::from).collect();
            state.web.render(&ctx, StatusCode::OK, "cards.html", context! { signed_in => true, cards => rows })
        }
        Err(e) => state.web.error(ctx, e),
    }
}

#[derive(Deserialize)]
pub struct Key6Query {
    saved: Option<String>,
}

/// The Key6 page of a card: its state, the form, the view and unlock buttons.
fn key6_page(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    card: &CardView,
    field_error: Option<String>,
    notice: Option<&'static str>,
) -> Response {
    state.web.render(
        ctx,
        status,
        "key6.html",
        context! { signed_in => true, card => CardRow::from(card), field_error => field_error, notice => notice },
    )
}

/// `GET /cards/{id}/key6`.
pub async fn key6(
    State(state): State<AppState>,
    ctx: Ctx,
    h: CardHolder,
    Path(id): Path<String>,
    Query(q): Query<Key6Query>,
) -> Response {
    match own_card(&state, &h.session.user.id, &id).await {
        Ok(card) => {
            let notice = q.saved.is_some().then_some("key6_saved");
            key6_page(&state, &ctx, StatusCode::OK, &card, None, notice)
        }
        Err(e) => failed(&state, ctx, h.area, e),
    }
}

#[derive(Deserialize)]
pub struct Key6Form {
    csrf: String,
    key6: Zeroizing<String>,
    key6_confirm: Zeroizing<String>,
}

has_csrf!(Key6Form);

/// `POST /cards/{id}/key6`: sets or changes the Key6 (typed twice); a refused one comes
/// back with the reason next to the field.
pub async fn key6_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    WebOrigin(origin): WebOrigin,
    h: CardHolder,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<Key6Form>,
) -> Response {
    let card = match own_card(&state, &h.session.user.id, &id).await {
        Ok(card) => card,
        Err(e) => return failed(&state, ctx, h.area, e),
    };
    let (code, again) = (form.key6.trim(), form.key6_confirm.trim());
    if code != again {
        let error = Some("err_key6_mismatch".to_owned());
        return key6_page(&state, &ctx, StatusCode::UNPROCESSABLE_ENTITY, &card, error, None);
    }
    match state.services.set_key6(&h.session.user.id, &id, code, &origin).await {
        Ok(()) => Redirect::to(&format!("{}/cards/{id}/key6?saved=1", h.area)).into_response(),
        Err(ServiceError::Invalid(rule)) => {
            let error = Some(format!("err_{rule}"));
            key6_page(&state, &ctx, StatusCode::UNPROCESSABLE_ENTITY, &card, error, None)
        }
        Err(ServiceError::Forbidden) => {
            let error = Some("err_key6_blocked".to_owned());
            key6_page(&state, &ctx, StatusCode::FORBIDDEN, &card, error, None)
        }
        Err(e) => failed(&state, ctx, h.area, e),
    }
}

/// `POST /cards/{id}/key6/{view|unlock}`: starts the SCA and opens its page.
pub async fn start_sca(
    State(state): State<AppState>,
    ctx: Ctx,
    WebOrigin(origin): WebOrigin,
    h: CardHolder,
    Path((id, action)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<CsrfOnly>,
) -> Response {
    let Some(key6_action) = parse_action(&action) else {
        return not_found(&state, &ctx, h.area);
    };
    match state.services.start_key6_sca(&h.session.user.id, &id, key6_action, &origin).await {
        Ok(op) => Redirect::to(&format!("{}/cards/{id}/key6/{action}/{op}", h.area)).into_response(),
        Err(e) => failed(&state, ctx, h.area, e),
    }
}

/// The authorization page of a Key6 SCA operation.
fn authorize(area: &str, card: &str, action: Key6Action, op: &str) -> Authorize {
    let (name, title, done) = match action {
        Key6Action::View => ("view", "key6_view_authorize_title", "key6_done_view"),
        Key6Action::Unlock => ("unlock", "key6_unlock_authorize_title", "key6_done_unlock"),
    };
    let base = format!("{area}/cards/{card}/key6/{name}/{op}");
    Authorize {
        done: Some((format!("{base}/done"), done)),
        base,
        title,
        result_prefix: "key6_result_",
        push_check: "key6_push_check",
        // A portal holder's SMS goes to the card's phone, a customer's to the certified one.
        sms_hint: if area.is_empty() { "key6_sms_hint" } else { "portal_key6_sms_hint" },
        sms_sent: "key6_sms_sent",
        cancel: "key6_cancel",
        back: (format!("{area}/cards/{card}/key6"), "key6-back", "key6_back"),
        kinds: match action {
            Key6Action::View => |k| k == Key6Action::View.kind(),
            Key6Action::Unlock => |k| k == Key6Action::Unlock.kind(),
        },
        subject: Some(card.to_owned()),
    }
}

#[derive(Deserialize)]
pub struct ScaPath {
    id: String,
    action: String,
    op: String,
}

impl ScaPath {
    fn authorize(&self, area: &str) -> Option<Authorize> {
        parse_action(&self.action).map(|a| authorize(area, &self.id, a, &self.op))
    }
}

#[derive(Deserialize)]
pub struct ScaQuery {
    sms: Option<String>,
}

/// `GET /cards/{id}/key6/{action}/{op}`: waits for the phone (or an SMS code); once
/// approved, offers the button that uses the approval.
pub async fn sca_page(
    State(state): State<AppState>,
    ctx: Ctx,
    h: CardHolder,
    Path(p): Path<ScaPath>,
    Query(q): Query<ScaQuery>,
) -> Response {
    let Some(about) = p.authorize(h.area) else { return not_found(&state, &ctx, h.area) };
    banking::show_authorize(&state, ctx, &h.session.user.id, &p.op, q.sms.is_some(), &about).await
}

/// `GET /cards/{id}/key6/{action}/{op}/events`.
pub async fn sca_events(State(state): State<AppState>, h: CardHolder, Path(p): Path<ScaPath>) -> Response {
    let Some(about) = p.authorize(h.area) else { return StatusCode::NOT_FOUND.into_response() };
    banking::follow_operation(state, h.session.user.id, p.op, &about).await
}

/// `POST /cards/{id}/key6/{action}/{op}/otp`: the SMS code.
pub async fn sca_otp(
    State(state): State<AppState>,
    ctx: Ctx,
    WebOrigin(origin): WebOrigin,
    h: CardHolder,
    Path(p): Path<ScaPath>,
    CsrfForm(form): CsrfForm<OtpForm>,
) -> Response {
    let Some(about) = p.authorize(h.area) else { return not_found(&state, &ctx, h.area) };
    banking::submit_code(&state, ctx, &origin, &h.session.user, &p.op, &form, &about).await
}

/// `POST /cards/{id}/key6/{action}/{op}/sms`: sends the SMS code (its text names the
/// card and what it authorizes).
pub async fn sca_sms(
    State(state): State<AppState>,
    ctx: Ctx,
    WebOrigin(origin): WebOrigin,
    h: CardHolder,
    Path(p): Path<ScaPath>,
    CsrfForm(_): CsrfForm<CsrfOnly>,
) -> Response {
    let Some(about) = p.authorize(h.area) else { return not_found(&state, &ctx, h.area) };
    banking::send_code(&state, ctx, &origin, &h.session.user, &p.op, &about).await
}

/// `POST /cards/{id}/key6/{action}/{op}/cancel`.
pub async fn sca_cancel(
    State(state): State<AppState>,
    ctx: Ctx,
    WebOrigin(origin): WebOrigin,
    h: CardHolder,
    Path(p): Path<ScaPath>,
    CsrfForm(_): CsrfForm<CsrfOnly>,
) -> Response {
    let Some(about) = p.authorize(h.area) else { return not_found(&state, &ctx, h.area) };
    banking::cancel(&state, ctx, &origin, &h.session.user, &p.op, &about).await
}

/// `POST /cards/{id}/key6/{action}/{op}/done`: uses the approval, once: shows the Key6
/// (this response only; the page is `no-store`) or unlocks it.
pub async fn sca_done(
    State(state): State<AppState>,
    ctx: Ctx,
    WebOrigin(origin): WebOrigin,
    h: CardHolder,
    Path(p): Path<ScaPath>,
    CsrfForm(_): CsrfForm<CsrfOnly>,
) -> Response {
    let back = format!("{}/cards/{}/key6", h.area, p.id);
    let card = match own_card(&state, &h.session.user.id, &p.id).await {
        Ok(card) => card,
        Err(e) => return failed(&state, ctx, h.area, e),
    };
    let result = match parse_action(&p.action) {
        Some(Key6Action::View) => match state.services.reveal_key6(&h.session.user.id, &p.id, &p.op, &origin).await {
            Ok(key6) => {
                let page =
                    context! { signed_in => true, card => CardRow::from(&card), key6 => key6.as_str(), back => back };
                return state.web.render(&ctx, StatusCode::OK, "key6_shown.html", page);
            }
            Err(e) => Err(e),
        },
        Some(Key6Action::Unlock) => state.services.unlock_key6(&h.session.user.id, &p.id, &p.op, &origin).await,
        None => Err(ServiceError::NotFound),
    };
    match result {
        Ok(()) => state.web.message(&ctx, StatusCode::OK, "key6_unlocked", (&back, "key6_back")),
        Err(ServiceError::Forbidden) => {
            state.web.message(&ctx, StatusCode::FORBIDDEN, "err_key6_sca_used", (&back, "key6_back"))
        }
        Err(e) => failed(&state, ctx, h.area, e),
    }
}
