//! Login (password, then SMS OTP, or the push page of [`super::push`] when the customer
//! has a bound phone) and recovery (security code, then SMS OTP and a new password) as
//! web pages.

use super::extract::{CsrfForm, has_csrf};
use super::forms::{Ctx, LOGIN_FLOW, RECOVERY_FLOW, SESSION};
use crate::middleware::client::WebOrigin;
use crate::notify::texts::OtpPurpose;
use crate::router::AppState;
use crate::service::ServiceError;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;
use serde::Deserialize;
use zeroize::Zeroizing;

#[derive(Deserialize)]
pub struct CredentialsForm {
    csrf: String,
    username: String,
    /// The password (login) or the security code (recovery).
    #[serde(alias = "password", alias = "security_code")]
    secret: Zeroizing<String>,
}

#[derive(Deserialize)]
pub struct OtpForm {
    csrf: String,
    code: Zeroizing<String>,
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf: String,
}

#[derive(Deserialize)]
pub struct RecoveryCompleteForm {
    csrf: String,
    code: Zeroizing<String>,
    new_password: Zeroizing<String>,
    confirm_password: Zeroizing<String>,
}

has_csrf!(CredentialsForm, OtpForm, CsrfOnly, RecoveryCompleteForm);

impl OtpForm {
    pub(super) fn code(&self) -> &str {
        &self.code
    }
}

pub async fn login_page(State(state): State<AppState>, ctx: Ctx) -> Response {
    if let Some(token) = ctx.get(SESSION) {
        if state.services.authenticate(&token).await.is_ok() {
            return Redirect::to("/").into_response();
        }
    }
    state.web.render(&ctx, StatusCode::OK, "login.html", context! {})
}

/// Step one of a login or a recovery: on success the flow handle is kept in an HttpOnly
/// cookie, and either the login was pushed to the customer's phone (the page waits for
/// it, [`super::push`]) or the flow's SMS OTP goes out at once.
async fn start_flow(
    state: &AppState,
    mut ctx: Ctx,
    origin: &crate::service::Origin,
    form: CredentialsForm,
    purpose: OtpPurpose,
) -> Response {
    let (started, template, cookie, next) = match purpose {
        OtpPurpose::Recovery => (
            state.services.start_recovery(&form.username, &form.secret, origin).await,
            "recovery.html",
            RECOVERY_FLOW,
            "/recovery/complete",
        ),
        _ => (
            state.services.start_login(&form.username, &form.secret, origin).await,
            "login.html",
            LOGIN_FLOW,
            "/login/otp",
        ),
    };
    let started = match started {
        Ok(s) => s,
        Err(ServiceError::AuthFailed) => {
            return state.web.render(
                &ctx,
                StatusCode::UNAUTHORIZED,
                template,
                context! {
                    error => "err_authentication_failed", username => form.username,
                },
            );
        }
        Err(e) => return state.web.error(ctx, e),
    };
    if purpose == OtpPurpose::Login && started.methods.contains(&"push") {
        ctx.set(cookie, started.flow);
        return (ctx.jar, Redirect::to(super::push::PUSH_PAGE)).into_response();
    }
    if let Err(e) = state.services.send_flow_otp(&started.flow, purpose, origin).await {
        return state.web.error(ctx, e);
    }
    ctx.set(cookie, started.flow);
    (ctx.jar, Redirect::to(next)).into_response()
}

pub async fn login_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    WebOrigin(origin): WebOrigin,
    CsrfForm(form): CsrfForm<CredentialsForm>,
) -> Response {
    start_flow(&state, ctx, &origin, form, OtpPurpose::Login).await
}

fn otp_page_for(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    error: Option<String>,
    notice: Option<&str>,
) -> Response {
    state.web.render(
        ctx,
        status,
        "otp.html",
        context! {
            action => "/login/otp", resend => "/login/otp/resend", error => error, notice => notice,
        },
    )
}

pub async fn otp_page(State(state): State<AppState>, ctx: Ctx) -> Response {
    if ctx.get(LOGIN_FLOW).is_none() {
        return Redirect::to("/login").into_response();
    }
    otp_page_for(&state, &ctx, StatusCode::OK, None, None)
}

pub async fn otp_submit(
    State(state): State<AppState>,
    mut ctx: Ctx,
    WebOrigin(origin): WebOrigin,
    CsrfForm(form): CsrfForm<OtpForm>,
) -> Response {
    let Some(flow) = ctx.get(LOGIN_FLOW) else {
        return Redirect::to("/login").into_response();
    };
    match state.services.submit_login_otp(&flow, &form.code, &origin).await {
        Ok(grant) => {
            ctx.remove(LOGIN_FLOW);
            // A former hardware-token customer without a bound phone hears about the app at
            // every login (DESIGN flow 10) until one is bound.
            let next = if grant.must_change_password {
                "/first-access"
            } else if grant.recommend_app {
                super::account::APP_RECOMMENDED
            } else {
                "/"
            };
            ctx.set(SESSION, grant.token);
            (ctx.jar, Redirect::to(next)).into_response()
        }
        Err(e @ ServiceError::AuthFailed) => {
            otp_page_for(&state, &ctx, StatusCode::UNAUTHORIZED, Some(format!("err_{}", e.code())), None)
        }
        Err(e) => state.web.error(ctx, e),
    }
}

/// Sends the flow's code again; `page` renders the flow's page with a notice or error.
pub(super) async fn resend(
    state: &AppState,
    ctx: Ctx,
    origin: &crate::service::Origin,
    cookie: &str,
    purpose: OtpPurpose,
    page: fn(&AppState, &Ctx, StatusCode, Option<String>, Option<&str>) -> Response,
) -> Response {
    let Some(flow) = ctx.get(cookie) else {
        let start = match purpose {
            OtpPurpose::Recovery => "/recovery",
            OtpPurpose::PortalLogin => super::portal::LOGIN,
            _ => "/login",
        };
        return Redirect::to(start).into_response();
    };
    match state.services.send_flow_otp(&flow, purpose, origin).await {
        Ok(_) => page(state, &ctx, StatusCode::OK, None, Some("otp_resent")),
        Err(e @ (ServiceError::TooManyCodes | ServiceError::FlowOver)) => {
            page(state, &ctx, e.http_status(), Some(format!("err_{}", e.code())), None)
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
    resend(&state, ctx, &origin, LOGIN_FLOW, OtpPurpose::Login, otp_page_for).await
}

pub async fn recovery_page(State(state): State<AppState>, ctx: Ctx) -> Response {
    state.web.render(&ctx, StatusCode::OK, "recovery.html", context! {})
}

pub async fn recovery_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    WebOrigin(origin): WebOrigin,
    CsrfForm(form): CsrfForm<CredentialsForm>,
) -> Response {
    start_flow(&state, ctx, &origin, form, OtpPurpose::Recovery).await
}

fn recovery_complete_for(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    error: Option<String>,
    notice: Option<&str>,
) -> Response {
    let hint = state.web_password_hint();
    let page = context! {
        error => error, notice => notice, password_hint => hint,
        title => "recovery_complete_title", intro => "otp_intro", submit => "recovery_submit",
        action => "/recovery/complete", resend => "/recovery/resend", form_id => "recovery-complete-form",
    };
    state.web.render(ctx, status, "recovery_complete.html", page)
}

pub async fn recovery_complete_page(State(state): State<AppState>, ctx: Ctx) -> Response {
    if ctx.get(RECOVERY_FLOW).is_none() {
        return Redirect::to("/recovery").into_response();
    }
    recovery_complete_for(&state, &ctx, StatusCode::OK, None, None)
}

pub async fn recovery_complete_submit(
    State(state): State<AppState>,
    mut ctx: Ctx,
    WebOrigin(origin): WebOrigin,
    CsrfForm(form): CsrfForm<RecoveryCompleteForm>,
) -> Response {
    let Some(flow) = ctx.get(RECOVERY_FLOW) else {
        return Redirect::to("/recovery").into_response();
    };
    if *form.new_password != *form.confirm_password {
        return recovery_complete_for(
            &state,
            &ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("err_password_mismatch".into()),
            None,
        );
    }
    match state.services.complete_recovery(&flow, &form.code, &form.new_password, &origin).await {
        Ok(()) => {
            ctx.remove(RECOVERY_FLOW);
            ctx.remove(SESSION);
            state.web.message(&ctx, StatusCode::OK, "recovery_done", ("/login", "back_to_login"))
        }
        Err(e @ (ServiceError::Invalid(_) | ServiceError::AuthFailed | ServiceError::FlowOver)) => {
            // An expired or used flow reads as any other failure (P9).
            let shown = if matches!(e, ServiceError::FlowOver) { ServiceError::AuthFailed } else { e };
            recovery_complete_for(&state, &ctx, shown.http_status(), Some(format!("err_{}", shown.code())), None)
        }
        Err(e) => state.web.error(ctx, e),
    }
}

pub async fn recovery_resend(
    State(state): State<AppState>,
    ctx: Ctx,
    WebOrigin(origin): WebOrigin,
    CsrfForm(_): CsrfForm<CsrfOnly>,
) -> Response {
    resend(&state, ctx, &origin, RECOVERY_FLOW, OtpPurpose::Recovery, recovery_complete_for).await
}

impl AppState {
    /// The text key describing the configured password policy.
    pub fn web_password_hint(&self) -> &'static str {
        match self.services.cfg.security.password.kind {
            sigillo_core::password::PolicyKind::Numeric => "password_hint_numeric",
            sigillo_core::password::PolicyKind::Nist => "password_hint_nist",
        }
    }
}
