//! The simulated Directory Server's RReq endpoint (`POST /ds/rreq`): the ACS posts the
//! challenge result here; the DS checks it against EMV 3DS 2.2.0 Table A.1 and against the
//! transaction it forwarded, records it, and answers RRes or Erro.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::records::{DsExchange, Records};
use crate::sim::Shared;
use crate::wire::{ErrorCode, ds_erro, is_uuid, rres, str_field};

/// Elements every browser-challenge RReq carries.
const REQUIRED: [&str; 8] = [
    "threeDSServerTransID",
    "acsTransID",
    "dsTransID",
    "messageType",
    "messageVersion",
    "messageCategory",
    "transStatus",
    "interactionCounter",
];

type Refusal = (ErrorCode, String);

/// An element's name, the check its value must pass, and whether it must be present.
type FormatRule<'a> = (&'a str, &'a dyn Fn(&str) -> bool, bool);

pub(crate) async fn receive_rreq(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let rreq: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let answer = shared.update(|records| {
        let answer = if records.fail_next_rreqs > 0 {
            records.fail_next_rreqs -= 1;
            None
        } else {
            Some(match check(&rreq, records) {
                Ok(()) => rres(&rreq),
                Err((code, detail)) => ds_erro(code, &detail, &rreq),
            })
        };
        let http_status = if answer.is_some() { 200 } else { 500 };
        records.ds_exchanges.push(DsExchange { rreq, content_type, http_status, answer: answer.clone() });
        answer
    });
    match answer {
        Some(message) => crate::sim::json_response(StatusCode::OK, &message),
        None => (StatusCode::INTERNAL_SERVER_ERROR, "simulated DS failure").into_response(),
    }
}

/// Accepts the RReq, or says which Erro it deserves.
fn check(rreq: &Value, records: &Records) -> Result<(), Refusal> {
    if !rreq.is_object() {
        return Err((ErrorCode::InvalidMessage, "body is not a JSON object".into()));
    }
    if str_field(rreq, "messageType") != Some("RReq") {
        return Err((ErrorCode::InvalidMessage, "messageType".into()));
    }
    missing(rreq, &REQUIRED)?;
    check_formats(rreq)?;
    check_transaction(rreq, records)?;
    check_conditional(rreq)?;
    let server_id = str_field(rreq, "threeDSServerTransID");
    let earlier = records.ds_exchanges.iter().filter(|e| e.accepted());
    if earlier.into_iter().any(|e| str_field(&e.rreq, "threeDSServerTransID") == server_id) {
        return Err((ErrorCode::TransactionDataInvalid, "duplicate RReq for this transaction".into()));
    }
    Ok(())
}

fn missing(rreq: &Value, names: &[&str]) -> Result<(), Refusal> {
    let absent: Vec<&str> = names.iter().copied().filter(|n| rreq.get(*n).is_none()).collect();
    if absent.is_empty() { Ok(()) } else { Err((ErrorCode::RequiredMissing, absent.join(","))) }
}

fn check_formats(rreq: &Value) -> Result<(), Refusal> {
    let digits = |n: usize| move |v: &str| v.len() == n && v.bytes().all(|b| b.is_ascii_digit());
    let one_of = |allowed: &'static [&'static str]| move |v: &str| allowed.contains(&v);
    let rules: [FormatRule<'_>; 11] = [
        ("threeDSServerTransID", &is_uuid, true),
        ("acsTransID", &is_uuid, true),
        ("dsTransID", &is_uuid, true),
        ("messageVersion", &one_of(&["2.1.0", "2.2.0"]), true),
        ("messageCategory", &one_of(&["01", "02"]), true),
        // C and D announce a challenge; an RReq reports its end.
        ("transStatus", &one_of(&["Y", "N", "U", "A", "R"]), true),
        ("interactionCounter", &digits(2), true),
        ("eci", &digits(2), false),
        ("transStatusReason", &digits(2), false),
        ("challengeCancel", &digits(2), false),
        ("authenticationValue", &is_authentication_value, false),
    ];
    let invalid: Vec<&str> = rules
        .iter()
        .filter(|(name, valid, required)| match rreq.get(*name) {
            None => *required,
            Some(v) => !v.as_str().is_some_and(valid),
        })
        .map(|(name, ..)| *name)
        .collect();
    if invalid.is_empty() { Ok(()) } else { Err((ErrorCode::InvalidFormat, invalid.join(","))) }
}

/// The 20-byte CAVV/AAV, standard base64: 28 characters (Table A.1, authenticationValue).
fn is_authentication_value(text: &str) -> bool {
    use base64::Engine as _;
    text.len() == 28 && base64::engine::general_purpose::STANDARD.decode(text).is_ok_and(|b| b.len() == 20)
}

/// The three ids must name one transaction this DS forwarded, in the AReq's version.
fn check_transaction(rreq: &Value, records: &Records) -> Result<(), Refusal> {
    let server_id = str_field(rreq, "threeDSServerTransID").unwrap_or_default();
    let unknown = |what: &str| (ErrorCode::TransactionIdUnknown, what.to_owned());
    let tx = records.transactions.get(server_id).ok_or_else(|| unknown("threeDSServerTransID"))?;
    if str_field(rreq, "dsTransID") != Some(tx.ds_trans_id.as_str()) {
        return Err(unknown("dsTransID"));
    }
    if str_field(rreq, "acsTransID") != tx.acs_trans_id() {
        return Err(unknown("acsTransID"));
    }
    if str_field(rreq, "messageVersion") != Some(tx.message_version.as_str()) {
        return Err((ErrorCode::InvalidFormat, "messageVersion differs from the AReq's".into()));
    }
    Ok(())
}

/// Table A.1's conditions for the result fields.
fn check_conditional(rreq: &Value) -> Result<(), Refusal> {
    let status = str_field(rreq, "transStatus").unwrap_or_default();
    let payment = str_field(rreq, "messageCategory") == Some("01");
    // A successful (Y) or attempted (A) payment authentication carries its proof and ECI.
    if payment && matches!(status, "Y" | "A") {
        missing(rreq, &["authenticationValue", "eci"])?;
    }
    // A failed, unavailable or rejected authentication says why.
    if matches!(status, "N" | "U" | "R") {
        missing(rreq, &["transStatusReason"])?;
    }
    Ok(())
}
