//! Small pieces of the EMV 3DS 2.2.0 wire format that both the simulator and its tests use:
//! base64url, the browser CReq, challenge window sizes, RRes and Erro messages, UUID checks.

use base64::Engine as _;
use base64::alphabet::URL_SAFE;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};

/// Reads base64url whether or not the sender kept the `=` padding; callers that care whether
/// it was padded look for `=` themselves.
const URL_SAFE_ANY_PADDING: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// base64url without padding, as the browser flow carries `creq` and `cres` (EMV 3DS 2.2.0
/// core spec, browser-based challenge: "Base64url encoded", padding removed).
pub fn b64url_encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url, padded or not. Standard base64 (`+`, `/`) is refused.
pub fn b64url_decode(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    URL_SAFE_ANY_PADDING.decode(text)
}

/// The browser CReq for a challenge the ACS announced in its ARes.
pub fn creq(
    three_ds_server_trans_id: &str,
    acs_trans_id: &str,
    message_version: &str,
    challenge_window_size: &str,
) -> Value {
    json!({
        "threeDSServerTransID": three_ds_server_trans_id,
        "acsTransID": acs_trans_id,
        "messageType": "CReq",
        "messageVersion": message_version,
        "challengeWindowSize": challenge_window_size,
    })
}

/// The `creq` form field: the CReq serialised and base64url-encoded without padding.
pub fn encode_creq(creq: &Value) -> String {
    b64url_encode(creq.to_string().as_bytes())
}

/// How the checkout page sizes the challenge iframe for a `challengeWindowSize`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChallengeWindow {
    /// A fixed width × height in CSS pixels.
    Fixed { width: u32, height: u32 },
    /// "05": the challenge takes the whole page.
    FullPage,
}

impl ChallengeWindow {
    /// The EMV 3DS `challengeWindowSize` values; anything unknown (which an ACS must refuse
    /// in the CReq) is shown full page so the page still renders.
    pub fn for_code(code: &str) -> Self {
        let fixed = |width, height| Self::Fixed { width, height };
        match code {
            "01" => fixed(250, 400),
            "02" => fixed(390, 400),
            "03" => fixed(500, 600),
            "04" => fixed(600, 400),
            _ => Self::FullPage,
        }
    }
}

/// The DS's RRes for an accepted RReq: the three ids and the version echoed.
pub fn rres(rreq: &Value) -> Value {
    let mut out = echoed_ids(rreq);
    out.insert("messageType".into(), json!("RRes"));
    out.insert("messageVersion".into(), rreq.get("messageVersion").cloned().unwrap_or(json!("2.2.0")));
    // 01: results request received for further processing.
    out.insert("resultsStatus".into(), json!("01"));
    Value::Object(out)
}

/// The error codes the simulated DS answers with (EMV 3DS 2.2.0, Table A.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// 101: not a message the receiver expects here.
    InvalidMessage,
    /// 201: a required element is missing.
    RequiredMissing,
    /// 203: an element has an invalid format or value.
    InvalidFormat,
    /// 301: the transaction id is not recognised.
    TransactionIdUnknown,
    /// 305: the transaction data are not valid (here: a second RReq for one transaction).
    TransactionDataInvalid,
}

impl ErrorCode {
    /// The three-digit `errorCode`.
    pub fn code(self) -> &'static str {
        match self {
            Self::InvalidMessage => "101",
            Self::RequiredMissing => "201",
            Self::InvalidFormat => "203",
            Self::TransactionIdUnknown => "301",
            Self::TransactionDataInvalid => "305",
        }
    }

    fn description(self) -> &'static str {
        match self {
            Self::InvalidMessage => "Message received invalid",
            Self::RequiredMissing => "A message element required as defined in Table A.1 is missing",
            Self::InvalidFormat => "Format of one or more elements is invalid",
            Self::TransactionIdUnknown => "Transaction ID not recognised",
            Self::TransactionDataInvalid => "Transaction data not valid",
        }
    }
}

/// An Erro from the DS (`errorComponent` "D") about `received`, echoing the ids it carried.
pub fn ds_erro(code: ErrorCode, detail: &str, received: &Value) -> Value {
    let mut out = echoed_ids(received);
    let version = received
        .get("messageVersion")
        .and_then(Value::as_str)
        .filter(|v| matches!(*v, "2.1.0" | "2.2.0"))
        .unwrap_or("2.2.0");
    out.insert("messageType".into(), json!("Erro"));
    out.insert("messageVersion".into(), json!(version));
    out.insert("errorCode".into(), json!(code.code()));
    out.insert("errorComponent".into(), json!("D"));
    out.insert("errorDescription".into(), json!(code.description()));
    out.insert("errorDetail".into(), json!(detail));
    out.insert("errorMessageType".into(), json!("RReq"));
    Value::Object(out)
}

fn echoed_ids(message: &Value) -> Map<String, Value> {
    ["threeDSServerTransID", "acsTransID", "dsTransID"]
        .into_iter()
        .filter_map(|k| Some((k.to_owned(), json!(message.get(k)?.as_str()?))))
        .collect()
}

/// A string field of a JSON object, if present and a string.
pub fn str_field<'a>(message: &'a Value, name: &str) -> Option<&'a str> {
    message.get(name).and_then(Value::as_str)
}

/// Whether `text` is a UUID in the canonical 8-4-4-4-12 lowercase-or-uppercase hex form
/// that EMV 3DS transaction ids use (RFC 4122, 36 characters).
pub fn is_uuid(text: &str) -> bool {
    text.len() == 36 && uuid::Uuid::try_parse(text).is_ok() && text.as_bytes()[8] == b'-'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_has_no_padding_and_url_safe_alphabet() {
        // 0xfb 0xff encodes to "+/8=" in standard base64.
        assert_eq!(b64url_encode(&[0xfb, 0xff]), "-_8");
        assert_eq!(b64url_encode(b"a"), "YQ");
        assert_eq!(b64url_encode(b"ab"), "YWI");
        assert_eq!(b64url_encode(b"abc"), "YWJj");
        for input in [&b""[..], b"a", b"ab", b"abc", b"{\"x\":\"\xfe\xff\"}"] {
            let encoded = b64url_encode(input);
            assert!(!encoded.contains(['=', '+', '/']), "{encoded}");
            assert_eq!(b64url_decode(&encoded).unwrap(), input);
        }
    }

    #[test]
    fn base64url_decoding_tolerates_padding_but_not_the_standard_alphabet() {
        assert_eq!(b64url_decode("YQ==").unwrap(), b"a");
        assert_eq!(b64url_decode("-_8").unwrap(), [0xfb, 0xff]);
        assert!(b64url_decode("+/8=").is_err());
    }

    #[test]
    fn creq_round_trips_through_the_form_field() {
        let creq = creq("s-id", "a-id", "2.2.0", "03");
        let decoded: Value = serde_json::from_slice(&b64url_decode(&encode_creq(&creq)).unwrap()).unwrap();
        assert_eq!(decoded, creq);
        assert_eq!(decoded["messageType"], "CReq");
    }

    #[test]
    fn window_sizes_follow_the_spec_table() {
        use ChallengeWindow::*;
        assert_eq!(ChallengeWindow::for_code("01"), Fixed { width: 250, height: 400 });
        assert_eq!(ChallengeWindow::for_code("02"), Fixed { width: 390, height: 400 });
        assert_eq!(ChallengeWindow::for_code("03"), Fixed { width: 500, height: 600 });
        assert_eq!(ChallengeWindow::for_code("04"), Fixed { width: 600, height: 400 });
        assert_eq!(ChallengeWindow::for_code("05"), FullPage);
    }

    #[test]
    fn uuids_are_recognised_strictly() {
        assert!(is_uuid("bc9f0b90-1041-47f0-94df-d692170ea0d7"));
        assert!(!is_uuid("bc9f0b90104147f094dfd692170ea0d7"));
        assert!(!is_uuid("not-a-uuid"));
    }

    #[test]
    fn erro_echoes_ids_and_names_the_ds() {
        let rreq = json!({"threeDSServerTransID": "s", "acsTransID": "a", "messageVersion": "2.1.0"});
        let erro = ds_erro(ErrorCode::RequiredMissing, "dsTransID", &rreq);
        assert_eq!(erro["errorCode"], "201");
        assert_eq!(erro["errorComponent"], "D");
        assert_eq!(erro["messageVersion"], "2.1.0");
        assert_eq!(erro["threeDSServerTransID"], "s");
        assert!(erro.get("dsTransID").is_none());
    }
}
