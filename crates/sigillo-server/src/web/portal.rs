//! The card holders' portal ("Area Riservata", DESIGN flow 9) as web pages under
//! `/portal`: login with the UserID (password, then an SMS code to the card's phone),
//! "Iscriviti" (card data, SMS code, password → the UserID; done again it replaces a
//! forgotten password), and the forgotten UserID (sent by SMS). Once in, the holder's
//! cards and their Key6 are [`super::cards`]' pages under `/portal/cards`.
//!
//! Its session, login flow and registration have cookies of their own: a web banking
//! session never opens the portal, nor a portal session web banking.

use super::auth::{CsrfOnly, OtpForm};
use super::extract::{CsrfForm, PortalSession, has_csrf};
use super::forms::{Ctx, PORTAL_FLOW, PORTAL_REGISTRATION, PORTAL_SESSION};
use crate::middleware::client::WebOrigin;
use crate::notify::texts::OtpPurpose;
use crate::router::AppState;
use crate::service::ServiceError;
use crate::service::portal::CardData;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::{Value, context};
use serde::Deserialize;
use zeroize::Zeroizing;

/// The portal's path prefix.
pub const AREA: &str = "/portal";
pub const LOGIN: &str = "/portal/login";
const LOGIN_OTP: &str = "/portal/login/otp";
const REGISTER: &str = "/portal/register";
const REGISTER_COMPLETE: &str = "/portal/register/complete";
const CARDS: &str = "/portal/cards";
const USER_ID: &str = "/portal/user-id";

/// Whether `path` is in the portal.
pub fn in_area(path: &str) -> bool {
    path == AREA || path.starts_with("/portal/")
}

#[derive(Deserialize)]
pub struct LoginForm {
    csrf: String,
    user_id: String,
    password: Zeroizing<String>,
}

/// The card data: the PAN is card data, not a secret, but it never goes back into a page.
#[derive(Deserialize)]
pub struct CardDataForm {
    csrf: String,
    pan: Zeroizing<String>,
    expiry: String,
}

#[derive(Deserialize)]
pub struct RegisterCompleteForm {
    csrf: String,
    code: Zeroizing<String>,
    new_password: Zeroizing<String>,
    confirm_password: Zeroizing<String>,
}

has_csrf!(LoginForm, CardDataForm, RegisterCompleteForm);

impl CardDataForm {
    fn data(&self) -> CardData<'_> {
        CardData { pan: &self.pan, expiry: &self.expiry }
    }
}

/// `GET /portal`: the cards once signed in, the login otherwise.
pub async fn home(State(state): State<AppState>, ctx: Ctx) -> Response {
    match ctx.get(PORTAL_SESSION) {
        Some(token) if state.services.authenticate_portal(&token).await.is_ok() => Redirect::to(CARDS).into_response(),
        _ => Redirect::to(LOGIN).into_response(),
    }
}

#[derive(Deserialize)]
pub struct LoginQuery {
    /// Set by the logout's redirect: the page says the holder is out.
    bye: Option<String>,
}

pub async fn login_page(State(state): State<AppState>, ctx: Ctx, Query(q): Query<LoginQuery>) -> Response {
    if let Some(token) = ctx.get(PORTAL_SESSION) {
        if state.services.authenticate_portal(&token).await.is_ok() {
            return Redirect::to(CARDS).into_response();
        }
    }
    let notice = q.bye.is_some().then_some("portal_logged_out");
    state.web.render(&ctx, StatusCode::OK, "portal_login.html", context! { notice => notice })
}

/// `POST /portal/login`: UserID + password; on success the SMS code is already on its way.
pub async fn login_submit(
    State(state): State<AppState>,
    mut ctx: Ctx,
    WebOrigin(origin): WebOrigin,
    CsrfForm(form): CsrfForm<LoginForm>,
) -> Response {
    match state.services.start_portal_login(&form.user_id, &form.password, &origin).await {
        Ok(handle) => {
            ctx.set(PORTAL_FLOW, handle);
            (ctx.jar, Redirect::to(LOGIN_OTP)).into_response()
        }
        Err(ServiceError::AuthFailed) => state.web.render(
            &ctx,
            StatusCode::UNAUTHORIZED,
            "portal_login.html",
            context! { error => "err_authentication_failed", user_id => form.user_id },
        ),
        Err(e) => state.web.error(ctx, e),
    }
}

fn otp_page_for(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    error: Option<String>,
    notice: Option<&str>,
) -> Response {
    let page = context! {
        action => LOGIN_OTP, resend => "/portal/login/otp/resend", error => error, notice => notice,
        intro => "portal_otp_intro",
    };
    state.web.render(ctx, status, "otp.html", page)
}

pub async fn otp_page(State(state): State<AppState>, ctx: Ctx) -> Response {
    if ctx.get(PORTAL_FLOW).is_none() {
        return Redirect::to(LOGIN).into_response();
    }
    otp_page_for(&state, &ctx, StatusCode::OK, None, None)
}

/// `POST /portal/login/otp`: the SMS code → the portal session.
pub async fn otp_submit(
    State(state): State<AppState>,
    mut ctx: Ctx,
    WebOrigin(origin): WebOrigin,
    CsrfForm(form): CsrfForm<OtpForm>,
) -> Response {
    let Some(flow) = ctx.get(PORTAL_FLOW) else {
        return Redirect::to(LOGIN).into_response();
    };
    match state.services.submit_portal_otp(&flow, form.code(), &origin).await {
        Ok(grant) => {
            ctx.remove(PORTAL_FLOW);
            ctx.set(PORTAL_SESSION, grant.token);
            (ctx.jar, Redirect::to(CARDS)).into_response()
        }
        Err(e @ ServiceError::AuthFailed) => {
            otp_page_for(&state, &ctx, StatusCode::UNAUTHORIZED, Some(format!("err_{}", e.code())), None)
        }
        Err(e) => state.web.error(ctx, e),
    }
}

pub async fn otp_resend(
    State(state): State<AppState>,
    ctx: Ctx,
    WebOrigin(origin): WebOrigin,
    CsrfForm(_): CsrfForm<CsrfOnly>,
) -> Response {
    super::auth::resend(&state, ctx, &origin, PORTAL_FLOW, OtpPurpose::PortalLogin, otp_page_for).await
}

pub async fn logout(
    State(state): State<AppState>,
    mut ctx: Ctx,
    WebOrigin(origin): WebOrigin,
    PortalSession(s): PortalSession,
    CsrfForm(_): CsrfForm<CsrfOnly>,
) -> Response {
    if let Err(e) = state.services.logout(&s, &origin).await {
        return state.web.error(ctx, e);
    }
    ctx.remove(PORTAL_SESSION);
    // A redirect, not a page: the language switch and a reload must not repeat a POST.
    (ctx.jar, Redirect::to("/portal/login?bye=1")).into_response()
}

/// "Iscriviti" and "Hai dimenticato lo UserID?" ask for the same card data.
#[derive(Clone, Copy)]
enum CardDataPage {
    Register,
    UserId,
}

impl CardDataPage {
    fn render(self, state: &AppState, ctx: &Ctx, status: StatusCode, extra: Value) -> Response {
        let page = match self {
            Self::Register => context! {
                title => "portal_register_title", intro => "portal_register_intro", submit => "portal_continue",
                action => REGISTER, form_id => "portal-register-form",
            },
            Self::UserId => context! {
                title => "portal_user_id_title", intro => "portal_user_id_intro", submit => "portal_send_user_id",
                action => USER_ID, form_id => "portal-user-id-form",
            },
        };
        state.web.render(ctx, status, "portal_card_data.html", context! { ..extra, ..page })
    }

    /// A refused form: a malformed PAN or expiry is said next to its field (no card is
    /// looked up for it, so this reveals nothing).
    fn refused(self, state: &AppState, ctx: Ctx, e: ServiceError, expiry: &str) -> Response {
        match e {
            ServiceError::Invalid(rule) => {
                let extra = context! { field_error => format!("err_{rule}"), field => rule, expiry => expiry };
                self.render(state, &ctx, StatusCode::UNPROCESSABLE_ENTITY, extra)
            }
            other => state.web.error(ctx, other),
        }
    }
}

pub async fn register_page(State(state): State<AppState>, ctx: Ctx) -> Response {
    CardDataPage::Register.render(&state, &ctx, StatusCode::OK, context! {})
}

/// `POST /portal/register`: the card data. The next page is the same whatever they
/// matched; the code goes only to the card's phone.
pub async fn register_submit(
    State(state): State<AppState>,
    mut ctx: Ctx,
    WebOrigin(origin): WebOrigin,
    CsrfForm(form): CsrfForm<CardDataForm>,
) -> Response {
    match state.services.start_portal_registration(&form.data(), &origin).await {
        Ok(started) => {
            ctx.set(PORTAL_REGISTRATION, started.handle);
            (ctx.jar, Redirect::to(REGISTER_COMPLETE)).into_response()
        }
        Err(e) => CardDataPage::Register.refused(&state, ctx, e, &form.expiry),
    }
}

fn register_complete_for(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    error: Option<String>,
    notice: Option<&str>,
) -> Response {
    let hint = state.web_password_hint();
    let page = context! {
        error => error, notice => notice, password_hint => hint,
        title => "portal_register_title", intro => "portal_register_code_intro", submit => "portal_register_submit",
        action => REGISTER_COMPLETE, resend => "/portal/register/resend", form_id => "portal-register-complete-form",
        back => (LOGIN, "portal-back", "portal_back_to_login"),
    };
    state.web.render(ctx, status, "recovery_complete.html", page)
}

pub async fn register_complete_page(State(state): State<AppState>, ctx: Ctx) -> Response {
    if ctx.get(PORTAL_REGISTRATION).is_none() {
        return Redirect::to(REGISTER).into_response();
    }
    register_complete_for(&state, &ctx, StatusCode::OK, None, None)
}

/// `POST /portal/register/complete`: the SMS code and the new password → the UserID.
pub async fn register_complete_submit(
    State(state): State<AppState>,
    mut ctx: Ctx,
    WebOrigin(origin): WebOrigin,
    CsrfForm(form): CsrfForm<RegisterCompleteForm>,
) -> Response {
    let Some(handle) = ctx.get(PORTAL_REGISTRATION) else {
        return Redirect::to(REGISTER).into_response();
    };
    if *form.new_password != *form.confirm_password {
        let error = Some("err_password_mismatch".to_owned());
        return register_complete_for(&state, &ctx, StatusCode::UNPROCESSABLE_ENTITY, error, None);
    }
    match state.services.complete_portal_registration(&handle, &form.code, &form.new_password, &origin).await {
        Ok(user_id) => {
            ctx.remove(PORTAL_REGISTRATION);
            ctx.remove(PORTAL_SESSION);
            state.web.render(&ctx, StatusCode::OK, "portal_registered.html", context! { user_id => user_id })
        }
        Err(e @ (ServiceError::Invalid(_) | ServiceError::AuthFailed | ServiceError::FlowOver)) => {
            // An expired or used registration reads as any other failure (P9).
            let shown = if matches!(e, ServiceError::FlowOver) { ServiceError::AuthFailed } else { e };
            register_complete_for(&state, &ctx, shown.http_status(), Some(format!("err_{}", shown.code())), None)
        }
        Err(e) => state.web.error(ctx, e),
    }
}

pub async fn register_resend(
    State(state): State<AppState>,
    ctx: Ctx,
    WebOrigin(origin): WebOrigin,
    CsrfForm(_): CsrfForm<CsrfOnly>,
) -> Response {
    let Some(handle) = ctx.get(PORTAL_REGISTRATION) else {
        return Redirect::to(REGISTER).into_response();
    };
    match state.services.send_registration_otp(&handle, &origin).await {
        Ok(()) => register_complete_for(&state, &ctx, StatusCode::OK, None, Some("otp_resent")),
        Err(e @ (ServiceError::TooManyCodes | ServiceError::FlowOver)) => {
            register_complete_for(&state, &ctx, e.http_status(), Some(format!("err_{}", e.code())), None)
        }
        Err(e) => state.web.error(ctx, e),
    }
}

pub async fn user_id_page(State(state): State<AppState>, ctx: Ctx) -> Response {
    CardDataPage::UserId.render(&state, &ctx, StatusCode::OK, context! {})
}

/// `POST /portal/user-id`: the card data → the UserID by SMS to the card's phone. The
/// answer is the same whatever they matched.
pub async fn user_id_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    WebOrigin(origin): WebOrigin,
    CsrfForm(form): CsrfForm<CardDataForm>,
) -> Response {
    match state.services.remind_portal_user_id(&form.data(), &origin).await {
        Ok(()) => state.web.message(&ctx, StatusCode::OK, "portal_user_id_sent", (LOGIN, "portal_back_to_login")),
        Err(e) => CardDataPage::UserId.refused(&state, ctx, e, &form.expiry),
    }
}
