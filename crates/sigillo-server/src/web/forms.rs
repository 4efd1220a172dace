//! What every page needs from the request: the language, the browser's CSRF binding,
//! and the cookies that carry sessions and flows.
//!
//! CSRF: each browser gets a random `sg_b` cookie; forms carry
//! HMAC-SHA-256(csrf key, that value). An attacker's page can neither read the cookie
//! nor compute the MAC, and SameSite=Strict stops the cookie on cross-site posts anyway.

use super::i18n::Lang;
use crate::router::AppState;
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::convert::Infallible;
use subtle::ConstantTimeEq;

pub const SESSION: &str = "sg_session";
pub const LOGIN_FLOW: &str = "sg_flow";
pub const RECOVERY_FLOW: &str = "sg_recovery";
pub const PASSWORD_FLOW: &str = "sg_pwflow";
/// The card portal's session, login flow and registration: cookies of their own, so the
/// two areas never take each other's.
pub const PORTAL_SESSION: &str = "sg_portal";
pub const PORTAL_FLOW: &str = "sg_pflow";
pub const PORTAL_REGISTRATION: &str = "sg_preg";
/// An acquired bank's customer's activation in progress (DESIGN flow 10).
pub const ACTIVATION: &str = "sg_act";
pub const BROWSER: &str = "sg_b";
pub const LANG: &str = "sg_lang";

/// The request's cookies, language and CSRF token.
#[derive(Debug)]
pub struct Ctx {
    pub jar: CookieJar,
    pub lang: Lang,
    pub csrf: String,
    /// This page's path, so the language switch can come back to it.
    pub path: String,
    secure: bool,
    /// The browser came without its `sg_b` cookie: no form it sends can be ours yet.
    fresh_browser: bool,
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        let mut jar = CookieJar::from_headers(&parts.headers);
        let secure = !state.services.cfg.dev_mode;
        let lang = jar
            .get(LANG)
            .and_then(|c| Lang::parse(c.value()))
            .or_else(|| {
                parts.headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).map(Lang::from_accept_language)
            })
            .unwrap_or(Lang::It);
        let (browser, fresh_browser) = match jar.get(BROWSER) {
            Some(c) if c.value().len() >= 32 => (c.value().to_owned(), false),
            _ => {
                let id = sigillo_core::token::generate(&mut rand::rngs::OsRng);
                jar = jar.add(cookie(BROWSER, id.clone(), secure));
                (id, true)
            }
        };
        let csrf = csrf_token(state.services.csrf_key(), &browser);
        Ok(Self { jar, lang, csrf, path: parts.uri.path().to_owned(), secure, fresh_browser })
    }
}

fn csrf_token(key: &[u8; 32], browser: &str) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(b"sigillo/csrf/v1\0");
    mac.update(browser.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// A cookie as sigillo sets them: HttpOnly, SameSite=Strict, path `/`, Secure outside dev mode.
pub fn cookie(name: &'static str, value: String, secure: bool) -> Cookie<'static> {
    Cookie::build((name, value)).http_only(true).same_site(SameSite::Strict).secure(secure).path("/").build()
}

impl Ctx {
    /// Whether a submitted form's token belongs to this browser (constant-time).
    pub fn csrf_ok(&self, submitted: &str) -> bool {
        !self.fresh_browser && bool::from(self.csrf.as_bytes().ct_eq(submitted.as_bytes()))
    }

    pub fn get(&self, name: &str) -> Option<String> {
        self.jar.get(name).map(|c| c.value().to_owned())
    }

    pub fn set(&mut self, name: &'static str, value: String) {
        let jar = std::mem::take(&mut self.jar);
        self.jar = jar.add(cookie(name, value, self.secure));
    }

    pub fn remove(&mut self, name: &'static str) {
        let jar = std::mem::take(&mut self.jar);
        self.jar = jar.remove(Cookie::build(name).path("/").build());
    }

    pub fn set_lang(&mut self, lang: Lang) {
        let jar = std::mem::take(&mut self.jar);
        let c = Cookie::build((LANG, lang.code().to_owned()))
            .same_site(SameSite::Lax)
            .secure(self.secure)
            .path("/")
            .max_age(time_year())
            .build();
        self.jar = jar.add(c);
    }
}

fn time_year() -> cookie::time::Duration {
    cookie::time::Duration::days(365)
}
