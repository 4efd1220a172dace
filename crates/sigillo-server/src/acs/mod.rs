//! The 3-D Secure ACS surface (EMV 3DS 2.2.0, browser channel): the Directory Server's
//! `POST /3ds/v2/areq`, and the challenge pages that live in the merchant's iframe,
//! starting with the browser's `creq` form post to `POST /3ds/v2/challenge`.
//!
//! The pages carry the challenge's page token (the CReq answer mints it) in their forms
//! and links: third-party cookies may not reach an iframe, and the token is the CSRF
//! defence too. They may be framed by any merchant (`frame-ancestors *`), and their one
//! cross-site form goes to the transaction's own `notificationURL` only.

use crate::api::sse::follow;
use crate::middleware::client::WebOrigin;
use crate::router::AppState;
use crate::service::Origin;
use crate::service::ServiceError;
use crate::service::acs::challenge::{ChallengeState, ChallengeView, CreqRefusal, CresPost};
use crate::web::banking::StatusEvent;
use crate::web::forms::Ctx;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use minijinja::context;
use serde::Deserialize;

/// The pages' CSP: framed by any merchant, scripts and forms from here, plus the one
/// form to the merchant's notification URL (added per page).
const CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' data:; \
                   frame-ancestors *; base-uri 'none'";

/// Routes that take a credential (rate-limited per address like every other).
pub fn auth_routes() -> Router<AppState> {
    Router::new().route("/3ds/v2/challenge/{acs}/verify", post(verify))
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/3ds/v2/areq", post(areq))
        .route("/3ds/v2/challenge", post(creq))
        .route("/3ds/v2/challenge/{acs}", get(page))
        .route("/3ds/v2/challenge/{acs}/app", post(use_app))
        .route("/3ds/v2/challenge/{acs}/sms", post(send_sms))
        .route("/3ds/v2/challenge/{acs}/cancel", post(cancel))
        .route("/3ds/v2/challenge/{acs}/events", get(events))
        .route("/static/autopost.js", get(autopost_js))
}

const AUTOPOST_JS: &str = include_str!("../../static/autopost.js");

async fn autopost_js() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], AUTOPOST_JS).into_response()
}

/// `POST /3ds/v2/areq`: an AReq from the DS → ARes, or Erro for a message the ACS
/// cannot accept (HTTP 200 either way: the Erro is the answer, EMV 3DS §5.9.2).
async fn areq(State(state): State<AppState>, body: Bytes) -> Response {
    match state.services.handle_areq(&body).await {
        Ok(answer) => (StatusCode::OK, axum::Json(answer)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "AReq failed");
            let erro = serde_json::json!({
                "messageType": "Erro", "messageVersion": "2.2.0", "errorCode": "403",
                "errorComponent": "A", "errorDescription": "Transient system failure",
                "errorDetail": "ACS temporarily unavailable",
            });
            (StatusCode::SERVICE_UNAVAILABLE, axum::Json(erro)).into_response()
        }
    }
}

#[derive(Deserialize)]
struct CreqForm {
    creq: Option<String>,
    #[serde(rename = "threeDSSessionData")]
    session_data: Option<String>,
}

#[derive(Deserialize)]
struct TokenForm {
    t: String,
}

#[derive(Deserialize)]
struct VerifyForm {
    t: String,
    otp: String,
    key6: String,
}

/// The challenge pages' requests, as the audit trail names them.
fn acs_origin(origin: Origin) -> Origin {
    Origin { channel: "acs", ..origin }
}

/// `POST /3ds/v2/challenge`: the browser's first CReq opens the challenge.
async fn creq(
    State(state): State<AppState>,
    ctx: Ctx,
    WebOrigin(web_origin): WebOrigin,
    Form(form): Form<CreqForm>,
) -> Response {
    let Some(creq) = form.creq.filter(|c| !c.is_empty()) else {
        return message(&state, &ctx, StatusCode::BAD_REQUEST, "acs_creq_invalid");
    };
    match state.services.open_challenge(&creq, form.session_data.as_deref(), &acs_origin(web_origin)).await {
        Ok(Ok((token, view))) => render_open(&state, &ctx, &token, &view, None),
        Ok(Err(CreqRefusal::Invalid(erro))) => {
            tracing::info!(code = erro.error_code.code(), detail = %erro.error_detail, "CReq refused");
            message(&state, &ctx, StatusCode::BAD_REQUEST, "acs_creq_invalid")
        }
        Ok(Err(CreqRefusal::NotOpen)) => message(&state, &ctx, StatusCode::CONFLICT, "acs_creq_not_open"),
        Err(e) => failed(&state, &ctx, e),
    }
}

/// `GET /3ds/v2/challenge/{acs}?t=…`: the challenge as it stands (where the waiting page
/// goes when the app answered).
async fn page(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(acs): Path<String>,
    Query(q): Query<TokenForm>,
) -> Response {
    show(&state, &ctx, &acs, &q.t, None).await
}

async fn use_app(
    State(state): State<AppState>,
    ctx: Ctx,
    WebOrigin(web_origin): WebOrigin,
    Path(acs): Path<String>,
    Form(f): Form<TokenForm>,
) -> Response {
    match state.services.challenge_use_app(&acs, &f.t, &acs_origin(web_origin)).await {
        Ok(_) => show(&state, &ctx, &acs, &f.t, None).await,
        Err(e) => after_error(&state, &ctx, &acs, &f.t, e).await,
    }
}

async fn send_sms(
    State(state): State<AppState>,
    ctx: Ctx,
    WebOrigin(web_origin): WebOrigin,
    Path(acs): Path<String>,
    Form(f): Form<TokenForm>,
) -> Response {
    match state.services.challenge_send_otp(&acs, &f.t, &acs_origin(web_origin)).await {
        Ok(()) => show(&state, &ctx, &acs, &f.t, None).await,
        Err(e) => after_error(&state, &ctx, &acs, &f.t, e).await,
    }
}

async fn verify(
    State(state): State<AppState>,
    ctx: Ctx,
    WebOrigin(web_origin): WebOrigin,
    Path(acs): Path<String>,
    Form(f): Form<VerifyForm>,
) -> Response {
    match state.services.challenge_verify(&acs, &f.t, &f.otp, &f.key6, &acs_origin(web_origin)).await {
        Ok(ChallengeState::Done(post)) => render_cres(&state, &ctx, &post),
        Ok(ChallengeState::Open(view)) => render_open(&state, &ctx, &f.t, &view, None),
        Err(e) => after_error(&state, &ctx, &acs, &f.t, e).await,
    }
}

async fn cancel(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(acs): Path<String>,
    Form(f): Form<TokenForm>,
) -> Response {
    match state.services.challenge_cancel(&acs, &f.t).await {
        Ok(ChallengeState::Done(post)) => render_cres(&state, &ctx, &post),
        Ok(ChallengeState::Open(view)) => render_open(&state, &ctx, &f.t, &view, None),
        Err(e) => after_error(&state, &ctx, &acs, &f.t, e).await,
    }
}

/// `GET /3ds/v2/challenge/{acs}/events?t=…`: `pending` until the challenge ends, then
/// `done` (the waiting page then loads the challenge page, which posts the CRes).
async fn events(State(state): State<AppState>, Path(acs): Path<String>, Query(q): Query<TokenForm>) -> Response {
    // The end of a challenge (by the app, a code, a cancel or the sweep) publishes this topic.
    let woken = state.services.events.subscribe(crate::events::Topic::Challenge(acs.clone()));
    let status = |s: &ChallengeState| match s {
        ChallengeState::Open(_) => "pending".to_owned(),
        ChallengeState::Done(_) => "done".to_owned(),
    };
    let first = match state.services.challenge(&acs, &q.t).await {
        Ok(s) => StatusEvent(status(&s)),
        Err(_) => return StatusCode::NOT_FOUND.into_response(),
    };
    let fetch = move || {
        let (state, acs, token) = (state.clone(), acs.clone(), q.t.clone());
        async move { state.services.challenge(&acs, &token).await.ok().map(|s| StatusEvent(status(&s))) }
    };
    let mut resp = Sse::new(follow(woken, first, fetch)).keep_alive(KeepAlive::default()).into_response();
    frameable(&mut resp, None);
    resp
}

/// Shows the challenge (or posts its CRes when it is over).
async fn show(state: &AppState, ctx: &Ctx, acs: &str, token: &str, error: Option<&str>) -> Response {
    match state.services.challenge(acs, token).await {
        Ok(ChallengeState::Open(view)) => render_open(state, ctx, token, &view, error),
        Ok(ChallengeState::Done(post)) => render_cres(state, ctx, &post),
        Err(e) => failed(state, ctx, e),
    }
}

/// A refused action: a wrong code re-shows the form with the one message for any wrong
/// code (P9); a challenge that ended meanwhile posts its CRes.
async fn after_error(state: &AppState, ctx: &Ctx, acs: &str, token: &str, e: ServiceError) -> Response {
    match e {
        ServiceError::AuthFailed => show(state, ctx, acs, token, Some("acs_wrong_codes")).await,
        ServiceError::TooManyCodes => show(state, ctx, acs, token, Some("err_too_many_codes")).await,
        ServiceError::FlowOver | ServiceError::Forbidden => show(state, ctx, acs, token, None).await,
        other => failed(state, ctx, other),
    }
}

fn render_open(state: &AppState, ctx: &Ctx, token: &str, view: &ChallengeView, error: Option<&str>) -> Response {
    let waiting_app = view.method.as_deref() == Some("app") && view.operation_id.is_some();
    let otp_sent = view.otp_sent_to.is_some();
    let base = format!("/3ds/v2/challenge/{}", view.acs_trans_id);
    let mut resp = state.web.render(
        ctx,
        if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK },
        "acs_challenge.html",
        context! {
            v => context! {
                acs_trans_id => &view.acs_trans_id, merchant => &view.merchant, amount => &view.amount,
                currency => &view.currency, brand => &view.brand, last4 => &view.last4,
                window_size => &view.window_size, app => view.app, sms_key6 => view.sms_key6,
                otp_sent_to => &view.otp_sent_to, otp_sends_left => view.otp_sends_left,
            },
            token, base, waiting_app, otp_sent,
            events => format!("{base}/events?t={token}"),
            next => format!("{base}?t={token}"),
            error,
        },
    );
    frameable(&mut resp, None);
    resp
}

/// The end of a challenge: a form that posts the CRes and the unchanged
/// `threeDSSessionData` to the merchant's `notificationURL` (by script, or by hand).
fn render_cres(state: &AppState, ctx: &Ctx, post: &CresPost) -> Response {
    let mut resp = state.web.render(
        ctx,
        StatusCode::OK,
        "acs_cres.html",
        context! {
            notification_url => &post.notification_url, cres => &post.cres,
            session_data => &post.session_data, authenticated => post.trans_status == "Y",
        },
    );
    frameable(&mut resp, url_origin(&post.notification_url).as_deref());
    resp
}

fn message(state: &AppState, ctx: &Ctx, status: StatusCode, key: &str) -> Response {
    let mut resp = state.web.render(ctx, status, "acs_message.html", context! { message_key => key });
    frameable(&mut resp, None);
    resp
}

fn failed(state: &AppState, ctx: &Ctx, e: ServiceError) -> Response {
    match e {
        ServiceError::NotFound => message(state, ctx, StatusCode::NOT_FOUND, "acs_not_found"),
        ServiceError::Internal(inner) => {
            tracing::error!(error = %inner, "challenge page");
            message(state, ctx, StatusCode::INTERNAL_SERVER_ERROR, "err_internal")
        }
        other => message(state, ctx, other.http_status(), "acs_over"),
    }
}

/// Lets the merchant frame the page; `form_to` adds the one cross-site form target.
fn frameable(resp: &mut Response, form_to: Option<&str>) {
    let csp = match form_to {
        Some(origin) => format!("{CSP}; form-action 'self' {origin}"),
        None => format!("{CSP}; form-action 'self'"),
    };
    if let Ok(value) = HeaderValue::from_str(&csp) {
        resp.headers_mut().insert(header::CONTENT_SECURITY_POLICY, value);
    }
}

/// `scheme://host[:port]` of an absolute http(s) URL.
fn url_origin(url: &str) -> Option<String> {
    let parsed = reqwest::Url::parse(url).ok()?;
    matches!(parsed.scheme(), "http" | "https").then(|| parsed.origin().ascii_serialization())
}
