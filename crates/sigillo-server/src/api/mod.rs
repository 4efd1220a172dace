//! The JSON API (`/api/v1`), documented as OpenAPI 3.1 at `/openapi.json`. Every web
//! flow is also an API flow; both call the same services.
//!
//! # Layout
//! - [`error`]: `{"error", "message"}` responses.
//! - [`extract`]: JSON bodies and bearer sessions.
//! - [`auth`]: login and recovery.
//! - [`activation`]: customers of acquired banks activate new credentials.
//! - [`account`]: the session's user: profile, password, alias, email.
//! - [`cards`]: the user's cards and their Key6: list, set, view or unlock after an SCA.
//! - [`devices`]: the user's phones: activation codes, list, removal, unblock.
//! - [`integration`]: the bank's back ends: operations on behalf of a user.
//! - [`operations`]: payments (and Key6 operations): follow, approve with a code, SMS.
//! - [`sse`]: event streams that follow a login or an operation.

pub mod account;
pub mod activation;
pub mod auth;
pub mod cards;
pub mod devices;
pub mod error;
pub mod extract;
pub mod integration;
pub mod operations;
pub mod sse;

use crate::router::AppState;
use axum::Router;
use axum::routing::{get, post, put};
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

#[derive(OpenApi)]
#[openapi(
    info(title = "sigillo", description = "Strong customer authentication (PSD2 SCA) for banks: the JSON API."),
    paths(
        auth::login, auth::login_sms, auth::login_otp, auth::login_status, auth::login_events,
        auth::recovery_start, auth::recovery_sms, auth::recovery_complete,
        activation::banks, activation::start, activation::get, activation::sms, activation::otp,
        activation::confirm, activation::email, activation::complete,
        account::me, account::logout, account::password, account::password_otp, account::alias,
        account::email_verify, account::email_resend,
        devices::activation, devices::list, devices::remove, devices::unblock,
        operations::create, operations::list, operations::get, operations::otp, operations::sms,
        operations::cancel, operations::events, integration::create, integration::get,
        cards::list, cards::set_key6, cards::start_sca, cards::reveal, cards::unlock,
        crate::device_api::handlers::info, crate::device_api::handlers::activate,
        crate::device_api::handlers::challenge, crate::device_api::handlers::commit,
        crate::device_api::handlers::status, crate::device_api::handlers::remove,
        crate::device_api::handlers::pin, crate::device_api::handlers::biometry_on,
        crate::device_api::handlers::biometry_off, crate::device_api::handlers::push,
        crate::device_api::handlers::primary, crate::device_api::handlers::login,
        crate::device_api::handlers::operations, crate::device_api::handlers::approve,
        crate::device_api::handlers::reject, crate::device_api::handlers::events,
        crate::device_api::cards::list, crate::device_api::cards::set_key6, crate::device_api::cards::start_sca,
        crate::device_api::cards::reveal, crate::device_api::cards::unlock,
    ),
    components(schemas(error::ErrorBody)),
    modifiers(&BearerAuth),
    tags((name = "auth", description = "Login and recovery"),
        (name = "activation", description = "Customers of acquired banks: new credentials from the old ones (DESIGN flow 10)"), (name = "account", description = "The signed-in customer"),
        (name = "devices", description = "The customer's bound phones"),
        (name = "cards", description = "The customer's cards and their Key6 (viewing and unlocking need an SCA operation)"),
        (name = "integration", description = "The bank's back ends (API key): payments for a user to approve, outcomes by webhook"),
        (name = "operations", description = "Payments approved on the phone, by the app's transaction OTP or by SMS OTP"),
        (name = "device", description = "The app's API: activation and requests signed by the binding's keys (docs/PROTOCOL.md)"))
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}

/// Endpoints that take a credential: these get the per-address rate limit.
pub fn auth_routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/login", post(auth::login))
        .route("/api/v1/login/{flow}/sms", post(auth::login_sms))
        .route("/api/v1/login/{flow}/otp", post(auth::login_otp))
        .route("/api/v1/activation", post(activation::start))
        .route("/api/v1/activation/email", post(activation::email))
        .route("/api/v1/activation/{activation}/sms", post(activation::sms))
        .route("/api/v1/activation/{activation}/otp", post(activation::otp))
        .route("/api/v1/activation/{activation}/confirm", post(activation::confirm))
        .route("/api/v1/activation/{activation}/complete", post(activation::complete))
        .route("/api/v1/recovery", post(auth::recovery_start))
        .route("/api/v1/recovery/{flow}/sms", post(auth::recovery_sms))
        .route("/api/v1/recovery/{flow}/complete", post(auth::recovery_complete))
        .route("/api/v1/password", post(account::password))
        .route("/api/v1/password/otp", post(account::password_otp))
        .route("/api/v1/email/verify", post(account::email_verify))
        .route("/api/v1/operations/{id}/otp", post(operations::otp))
        .route("/api/v1/operations/{id}/sms", post(operations::sms))
        .route("/api/v1/cards/{id}/key6/reveal", post(cards::reveal))
        .route("/api/v1/cards/{id}/key6/unlock", post(cards::unlock))
        .route("/api/v1/integration/operations", post(integration::create))
        .route("/api/v1/integration/operations/{id}", get(integration::get))
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/login/{flow}", get(auth::login_status))
        .route("/api/v1/login/{flow}/events", get(auth::login_events))
        .route("/api/v1/activation/banks", get(activation::banks))
        .route("/api/v1/activation/{activation}", get(activation::get))
        .route("/api/v1/me", get(account::me))
        .route("/api/v1/logout", post(account::logout))
        .route("/api/v1/alias", put(account::alias))
        .route("/api/v1/email/resend", post(account::email_resend))
        .route("/api/v1/devices", get(devices::list))
        .route("/api/v1/devices/activation", post(devices::activation))
        .route("/api/v1/devices/{id}", axum::routing::delete(devices::remove))
        .route("/api/v1/devices/{id}/unblock", post(devices::unblock))
        .route("/api/v1/operations", get(operations::list).post(operations::create))
        .route("/api/v1/operations/{id}", get(operations::get))
        .route("/api/v1/operations/{id}/cancel", post(operations::cancel))
        .route("/api/v1/operations/{id}/events", get(operations::events))
        .route("/api/v1/cards", get(cards::list))
        .route("/api/v1/cards/{id}/key6", put(cards::set_key6))
        .route("/api/v1/cards/{id}/key6/sca", post(cards::start_sca))
}
