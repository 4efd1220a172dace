//! "Attivazione Internet Banking" for customers of acquired banks (DESIGN flow 10) as web
//! pages under `/activation`: the bank, the old credentials, the SMS code, the phone
//! confirmed and the email chosen, the email's link, the new password and alias, and the
//! new user code with the next steps. The activation's handle is in its own cookie.

use super::auth::{CsrfOnly, OtpForm};
use super::extract::{CsrfForm, has_csrf};
use super::forms::{ACTIVATION, Ctx};
use crate::middleware::client::WebOrigin;
use crate::router::AppState;
use crate::service::ServiceError;
use crate::service::activation::ActivationView;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::{Value, context};
use serde::Deserialize;
use zeroize::Zeroizing;

const START: &str = "/activation";
const OTP: &str = "/activation/otp";
const CONFIRM: &str = "/activation/confirm";
const EMAIL: &str = "/activation/email";
const PASSWORD: &str = "/activation/password";

#[derive(Deserialize)]
pub struct LegacyLoginForm {
    csrf: String,
    legacy_code: String,
    password: Zeroizing<String>,
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    csrf: String,
    #[serde(default)]
    email: String,
}

#[derive(Deserialize)]
pub struct EmailTokenForm {
    csrf: String,
    token: String,
}

#[derive(Deserialize)]
pub struct NewPasswordForm {
    csrf: String,
    new_password: Zeroizing<String>,
    confirm_password: Zeroizing<String>,
    #[serde(default)]
    alias: String,
}

has_csrf!(LegacyLoginForm, ConfirmForm, EmailTokenForm, NewPasswordForm);

/// `GET /activation`: the acquired banks, each with its date until it opens.
pub async fn banks(State(state): State<AppState>, ctx: Ctx) -> Response {
    let banks = state.services.activation_banks();
    state.web.render(&ctx, StatusCode::OK, "activation_banks.html", context! { banks => banks })
}

/// The old credentials' form, or before the bank's date that date and nothing else.
fn credentials_page(state: &AppState, ctx: &Ctx, bank: &str, status: StatusCode, extra: Value) -> Response {
    match state.services.open_bank(bank) {
        Ok(b) => state.web.render(ctx, status, "activation_login.html", context! { bank => b, ..extra }),
        Err(ServiceError::NotYetOpen(date)) => state.web.render(
            ctx,
            StatusCode::OK,
            "activation_closed.html",
            context! { message_key => "migration_not_yet_open", date => date },
        ),
        Err(ServiceError::FlowOver) => {
            state.web.message(ctx, StatusCode::GONE, "migration_closed", (START, "migration_back"))
        }
        Err(_) => state.web.message(ctx, StatusCode::NOT_FOUND, "err_not_found", (START, "migration_back")),
    }
}

/// `GET /activation/{bank}`.
pub async fn bank_page(State(state): State<AppState>, ctx: Ctx, Path(bank): Path<String>) -> Response {
    credentials_page(&state, &ctx, &bank, StatusCode::OK, context! {})
}

/// `POST /activation/{bank}`: the old customer code and password; the SMS code follows.
pub async fn credentials_submit(
    State(state): State<AppState>,
    mut ctx: Ctx,
    WebOrigin(origin): WebOrigin,
    Path(bank): Path<String>,
    CsrfForm(form): CsrfForm<LegacyLoginForm>,
) -> Response {
    match state.services.start_activation(&bank, &form.legacy_code, &form.password, &origin).await {
        Ok(handle) => {
            ctx.set(ACTIVATION, handle);
            (ctx.jar, Redirect::to(OTP)).into_response()
        }
        Err(ServiceError::AuthFailed) => credentials_page(
            &state,
            &ctx,
            &bank,
            StatusCode::UNAUTHORIZED,
            context! { error => "err_authentication_failed", legacy_code => form.legacy_code },
        ),
        Err(ServiceError::NotYetOpen(_) | ServiceError::FlowOver | ServiceError::NotFound) => {
            credentials_page(&state, &ctx, &bank, StatusCode::OK, context! {})
        }
        Err(e) => state.web.error(ctx, e),
    }
}

/// The activation behind the cookie, or the way back to the start.
async fn current(state: &AppState, ctx: &Ctx) -> Result<(String, ActivationView), Response> {
    let Some(handle) = ctx.get(ACTIVATION) else { return Err(Redirect::to(START).into_response()) };
    match state.services.activation_view(&handle).await {
        Ok(view) if view.step == "failed" => {
            Err(state.web.message(ctx, StatusCode::GONE, "migration_failed", (START, "migration_restart")))
        }
        Ok(view) => Ok((handle, view)),
        Err(_) => Err(Redirect::to(START).into_response()),
    }
}

/// The page of the step the activation is at.
fn page_of(step: &str) -> &'static str {
    match step {
        "otp" => OTP,
        "confirm" => CONFIRM,
        "email" => EMAIL,
        "password" => PASSWORD,
        _ => START,
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
        action => OTP, resend => "/activation/otp/resend", error => error, notice => notice, intro => "otp_intro",
    };
    state.web.render(ctx, status, "otp.html", page)
}

pub async fn otp_page(State(state): State<AppState>, ctx: Ctx) -> Response {
    match current(&state, &ctx).await {
        Ok((_, v)) if v.step == "otp" => otp_page_for(&state, &ctx, StatusCode::OK, None, None),
        Ok((_, v)) => Redirect::to(page_of(&v.step)).into_response(),
        Err(r) => r,
    }
}

pub async fn otp_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    WebOrigin(origin): WebOrigin,
    CsrfForm(form): CsrfForm<OtpForm>,
) -> Response {
    let Some(handle) = ctx.get(ACTIVATION) else { return Redirect::to(START).into_response() };
    match state.services.submit_activation_otp(&handle, form.code(), &origin).await {
        Ok(()) => Redirect::to(CONFIRM).into_response(),
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
    let Some(handle) = ctx.get(ACTIVATION) else { return Redirect::to(START).into_response() };
    match state.services.send_activation_otp(&handle, &origin).await {
        Ok(()) => otp_page_for(&state, &ctx, StatusCode::OK, None, Some("otp_resent")),
        Err(e @ (ServiceError::TooManyCodes | ServiceError::FlowOver)) => {
            otp_page_for(&state, &ctx, e.http_status(), Some(format!("err_{}", e.code())), None)
        }
        Err(e) => state.web.error(ctx, e),
    }
}

/// `GET /activation/confirm`: the certified phone (masked) to confirm, the email to validate.
pub async fn confirm_page(State(state): State<AppState>, ctx: Ctx) -> Response {
    match current(&state, &ctx).await {
        Ok((_, v)) if matches!(v.step.as_str(), "confirm" | "email") => {
            state.web.render(&ctx, StatusCode::OK, "activation_confirm.html", context! { activation => v })
        }
        Ok((_, v)) => Redirect::to(page_of(&v.step)).into_response(),
        Err(r) => r,
    }
}

pub async fn confirm_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    WebOrigin(origin): WebOrigin,
    CsrfForm(form): CsrfForm<ConfirmForm>,
) -> Response {
    let (handle, view) = match current(&state, &ctx).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match state.services.confirm_activation(&handle, Some(&form.email), &origin).await {
        Ok(()) => Redirect::to(EMAIL).into_response(),
        Err(ServiceError::Invalid(rule)) => state.web.render(
            &ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
            "activation_confirm.html",
            context! { activation => view, field_error => format!("err_{rule}"), typed => form.email },
        ),
        Err(e) => state.web.error(ctx, e),
    }
}

#[derive(Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

/// `GET /activation/email`: with the link's token, the button that validates it (a
/// button, so that a mail scanner opening links validates nothing); without, the page
/// that waits for the customer to open the link.
pub async fn email_page(State(state): State<AppState>, ctx: Ctx, Query(q): Query<TokenQuery>) -> Response {
    if let Some(token) = q.token {
        let page = context! { token => token, action => "/activation/email/verify" };
        return state.web.render(&ctx, StatusCode::OK, "email_verify.html", page);
    }
    match current(&state, &ctx).await {
        Ok((_, v)) if v.step == "email" => {
            state.web.render(&ctx, StatusCode::OK, "activation_email.html", context! { activation => v })
        }
        Ok((_, v)) => Redirect::to(page_of(&v.step)).into_response(),
        Err(r) => r,
    }
}

/// `POST /activation/email/verify`: the link's button.
pub async fn email_verify_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    WebOrigin(origin): WebOrigin,
    CsrfForm(form): CsrfForm<EmailTokenForm>,
) -> Response {
    match state.services.verify_activation_email(&form.token, &origin).await {
        // In the activation's own browser the next step opens at once; elsewhere the page
        // says to go back to it.
        Ok(()) if ctx.get(ACTIVATION).is_some() => Redirect::to(PASSWORD).into_response(),
        Ok(()) => state.web.message(&ctx, StatusCode::OK, "migration_email_verified", (START, "migration_back")),
        Err(_) => state.web.message(&ctx, StatusCode::GONE, "err_flow_over", (START, "migration_back")),
    }
}

/// `POST /activation/email/resend`: the link again, to the same address.
pub async fn email_resend(
    State(state): State<AppState>,
    ctx: Ctx,
    WebOrigin(origin): WebOrigin,
    CsrfForm(_): CsrfForm<CsrfOnly>,
) -> Response {
    let (handle, view) = match current(&state, &ctx).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match state.services.confirm_activation(&handle, view.email.as_deref(), &origin).await {
        Ok(()) => {
            let page = context! { activation => view, notice => "migration_email_resent" };
            state.web.render(&ctx, StatusCode::OK, "activation_email.html", page)
        }
        Err(e) => state.web.error(ctx, e),
    }
}

fn password_page_for(state: &AppState, ctx: &Ctx, status: StatusCode, extra: Value) -> Response {
    let hint = state.web_password_hint();
    state.web.render(ctx, status, "activation_password.html", context! { password_hint => hint, ..extra })
}

pub async fn password_page(State(state): State<AppState>, ctx: Ctx) -> Response {
    match current(&state, &ctx).await {
        Ok((_, v)) if v.step == "password" => password_page_for(&state, &ctx, StatusCode::OK, context! {}),
        Ok((_, v)) => Redirect::to(page_of(&v.step)).into_response(),
        Err(r) => r,
    }
}

/// `POST /activation/password`: the new password and alias → the new user code.
pub async fn password_submit(
    State(state): State<AppState>,
    mut ctx: Ctx,
    WebOrigin(origin): WebOrigin,
    CsrfForm(form): CsrfForm<NewPasswordForm>,
) -> Response {
    let Some(handle) = ctx.get(ACTIVATION) else { return Redirect::to(START).into_response() };
    let refuse = |key: String, status: StatusCode| {
        password_page_for(&state, &ctx, status, context! { field_error => key, alias => form.alias.clone() })
    };
    if *form.new_password != *form.confirm_password {
        return refuse("err_password_mismatch".into(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let alias = Some(form.alias.as_str()).filter(|a| !a.trim().is_empty());
    match state.services.complete_activation(&handle, &form.new_password, alias, &origin).await {
        Ok(done) => {
            ctx.remove(ACTIVATION);
            let page = context! {
                user_code => done.user_code, alias => done.alias,
                security_code => sigillo_core::security_code::format_grouped(&done.security_code),
                hardware_token => done.hardware_token,
            };
            state.web.render(&ctx, StatusCode::OK, "activation_done.html", page)
        }
        Err(ServiceError::Invalid(rule)) => refuse(format!("err_{rule}"), StatusCode::UNPROCESSABLE_ENTITY),
        Err(ServiceError::Taken(_)) => refuse("err_taken".into(), StatusCode::CONFLICT),
        Err(ServiceError::FlowOver) => {
            state.web.message(&ctx, StatusCode::GONE, "migration_failed", (START, "migration_restart"))
        }
        Err(e) => state.web.error(ctx, e),
    }
}
