//! Server-rendered web pages: plain, accessible HTML, one stylesheet, and one small
//! script (`static/wait.js`) that pages waiting for the phone use to follow their
//! server-sent events; every page works without it. Italian by default, English on
//! request. Every form carries a CSRF token; every page is `no-store`; the session
//! cookie is HttpOnly and SameSite=Strict.
//!
//! # Layout
//! - [`i18n`]: languages and texts (`locales/*.toml`).
//! - [`forms`]: cookies, language and CSRF of a request.
//! - [`extract`]: CSRF-checked forms and the signed-in session.
//! - [`auth`]: login, SMS OTP, recovery.
//! - [`push`]: login step two with a bound phone: the page that waits for the push
//!   (number matching), its event stream, the login OTP and SMS fallbacks.
//! - [`account`]: home, first access, password, alias, email, logout.
//! - [`devices`]: the customer's phones: list, remove, unblock, bind a new one.
//! - [`banking`]: the demo banking area (balance, "Bonifico", "Bollettino", operations)
//!   and the authorization page of payments and Key6 operations (push, QR + transaction
//!   OTP, SMS).
//! - [`cards`]: the customer's cards and their Key6: set, change, view and unlock.
//! - [`activation`]: customers of acquired banks activate new credentials with their old
//!   ones (`/activation`).
//! - [`portal`]: the card holders' portal ("Area Riservata") under `/portal`: register
//!   with the card data, log in with the UserID, recover it; its Key6 pages are
//!   [`cards`]'.

pub mod account;
pub mod activation;
pub mod auth;
pub mod banking;
pub mod cards;
pub mod devices;
pub mod extract;
pub mod forms;
pub mod i18n;
pub mod portal;
pub mod push;

use crate::router::AppState;
use crate::service::ServiceError;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use forms::Ctx;
use i18n::Texts;
use minijinja::{Environment, Value, context};
use serde::Deserialize;

/// Templates and texts, loaded once.
#[derive(Debug)]
pub struct Web {
    env: Environment<'static>,
    texts: Texts,
}

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/base.html")),
    ("login.html", include_str!("../../templates/login.html")),
    ("otp.html", include_str!("../../templates/otp.html")),
    ("first_access.html", include_str!("../../templates/first_access.html")),
    ("home.html", include_str!("../../templates/home.html")),
    ("password.html", include_str!("../../templates/password.html")),
    ("alias.html", include_str!("../../templates/alias.html")),
    ("recovery.html", include_str!("../../templates/recovery.html")),
    ("recovery_complete.html", include_str!("../../templates/recovery_complete.html")),
    ("email_verify.html", include_str!("../../templates/email_verify.html")),
    ("message.html", include_str!("../../templates/message.html")),
    ("devices.html", include_str!("../../templates/devices.html")),
    ("devices_activation.html", include_str!("../../templates/devices_activation.html")),
    ("devices_remove.html", include_str!("../../templates/devices_remove.html")),
    ("login_push.html", include_str!("../../templates/login_push.html")),
    ("banking.html", include_str!("../../templates/banking.html")),
    ("payment.html", include_str!("../../templates/payment.html")),
    ("cards.html", include_str!("../../templates/cards.html")),
    ("key6.html", include_str!("../../templates/key6.html")),
    ("key6_shown.html", include_str!("../../templates/key6_shown.html")),
    ("portal_login.html", include_str!("../../templates/portal_login.html")),
    ("activation_banks.html", include_str!("../../templates/activation_banks.html")),
    ("app_recommended.html", include_str!("../../templates/app_recommended.html")),
    ("activation_closed.html", include_str!("../../templates/activation_closed.html")),
    ("activation_login.html", include_str!("../../templates/activation_login.html")),
    ("activation_confirm.html", include_str!("../../templates/activation_confirm.html")),
    ("activation_email.html", include_str!("../../templates/activation_email.html")),
    ("activation_password.html", include_str!("../../templates/activation_password.html")),
    ("activation_done.html", include_str!("../../templates/activation_done.html")),
    ("portal_card_data.html", include_str!("../../templates/portal_card_data.html")),
    ("portal_registered.html", include_str!("../../templates/portal_registered.html")),
    ("acs_base.html", include_str!("../../templates/acs_base.html")),
    ("acs_challenge.html", include_str!("../../templates/acs_challenge.html")),
    ("acs_cres.html", include_str!("../../templates/acs_cres.html")),
    ("acs_message.html", include_str!("../../templates/acs_message.html")),
];

const STYLE: &str = include_str!("../../static/style.css");
const WAIT_JS: &str = include_str!("../../static/wait.js");

impl Web {
    pub fn new() -> anyhow::Result<Self> {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source)?;
        }
        Ok(Self { env, texts: Texts::load()? })
    }

    /// Renders `template` with `extra` and what every page needs (texts, language, CSRF).
    pub fn render(&self, ctx: &Ctx, status: StatusCode, template: &str, extra: Value) -> Response {
        let lang = ctx.lang;
        let base = context! {
            t => Value::from_serialize(self.texts.dict(lang)),
            lang => lang.code(),
            other_lang => lang.other().code(),
            csrf => &ctx.csrf,
            path => &ctx.path,
            area => if portal::in_area(&ctx.path) { portal::AREA } else { "" },
        };
        let merged = context! { ..extra, ..base };
        match self.env.get_template(template).and_then(|t| t.render(merged)) {
            Ok(html) => (status, ctx.jar.clone(), Html(html)).into_response(),
            Err(e) => {
                tracing::error!(error = %e, template, "template rendering failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
            }
        }
    }

    /// A page with one message (an error, or the end of a flow).
    pub fn message(&self, ctx: &Ctx, status: StatusCode, key: &str, link: (&str, &str)) -> Response {
        self.render(
            ctx,
            status,
            "message.html",
            context! { message_key => key, link_href => link.0, link_key => link.1 },
        )
    }

    /// The page for a service error that the form itself cannot show.
    pub fn error(&self, ctx: Ctx, e: ServiceError) -> Response {
        match e {
            ServiceError::Unauthenticated => Redirect::to(login_of(&ctx)).into_response(),
            ServiceError::Internal(inner) => {
                tracing::error!(error = %inner, "internal error");
                self.message(&ctx, StatusCode::INTERNAL_SERVER_ERROR, "err_internal", ("/", "nav_home"))
            }
            other => {
                let status = other.http_status();
                self.message(&ctx, status, &format!("err_{}", other.code()), (login_of(&ctx), "back_to_login"))
            }
        }
    }
}

/// The login page of the area the request is in.
fn login_of(ctx: &Ctx) -> &'static str {
    if portal::in_area(&ctx.path) { portal::LOGIN } else { "/login" }
}

/// Form posts that take a credential: rate-limited per address.
pub fn auth_routes() -> Router<AppState> {
    Router::new()
        .route("/login", post(auth::login_submit))
        .route("/login/otp", post(auth::otp_submit))
        .route("/login/otp/resend", post(auth::otp_resend))
        .route("/login/push/otp", post(push::otp_submit))
        .route("/login/sms", post(push::sms_submit))
        .route("/payments/{id}/otp", post(banking::otp_submit))
        .route("/payments/{id}/sms", post(banking::sms_submit))
        .route("/cards/{id}/key6/{action}/{op}/otp", post(cards::sca_otp))
        .route("/cards/{id}/key6/{action}/{op}/sms", post(cards::sca_sms))
        .route("/cards/{id}/key6/{action}/{op}/done", post(cards::sca_done))
        .route("/activation/{bank}", post(activation::credentials_submit))
        .route("/activation/otp", post(activation::otp_submit))
        .route("/activation/otp/resend", post(activation::otp_resend))
        .route("/activation/confirm", post(activation::confirm_submit))
        .route("/activation/email/verify", post(activation::email_verify_submit))
        .route("/activation/email/resend", post(activation::email_resend))
        .route("/activation/password", post(activation::password_submit))
        .route("/portal/login", post(portal::login_submit))
        .route("/portal/login/otp", post(portal::otp_submit))
        .route("/portal/login/otp/resend", post(portal::otp_resend))
        .route("/portal/register", post(portal::register_submit))
        .route("/portal/register/complete", post(portal::register_complete_submit))
        .route("/portal/register/resend", post(portal::register_resend))
        .route("/portal/user-id", post(portal::user_id_submit))
        .route("/portal/cards/{id}/key6/{action}/{op}/otp", post(cards::sca_otp))
        .route("/portal/cards/{id}/key6/{action}/{op}/sms", post(cards::sca_sms))
        .route("/portal/cards/{id}/key6/{action}/{op}/done", post(cards::sca_done))
        .route("/recovery", post(auth::recovery_submit))
        .route("/recovery/complete", post(auth::recovery_complete_submit))
        .route("/recovery/resend", post(auth::recovery_resend))
        .route("/first-access", post(account::first_access_submit))
        .route("/password", post(account::password_submit))
        .route("/password/otp", post(account::password_otp))
        .route("/email/verify", post(account::email_verify_submit))
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(account::home))
        .route("/login", get(auth::login_page))
        .route("/login/otp", get(auth::otp_page))
        .route("/login/push", get(push::push_page))
        .route("/login/events", get(push::events))
        .route("/login/complete", get(push::complete))
        .route("/recovery", get(auth::recovery_page))
        .route("/recovery/complete", get(auth::recovery_complete_page))
        .route("/first-access", get(account::first_access_page))
        .route("/password", get(account::password_page))
        .route("/alias", get(account::alias_page).post(account::alias_submit))
        .route("/email/verify", get(account::email_verify_page))
        .route("/email/resend", post(account::email_resend))
        .route("/logout", post(account::logout))
        .route("/devices", get(devices::devices_page))
        .route("/devices/activation", get(devices::activation_page).post(devices::bind_submit))
        .route("/devices/{id}/remove", post(devices::remove_submit))
        .route("/devices/{id}/unblock", post(devices::unblock_submit))
        .route("/banking", get(banking::banking))
        .route("/banking/payments", post(banking::create))
        .route("/payments/{id}", get(banking::payment))
        .route("/payments/{id}/events", get(banking::events))
        .route("/payments/{id}/cancel", post(banking::cancel_submit))
        .route("/cards", get(cards::cards_page))
        .route("/cards/{id}/key6", get(cards::key6).post(cards::key6_submit))
        .route("/cards/{id}/key6/{action}", post(cards::start_sca))
        .route("/cards/{id}/key6/{action}/{op}", get(cards::sca_page))
        .route("/cards/{id}/key6/{action}/{op}/events", get(cards::sca_events))
        .route("/cards/{id}/key6/{action}/{op}/cancel", post(cards::sca_cancel))
        .route("/activation", get(activation::banks))
        .route(account::APP_RECOMMENDED, get(account::app_recommended))
        .route("/activation/{bank}", get(activation::bank_page))
        .route("/activation/otp", get(activation::otp_page))
        .route("/activation/confirm", get(activation::confirm_page))
        .route("/activation/email", get(activation::email_page))
        .route("/activation/password", get(activation::password_page))
        .route("/portal", get(portal::home))
        .route("/portal/login", get(portal::login_page))
        .route("/portal/login/otp", get(portal::otp_page))
        .route("/portal/register", get(portal::register_page))
        .route("/portal/register/complete", get(portal::register_complete_page))
        .route("/portal/user-id", get(portal::user_id_page))
        .route("/portal/logout", post(portal::logout))
        .route("/portal/cards", get(cards::cards_page))
        .route("/portal/cards/{id}/key6", get(cards::key6).post(cards::key6_submit))
        .route("/portal/cards/{id}/key6/{action}", post(cards::start_sca))
        .route("/portal/cards/{id}/key6/{action}/{op}", get(cards::sca_page))
        .route("/portal/cards/{id}/key6/{action}/{op}/events", get(cards::sca_events))
        .route("/portal/cards/{id}/key6/{action}/{op}/cancel", post(cards::sca_cancel))
        .route("/lang/{lang}", get(switch_language))
        .route("/static/style.css", get(style))
        .route("/static/wait.js", get(wait_js))
}

async fn style() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response()
}

async fn wait_js() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], WAIT_JS).into_response()
}

#[derive(Deserialize)]
struct Next {
    next: Option<String>,
}

/// Sets the language cookie and goes back to a local page (never off-site).
async fn switch_language(
    State(_state): State<AppState>,
    mut ctx: Ctx,
    axum::extract::Path(lang): axum::extract::Path<String>,
    Query(q): Query<Next>,
) -> Response {
    if let Some(lang) = i18n::Lang::parse(&lang) {
        ctx.set_lang(lang);
    }
    let next = q
        .next
        .filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'))
        .unwrap_or_else(|| "/".into());
    (ctx.jar, Redirect::to(&next)).into_response()
}
