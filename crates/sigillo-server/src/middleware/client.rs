//! The client's address: the TCP peer, or the last `X-Forwarded-For` hop when sigillo
//! sits behind a proxy the configuration trusts.

use crate::router::AppState;
use crate::service::Origin;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

pub fn client_ip(parts: &Parts, trust_forwarded_for: bool) -> Option<IpAddr> {
    if trust_forwarded_for {
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|s| s.trim().parse::<IpAddr>().ok())
            .next_back();
        if forwarded.is_some() {
            return forwarded;
        }
    }
    parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ci| ci.0.ip())
}

/// The origin of an API request.
#[derive(Debug)]
pub struct ApiOrigin(pub Origin);

/// The origin of a web page request.
#[derive(Debug)]
pub struct WebOrigin(pub Origin);

impl FromRequestParts<AppState> for ApiOrigin {
    type Rejection = Infallible;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        let ip = client_ip(parts, state.services.cfg.rate_limit.trust_forwarded_for);
        Ok(Self(Origin { channel: "api", ip }))
    }
}

impl FromRequestParts<AppState> for WebOrigin {
    type Rejection = Infallible;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        let ip = client_ip(parts, state.services.cfg.rate_limit.trust_forwarded_for);
        Ok(Self(Origin { channel: "web", ip }))
    }
}
