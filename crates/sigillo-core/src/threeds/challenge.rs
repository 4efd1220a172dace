//! The browser challenge (EMV 3DS 2.2.0 §5.8, Table A.1): the `CReq` the cardholder's
//! browser posts to the ACS, the final `CRes` the ACS posts back to the 3DS Server's
//! `notificationURL`, and the `RReq`/`RRes` exchanged with the DS at the end.
//!
//! The small messages here (CReq, RRes, and an `Erro` from the DS) are checked by one
//! routine, in the same order as `parse_areq` (see `validate.rs`), so the same error wins:
//! 1. not decodable, not JSON, not an object → 101 (errorDetail "Invalid Formatted Message",
//!    Table A.4's wording for 101); `messageType` missing → 201, not the expected one → 101
//!    ("Invalid Message Type");
//! 2. `messageVersion` missing → 201, not one we speak → 102 naming the versions we speak;
//! 3. a repeated top-level key → 204;
//! 4. required elements missing → 201 naming all of them. Annex A.1: an element present
//!    with an empty or null value counts as missing;
//! 5. formats → 203 naming all of them (transaction IDs: canonical 36-character UUIDs);
//! 6. a critical `messageExtension` (we recognise none) → 202 naming its id.
//!
//! What needs stored state (an unknown `acsTransID` → 301, a CReq for a transaction that
//! did not get `C` or was already answered → 305, a CReq whose `messageVersion` differs from
//! the AReq's → 203) is the server's to check; [`CReq::erro`] builds those answers.

use super::authval::{self, AUTH_VALUE_LEN, Brand, EciOutcome};
use super::messages::{
    AuthenticationType, Erro, ErrorCode, MessageCategory, MessageExtension, MessageVersion, TransStatus,
    TransStatusReason, code_enum,
};
use super::validate::{ErroBuilder, TopLevel, extensions_ok, is_uuid};
use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

code_enum! {
    /// `challengeWindowSize` (CReq, browser only): the size of the iframe the requestor
    /// opened for the challenge; the ACS formats its page to fit it.
    WindowSize {
        /// 01: 250 × 400.
        Size250x400 = "01",
        /// 02: 390 × 400.
        Size390x400 = "02",
        /// 03: 500 × 600.
        Size500x600 = "03",
        /// 04: 600 × 400.
        Size600x400 = "04",
        /// 05: full screen.
        FullScreen = "05",
    }
}

impl WindowSize {
    /// Width and height in CSS pixels, as Table A.1 writes them (width × height); `None`
    /// for full screen.
    pub fn dimensions(self) -> Option<(u32, u32)> {
        match self {
            Self::Size250x400 => Some((250, 400)),
            Self::Size390x400 => Some((390, 400)),
            Self::Size500x600 => Some((500, 600)),
            Self::Size600x400 => Some((600, 400)),
            Self::FullScreen => None,
        }
    }
}

code_enum! {
    /// `challengeCancel` (RReq; CReq for the app channel). Values as in 2.1.0; 2.2.0 made
    /// 02 reserved and redefined 03 as "transaction timed out – decoupled authentication".
    /// [`rreq`] sends either as 07 in a 2.2.0 or later message (sigillo does no decoupled
    /// authentication, so it never means the 2.2.0 sense of 03).
    ChallengeCancel {
        /// 01: the cardholder selected "Cancel".
        CardholderCancelled = "01",
        /// 02 (2.1.0 only): the 3DS Requestor cancelled the authentication.
        RequestorCancelled = "02",
        /// 03 (2.1.0 meaning): transaction abandoned.
        Abandoned = "03",
        /// 04: transaction timed out at the ACS – other timeouts.
        AcsTimeoutOther = "04",
        /// 05: transaction timed out at the ACS – first CReq not received by the ACS.
        AcsTimeoutFirstCReq = "05",
        /// 06: transaction error.
        TransactionError = "06",
        /// 07: unknown.
        Unknown = "07",
        /// 08: transaction timed out at the SDK (app channel).
        SdkTimeout = "08",
    }
}

impl ChallengeCancel {
    /// Whether the code means the same in a message of `version` (see the enum's docs).
    pub fn valid_in(self, version: MessageVersion) -> bool {
        version == MessageVersion::V2_1_0 || !matches!(self, Self::RequestorCancelled | Self::Abandoned)
    }
}

code_enum! {
    /// `authenticationMethod` (RReq, from 2.2.0): how the ACS authenticated the cardholder.
    /// For sigillo: SMS OTP + Key6 is 02 (the OTP is the dynamic factor; unsure whether a DS
    /// expects 01 for the static Key6 part instead), approval in the app with biometry 07,
    /// with the Smart PIN 08 or 09 (we lean to 09: the PIN is not a login).
    AuthenticationMethod {
        StaticPasscode = "01",
        SmsOtp = "02",
        KeyFobOrCardReaderOtp = "03",
        AppOtp = "04",
        OtpOther = "05",
        Kba = "06",
        OobBiometrics = "07",
        OobLogin = "08",
        OobOther = "09",
        Other = "10",
        PushConfirmation = "11",
    }
}

code_enum! {
    /// `resultsStatus` (RRes). 03 may be a 2.2.0 addition; it is accepted in every version
    /// since we only read it.
    ResultsStatus ds {
        /// 01: RReq received for further processing.
        Received = "01",
        /// 02: CReq not sent to the ACS by the 3DS Requestor (it opted out of the challenge).
        ChallengeNotSent = "02",
        /// 03: the ARes (C or D) was not delivered to the 3DS Requestor: technical error.
        AresNotDelivered = "03",
    }
}

code_enum! {
    /// `acsInterface` of `acsRenderingType` (app channel).
    AcsInterface {
        Native = "01",
        Html = "02",
    }
}

code_enum! {
    /// `acsUiTemplate` of `acsRenderingType` (app channel).
    AcsUiTemplate {
        Text = "01",
        SingleSelect = "02",
        MultiSelect = "03",
        Oob = "04",
        HtmlOther = "05",
    }
}

code_enum! {
    /// `challengeCompletionInd` (CRes).
    ChallengeCompletionInd {
        Completed = "Y",
        NotCompleted = "N",
    }
}

/// `acsRenderingType`: the UI the ACS used for an app challenge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcsRenderingType {
    #[serde(rename = "acsInterface")]
    pub acs_interface: AcsInterface,
    #[serde(rename = "acsUiTemplate")]
    pub acs_ui_template: AcsUiTemplate,
}

/// The challenge request of the browser channel, as posted (base64url) in the form field `creq`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CReq {
    #[serde(rename = "messageType")]
    pub message_type: String,
    #[serde(rename = "messageVersion")]
    pub message_version: MessageVersion,
    #[serde(rename = "threeDSServerTransID")]
    pub three_ds_server_trans_id: String,
    #[serde(rename = "acsTransID")]
    pub acs_trans_id: String,
    #[serde(rename = "challengeWindowSize")]
    pub challenge_window_size: WindowSize,
    /// App channel only; accepted (and format-checked) when a browser CReq carries it.
    #[serde(rename = "sdkTransID", default, skip_serializing_if = "Option::is_none")]
    pub sdk_trans_id: Option<String>,
    #[serde(rename = "messageExtension", default, skip_serializing_if = "Option::is_none")]
    pub message_extension: Option<Vec<MessageExtension>>,
}

impl CReq {
    /// An `Erro` about this (well-formed) CReq, for the checks that need stored state:
    /// 301 for an `acsTransID` we do not know, 305 for a CReq we did not expect or already
    /// answered, 203 `messageVersion` when it differs from the AReq's (Table A.4).
    pub fn erro(&self, code: ErrorCode, detail: &str) -> Box<Erro> {
        ErroBuilder {
            version: Some(self.message_version),
            message_type: Some("CReq".into()),
            server_id: Some(self.three_ds_server_trans_id.clone()),
            ds_id: None,
            acs_id: Some(self.acs_trans_id.clone()),
            sdk_id: self.sdk_trans_id.clone(),
        }
        .build(code, detail.into())
    }
}

/// The largest CReq accepted, decoded. A browser CReq is five short fields (about 200 bytes);
/// 4 KiB leaves room for message extensions and bounds what an anonymous post can make us parse.
pub const MAX_CREQ_BYTES: usize = 4096;
/// The longest `creq` form value that can decode to [`MAX_CREQ_BYTES`] (4 characters per 3 bytes, padded).
const MAX_CREQ_ENCODED: usize = MAX_CREQ_BYTES.div_ceil(3) * 4;

/// base64url (RFC 4648 §5) with or without `=` padding. Table A.1 and §5.8 say the browser
/// CReq is base64url-encoded and say nothing of padding, and 3DS Servers differ, so both
/// forms are taken. Standard base64 (`+`, `/`) is not base64url and is refused: we found no
/// EMVCo text allowing it.
const CREQ_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Table A.4's `errorDetail` for a 101 whose message cannot be read.
const INVALID_FORMATTED_MESSAGE: &str = "Invalid Formatted Message";
/// Table A.4's `errorDetail` for a 101 with the wrong `messageType`.
const INVALID_MESSAGE_TYPE: &str = "Invalid Message Type";

/// Decodes and checks the `creq` form value of a browser challenge. See the module docs
/// for the order of the checks and the error codes.
///
/// An undecodable value is 101, not 203: 203 is for a data element whose format is wrong,
/// and here no data element can be read at all (Table A.4 101: "the message is not
/// recognised"). A value over [`MAX_CREQ_BYTES`] is 203 naming `creq`: the form field itself
/// is out of bounds (our limit; the spec sets none).
pub fn parse_creq(form_value: &str) -> Result<CReq, Box<Erro>> {
    if form_value.len() > MAX_CREQ_ENCODED {
        return Err(ErroBuilder::default().build(ErrorCode::InvalidFormat, "creq".into()));
    }
    let unreadable = || ErroBuilder::default().build(ErrorCode::MessageInvalid, INVALID_FORMATTED_MESSAGE.into());
    let json = CREQ_BASE64.decode(form_value).map_err(|_| unreadable())?;
    if json.len() > MAX_CREQ_BYTES {
        return Err(ErroBuilder::default().build(ErrorCode::InvalidFormat, "creq".into()));
    }
    let message = Message::read(&json)?;
    message.check("CReq", CREQ_RULES)
}

/// The browser CReq's elements (Table A.1, CReq column, 02-BRW).
const CREQ_RULES: &[Rule] = &[
    Rule { name: "threeDSServerTransID", required: true, ok: uuid },
    Rule { name: "acsTransID", required: true, ok: uuid },
    Rule { name: "challengeWindowSize", required: true, ok: window_size },
    Rule { name: "sdkTransID", required: false, ok: uuid },
    Rule { name: "messageExtension", required: false, ok: extensions },
];

/// The final challenge response of the browser channel, posted by the cardholder's browser to
/// the `notificationURL` in the form field `cres`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CRes {
    #[serde(rename = "messageType")]
    pub message_type: String,
    #[serde(rename = "messageVersion")]
    pub message_version: MessageVersion,
    #[serde(rename = "threeDSServerTransID")]
    pub three_ds_server_trans_id: String,
    #[serde(rename = "acsTransID")]
    pub acs_trans_id: String,
    #[serde(rename = "sdkTransID", default, skip_serializing_if = "Option::is_none")]
    pub sdk_trans_id: Option<String>,
    /// Y in a final CRes. Table A.1 lists the element for the app channel; a browser final
    /// CRes carrying it is what 3DS Servers we know of send and accept (unsure it is required).
    #[serde(rename = "challengeCompletionInd")]
    pub challenge_completion_ind: ChallengeCompletionInd,
    #[serde(rename = "transStatus")]
    pub trans_status: TransStatus,
    #[serde(rename = "messageExtension", default, skip_serializing_if = "Option::is_none")]
    pub message_extension: Option<Vec<MessageExtension>>,
}

/// The final CRes for `creq`. Table A.15: a final CRes carries only Y or N, so every other
/// status (U, A, R after a cancel, timeout or error) is sent as N; the RReq to the DS carries
/// the precise status, its reason and the `challengeCancel`.
pub fn final_cres(creq: &CReq, trans_status: TransStatus) -> CRes {
    let trans_status = match trans_status {
        TransStatus::Authenticated => TransStatus::Authenticated,
        _ => TransStatus::NotAuthenticated,
    };
    CRes {
        message_type: "CRes".into(),
        message_version: creq.message_version,
        three_ds_server_trans_id: creq.three_ds_server_trans_id.clone(),
        acs_trans_id: creq.acs_trans_id.clone(),
        sdk_trans_id: creq.sdk_trans_id.clone(),
        challenge_completion_ind: ChallengeCompletionInd::Completed,
        trans_status,
        message_extension: None,
    }
}

impl CRes {
    /// The JSON, base64url-encoded without padding: the `cres` form field's value.
    pub fn to_base64url(&self) -> String {
        let json =
            serde_json::to_vec(self).unwrap_or_else(|e| unreachable!("a CRes has string keys and plain values: {e}"));
        URL_SAFE_NO_PAD.encode(json)
    }
}

/// How the challenge ended, shaped so that only what Table A.1 allows can be said:
/// an authentication value (and ECI) only with Y or A, a reason with N, U and R, a
/// `challengeCancel` only when the cardholder did not complete the challenge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChallengeOutcome {
    /// Y: the cardholder completed the challenge and was authenticated.
    Authenticated { authentication_value: [u8; AUTH_VALUE_LEN] },
    /// A: attempts processing.
    Attempted { authentication_value: [u8; AUTH_VALUE_LEN] },
    /// N, U or R with its reason: the cardholder completed the challenge and failed it (wrong
    /// codes, Key6 blocked), or the ACS refused. A reason the message version does not define
    /// is sent as 01 (card authentication failed).
    Failed { status: FailureStatus, reason: TransStatusReason },
    /// N or U (or R) after a cancel, a timeout or an error. The reason is derived: 14 for an
    /// ACS timeout (04, 05; Table A.1 ties them together), 22 "ACS technical issue" for a
    /// transaction error (06) from 2.2.0, otherwise 01 "card authentication failed", as the
    /// EMVCo test platform's cardholder-cancel RReq does. Unsure: the spec gives no mapping.
    Cancelled { cancel: ChallengeCancel, status: FailureStatus },
}

/// A `transStatus` without authentication.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureStatus {
    /// N: not authenticated, transaction denied.
    NotAuthenticated,
    /// U: authentication could not be performed.
    Unavailable,
    /// R: rejected; the merchant must not attempt authorisation.
    Rejected,
}

impl FailureStatus {
    fn trans_status(self) -> TransStatus {
        match self {
            Self::NotAuthenticated => TransStatus::NotAuthenticated,
            Self::Unavailable => TransStatus::Unavailable,
            Self::Rejected => TransStatus::Rejected,
        }
    }
}

/// What the ACS stored about a challenged transaction, all the RReq needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RReqFacts {
    /// The AReq's version: it does not change within a transaction.
    pub message_version: MessageVersion,
    pub three_ds_server_trans_id: String,
    pub ds_trans_id: String,
    pub acs_trans_id: String,
    /// App channel only.
    pub sdk_trans_id: Option<String>,
    pub category: MessageCategory,
    /// For the ECI.
    pub brand: Brand,
    /// The ARes's `authenticationType`: the kind of challenge shown.
    pub authentication_type: AuthenticationType,
    /// Sent from 2.2.0 on (the element does not exist in 2.1.0).
    pub authentication_method: AuthenticationMethod,
    /// Authentication cycles the cardholder attempted; sent as two digits, 99 at most.
    /// 0 is valid (a cancel before any attempt; the test platform sends "00").
    pub interaction_counter: u8,
    pub outcome: ChallengeOutcome,
    /// App channel only.
    pub acs_rendering_type: Option<AcsRenderingType>,
}

/// The results request the ACS sends to the DS (`dsURL`) when the challenge ends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RReq {
    #[serde(rename = "messageType")]
    pub message_type: String,
    #[serde(rename = "messageVersion")]
    pub message_version: MessageVersion,
    #[serde(rename = "messageCategory")]
    pub message_category: MessageCategory,
    #[serde(rename = "threeDSServerTransID")]
    pub three_ds_server_trans_id: String,
    #[serde(rename = "dsTransID")]
    pub ds_trans_id: String,
    #[serde(rename = "acsTransID")]
    pub acs_trans_id: String,
    #[serde(rename = "sdkTransID", default, skip_serializing_if = "Option::is_none")]
    pub sdk_trans_id: Option<String>,
    #[serde(rename = "transStatus")]
    pub trans_status: TransStatus,
    #[serde(rename = "transStatusReason", default, skip_serializing_if = "Option::is_none")]
    pub trans_status_reason: Option<TransStatusReason>,
    /// Table A.1 requires it for Y and N; sent for every outcome, as the test platform does.
    #[serde(rename = "authenticationType", default, skip_serializing_if = "Option::is_none")]
    pub authentication_type: Option<AuthenticationType>,
    #[serde(rename = "authenticationMethod", default, skip_serializing_if = "Option::is_none")]
    pub authentication_method: Option<AuthenticationMethod>,
    /// Base64 of the 20-byte value (28 characters), Y and A only.
    #[serde(rename = "authenticationValue", default, skip_serializing_if = "Option::is_none")]
    pub authentication_value: Option<String>,
    /// Y and A only. Table A.1 leaves ECI presence to DS rules; some schemes also want the
    /// "not authenticated" ECI with N/U (the test platform sends 00). Not done: such a DS rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eci: Option<String>,
    #[serde(rename = "interactionCounter")]
    pub interaction_counter: String,
    #[serde(rename = "challengeCancel", default, skip_serializing_if = "Option::is_none")]
    pub challenge_cancel: Option<ChallengeCancel>,
    #[serde(rename = "acsRenderingType", default, skip_serializing_if = "Option::is_none")]
    pub acs_rendering_type: Option<AcsRenderingType>,
    #[serde(rename = "messageExtension", default, skip_serializing_if = "Option::is_none")]
    pub message_extension: Option<Vec<MessageExtension>>,
}

impl ChallengeOutcome {
    /// The `transStatus` and `transStatusReason` this outcome is reported with in a message
    /// of `version` (see the variants for the reasons).
    pub fn status(&self, version: MessageVersion) -> (TransStatus, Option<TransStatusReason>) {
        let for_version = |reason: TransStatusReason| {
            if reason.since() <= version { reason } else { TransStatusReason::CardAuthenticationFailed }
        };
        match *self {
            Self::Authenticated { .. } => (TransStatus::Authenticated, None),
            Self::Attempted { .. } => (TransStatus::Attempted, None),
            Self::Failed { status, reason } => (status.trans_status(), Some(for_version(reason))),
            Self::Cancelled { cancel, status } => {
                let reason = match cancel {
                    ChallengeCancel::AcsTimeoutOther | ChallengeCancel::AcsTimeoutFirstCReq => {
                        TransStatusReason::TimedOutAtAcs
                    }
                    ChallengeCancel::TransactionError => for_version(TransStatusReason::AcsTechnicalIssue),
                    _ => TransStatusReason::CardAuthenticationFailed,
                };
                (status.trans_status(), Some(reason))
            }
        }
    }
}

/// The RReq for a finished challenge. The conditionals of Table A.1 follow from the shape of
/// [`ChallengeOutcome`]; see its variants for the reasons sent.
pub fn rreq(facts: &RReqFacts) -> RReq {
    let version = facts.message_version;
    let value =
        |v: &[u8; AUTH_VALUE_LEN], outcome| (Some(authval::to_base64(v)), Some(authval::eci(facts.brand, outcome)));
    let (status, reason) = facts.outcome.status(version);
    let ((authentication_value, eci), cancel) = match facts.outcome {
        ChallengeOutcome::Authenticated { authentication_value } => {
            (value(&authentication_value, EciOutcome::Authenticated), None)
        }
        ChallengeOutcome::Attempted { authentication_value } => {
            (value(&authentication_value, EciOutcome::Attempted), None)
        }
        ChallengeOutcome::Failed { .. } => ((None, None), None),
        ChallengeOutcome::Cancelled { cancel, .. } => {
            ((None, None), Some(if cancel.valid_in(version) { cancel } else { ChallengeCancel::Unknown }))
        }
    };
    RReq {
        message_type: "RReq".into(),
        message_version: version,
        message_category: facts.category,
        three_ds_server_trans_id: facts.three_ds_server_trans_id.clone(),
        ds_trans_id: facts.ds_trans_id.clone(),
        acs_trans_id: facts.acs_trans_id.clone(),
        sdk_trans_id: facts.sdk_trans_id.clone(),
        trans_status: status,
        trans_status_reason: reason,
        authentication_type: Some(facts.authentication_type),
        authentication_method: (version >= MessageVersion::V2_2_0).then_some(facts.authentication_method),
        authentication_value,
        eci: eci.map(str::to_owned),
        interaction_counter: format!("{:02}", facts.interaction_counter.min(99)),
        challenge_cancel: cancel,
        acs_rendering_type: facts.acs_rendering_type,
        message_extension: None,
    }
}

/// The DS's answer to an RReq.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RRes {
    #[serde(rename = "messageType")]
    pub message_type: String,
    #[serde(rename = "messageVersion")]
    pub message_version: MessageVersion,
    #[serde(rename = "threeDSServerTransID")]
    pub three_ds_server_trans_id: String,
    #[serde(rename = "dsTransID")]
    pub ds_trans_id: String,
    #[serde(rename = "acsTransID")]
    pub acs_trans_id: String,
    #[serde(rename = "sdkTransID", default, skip_serializing_if = "Option::is_none")]
    pub sdk_trans_id: Option<String>,
    #[serde(rename = "resultsStatus")]
    pub results_status: ResultsStatus,
    #[serde(rename = "messageExtension", default, skip_serializing_if = "Option::is_none")]
    pub message_extension: Option<Vec<MessageExtension>>,
}

/// The RRes elements (Table A.1, RRes column). `sdkTransID` is required for the app channel,
/// which the RRes alone does not tell, so it is only format-checked here.
const RRES_RULES: &[Rule] = &[
    Rule { name: "threeDSServerTransID", required: true, ok: uuid },
    Rule { name: "dsTransID", required: true, ok: uuid },
    Rule { name: "acsTransID", required: true, ok: uuid },
    Rule { name: "resultsStatus", required: true, ok: results_status },
    Rule { name: "sdkTransID", required: false, ok: uuid },
    Rule { name: "messageExtension", required: false, ok: extensions },
];

/// An `Erro` from the DS (Table A.1, Erro column).
const ERRO_RULES: &[Rule] = &[
    Rule { name: "errorCode", required: true, ok: error_code },
    Rule { name: "errorComponent", required: true, ok: error_component },
    Rule { name: "errorDescription", required: true, ok: text_2048 },
    Rule { name: "errorDetail", required: true, ok: text_2048 },
    Rule { name: "errorMessageType", required: false, ok: message_type },
    Rule { name: "threeDSServerTransID", required: false, ok: uuid },
    Rule { name: "dsTransID", required: false, ok: uuid },
    Rule { name: "acsTransID", required: false, ok: uuid },
    Rule { name: "sdkTransID", required: false, ok: uuid },
];

/// Parses and checks the DS's RRes. The `Erro` returned is the one to send the DS back.
pub fn parse_rres(raw: &[u8]) -> Result<RRes, Box<Erro>> {
    Message::read(raw)?.check("RRes", RRES_RULES)
}

/// What the DS may answer an RReq with.
#[derive(Clone, Debug, PartialEq)]
pub enum RResOrErro {
    RRes(RRes),
    /// The DS refused the RReq.
    Erro(Erro),
}

/// The DS's answer to an RReq: an RRes, or an `Erro` of its own. `Err` is our `Erro` about
/// an answer we cannot read (a malformed `Erro` is refused like a malformed RRes).
pub fn parse_rres_or_erro(raw: &[u8]) -> Result<RResOrErro, Box<Erro>> {
    let message = Message::read(raw)?;
    if message.map.get("messageType").and_then(Value::as_str) == Some("Erro") {
        message.check("Erro", ERRO_RULES).map(RResOrErro::Erro)
    } else {
        message.check("RRes", RRES_RULES).map(RResOrErro::RRes)
    }
}

/// One element of a small message: its name, whether it must be present, its format.
struct Rule {
    name: &'static str,
    required: bool,
    ok: fn(&Value) -> bool,
}

fn uuid(v: &Value) -> bool {
    v.as_str().is_some_and(is_uuid)
}

fn window_size(v: &Value) -> bool {
    v.as_str().and_then(WindowSize::from_code).is_some()
}

fn results_status(v: &Value) -> bool {
    v.as_str().and_then(ResultsStatus::from_code).is_some()
}

fn extensions(v: &Value) -> bool {
    matches!(v, Value::Array(items) if extensions_ok(items))
}

fn error_code(v: &Value) -> bool {
    v.as_str().and_then(ErrorCode::from_code).is_some()
}

fn error_component(v: &Value) -> bool {
    matches!(v.as_str(), Some("C" | "S" | "D" | "A"))
}

fn text_2048(v: &Value) -> bool {
    v.as_str().is_some_and(|s| (1..=2048).contains(&s.chars().count()))
}

fn message_type(v: &Value) -> bool {
    matches!(v.as_str(), Some("AReq" | "ARes" | "CReq" | "CRes" | "PReq" | "PRes" | "RReq" | "RRes" | "Erro"))
}

/// A JSON object read key by key, with the ids an `Erro` about it can echo.
struct Message {
    map: Map<String, Value>,
    duplicates: Vec<String>,
    erro: ErroBuilder,
}

impl Message {
    fn read(json: &[u8]) -> Result<Self, Box<Erro>> {
        let TopLevel { map, duplicates } = serde_json::from_slice(json)
            .map_err(|_| ErroBuilder::default().build(ErrorCode::MessageInvalid, INVALID_FORMATTED_MESSAGE.into()))?;
        let erro = ErroBuilder::from_map(&map);
        Ok(Self { map, duplicates, erro })
    }

    /// Runs the checks of the module docs, then deserializes.
    fn check<T: serde::de::DeserializeOwned>(self, expected_type: &str, rules: &[Rule]) -> Result<T, Box<Erro>> {
        let Self { map, duplicates, erro } = self;
        match map.get("messageType") {
            None | Some(Value::Null) => return Err(erro.build(ErrorCode::RequiredMissing, "messageType".into())),
            Some(Value::String(t)) if t == expected_type => {}
            Some(_) => return Err(erro.build(ErrorCode::MessageInvalid, INVALID_MESSAGE_TYPE.into())),
        }
        let version = match map.get("messageVersion") {
            None | Some(Value::Null) => return Err(erro.build(ErrorCode::RequiredMissing, "messageVersion".into())),
            Some(v) => v.as_str().and_then(MessageVersion::parse),
        };
        let Some(version) = version else {
            let supported: Vec<&str> = MessageVersion::SUPPORTED.iter().map(|v| v.as_str()).collect();
            return Err(erro.build(ErrorCode::VersionNotSupported, supported.join(",")));
        };
        let erro = ErroBuilder { version: Some(version), ..erro };
        if !duplicates.is_empty() {
            return Err(erro.build(ErrorCode::DuplicateElement, duplicates.join(",")));
        }
        // Annex A.1: "the field name is present but the value is empty or null" is missing.
        let absent =
            |name: &str| matches!(map.get(name), None | Some(Value::Null)) || map.get(name) == Some(&"".into());
        let missing: Vec<&str> = rules.iter().filter(|r| r.required && absent(r.name)).map(|r| r.name).collect();
        if !missing.is_empty() {
            return Err(erro.build(ErrorCode::RequiredMissing, missing.join(",")));
        }
        let invalid: Vec<&str> =
            rules.iter().filter(|r| map.get(r.name).is_some_and(|v| !(r.ok)(v))).map(|r| r.name).collect();
        if !invalid.is_empty() {
            return Err(erro.build(ErrorCode::InvalidFormat, invalid.join(",")));
        }
        if let Some(Value::Array(exts)) = map.get("messageExtension") {
            // This ACS recognises no message extension (Table A.7: a critical one it does not
            // recognise makes the message invalid).
            let critical: Vec<&str> = exts
                .iter()
                .filter(|e| e.get("criticalityIndicator") == Some(&Value::Bool(true)))
                .filter_map(|e| e.get("id").and_then(Value::as_str))
                .collect();
            if !critical.is_empty() {
                return Err(erro.build(ErrorCode::CriticalExtensionNotRecognised, critical.join(",")));
            }
        }
        // The rules accepted every element the struct reads; a disagreement between the two
        // is answered with 203 naming the message rather than a panic.
        serde_json::from_value(Value::Object(map))
            .map_err(|_| erro.build(ErrorCode::InvalidFormat, expected_type.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::threeds::testutil::{with, without};
    use base64::engine::general_purpose;
    use serde_json::json;

    /// Standard base64 with padding, which the CReq must refuse.
    fn standard_base64(bytes: &[u8]) -> String {
        general_purpose::STANDARD.encode(bytes)
    }

    const SERVER_ID: &str = "8a880dc0-d2d2-4067-bcb1-b08d1690b26e";
    const ACS_ID: &str = "0a0a0a0a-d2d2-4067-bcb1-b08d1690b26e";
    const DS_ID: &str = "9b9b9b9b-d2d2-4067-bcb1-b08d1690b26e";

    fn creq_json() -> Value {
        json!({
            "messageType": "CReq", "messageVersion": "2.2.0",
            "threeDSServerTransID": SERVER_ID, "acsTransID": ACS_ID, "challengeWindowSize": "03"
        })
    }

    fn encode(v: &Value) -> String {
        URL_SAFE_NO_PAD.encode(v.to_string())
    }

    fn err(form: &str) -> (ErrorCode, String) {
        let e = parse_creq(form).unwrap_err();
        assert_eq!((e.message_type.as_str(), e.error_component.as_str()), ("Erro", "A"));
        (e.error_code, e.error_detail)
    }

    #[test]
    fn window_sizes() {
        let table = [
            ("01", Some((250, 400))),
            ("02", Some((390, 400))),
            ("03", Some((500, 600))),
            ("04", Some((600, 400))),
            ("05", None),
        ];
        assert_eq!(WindowSize::ALL.len(), table.len());
        for (code, dims) in table {
            assert_eq!(WindowSize::from_code(code).map(WindowSize::dimensions), Some(dims), "{code}");
        }
        for bad in ["00", "06", "1", "5", ""] {
            assert_eq!(WindowSize::from_code(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_browser_creq_parses_with_or_without_padding() {
        let v = creq_json();
        let creq = parse_creq(&encode(&v)).unwrap();
        assert_eq!(creq.challenge_window_size, WindowSize::Size500x600);
        assert_eq!((creq.acs_trans_id.as_str(), creq.message_version), (ACS_ID, MessageVersion::V2_2_0));
        // This JSON's length is not a multiple of 3, so the padded form really differs.
        let padded = general_purpose::URL_SAFE.encode(v.to_string());
        assert!(padded.ends_with('='), "{padded}");
        assert_eq!(parse_creq(&padded).unwrap(), creq);
        // 2.1.0 and 2.3.1 too.
        for version in ["2.1.0", "2.3.1"] {
            assert!(parse_creq(&encode(&with(creq_json(), "messageVersion", json!(version)))).is_ok());
        }
    }

    #[test]
    fn standard_base64_and_garbage_are_101() {
        // Pick a CReq whose standard encoding has a '+' or '/': pad a value until it does.
        let v = (0..64)
            .map(|n| with(creq_json(), "x", json!("?".repeat(n))))
            .find(|v| standard_base64(v.to_string().as_bytes()).contains(['+', '/']))
            .unwrap();
        let invalid = (ErrorCode::MessageInvalid, INVALID_FORMATTED_MESSAGE.to_owned());
        assert_eq!(err(&standard_base64(v.to_string().as_bytes())), invalid);
        assert_eq!(err("not base64!"), invalid);
        assert_eq!(err(""), invalid);
        assert_eq!(err(&URL_SAFE_NO_PAD.encode("{nope")), invalid);
        assert_eq!(err(&URL_SAFE_NO_PAD.encode("[1]")), invalid);
        // Padding in the wrong place.
        assert_eq!(err(&format!("={}", encode(&creq_json()))), invalid);
    }

    #[test]
    fn message_type_and_version() {
        let e = parse_creq(&encode(&with(creq_json(), "messageType", json!("AReq")))).unwrap_err();
        assert_eq!((e.error_code, e.error_detail.as_str()), (ErrorCode::MessageInvalid, INVALID_MESSAGE_TYPE));
        // The ids it could read come back, and the type it read.
        assert_eq!(e.three_ds_server_trans_id.as_deref(), Some(SERVER_ID));
        assert_eq!(e.acs_trans_id.as_deref(), Some(ACS_ID));
        assert_eq!(e.error_message_type.as_deref(), Some("AReq"));
        assert_eq!(
            err(&encode(&without(creq_json(), "messageType"))),
            (ErrorCode::RequiredMissing, "messageType".into())
        );
        let e = parse_creq(&encode(&with(creq_json(), "messageVersion", json!("2.2")))).unwrap_err();
        assert_eq!((e.error_code, e.error_detail.as_str()), (ErrorCode::VersionNotSupported, "2.1.0,2.2.0,2.3.1"));
        assert_eq!(e.message_version, "2.2.0");
        assert_eq!(err(&encode(&without(creq_json(), "messageVersion"))).0, ErrorCode::RequiredMissing);
    }

    #[test]
    fn missing_elements_are_201_and_all_named() {
        let v = without(without(creq_json(), "acsTransID"), "challengeWindowSize");
        let e = parse_creq(&encode(&v)).unwrap_err();
        assert_eq!(
            (e.error_code, e.error_detail.as_str()),
            (ErrorCode::RequiredMissing, "acsTransID,challengeWindowSize")
        );
        assert_eq!((e.three_ds_server_trans_id.as_deref(), e.acs_trans_id.as_deref()), (Some(SERVER_ID), None));
        assert_eq!(e.error_message_type.as_deref(), Some("CReq"));
        // Annex A.1: empty or null is missing.
        for empty in [json!(""), Value::Null] {
            let v = with(creq_json(), "threeDSServerTransID", empty);
            assert_eq!(err(&encode(&v)), (ErrorCode::RequiredMissing, "threeDSServerTransID".into()));
        }
    }

    #[test]
    fn formats_are_203_and_all_named() {
        let cases: &[(&str, Value)] = &[
            ("threeDSServerTransID", json!("8a880dc0d2d24067bcb1b08d1690b26e")),
            ("threeDSServerTransID", json!("8a880dc0-d2d2-4067-bcb1-b08d1690b26")),
            ("threeDSServerTransID", json!("{8a880dc0-d2d2-4067-bcb1-b08d1690b2}")),
            ("acsTransID", json!("0a0a0a0a-d2d2-4067-bcb1-b08d1690b26g")),
            ("acsTransID", json!(12)),
            ("challengeWindowSize", json!("06")),
            ("challengeWindowSize", json!(3)),
            ("sdkTransID", json!("x")),
            ("messageExtension", json!([])),
        ];
        for (field, value) in cases {
            let v = with(creq_json(), field, value.clone());
            assert_eq!(err(&encode(&v)), (ErrorCode::InvalidFormat, (*field).to_owned()), "{field} = {value}");
        }
        let v = with(with(creq_json(), "acsTransID", json!("x")), "challengeWindowSize", json!("9"));
        let e = parse_creq(&encode(&v)).unwrap_err();
        assert_eq!(
            (e.error_code, e.error_detail.as_str()),
            (ErrorCode::InvalidFormat, "acsTransID,challengeWindowSize")
        );
        // A malformed id is not echoed.
        assert_eq!((e.three_ds_server_trans_id.as_deref(), e.acs_trans_id.as_deref()), (Some(SERVER_ID), None));
    }

    #[test]
    fn duplicates_extensions_and_size() {
        let text = creq_json().to_string().replacen('{', "{\"challengeWindowSize\":\"01\",", 1);
        assert_eq!(err(&URL_SAFE_NO_PAD.encode(text)), (ErrorCode::DuplicateElement, "challengeWindowSize".into()));
        let ext =
            |critical| json!([{ "name": "n", "id": "A000000003-x", "criticalityIndicator": critical, "data": {} }]);
        assert!(parse_creq(&encode(&with(creq_json(), "messageExtension", ext(false)))).is_ok());
        let v = with(creq_json(), "messageExtension", ext(true));
        assert_eq!(err(&encode(&v)), (ErrorCode::CriticalExtensionNotRecognised, "A000000003-x".into()));
        // 4 KiB decoded is the bound: just under passes, just over is 203 naming creq.
        let base = creq_json().to_string().len() + ",\"p\":\"\"".len();
        let fits = with(creq_json(), "p", json!("p".repeat(MAX_CREQ_BYTES - base)));
        assert_eq!(fits.to_string().len(), MAX_CREQ_BYTES);
        assert!(parse_creq(&encode(&fits)).is_ok());
        assert!(parse_creq(&general_purpose::URL_SAFE.encode(fits.to_string())).is_ok());
        let over = with(creq_json(), "p", json!("p".repeat(MAX_CREQ_BYTES - base + 1)));
        assert_eq!(err(&encode(&over)), (ErrorCode::InvalidFormat, "creq".into()));
        assert_eq!(err(&"A".repeat(1 << 20)), (ErrorCode::InvalidFormat, "creq".into()));
    }

    #[test]
    fn creq_erro_for_stateful_checks() {
        let creq = parse_creq(&encode(&creq_json())).unwrap();
        let e = creq.erro(ErrorCode::TransactionIdNotRecognised, "acsTransID");
        assert_eq!(e.error_code.code(), "301");
        assert_eq!((e.acs_trans_id.as_deref(), e.ds_trans_id.as_deref()), (Some(ACS_ID), None));
        assert_eq!((e.message_version.as_str(), e.error_message_type.as_deref()), ("2.2.0", Some("CReq")));
    }

    #[test]
    fn final_cres_is_y_or_n_and_base64url_without_padding() {
        let creq = parse_creq(&encode(&creq_json())).unwrap();
        let cases = [
            (TransStatus::Authenticated, "Y"),
            (TransStatus::NotAuthenticated, "N"),
            (TransStatus::Unavailable, "N"),
            (TransStatus::Rejected, "N"),
            (TransStatus::Attempted, "N"),
        ];
        for (status, expected) in cases {
            let cres = final_cres(&creq, status);
            let form = cres.to_base64url();
            assert!(!form.contains(['=', '+', '/']), "{form}");
            let json: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&form).unwrap()).unwrap();
            assert_eq!(
                json,
                json!({
                    "messageType": "CRes", "messageVersion": "2.2.0",
                    "threeDSServerTransID": SERVER_ID, "acsTransID": ACS_ID,
                    "challengeCompletionInd": "Y", "transStatus": expected
                }),
                "{status:?}"
            );
        }
    }

    fn facts(outcome: ChallengeOutcome) -> RReqFacts {
        RReqFacts {
            message_version: MessageVersion::V2_2_0,
            three_ds_server_trans_id: SERVER_ID.into(),
            ds_trans_id: DS_ID.into(),
            acs_trans_id: ACS_ID.into(),
            sdk_trans_id: None,
            category: MessageCategory::Payment,
            brand: Brand::Visa,
            authentication_type: AuthenticationType::Dynamic,
            authentication_method: AuthenticationMethod::SmsOtp,
            interaction_counter: 1,
            outcome,
            acs_rendering_type: None,
        }
    }

    fn keys(r: &RReq) -> Vec<String> {
        let Value::Object(map) = serde_json::to_value(r).unwrap() else { panic!() };
        map.keys().cloned().collect()
    }

    const COMMON: [&str; 10] = [
        "acsTransID",
        "authenticationMethod",
        "authenticationType",
        "dsTransID",
        "interactionCounter",
        "messageCategory",
        "messageType",
        "messageVersion",
        "threeDSServerTransID",
        "transStatus",
    ];

    fn expect_keys(r: &RReq, extra: &[&str]) {
        let mut want: Vec<String> = COMMON.iter().chain(extra).map(|s| (*s).to_owned()).collect();
        want.sort();
        assert_eq!(keys(r), want);
    }

    #[test]
    fn rreq_conditionals() {
        let value = [7u8; AUTH_VALUE_LEN];
        let y = rreq(&facts(ChallengeOutcome::Authenticated { authentication_value: value }));
        expect_keys(&y, &["authenticationValue", "eci"]);
        assert_eq!((y.trans_status, y.eci.as_deref()), (TransStatus::Authenticated, Some("05")));
        assert_eq!(y.authentication_value.as_deref(), Some(authval::to_base64(&value).as_str()));
        let a = rreq(&RReqFacts {
            brand: Brand::Mastercard,
            ..facts(ChallengeOutcome::Attempted { authentication_value: value })
        });
        expect_keys(&a, &["authenticationValue", "eci"]);
        assert_eq!((a.trans_status, a.eci.as_deref()), (TransStatus::Attempted, Some("01")));

        let n = rreq(&facts(ChallengeOutcome::Failed {
            status: FailureStatus::NotAuthenticated,
            reason: TransStatusReason::CardAuthenticationFailed,
        }));
        expect_keys(&n, &["transStatusReason"]);
        assert_eq!(
            (n.trans_status, n.trans_status_reason),
            (TransStatus::NotAuthenticated, Some(TransStatusReason::CardAuthenticationFailed))
        );
        let r = rreq(&facts(ChallengeOutcome::Failed {
            status: FailureStatus::Rejected,
            reason: TransStatusReason::SuspectedFraud,
        }));
        assert_eq!((r.trans_status.as_str(), r.trans_status_reason.map(TransStatusReason::as_str)), ("R", Some("11")));

        let cancel = |cancel| ChallengeOutcome::Cancelled { cancel, status: FailureStatus::Unavailable };
        let c = rreq(&facts(cancel(ChallengeCancel::CardholderCancelled)));
        expect_keys(&c, &["transStatusReason", "challengeCancel"]);
        assert_eq!((c.trans_status.as_str(), c.challenge_cancel.map(ChallengeCancel::as_str)), ("U", Some("01")));
        for timeout in [ChallengeCancel::AcsTimeoutOther, ChallengeCancel::AcsTimeoutFirstCReq] {
            let t = rreq(&facts(cancel(timeout)));
            assert_eq!(
                (t.trans_status_reason, t.challenge_cancel),
                (Some(TransStatusReason::TimedOutAtAcs), Some(timeout))
            );
        }
        let e = rreq(&facts(cancel(ChallengeCancel::TransactionError)));
        assert_eq!(e.trans_status_reason, Some(TransStatusReason::AcsTechnicalIssue));
    }

    #[test]
    fn rreq_follows_the_version() {
        let v210 = |outcome| RReqFacts { message_version: MessageVersion::V2_1_0, ..facts(outcome) };
        // No authenticationMethod in 2.1.0.
        let y = rreq(&v210(ChallengeOutcome::Authenticated { authentication_value: [0; AUTH_VALUE_LEN] }));
        assert_eq!(y.authentication_method, None);
        // 2.2.0 reasons fall back to 01 in 2.1.0.
        let e = rreq(&v210(ChallengeOutcome::Cancelled {
            cancel: ChallengeCancel::TransactionError,
            status: FailureStatus::Unavailable,
        }));
        assert_eq!(e.trans_status_reason, Some(TransStatusReason::CardAuthenticationFailed));
        let f = rreq(&v210(ChallengeOutcome::Failed {
            status: FailureStatus::NotAuthenticated,
            reason: TransStatusReason::AttemptedNotPerformed,
        }));
        assert_eq!(f.trans_status_reason, Some(TransStatusReason::CardAuthenticationFailed));
        // 02 and 03 mean something else (or nothing) from 2.2.0: sent as 07.
        for (cancel, v21, v22) in [
            (ChallengeCancel::RequestorCancelled, "02", "07"),
            (ChallengeCancel::Abandoned, "03", "07"),
            (ChallengeCancel::SdkTimeout, "08", "08"),
        ] {
            let outcome = ChallengeOutcome::Cancelled { cancel, status: FailureStatus::Unavailable };
            assert_eq!(rreq(&v210(outcome)).challenge_cancel.map(ChallengeCancel::as_str), Some(v21));
            assert_eq!(rreq(&facts(outcome)).challenge_cancel.map(ChallengeCancel::as_str), Some(v22));
        }
    }

    #[test]
    fn interaction_counter_is_two_digits() {
        for (n, text) in [(0, "00"), (7, "07"), (99, "99"), (150, "99")] {
            let f = RReqFacts {
                interaction_counter: n,
                ..facts(ChallengeOutcome::Authenticated { authentication_value: [0; AUTH_VALUE_LEN] })
            };
            assert_eq!(rreq(&f).interaction_counter, text);
        }
    }

    fn rres_json() -> Value {
        json!({
            "messageType": "RRes", "messageVersion": "2.2.0", "resultsStatus": "01",
            "threeDSServerTransID": SERVER_ID, "dsTransID": DS_ID, "acsTransID": ACS_ID
        })
    }

    #[test]
    fn rres_checks() {
        let ok = parse_rres(rres_json().to_string().as_bytes()).unwrap();
        assert_eq!(ok.results_status, ResultsStatus::Received);
        let e = |v: Value| {
            let e = parse_rres(v.to_string().as_bytes()).unwrap_err();
            (e.error_code, e.error_detail)
        };
        assert_eq!(e(without(rres_json(), "resultsStatus")), (ErrorCode::RequiredMissing, "resultsStatus".into()));
        assert_eq!(
            e(with(rres_json(), "resultsStatus", json!("04"))),
            (ErrorCode::InvalidFormat, "resultsStatus".into())
        );
        assert!(parse_rres(with(rres_json(), "resultsStatus", json!("85")).to_string().as_bytes()).is_ok());
        assert_eq!(e(with(rres_json(), "dsTransID", json!("x"))), (ErrorCode::InvalidFormat, "dsTransID".into()));
        assert_eq!(e(with(rres_json(), "messageType", json!("RReq"))).0, ErrorCode::MessageInvalid);
        assert_eq!(parse_rres(b"nope").unwrap_err().error_code, ErrorCode::MessageInvalid);
    }

    #[test]
    fn rres_or_erro() {
        let rres = parse_rres_or_erro(rres_json().to_string().as_bytes()).unwrap();
        assert!(matches!(rres, RResOrErro::RRes(r) if r.results_status == ResultsStatus::Received));
        let erro = json!({
            "messageType": "Erro", "messageVersion": "2.2.0", "errorCode": "403",
            "errorComponent": "D", "errorDescription": "Transient system failure",
            "errorDetail": "busy", "errorMessageType": "RReq",
            "threeDSServerTransID": SERVER_ID, "dsTransID": DS_ID, "acsTransID": ACS_ID
        });
        let RResOrErro::Erro(got) = parse_rres_or_erro(erro.to_string().as_bytes()).unwrap() else { panic!() };
        assert_eq!((got.error_code, got.error_component.as_str()), (ErrorCode::TransientFailure, "D"));
        let bad = with(erro.clone(), "errorCode", json!("999"));
        let e = parse_rres_or_erro(bad.to_string().as_bytes()).unwrap_err();
        assert_eq!((e.error_code, e.error_detail.as_str()), (ErrorCode::InvalidFormat, "errorCode"));
        assert_eq!(e.error_message_type.as_deref(), Some("Erro"));
        let e = parse_rres_or_erro(without(erro, "errorDetail").to_string().as_bytes()).unwrap_err();
        assert_eq!((e.error_code, e.error_detail.as_str()), (ErrorCode::RequiredMissing, "errorDetail"));
    }
}
