//! Extractors of the web pages: CSRF-checked forms and the signed-in session. Each
//! rejects with the page or redirect the customer should see, so handlers stay short.

use super::forms::{Ctx, PORTAL_SESSION, SESSION};
use crate::router::AppState;
use crate::service::session::SessionCtx;
use axum::Form;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use serde::de::DeserializeOwned;

/// A form with a `csrf` field.
pub trait HasCsrf {
    fn csrf(&self) -> &str;
}

macro_rules! has_csrf {
    ($($t:ty),*) => { $(impl $crate::web::extract::HasCsrf for $t { fn csrf(&self) -> &str { &self.csrf } })* };
}
pub(crate) use has_csrf;

/// A form whose CSRF token is this browser's. A malformed form or a foreign token gets
/// the "page expired" message and reaches no handler.
#[derive(Debug)]
pub struct CsrfForm<T>(pub T);

impl<T: DeserializeOwned + HasCsrf> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let Ok(ctx) = Ctx::from_request_parts(&mut parts, state).await;
        match Form::<T>::from_request(Request::from_parts(parts, body), state).await {
            Ok(Form(form)) if ctx.csrf_ok(form.csrf()) => Ok(Self(form)),
            Ok(_) => Err(state.web.message(&ctx, StatusCode::FORBIDDEN, "err_csrf", ("/", "nav_home"))),
            Err(_) => Err(state.web.message(&ctx, StatusCode::BAD_REQUEST, "err_malformed_request", ("/", "nav_home"))),
        }
    }
}

/// The session behind the cookie, whatever its scope; otherwise the login page (and the
/// dead cookie is dropped).
#[derive(Debug)]
pub struct WebSession(pub SessionCtx);

impl FromRequestParts<AppState> for WebSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Ok(mut ctx) = Ctx::from_request_parts(parts, state).await;
        let Some(token) = ctx.get(SESSION) else {
            return Err(Redirect::to("/login").into_response());
        };
        match state.services.authenticate(&token).await {
            Ok(session) => Ok(Self(session)),
            Err(_) => {
                ctx.remove(SESSION);
                Err((ctx.jar, Redirect::to("/login")).into_response())
            }
        }
    }
}

/// A session that may do everything: one limited to the first password change is sent
/// to the first-access page.
#[derive(Debug)]
pub struct FullSession(pub SessionCtx);

impl FromRequestParts<AppState> for FullSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let WebSession(session) = WebSession::from_request_parts(parts, state).await?;
        if session.must_change_password() {
            return Err(Redirect::to("/first-access").into_response());
        }
        Ok(Self(session))
    }
}

/// A card-portal session ("Area Riservata"); otherwise the portal's login page.
#[derive(Debug)]
pub struct PortalSession(pub SessionCtx);

impl FromRequestParts<AppState> for PortalSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Ok(mut ctx) = Ctx::from_request_parts(parts, state).await;
        let Some(token) = ctx.get(PORTAL_SESSION) else {
            return Err(Redirect::to(super::portal::LOGIN).into_response());
        };
        match state.services.authenticate_portal(&token).await {
            Ok(session) => Ok(Self(session)),
            Err(_) => {
                ctx.remove(PORTAL_SESSION);
                Err((ctx.jar, Redirect::to(super::portal::LOGIN)).into_response())
            }
        }
    }
}

/// Whoever holds the cards a page is about: a full web banking session, or under
/// `/portal` a card-portal one. `area` is the path prefix every link stays under.
#[derive(Debug)]
pub struct CardHolder {
    pub session: SessionCtx,
    pub area: &'static str,
}

impl FromRequestParts<AppState> for CardHolder {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        if super::portal::in_area(parts.uri.path()) {
            let PortalSession(session) = PortalSession::from_request_parts(parts, state).await?;
            Ok(Self { session, area: super::portal::AREA })
        } else {
            let FullSession(session) = FullSession::from_request_parts(parts, state).await?;
            Ok(Self { session, area: "" })
        }
    }
}
