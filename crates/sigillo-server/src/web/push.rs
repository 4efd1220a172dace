//! Login step two with a bound phone (DESIGN flow 3): the page that waits for the push
//! approval, with the number the customer picks on the phone (number matching), and its
//! fallbacks: the app's login OTP ("Genera OTP → OTP login") and, where the bank allows
//! it, an SMS code.
//!
//! The flow handle stays in its HttpOnly cookie: the page, its event stream
//! (`GET /login/events`) and the navigation that claims the session
//! (`GET /login/complete`) all read it from there, never from a URL. The stream only
//! says the status; the session cookie is set by that ordinary navigation, so it never
//! travels in an event.

use super::auth::{CsrfOnly, OtpForm};
use super::extract::CsrfForm;
use super::forms::{Ctx, LOGIN_FLOW, SESSION};
use crate::api::sse::{Followed, follow};
use crate::events::Topic;
use crate::middleware::client::WebOrigin;
use crate::notify::texts::OtpPurpose;
use crate::router::AppState;
use crate::service::ServiceError;
use crate::service::login::{LoginPeek, flow_id};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;

/// The waiting page's path.
pub const PUSH_PAGE: &str = "/login/push";
/// Where the page goes once the phone answered: it claims the session.
const COMPLETE: &str = "/login/complete";

/// The waiting page, with an optional error (a wrong login OTP) that opens the fallback.
fn push_page_for(state: &AppState, ctx: &Ctx, status: StatusCode, peek: &LoginPeek, error: Option<String>) -> Response {
    let fallback_open = error.is_some();
    state.web.render(
        ctx,
        status,
        "login_push.html",
        context! {
            number => peek.number.map(|n| format!("{n:02}")),
            sms => peek.methods.contains(&"sms"),
            otp => peek.methods.contains(&"otp"),
            error => error,
            fallback_open => fallback_open,
            events => "/login/events",
            next => COMPLETE,
        },
    )
}

/// The end of a flow that did not give a session: a refusal or an expiry, and the way
/// back to the login page. The flow cookie goes.
fn refused(state: &AppState, mut ctx: Ctx, peek: &LoginPeek) -> Response {
    ctx.remove(LOGIN_FLOW);
    let key = match (peek.status, peek.reason) {
        ("expired", _) => "push_expired",
        (_, Some("wrong_number")) => "push_wrong_number",
        _ => "push_rejected",
    };
    state.web.message(&ctx, StatusCode::OK, key, ("/login", "back_to_login"))
}

/// The flow behind the cookie, as the page sees it; `None` when there is none (or it
/// is unknown), after which the caller goes back to the login page.
async fn peek(state: &AppState, ctx: &Ctx) -> Result<Option<(String, LoginPeek)>, ServiceError> {
    let Some(flow) = ctx.get(LOGIN_FLOW) else {
        return Ok(None);
    };
    match state.services.peek_login(&flow).await {
        Ok(p) => Ok(Some((flow, p))),
        Err(ServiceError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `GET /login/push`: wait for the phone. A flow without a pushed login goes to the
/// SMS page; one already answered goes on at once.
pub async fn push_page(State(state): State<AppState>, mut ctx: Ctx) -> Response {
    let peek = match peek(&state, &ctx).await {
        Ok(Some((_, p))) => p,
        Ok(None) => {
            ctx.remove(LOGIN_FLOW);
            return (ctx.jar, Redirect::to("/login")).into_response();
        }
        Err(e) => return state.web.error(ctx, e),
    };
    match peek.status {
        "pending" if peek.methods.contains(&"push") => push_page_for(&state, &ctx, StatusCode::OK, &peek, None),
        "pending" => Redirect::to("/login/otp").into_response(),
        "approved" => Redirect::to(COMPLETE).into_response(),
        _ => refused(&state, ctx, &peek),
    }
}

/// `GET /login/complete`: where the page goes once the phone answered (by itself over
/// the event stream, or by the "Ho approvato" button). Approved: the session is claimed
/// (once) and set as a cookie. Still pending: back to the waiting page.
pub async fn complete(State(state): State<AppState>, mut ctx: Ctx, WebOrigin(origin): WebOrigin) -> Response {
    let (flow, peek) = match peek(&state, &ctx).await {
        Ok(Some(found)) => found,
        Ok(None) => {
            ctx.remove(LOGIN_FLOW);
            return (ctx.jar, Redirect::to("/login")).into_response();
        }
        Err(e) => return state.web.error(ctx, e),
    };
    match peek.status {
        "pending" => Redirect::to(PUSH_PAGE).into_response(),
        "approved" => match state.services.login_status(&flow, &origin).await {
            Ok(status) => match status.grant {
                Some(grant) => {
                    ctx.remove(LOGIN_FLOW);
                    ctx.set(SESSION, grant.token);
                    let next = if grant.must_change_password { "/first-access" } else { "/" };
                    (ctx.jar, Redirect::to(next)).into_response()
                }
                // Claimed already: by this browser (a code it sent won the race), which
                // goes home, or by another, which gets no session from it.
                None => {
                    ctx.remove(LOGIN_FLOW);
                    if let Some(token) = ctx.get(SESSION) {
                        if state.services.authenticate(&token).await.is_ok() {
                            return (ctx.jar, Redirect::to("/")).into_response();
                        }
                    }
                    state.web.message(&ctx, StatusCode::GONE, "err_flow_over", ("/login", "back_to_login"))
                }
            },
            Err(e) => state.web.error(ctx, e),
        },
        _ => refused(&state, ctx, &peek),
    }
}

/// The status as the stream sends it: `pending`, then one final status.
struct PeekEvent(&'static str);

impl Followed for PeekEvent {
    fn key(&self) -> String {
        self.0.to_owned()
    }
    fn is_final(&self) -> bool {
        self.0 != "pending"
    }
    fn event(&self) -> Event {
        Event::default().event("status").data(self.0)
    }
}

/// `GET /login/events`: the flow's status as server-sent events, woken by the phone's
/// answer (no polling). No flow cookie, or an unknown flow: 404.
pub async fn events(State(state): State<AppState>, ctx: Ctx) -> Response {
    let Some(flow) = ctx.get(LOGIN_FLOW) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    // Subscribe before the first read, so an answer in between is not missed.
    let woken = state.services.events.subscribe(Topic::Flow(flow_id(&flow)));
    let first = match state.services.peek_login(&flow).await {
        Ok(p) => p.status,
        Err(ServiceError::NotFound) => return StatusCode::NOT_FOUND.into_response(),
        Err(e) => return state.web.error(ctx, e),
    };
    let fetch = move || {
        let (state, flow) = (state.clone(), flow.clone());
        async move { state.services.peek_login(&flow).await.ok().map(|p| PeekEvent(p.status)) }
    };
    Sse::new(follow(woken, PeekEvent(first), fetch)).keep_alive(KeepAlive::default()).into_response()
}

/// `POST /login/push/otp`: the app's login OTP typed on the waiting page.
pub async fn otp_submit(
    State(state): State<AppState>,
    mut ctx: Ctx,
    WebOrigin(origin): WebOrigin,
    CsrfForm(form): CsrfForm<OtpForm>,
) -> Response {
    let Some(flow) = ctx.get(LOGIN_FLOW) else {
        return Redirect::to("/login").into_response();
    };
    match state.services.submit_login_otp(&flow, form.code(), &origin).await {
        Ok(grant) => {
            ctx.remove(LOGIN_FLOW);
            ctx.set(SESSION, grant.token);
            let next = if grant.must_change_password { "/first-access" } else { "/" };
            (ctx.jar, Redirect::to(next)).into_response()
        }
        Err(e @ ServiceError::AuthFailed) => match state.services.peek_login(&flow).await {
            Ok(p) if p.status == "pending" => {
                push_page_for(&state, &ctx, StatusCode::UNAUTHORIZED, &p, Some(format!("err_{}", e.code())))
            }
            // Refused, expired, or too many failures: the page that says so.
            Ok(p) if p.status != "approved" => refused(&state, ctx, &p),
            _ => state.web.error(ctx, e),
        },
        Err(e) => state.web.error(ctx, e),
    }
}

/// `POST /login/sms`: "receive an SMS code instead": the code goes to the certified
/// phone and the SMS page takes it.
pub async fn sms_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    WebOrigin(origin): WebOrigin,
    CsrfForm(_): CsrfForm<CsrfOnly>,
) -> Response {
    let Some(flow) = ctx.get(LOGIN_FLOW) else {
        return Redirect::to("/login").into_response();
    };
    match state.services.send_flow_otp(&flow, OtpPurpose::Login, &origin).await {
        Ok(_) => Redirect::to("/login/otp").into_response(),
        Err(e @ (ServiceError::TooManyCodes | ServiceError::FlowOver)) => {
            match state.services.peek_login(&flow).await {
                Ok(p) if p.status == "pending" => {
                    push_page_for(&state, &ctx, e.http_status(), &p, Some(format!("err_{}", e.code())))
                }
                Ok(p) if p.status != "approved" => refused(&state, ctx, &p),
                _ => state.web.error(ctx, e),
            }
        }
        Err(e) => state.web.error(ctx, e),
    }
}
