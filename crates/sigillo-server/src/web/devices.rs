//! The customer's phones (DESIGN flow 2): the list with removal and unblock, and the
//! activation code and QR that bind a new phone.
//!
//! The activation code and its QR payload appear only in the body of the answer to a
//! POST (never in a URL, a redirect or a log line), and every page is `no-store`.

use super::auth::CsrfOnly;
use super::extract::{CsrfForm, FullSession, has_csrf};
use super::forms::Ctx;
use super::i18n::Lang;
use crate::middleware::client::WebOrigin;
use crate::router::AppState;
use crate::service::ServiceError;
use crate::service::binding::{ACTIVATION_TTL, DeviceView};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};
use serde::{Deserialize, Serialize};

/// The devices page's path.
const DEVICES: &str = "/devices";

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

#[derive(Deserialize)]
pub struct RemoveForm {
    csrf: String,
    /// Empty on the list's button (which asks for confirmation), `yes` on the confirmation page's.
    #[serde(default)]
    confirm: String,
}

has_csrf!(RemoveForm);

/// A phone as the page shows it: translated status key, readable dates.
#[derive(Serialize)]
struct Row {
    id: String,
    name: String,
    platform: String,
    status: &'static str,
    fingerprint: String,
    biometry: bool,
    pin_reset_required: bool,
    suspended_until: Option<String>,
    bound_at: String,
    bound_at_iso: String,
    last_used: Option<String>,
    last_used_iso: Option<String>,
}

impl Row {
    fn new(d: DeviceView, lang: Lang) -> Self {
        let bound = d.committed_at.unwrap_or(d.created_at);
        Self {
            platform: platform_name(&d.platform),
            bound_at: when(bound, lang),
            bound_at_iso: iso(bound),
            last_used: d.last_used_at.map(|t| when(t, lang)),
            last_used_iso: d.last_used_at.map(iso),
            suspended_until: d.suspended_until.map(|t| when(t, lang)),
            id: d.id,
            name: d.name,
            status: d.status,
            fingerprint: d.fingerprint,
            biometry: d.biometry,
            pin_reset_required: d.pin_reset_required,
        }
    }
}

/// The usual spelling of the platforms the app reports; anything else as reported.
fn platform_name(platform: &str) -> String {
    match platform.to_ascii_lowercase().as_str() {
        "ios" => "iOS".into(),
        "android" => "Android".into(),
        "ipados" => "iPadOS".into(),
        _ => platform.to_owned(),
    }
}

/// A Unix-milliseconds instant as the customer reads it, in UTC.
pub(super) fn when(ms: i64, lang: Lang) -> String {
    let Some(t) = chrono::DateTime::from_timestamp_millis(ms) else {
        return String::new();
    };
    match lang {
        Lang::It => t.format("%d/%m/%Y, %H:%M UTC").to_string(),
        Lang::En => t.format("%-d %b %Y, %H:%M UTC").to_string(),
    }
}

/// The time of day of an instant (the code's expiry), in UTC.
fn time_of_day(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.format("%H:%M UTC").to_string()).unwrap_or_default()
}

/// For `<time datetime>`.
pub(super) fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// The QR code as inline SVG (no XML declaration; hidden from screen readers, whose
/// users get the same code as text). `None` if the payload cannot be encoded.
pub(super) fn qr_svg(payload: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(payload.as_bytes(), EcLevel::M).ok()?;
    let image = code.render::<svg::Color<'_>>().min_dimensions(256, 256).quiet_zone(true).build();
    let start = image.find("<svg")?;
    Some(image[start..].replacen("<svg ", r#"<svg aria-hidden="true" focusable="false" "#, 1))
}

/// A failed action on one phone, as a page with the way back to the list.
fn action_failed(state: &AppState, ctx: Ctx, e: ServiceError) -> Response {
    match e {
        ServiceError::NotFound => {
            state.web.message(&ctx, StatusCode::NOT_FOUND, "err_device_not_found", (DEVICES, "devices_back"))
        }
        ServiceError::Invalid(code) => {
            state.web.message(&ctx, StatusCode::UNPROCESSABLE_ENTITY, &format!("err_{code}"), (DEVICES, "devices_back"))
        }
        other => state.web.error(ctx, other),
    }
}

pub async fn devices_page(
    State(state): State<AppState>,
    ctx: Ctx,
    FullSession(s): FullSession,
    Query(q): Query<Done>,
) -> Response {
    let notice = match q.done.as_deref() {
        Some("removed") => Some("devices_removed"),
        Some("unblocked") => Some("devices_unblocked"),
        _ => None,
    };
    let devices = match state.services.list_devices(&s.user.id).await {
        Ok(devices) => devices,
        Err(e) => return state.web.error(ctx, e),
    };
    let has_active = devices.iter().any(|d| d.status == "active");
    let rows: Vec<Row> = devices.into_iter().map(|d| Row::new(d, ctx.lang)).collect();
    state.web.render(
        &ctx,
        StatusCode::OK,
        "devices.html",
        context! { signed_in => true, notice => notice, devices => rows, has_active => has_active },
    )
}

/// The activation page exists only as the answer to its POST: a reload by address, or a
/// bookmark, goes back to the list.
pub async fn activation_page(FullSession(_): FullSession) -> Response {
    Redirect::to(DEVICES).into_response()
}

/// Issues an activation code and shows it with its QR. The answer to the POST is the
/// page itself (no redirect), so the code never travels in a URL.
pub async fn bind_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    WebOrigin(origin): WebOrigin,
    FullSession(s): FullSession,
    CsrfForm(_): CsrfForm<CsrfOnly>,
) -> Response {
    if let Err(e) = s.require_full() {
        return state.web.error(ctx, e);
    }
    let issued = match state.services.issue_activation(&s.user, &origin).await {
        Ok(issued) => issued,
        Err(e) => return state.web.error(ctx, e),
    };
    let needs_approval = match state.services.list_devices(&s.user.id).await {
        Ok(devices) => devices.iter().any(|d| d.status == "active"),
        Err(e) => return state.web.error(ctx, e),
    };
    let qr = qr_svg(&issued.qr);
    if qr.is_none() {
        tracing::error!("the activation QR could not be encoded");
    }
    let minutes = ACTIVATION_TTL.as_secs() / 60;
    state.web.render(
        &ctx,
        StatusCode::OK,
        "devices_activation.html",
        context! {
            signed_in => true,
            code => issued.code,
            qr_svg => qr,
            minutes => minutes.to_string(),
            until => time_of_day(issued.expires_at),
            until_iso => iso(issued.expires_at),
            needs_approval => needs_approval,
        },
    )
}

/// The list's button asks for confirmation; the confirmation page's button removes.
pub async fn remove_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    WebOrigin(origin): WebOrigin,
    FullSession(s): FullSession,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<RemoveForm>,
) -> Response {
    if form.confirm != "yes" {
        let device = match state.services.list_devices(&s.user.id).await {
            Ok(devices) => devices.into_iter().find(|d| d.id == id),
            Err(e) => return state.web.error(ctx, e),
        };
        let Some(device) = device else {
            return action_failed(&state, ctx, ServiceError::NotFound);
        };
        let lang = ctx.lang;
        return state.web.render(
            &ctx,
            StatusCode::OK,
            "devices_remove.html",
            context! { signed_in => true, device => Row::new(device, lang) },
        );
    }
    match state.services.remove_device(&s.user.id, &id, &s.actor(), &origin).await {
        Ok(()) => Redirect::to("/devices?done=removed").into_response(),
        Err(e) => action_failed(&state, ctx, e),
    }
}

/// Unblocks a blocked phone; its app will ask for a new Smart PIN.
pub async fn unblock_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    WebOrigin(origin): WebOrigin,
    FullSession(s): FullSession,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<CsrfOnly>,
) -> Response {
    match state.services.unblock_device(&s.user.id, &id, &s.actor(), &origin).await {
        Ok(()) => Redirect::to("/devices?done=unblocked").into_response(),
        Err(e) => action_failed(&state, ctx, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_in_each_language() {
        // 2026-11-23T08:05:00Z
        let ms = 1_795_421_100_000;
        assert_eq!(when(ms, Lang::It), "23/11/2026, 08:05 UTC");
        assert_eq!(when(ms, Lang::En), "23 Nov 2026, 08:05 UTC");
        assert_eq!(time_of_day(ms), "08:05 UTC");
        assert_eq!(iso(ms), "2026-11-23T08:05:00Z");
    }

    #[test]
    fn the_qr_is_inline_svg_hidden_from_screen_readers() {
        let svg = qr_svg("SIGILLO1:7JFJM-YR1TK-M5Z49-61Z2B:1795421400000:c2lnbmF0dXJl").unwrap();
        assert!(svg.starts_with(r#"<svg aria-hidden="true" focusable="false" xmlns="#), "{svg}");
        assert!(svg.ends_with("</svg>"));
        assert!(!svg.contains("<?xml"));
    }
}
