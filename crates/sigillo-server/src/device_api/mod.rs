//! The device API (`/device/v1`, PROTOCOL.md §6): what the app calls. No cookies and no
//! bearer tokens: every request after activation carries a server challenge and the
//! binding's signatures in `Sigillo-Binding`, `Sigillo-Challenge` and
//! `Sigillo-Signature` headers, over the method, the path and the body.
//!
//! # Layout
//! - [`signed`]: the extractor that reads a signed request.
//! - [`handlers`]: one handler per endpoint.
//! - [`cards`]: the user's cards and Key6 from the app.

pub mod cards;
pub mod handlers;
pub mod signed;

use crate::router::AppState;
use axum::Router;
use axum::routing::{get, post, put};

/// Every endpoint takes a credential, so all of them get the per-address rate limit.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/device/v1/info", get(handlers::info))
        .route("/device/v1/activation", post(handlers::activate))
        .route("/device/v1/challenge", post(handlers::challenge))
        .route("/device/v1/bindings/{id}", get(handlers::status).delete(handlers::remove))
        .route("/device/v1/bindings/{id}/commit", post(handlers::commit))
        .route("/device/v1/bindings/{id}/pin", post(handlers::pin))
        .route("/device/v1/bindings/{id}/biometry", post(handlers::biometry_on).delete(handlers::biometry_off))
        .route("/device/v1/bindings/{id}/push", put(handlers::push))
        .route("/device/v1/bindings/{id}/primary", put(handlers::primary))
        .route("/device/v1/login", post(handlers::login))
        .route("/device/v1/operations", get(handlers::operations))
        .route("/device/v1/events", get(handlers::events))
        .route("/device/v1/operations/{id}/approve", post(handlers::approve))
        .route("/device/v1/operations/{id}/reject", post(handlers::reject))
        .route("/device/v1/cards", get(cards::list))
        .route("/device/v1/cards/{id}/key6", put(cards::set_key6))
        .route("/device/v1/cards/{id}/key6/sca", post(cards::start_sca))
        .route("/device/v1/cards/{id}/key6/reveal", post(cards::reveal))
        .route("/device/v1/cards/{id}/key6/unlock", post(cards::unlock))
}
