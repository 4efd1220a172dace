//! Per-address rate limiting of the authentication endpoints. The defaults are generous
//! on purpose: a carrier NAT can put thousands of customers behind one address, and
//! the per-user attempt counters are the real defence against guessing.

use super::client::client_ip;
use crate::router::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;

pub type Limiter = DefaultKeyedRateLimiter<IpAddr>;

pub fn limiter(per_second: u32, burst: u32) -> Limiter {
    let per_second = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst))
}

pub async fn limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let ip = client_ip(&parts, state.services.cfg.rate_limit.trust_forwarded_for);
    if let Some(ip) = ip {
        if let Err(not_until) = state.limiter.check_key(&ip) {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let mut resp = (
                StatusCode::TOO_MANY_REQUESTS,
                axum::Json(serde_json::json!({ "error": "rate_limited", "message": "Too many requests from this address; try again shortly." })),
            )
                .into_response();
            if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return resp;
        }
    }
    next.run(Request::from_parts(parts, body)).await
}
