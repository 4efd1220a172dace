//! Login (password, then SMS OTP) and recovery (security code, then SMS OTP and a new
//! password) as web pages.

use super::forms::{Ctx, LOGIN_FLOW, RECOVERY_FLOW, SESSION};
use crate::middleware::client::WebOrigin;
use crate::notify::texts::OtpPurpose;
use crate::router::AppState;
use crate::service::ServiceError;
use axum::Form;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;
use serde::Deserialize;
use zeroize::Zeroizing;

/// Unwraps a form, or answers with the "page expired" message when it is malformed
/// or its CSRF token is not this browser's.
#[expect(clippy::result_large_err, reason = "the error is the response itself, returned at once")]
pub(super) fn checked<T: HasCsrf>(
    state: &AppState,
    ctx: &Ctx,
    form: Result<Form<T>, FormRejection>,
) -> Result<T, Response> {
    match form {
        Ok(Form(f)) if ctx.csrf_ok(f.csrf()) => Ok(f),
        Ok(_) => Err(state.web.message(ctx, StatusCode::FORBIDDEN, "err_csrf", ("/", "nav_home"))),
        Err(_) => Err(state.web.message(ctx, StatusCode::BAD_REQUEST, "err_malformed_request", ("/", "nav_home"))),
    }
}

pub(super) trait HasCsrf {
    fn csrf(&self) -> &str;
}

macro_rules! has_csrf {
    ($($t:ty),*) => { $(impl HasCsrf for $t { fn csrf(&self) -> &str { &self.csrf } })* };
}
pub(super) use has_csrf;

#[derive(Deserialize)]
pub struct LoginForm {
    csrf: String,
    username: String,
    password: Zeroizing<String>,
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
pub struct RecoveryForm {
    csrf: String,
    username: String,
    security_code: Zeroizing<String>,
}

#[derive(Deserialize)]
pub struct RecoveryCompleteForm {
    csrf: String,
    code: Zeroizing<String>,
    new_password: Zeroizing<String>,
    confirm_password: Zeroizing<String>,
}

has_csrf!(LoginForm, OtpForm, CsrfOnly, RecoveryForm, RecoveryCompleteForm);

pub async fn login_page(State(state): State<AppState>, ctx: Ctx) -> Response {
    if let Some(token) = ctx.get(SESSION) {
        if state.services.authenticate(&token).await.is_ok() {
            return Redirect::to("/").into_response();
        }
    }
    state.web.render(&ctx, StatusCode::OK, "login.html", context! {})
}

pub async fn login_submit(
    State(state): State<AppState>,
    mut ctx: Ctx,
    WebOrigin(origin): WebOrigin,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let form = match checked(&state, &ctx, form) {
        Ok(f) => f,
        Err(resp) => return resp,
    };
    let started = match state.services.start_login(&form.username, &form.password, &origin).await {
        Ok(s) => s,
        Err(ServiceError::AuthFailed) => {
            return state.web.render(
                &ctx,
                StatusCode::UNAUTHORIZED,
                "login.html",
                context! {
                    error => "err_authentication_failed", username => form.username,
                },
            );
        }
        Err(e) => return state.web.error(ctx, e),
    };
    if let Err(e) = state.services.send_flow_otp(&started.flow, OtpPurpose::Login, &origin).await {
        return state.web.error(ctx, e);
    }
    ctx.set(LOGIN_FLOW, started.flow);
    (ctx.jar, Redirect::to("/login/otp")).into_response()
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
    form: Result<Form<OtpForm>, FormRejection>,
) -> Response {
    let form = match checked(&state, &ctx, form) {
        Ok(f) => f,
        Err(resp) => return resp,
    };
    let Some(flow) = ctx.get(LOGIN_FLOW) else {
        return Redirect::to("/login").into_response();
    };
    match state.services.submit_login_otp(&flow, &form.code, &origin).await {
        Ok(grant) => {
            ctx.remove(LOGIN_FLOW);
            ctx.set(SESSION, grant.token);
            let next = if grant.must_change_password { "/first-access" } else { "/" };
            (ctx.jar, Redirect::to(next)).into_response()
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
    form: Result<Form<CsrfOnly>, FormRejection>,
) -> Response {
    if let Err(resp) = checked(&state, &ctx, form) {
        return resp;
    }
    let Some(flow) = ctx.get(LOGIN_FLOW) else {
        return Redirect::to("/login").into_response();
    };
    match state.services.send_flow_otp(&flow, OtpPurpose::Login, &origin).await {
        Ok(_) => otp_page_for(&state, &ctx, StatusCode::OK, None, Some("otp_resent")),
        Err(e @ (ServiceError::TooManyCodes | ServiceError::FlowOver)) => {
            otp_page_for(&state, &ctx, super::web_status(&e), Some(format!("err_{}", e.code())), None)
        }
        Err(e) => state.web.error(ctx, e),
    }
}

pub async fn recovery_page(State(state): State<AppState>, ctx: Ctx) -> Response {
    state.web.render(&ctx, StatusCode::OK, "recovery.html", context! {})
}

pub async fn recovery_submit(
    State(state): State<AppState>,
    mut ctx: Ctx,
    WebOrigin(origin): WebOrigin,
    form: Result<Form<RecoveryForm>, FormRejection>,
) -> Response {
    let form = match checked(&state, &ctx, form) {
        Ok(f) => f,
        Err(resp) => return resp,
    };
    let started = match state.services.start_recovery(&form.username, &form.security_code, &origin).await {
        Ok(s) => s,
        Err(ServiceError::AuthFailed) => {
            return state.web.render(
                &ctx,
                StatusCode::UNAUTHORIZED,
                "recovery.html",
                context! {
                    error => "err_authentication_failed", username => form.username,
                },
            );
        }
        Err(e) => return state.web.error(ctx, e),
    };
    if let Err(e) = state.services.send_flow_otp(&started.flow, OtpPurpose::Recovery, &origin).await {
        return state.web.error(ctx, e);
    }
    ctx.set(RECOVERY_FLOW, started.flow);
    (ctx.jar, Redirect::to("/recovery/complete")).into_response()
}

fn recovery_complete_for(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    error: Option<String>,
    notice: Option<&str>,
) -> Response {
    let hint = state.web_password_hint();
    state.web.render(
        ctx,
        status,
        "recovery_complete.html",
        context! { error => error, notice => notice, password_hint => hint },
    )
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
    form: Result<Form<RecoveryCompleteForm>, FormRejection>,
) -> Response {
    let form = match checked(&state, &ctx, form) {
        Ok(f) => f,
        Err(resp) => return resp,
    };
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
            let shown = if matches!(e, ServiceError::FlowOver) { ServiceError::AuthFailed } else { e };
            recovery_complete_for(&state, &ctx, super::web_status(&shown), Some(format!("err_{}", shown.code())), None)
        }
        Err(e) => state.web.error(ctx, e),
    }
}

pub async fn recovery_resend(
    State(state): State<AppState>,
    ctx: Ctx,
    WebOrigin(origin): WebOrigin,
    form: Result<Form<CsrfOnly>, FormRejection>,
) -> Response {
    if let Err(resp) = checked(&state, &ctx, form) {
        return resp;
    }
    let Some(flow) = ctx.get(RECOVERY_FLOW) else {
        return Redirect::to("/recovery").into_response();
    };
    match state.services.send_flow_otp(&flow, OtpPurpose::Recovery, &origin).await {
        Ok(_) => recovery_complete_for(&state, &ctx, StatusCode::OK, None, Some("otp_resent")),
        Err(e @ (ServiceError::TooManyCodes | ServiceError::FlowOver)) => {
            recovery_complete_for(&state, &ctx, super::web_status(&e), Some(format!("err_{}", e.code())), None)
        }
        Err(e) => state.web.error(ctx, e),
    }
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
