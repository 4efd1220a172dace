//! The signed-in customer's pages: home, first access, password, alias, email, logout.

use super::auth::CsrfOnly;
use super::extract::{CsrfForm, FullSession, WebSession, has_csrf};
use super::forms::{Ctx, PASSWORD_FLOW, SESSION};
use crate::middleware::client::WebOrigin;
use crate::router::AppState;
use crate::service::ServiceError;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;
use serde::Deserialize;
use sigillo_core::identity;
use zeroize::Zeroizing;

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

pub async fn home(
    State(state): State<AppState>,
    ctx: Ctx,
    FullSession(s): FullSession,
    Query(q): Query<Done>,
) -> Response {
    let notice = match q.done.as_deref() {
        Some("first_access") => Some("first_access_done"),
        Some("password") => Some("password_changed"),
        Some("alias") => Some("alias_saved"),
        Some("email_resent") => Some("email_resent"),
        _ => None,
    };
    let u = &s.user;
    state.web.render(
        &ctx,
        StatusCode::OK,
        "home.html",
        context! {
            signed_in => true,
            notice => notice,
            user_code => &u.user_code,
            alias => &u.alias,
            phone => identity::mask_phone(&u.phone),
            email => &u.email,
            email_verified => u.email_verified,
        },
    )
}

#[derive(Deserialize)]
pub struct FirstAccessForm {
    csrf: String,
    current_password: Zeroizing<String>,
    new_password: Zeroizing<String>,
    confirm_password: Zeroizing<String>,
    #[serde(default)]
    alias: String,
}

#[derive(Deserialize)]
pub struct PasswordForm {
    csrf: String,
    current_password: Zeroizing<String>,
    new_password: Zeroizing<String>,
    confirm_password: Zeroizing<String>,
    code: Zeroizing<String>,
}

#[derive(Deserialize)]
pub struct AliasForm {
    csrf: String,
    #[serde(default)]
    alias: String,
    #[serde(default)]
    action: String,
}

#[derive(Deserialize)]
pub struct EmailVerifyForm {
    csrf: String,
    token: String,
}

has_csrf!(FirstAccessForm, PasswordForm, AliasForm, EmailVerifyForm);

/// The form's error as its page shows it.
fn form_error(e: &ServiceError) -> Option<String> {
    Some(format!("err_{}", e.code()))
}

fn first_access_for(state: &AppState, ctx: &Ctx, status: StatusCode, error: Option<String>, alias: &str) -> Response {
    state.web.render(
        ctx,
        status,
        "first_access.html",
        context! {
            signed_in => true, error => error, alias => alias, password_hint => state.web_password_hint(),
        },
    )
}

pub async fn first_access_page(State(state): State<AppState>, ctx: Ctx, WebSession(s): WebSession) -> Response {
    if !s.must_change_password() {
        return Redirect::to("/").into_response();
    }
    first_access_for(&state, &ctx, StatusCode::OK, None, "")
}

pub async fn first_access_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    WebOrigin(origin): WebOrigin,
    WebSession(s): WebSession,
    CsrfForm(form): CsrfForm<FirstAccessForm>,
) -> Response {
    if *form.new_password != *form.confirm_password {
        return first_access_for(
            &state,
            &ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("err_password_mismatch".into()),
            &form.alias,
        );
    }
    let alias = Some(form.alias.as_str()).filter(|a| !a.trim().is_empty());
    match state.services.complete_first_access(&s, &form.current_password, &form.new_password, alias, &origin).await {
        Ok(()) => Redirect::to("/?done=first_access").into_response(),
        Err(e @ (ServiceError::Invalid(_) | ServiceError::Taken(_) | ServiceError::AuthFailed)) => {
            first_access_for(&state, &ctx, e.http_status(), form_error(&e), &form.alias)
        }
        Err(e) => state.web.error(ctx, e),
    }
}

fn password_for(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    error: Option<String>,
    notice: Option<&str>,
) -> Response {
    let code_sent = ctx.get(PASSWORD_FLOW).is_some();
    state.web.render(ctx, status, "password.html", context! {
        signed_in => true, error => error, notice => notice, code_sent => code_sent, password_hint => state.web_password_hint(),
    })
}

#[derive(Deserialize)]
pub struct Sent {
    sent: Option<String>,
}

pub async fn password_page(
    State(state): State<AppState>,
    ctx: Ctx,
    FullSession(_): FullSession,
    Query(q): Query<Sent>,
) -> Response {
    let notice = q.sent.is_some().then_some("otp_sent");
    password_for(&state, &ctx, StatusCode::OK, None, notice)
}

pub async fn password_otp(
    State(state): State<AppState>,
    mut ctx: Ctx,
    WebOrigin(origin): WebOrigin,
    FullSession(s): FullSession,
    CsrfForm(_): CsrfForm<CsrfOnly>,
) -> Response {
    match state.services.start_password_change(&s, &origin).await {
        Ok((started, _)) => {
            ctx.set(PASSWORD_FLOW, started.flow);
            // Post/redirect/get: reloading the page must not send another SMS.
            (ctx.jar, Redirect::to("/password?sent=1")).into_response()
        }
        Err(e) => state.web.error(ctx, e),
    }
}

pub async fn password_submit(
    State(state): State<AppState>,
    mut ctx: Ctx,
    WebOrigin(origin): WebOrigin,
    FullSession(s): FullSession,
    CsrfForm(form): CsrfForm<PasswordForm>,
) -> Response {
    let Some(flow) = ctx.get(PASSWORD_FLOW) else {
        return password_for(&state, &ctx, StatusCode::UNPROCESSABLE_ENTITY, Some("err_otp_required".into()), None);
    };
    if *form.new_password != *form.confirm_password {
        return password_for(
            &state,
            &ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("err_password_mismatch".into()),
            None,
        );
    }
    match state
        .services
        .change_password(&s, &form.current_password, &form.new_password, &flow, &form.code, &origin)
        .await
    {
        Ok(()) => {
            ctx.remove(PASSWORD_FLOW);
            (ctx.jar, Redirect::to("/?done=password")).into_response()
        }
        Err(e @ (ServiceError::Invalid(_) | ServiceError::AuthFailed)) => {
            password_for(&state, &ctx, e.http_status(), form_error(&e), None)
        }
        Err(e @ ServiceError::FlowOver) => {
            ctx.remove(PASSWORD_FLOW);
            password_for(&state, &ctx, e.http_status(), form_error(&e), None)
        }
        Err(e) => state.web.error(ctx, e),
    }
}

fn alias_for(state: &AppState, ctx: &Ctx, status: StatusCode, error: Option<String>, alias: &str) -> Response {
    state.web.render(ctx, status, "alias.html", context! { signed_in => true, error => error, alias => alias })
}

pub async fn alias_page(State(state): State<AppState>, ctx: Ctx, FullSession(s): FullSession) -> Response {
    alias_for(&state, &ctx, StatusCode::OK, None, s.user.alias.as_deref().unwrap_or_default())
}

pub async fn alias_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    WebOrigin(origin): WebOrigin,
    FullSession(s): FullSession,
    CsrfForm(form): CsrfForm<AliasForm>,
) -> Response {
    let alias = if form.action == "remove" { None } else { Some(form.alias.as_str()) };
    match state.services.set_alias(&s, alias, &origin).await {
        Ok(_) => Redirect::to("/?done=alias").into_response(),
        Err(e @ (ServiceError::Invalid(_) | ServiceError::Taken(_))) => {
            alias_for(&state, &ctx, e.http_status(), form_error(&e), &form.alias)
        }
        Err(e) => state.web.error(ctx, e),
    }
}

#[derive(Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

/// The link in the email opens this page; only its button (a POST) uses the token, so
/// mail scanners that follow links do not spend it.
pub async fn email_verify_page(State(state): State<AppState>, ctx: Ctx, Query(q): Query<TokenQuery>) -> Response {
    state.web.render(&ctx, StatusCode::OK, "email_verify.html", context! { token => q.token })
}

pub async fn email_verify_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    WebOrigin(origin): WebOrigin,
    CsrfForm(form): CsrfForm<EmailVerifyForm>,
) -> Response {
    match state.services.confirm_email(&form.token, &origin).await {
        Ok(()) => state.web.message(&ctx, StatusCode::OK, "email_verified_done", ("/", "nav_home")),
        Err(e) => state.web.error(ctx, e),
    }
}

pub async fn email_resend(
    State(state): State<AppState>,
    ctx: Ctx,
    FullSession(s): FullSession,
    CsrfForm(_): CsrfForm<CsrfOnly>,
) -> Response {
    match state.services.resend_email_validation(&s).await {
        Ok(()) => Redirect::to("/?done=email_resent").into_response(),
        Err(e) => state.web.error(ctx, e),
    }
}

/// Ends the session (when there is one) and forgets the cookie.
pub async fn logout(
    State(state): State<AppState>,
    mut ctx: Ctx,
    WebOrigin(origin): WebOrigin,
    CsrfForm(_): CsrfForm<CsrfOnly>,
) -> Response {
    if let Some(token) = ctx.get(SESSION) {
        if let Ok(s) = state.services.authenticate(&token).await {
            if let Err(e) = state.services.logout(&s, &origin).await {
                return state.web.error(ctx, e);
            }
        }
    }
    ctx.remove(SESSION);
    (ctx.jar, Redirect::to("/login")).into_response()
}

/// The page a former hardware-token customer sees after each login until a phone is bound.
pub const APP_RECOMMENDED: &str = "/app-recommended";

/// `GET /app-recommended`: why and how to bind the app; the customer may go on without it.
pub async fn app_recommended(State(state): State<AppState>, ctx: Ctx, FullSession(_): FullSession) -> Response {
    state.web.render(&ctx, StatusCode::OK, "app_recommended.html", context! { signed_in => true })
}
