//! Security headers on every response (P10): a strict CSP (no inline script, no
//! framing), no MIME sniffing, no referrer leaks, and `no-store` so authenticated
//! pages never sit in a shared or back-button cache.
//!
//! The only script is sigillo's own `/static/wait.js` (`script-src 'self'`), which
//! follows a login or payment over server-sent events from the same origin
//! (`connect-src 'self'`); pages work without it.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

const CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; \
                   img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub async fn security_headers(req: Request, next: Next) -> Response {
    let static_asset = req.uri().path().starts_with("/static/");
    // The 3-D Secure challenge runs in the merchant's iframe (its CSP says who may frame it).
    let framed = req.uri().path().starts_with("/3ds/v2/challenge");
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, name: HeaderName, value: &'static str| {
        h.entry(name).or_insert(HeaderValue::from_static(value));
    };
    set(h, header::CONTENT_SECURITY_POLICY, CSP);
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    if !framed {
        set(h, header::X_FRAME_OPTIONS, "DENY");
    }
    set(h, header::REFERRER_POLICY, "no-referrer");
    set(h, HeaderName::from_static("cross-origin-opener-policy"), "same-origin");
    set(h, HeaderName::from_static("permissions-policy"), "camera=(), microphone=(), geolocation=()");
    if static_asset {
        set(h, header::CACHE_CONTROL, "public, max-age=3600");
    } else {
        set(h, header::CACHE_CONTROL, "no-store");
    }
    resp
}
