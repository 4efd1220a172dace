//! The merchant's two pages: the checkout page that opens the challenge
//! (`GET /merchant/checkout/{threeDSServerTransID}`) and the `notificationURL` that the ACS
//! makes the browser post the final CRes to (`POST /merchant/notify`).
//!
//! The notification page runs inside the challenge iframe, on the simulator's origin, and
//! tells the checkout page the result with `postMessage`; the checkout page shows it in
//! `#outcome` (`data-trans-status` carries the bare value for browser tests).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde_json::Value;

use crate::html::escape;
use crate::records::{Notification, Records};
use crate::sim::Shared;
use crate::wire::{ChallengeWindow, b64url_decode, creq, encode_creq, str_field};

/// The message type the notification page posts to its parent.
const RESULT_MESSAGE: &str = "sigillo-3ds-sim:result";

pub(crate) async fn checkout(State(shared): State<Arc<Shared>>, Path(server_id): Path<String>) -> Response {
    let Some(tx) = shared.read(|r| r.transactions.get(&server_id).cloned()) else {
        return (StatusCode::NOT_FOUND, Html(page("Unknown transaction", "<p>No such purchase.</p>"))).into_response();
    };
    let Some(ares) = tx.ares.as_ref() else {
        return (StatusCode::CONFLICT, Html(page("No ARes", "<p>The ACS has not answered.</p>"))).into_response();
    };
    let status = str_field(ares, "transStatus").unwrap_or_default();
    let (Some(acs_url), Some(acs_id), "C") = (str_field(ares, "acsURL"), tx.acs_trans_id(), status) else {
        let body = format!(r#"<p id="outcome" data-trans-status="{0}">transStatus {0}</p>"#, escape(status));
        return Html(page("Checkout", &body)).into_response();
    };
    let creq = encode_creq(&creq(&server_id, acs_id, &tx.message_version, &tx.window_size));
    Html(challenge_page(&server_id, acs_url, &creq, &tx.session_data, ChallengeWindow::for_code(&tx.window_size)))
        .into_response()
}

fn challenge_page(server_id: &str, acs_url: &str, creq: &str, session_data: &str, window: ChallengeWindow) -> String {
    let iframe_size = match window {
        ChallengeWindow::Fixed { width, height } => format!(r#"width="{width}" height="{height}""#),
        ChallengeWindow::FullPage => r#"width="100%" height="100%" style="width:100vw;height:100vh""#.to_owned(),
    };
    let body = format!(
        r#"<p id="outcome" data-trans-status="">Waiting for the bank…</p>
<iframe name="challenge" id="challenge" {iframe_size} style="border:1px solid #999"></iframe>
<form id="challenge-form" method="post" action="{action}" target="challenge" data-trans-id="{id}">
<input type="hidden" name="creq" value="{creq}">
<input type="hidden" name="threeDSSessionData" value="{session}">
<button type="submit">Continue to your bank</button>
</form>
<script>
const form = document.getElementById('challenge-form');
window.addEventListener('message', (event) => {{
  const data = event.data;
  if (event.origin !== window.location.origin || !data || data.type !== '{RESULT_MESSAGE}') return;
  if (data.threeDSServerTransID !== form.dataset.transId) return;
  const outcome = document.getElementById('outcome');
  outcome.dataset.transStatus = data.transStatus;
  outcome.textContent = 'transStatus ' + data.transStatus;
}});
form.submit();
</script>"#,
        action = escape(acs_url),
        id = escape(server_id),
        creq = escape(creq),
        session = escape(session_data),
    );
    page("Checkout", &body)
}

pub(crate) async fn notify(State(shared): State<Arc<Shared>>, Form(fields): Form<HashMap<String, String>>) -> Response {
    let cres_raw = fields.get("cres").cloned().unwrap_or_default();
    let session_data = fields.get("threeDSSessionData").cloned().unwrap_or_default();
    let notification = shared.update(|records| {
        let notification = inspect(records, cres_raw, session_data);
        records.notifications.push(notification.clone());
        notification
    });
    let status = str_field(&notification.cres, "transStatus").unwrap_or_default();
    let server_id = str_field(&notification.cres, "threeDSServerTransID").unwrap_or_default();
    let body = format!(
        r#"<p id="result" data-trans-status="{status}" data-trans-id="{server_id}">transStatus {status}</p>
<script>
const result = document.getElementById('result');
if (window.parent !== window) {{
  window.parent.postMessage({{type: '{RESULT_MESSAGE}', transStatus: result.dataset.transStatus,
    threeDSServerTransID: result.dataset.transId}}, window.location.origin);
}}
</script>"#,
        status = escape(status),
        server_id = escape(server_id),
    );
    Html(page("Payment result", &body)).into_response()
}

/// Decodes the CRes and checks it against the transaction (EMV 3DS 2.2.0, final CRes of the
/// browser flow) and the session data against what the checkout page posted.
fn inspect(records: &Records, cres_raw: String, session_data: String) -> Notification {
    let mut problems = Vec::new();
    if cres_raw.contains('=') {
        problems.push("cres is base64url with padding".to_owned());
    }
    let cres = match b64url_decode(&cres_raw).map(|bytes| serde_json::from_slice::<Value>(&bytes)) {
        Ok(Ok(cres)) if cres.is_object() => cres,
        _ => {
            problems.push("cres is missing or not base64url of a JSON object".to_owned());
            Value::Null
        }
    };
    if !cres.is_null() {
        problems.extend(cres_problems(&cres));
    }
    let server_id = str_field(&cres, "threeDSServerTransID").unwrap_or_default();
    let tx = records.transactions.get(server_id);
    if let Some(tx) = tx {
        if str_field(&cres, "acsTransID") != tx.acs_trans_id() {
            problems.push("acsTransID differs from the ARes".to_owned());
        }
        if str_field(&cres, "messageVersion") != Some(tx.message_version.as_str()) {
            problems.push("messageVersion differs from the AReq".to_owned());
        }
    } else if !cres.is_null() {
        problems.push("threeDSServerTransID names no transaction of this merchant".to_owned());
    }
    if records.notification_for(server_id).is_some() {
        problems.push("a second notification for this transaction".to_owned());
    }
    let session_data_matches = tx.is_some_and(|tx| tx.session_data == session_data);
    if !session_data_matches {
        problems.push("threeDSSessionData differs from what the merchant posted".to_owned());
    }
    Notification { cres, cres_raw, three_ds_session_data: session_data, session_data_matches, problems }
}

fn cres_problems(cres: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    if str_field(cres, "messageType") != Some("CRes") {
        problems.push("messageType is not CRes".to_owned());
    }
    if str_field(cres, "challengeCompletionInd") != Some("Y") {
        problems.push("challengeCompletionInd is not Y".to_owned());
    }
    for name in ["threeDSServerTransID", "acsTransID", "messageVersion", "transStatus"] {
        if str_field(cres, name).is_none() {
            problems.push(format!("{name} is missing"));
        }
    }
    problems
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title></head>\n<body>\n{body}\n</body></html>\n",
        escape(title)
    )
}
