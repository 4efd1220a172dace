//! The EMV 3-D Secure messages an ACS reads and writes: `AReq` in, `ARes` or `Erro` out.
//!
//! Names on the wire are the spec's (EMVCo 3DS Core Spec v2.2.0, Annex A, Table A.1),
//! spelled out one by one with `#[serde(rename)]` because the spec's capitalisation
//! (`threeDSServerTransID`, `browserIP`, `browserTZ`) is not any mechanical camelCase.
//!
//! These types do not validate: [`super::validate::parse_areq`] is the only way from
//! bytes to an [`AReq`], and it runs the field table first. Deserializing an `AReq`
//! directly with serde would accept what the spec refuses.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A protocol version the ACS speaks. 2.3.1 is accepted with the 2.2.0 rules (the
/// differences that matter to an AReq validator are not modelled yet: see `validate.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MessageVersion {
    V2_1_0,
    V2_2_0,
    V2_3_1,
}

impl MessageVersion {
    /// Every version accepted, oldest first.
    pub const SUPPORTED: [MessageVersion; 3] = [Self::V2_1_0, Self::V2_2_0, Self::V2_3_1];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::V2_1_0 => "2.1.0",
            Self::V2_2_0 => "2.2.0",
            Self::V2_3_1 => "2.3.1",
        }
    }

    /// The exact dotted form; anything else (`2.2`, `2.2.0 `) is not a supported version.
    pub fn parse(text: &str) -> Option<Self> {
        Self::SUPPORTED.into_iter().find(|v| v.as_str() == text)
    }
}

impl fmt::Display for MessageVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for MessageVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for MessageVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).ok_or_else(|| D::Error::custom("unsupported messageVersion"))
    }
}

/// An enumeration the spec writes as a short code string (`"01"`, `"Y"`). Variants with
/// `ds` also take the range 80–99 that the spec reserves for the Directory Server's own use.
/// Paths are spelled out in full so that other modules of `threeds` can use the macro.
macro_rules! code_enum {
    (@common $name:ident { $($variant:ident = $code:literal),+ }) => {
        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.code())
            }
        }
        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.code())
            }
        }
        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <String as ::serde::Deserialize>::deserialize(d)?;
                Self::from_code(&text).ok_or_else(|| {
                    <D::Error as ::serde::de::Error>::custom(concat!("invalid ", stringify!($name)))
                })
            }
        }
    };
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $code:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vm])* $variant),+ }
        impl $name {
            /// Every variant, in the spec's order.
            pub const ALL: &'static [$name] = &[$(Self::$variant),+];
            /// The wire code.
            pub fn code(&self) -> ::std::borrow::Cow<'static, str> {
                ::std::borrow::Cow::Borrowed(self.as_str())
            }
            /// The wire code, borrowed for the program's lifetime.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $code),+ }
            }
            /// The variant for a wire code, exactly as the spec writes it.
            pub fn from_code(code: &str) -> Option<Self> {
                match code { $($code => Some(Self::$variant),)+ _ => None }
            }
        }
        code_enum!(@common $name { $($variant = $code),+ });
    };
    ($(#[$m:meta])* $name:ident ds { $($(#[$vm:meta])* $variant:ident = $code:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vm])* $variant,)+
            /// 80–99: reserved for DS use.
            DsSpecific(u8),
        }
        impl $name {
            /// The wire code.
            pub fn code(&self) -> ::std::borrow::Cow<'static, str> {
                match self {
                    $(Self::$variant => ::std::borrow::Cow::Borrowed($code),)+
                    Self::DsSpecific(n) => ::std::borrow::Cow::Owned(format!("{n:02}")),
                }
            }
            /// The variant for a wire code, exactly as the spec writes it.
            pub fn from_code(code: &str) -> Option<Self> {
                match code {
                    $($code => Some(Self::$variant),)+
                    _ if code.len() == 2 && code.bytes().all(|b| b.is_ascii_digit()) => {
                        let n: u8 = code.parse().ok()?;
                        (80..=99).contains(&n).then_some(Self::DsSpecific(n))
                    }
                    _ => None,
                }
            }
        }
        code_enum!(@common $name { $($variant = $code),+ });
    };
}
pub(crate) use code_enum;

code_enum! {
    /// `messageCategory`.
    MessageCategory ds {
        /// 01: payment authentication (PA).
        Payment = "01",
        /// 02: non-payment authentication (NPA).
        NonPayment = "02",
    }
}

code_enum! {
    /// `deviceChannel`.
    DeviceChannel {
        /// 01: app-based (APP), through the 3DS SDK.
        App = "01",
        /// 02: browser-based (BRW).
        Browser = "02",
        /// 03: 3DS Requestor Initiated (3RI), without the cardholder.
        ThreeRi = "03",
    }
}

code_enum! {
    /// `threeDSRequestorChallengeInd`. 05–09 are 2.2.0 additions: the validator refuses
    /// them in a 2.1.0 message.
    ChallengeInd ds {
        NoPreference = "01",
        NoChallengeRequested = "02",
        ChallengeRequestedRequestorPreference = "03",
        ChallengeRequestedMandate = "04",
        /// 05 (2.2.0): no challenge, transactional risk analysis already performed.
        NoChallengeTraPerformed = "05",
        /// 06 (2.2.0): no challenge, data share only.
        NoChallengeDataShareOnly = "06",
        /// 07 (2.2.0): no challenge, SCA already performed.
        NoChallengeScaPerformed = "07",
        /// 08 (2.2.0): no challenge, whitelist exemption.
        NoChallengeWhitelistExemption = "08",
        /// 09 (2.2.0): challenge requested, whitelist prompt.
        ChallengeRequestedWhitelistPrompt = "09",
    }
}

impl ChallengeInd {
    /// Whether the requestor asked for, or is mandated to have, a challenge (03, 04, 09).
    /// Then no exemption is applied: the issuer may always choose SCA (RTS art. 16–18 say the
    /// PSP is "allowed not to apply" SCA, never obliged not to). DS-specific values (80–99)
    /// are read as no preference.
    pub fn wants_challenge(self) -> bool {
        matches!(
            self,
            Self::ChallengeRequestedMandate
                | Self::ChallengeRequestedRequestorPreference
                | Self::ChallengeRequestedWhitelistPrompt
        )
    }
}

code_enum! {
    /// `threeDSRequestorAuthenticationInd`.
    AuthenticationInd ds {
        PaymentTransaction = "01",
        RecurringTransaction = "02",
        InstalmentTransaction = "03",
        AddCard = "04",
        MaintainCard = "05",
        CardholderVerificationEmvToken = "06",
    }
}

code_enum! {
    /// `transStatus` of an ARes (and, later, RReq/CRes).
    TransStatus {
        /// Y: authenticated.
        Authenticated = "Y",
        /// N: not authenticated, transaction denied.
        NotAuthenticated = "N",
        /// U: authentication could not be performed.
        Unavailable = "U",
        /// A: attempts processing performed.
        Attempted = "A",
        /// C: challenge required.
        Challenge = "C",
        /// R: rejected by the issuer.
        Rejected = "R",
        /// D (2.2.0): challenge required, decoupled authentication confirmed.
        Decoupled = "D",
        /// I (2.2.0): informational only, the requestor's challenge preference acknowledged.
        Informational = "I",
    }
}

code_enum! {
    /// `transStatusReason` (ARes, RReq): why `transStatus` is N, U or R (required then for
    /// a payment, Table A.1). 22–26 arrived with 2.2.0 (see [`TransStatusReason::since`]).
    TransStatusReason {
        CardAuthenticationFailed = "01",
        UnknownDevice = "02",
        UnsupportedDevice = "03",
        ExceedsAuthenticationFrequencyLimit = "04",
        ExpiredCard = "05",
        InvalidCardNumber = "06",
        InvalidTransaction = "07",
        NoCardRecord = "08",
        SecurityFailure = "09",
        StolenCard = "10",
        SuspectedFraud = "11",
        TransactionNotPermitted = "12",
        CardholderNotEnrolled = "13",
        /// 14: transaction timed out at the ACS (challengeCancel 04 or 05 goes with it).
        TimedOutAtAcs = "14",
        LowConfidence = "15",
        MediumConfidence = "16",
        HighConfidence = "17",
        VeryHighConfidence = "18",
        ExceedsAcsMaximumChallenges = "19",
        NonPaymentNotSupported = "20",
        ThreeRiNotSupported = "21",
        /// 22 (2.2.0): ACS technical issue.
        AcsTechnicalIssue = "22",
        /// 23 (2.2.0): decoupled authentication required by the ACS but not requested.
        DecoupledRequiredNotRequested = "23",
        /// 24 (2.2.0): the requestor's decoupled max expiry time was exceeded.
        DecoupledMaxExpiryExceeded = "24",
        /// 25 (2.2.0): decoupled authentication was given too little time.
        DecoupledInsufficientTime = "25",
        /// 26 (2.2.0): authentication attempted but not performed by the cardholder.
        AttemptedNotPerformed = "26",
    }
}

impl TransStatusReason {
    /// The first version that defines the code. Unsure: we read 01–21 as the 2.1.0 list
    /// and 22–26 as the 2.2.0 additions; we have not seen the 2.1.0 table itself.
    pub fn since(self) -> MessageVersion {
        match self {
            Self::AcsTechnicalIssue
            | Self::DecoupledRequiredNotRequested
            | Self::DecoupledMaxExpiryExceeded
            | Self::DecoupledInsufficientTime
            | Self::AttemptedNotPerformed => MessageVersion::V2_2_0,
            _ => MessageVersion::V2_1_0,
        }
    }
}

code_enum! {
    /// `authenticationType` of an ARes when transStatus is C or D.
    AuthenticationType {
        Static = "01",
        Dynamic = "02",
        OutOfBand = "03",
        /// 04 (2.2.0): decoupled.
        Decoupled = "04",
    }
}

code_enum! {
    /// `acsChallengeMandated`: whether regional mandates (PSD2 in the EEA) require the
    /// challenge, so the requestor may not skip it.
    ChallengeMandated {
        Yes = "Y",
        No = "N",
    }
}

/// A primary account number: 13–19 digits. `Debug` and `Display` show only the last four
/// digits, so an `AReq` in a log line or a panic message never carries the full PAN; the
/// full number is reachable only through [`Pan::expose`] and serialization (the wire form).
/// The digits are wiped from memory when the value is dropped.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Pan(String);

impl Pan {
    /// 13–19 ASCII digits (Table A.1 `acctNumber`: numeric, 13–19). The Luhn check digit
    /// is not required here: the spec's format is digits and length only, and an unknown
    /// card is the decision's business, not a message error.
    pub fn parse(text: &str) -> Option<Self> {
        let ok = (13..=19).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit());
        ok.then(|| Self(text.to_owned()))
    }

    /// The full number, for the card look-up only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The last four digits, the only part that may appear in pages, logs and audit.
    pub fn last_four(&self) -> &str {
        self.0.get(self.0.len().saturating_sub(4)..).unwrap_or("")
    }

    /// Whether the check digit is right (ISO/IEC 7812-1 Annex B, the Luhn formula).
    pub fn luhn_valid(&self) -> bool {
        luhn_valid(&self.0)
    }
}

/// The Luhn (mod 10) check over a digit string; `false` for empty or non-digit input.
pub fn luhn_valid(digits: &str) -> bool {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let twice = d * 2;
                if twice > 9 { twice - 9 } else { twice }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

impl fmt::Debug for Pan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pan(…{})", self.last_four())
    }
}

impl fmt::Display for Pan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "…{}", self.last_four())
    }
}

impl Serialize for Pan {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Pan {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).ok_or_else(|| D::Error::custom("acctNumber is not 13-19 digits"))
    }
}

/// One `messageExtension` element (Table A.7 in 2.2.0).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MessageExtension {
    pub name: String,
    pub id: String,
    #[serde(rename = "criticalityIndicator")]
    pub criticality_indicator: bool,
    pub data: serde_json::Value,
}

/// The authentication request as the ACS receives it from the DS: the fields an ACS
/// uses. Other optional AReq fields (addresses, `acctInfo`, `merchantRiskIndicator`, …)
/// are checked by the validator's table but not kept here; add them when a decision
/// needs them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AReq {
    #[serde(rename = "messageType")]
    pub message_type: String,
    #[serde(rename = "messageVersion")]
    pub message_version: MessageVersion,
    #[serde(rename = "messageCategory")]
    pub message_category: MessageCategory,
    #[serde(rename = "deviceChannel")]
    pub device_channel: DeviceChannel,

    #[serde(rename = "threeDSServerTransID")]
    pub three_ds_server_trans_id: String,
    #[serde(rename = "dsTransID")]
    pub ds_trans_id: String,
    #[serde(rename = "dsReferenceNumber")]
    pub ds_reference_number: String,
    #[serde(rename = "dsURL", default, skip_serializing_if = "Option::is_none")]
    pub ds_url: Option<String>,
    #[serde(rename = "threeDSServerRefNumber")]
    pub three_ds_server_ref_number: String,
    #[serde(rename = "threeDSServerURL", default, skip_serializing_if = "Option::is_none")]
    pub three_ds_server_url: Option<String>,

    #[serde(rename = "acctNumber")]
    pub acct_number: Pan,
    #[serde(rename = "cardExpiryDate", default, skip_serializing_if = "Option::is_none")]
    pub card_expiry_date: Option<String>,

    #[serde(rename = "purchaseAmount", default, skip_serializing_if = "Option::is_none")]
    pub purchase_amount: Option<String>,
    #[serde(rename = "purchaseCurrency", default, skip_serializing_if = "Option::is_none")]
    pub purchase_currency: Option<String>,
    #[serde(rename = "purchaseExponent", default, skip_serializing_if = "Option::is_none")]
    pub purchase_exponent: Option<String>,
    #[serde(rename = "purchaseDate", default, skip_serializing_if = "Option::is_none")]
    pub purchase_date: Option<String>,
    #[serde(rename = "purchaseInstalData", default, skip_serializing_if = "Option::is_none")]
    pub purchase_instal_data: Option<String>,
    #[serde(rename = "recurringExpiry", default, skip_serializing_if = "Option::is_none")]
    pub recurring_expiry: Option<String>,
    #[serde(rename = "recurringFrequency", default, skip_serializing_if = "Option::is_none")]
    pub recurring_frequency: Option<String>,
    #[serde(rename = "transType", default, skip_serializing_if = "Option::is_none")]
    pub trans_type: Option<String>,

    #[serde(rename = "merchantName", default, skip_serializing_if = "Option::is_none")]
    pub merchant_name: Option<String>,
    #[serde(rename = "acquirerBIN", default, skip_serializing_if = "Option::is_none")]
    pub acquirer_bin: Option<String>,
    #[serde(rename = "acquirerMerchantID", default, skip_serializing_if = "Option::is_none")]
    pub acquirer_merchant_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcc: Option<String>,
    #[serde(rename = "merchantCountryCode", default, skip_serializing_if = "Option::is_none")]
    pub merchant_country_code: Option<String>,

    #[serde(rename = "threeDSRequestorID")]
    pub three_ds_requestor_id: String,
    #[serde(rename = "threeDSRequestorName")]
    pub three_ds_requestor_name: String,
    #[serde(rename = "threeDSRequestorURL")]
    pub three_ds_requestor_url: String,
    #[serde(rename = "threeDSRequestorChallengeInd", default, skip_serializing_if = "Option::is_none")]
    pub three_ds_requestor_challenge_ind: Option<ChallengeInd>,
    #[serde(rename = "threeDSRequestorAuthenticationInd", default, skip_serializing_if = "Option::is_none")]
    pub three_ds_requestor_authentication_ind: Option<AuthenticationInd>,
    #[serde(rename = "threeRIInd", default, skip_serializing_if = "Option::is_none")]
    pub three_ri_ind: Option<String>,
    #[serde(rename = "threeDSCompInd", default, skip_serializing_if = "Option::is_none")]
    pub three_ds_comp_ind: Option<String>,
    #[serde(rename = "notificationURL", default, skip_serializing_if = "Option::is_none")]
    pub notification_url: Option<String>,

    // Browser (deviceChannel 02).
    #[serde(rename = "browserAcceptHeader", default, skip_serializing_if = "Option::is_none")]
    pub browser_accept_header: Option<String>,
    #[serde(rename = "browserIP", default, skip_serializing_if = "Option::is_none")]
    pub browser_ip: Option<String>,
    #[serde(rename = "browserJavaEnabled", default, skip_serializing_if = "Option::is_none")]
    pub browser_java_enabled: Option<bool>,
    #[serde(rename = "browserJavascriptEnabled", default, skip_serializing_if = "Option::is_none")]
    pub browser_javascript_enabled: Option<bool>,
    #[serde(rename = "browserLanguage", default, skip_serializing_if = "Option::is_none")]
    pub browser_language: Option<String>,
    #[serde(rename = "browserColorDepth", default, skip_serializing_if = "Option::is_none")]
    pub browser_color_depth: Option<String>,
    #[serde(rename = "browserScreenHeight", default, skip_serializing_if = "Option::is_none")]
    pub browser_screen_height: Option<String>,
    #[serde(rename = "browserScreenWidth", default, skip_serializing_if = "Option::is_none")]
    pub browser_screen_width: Option<String>,
    #[serde(rename = "browserTZ", default, skip_serializing_if = "Option::is_none")]
    pub browser_tz: Option<String>,
    #[serde(rename = "browserUserAgent", default, skip_serializing_if = "Option::is_none")]
    pub browser_user_agent: Option<String>,

    // App (deviceChannel 01).
    #[serde(rename = "sdkAppID", default, skip_serializing_if = "Option::is_none")]
    pub sdk_app_id: Option<String>,
    #[serde(rename = "sdkEncData", default, skip_serializing_if = "Option::is_none")]
    pub sdk_enc_data: Option<String>,
    #[serde(rename = "sdkEphemPubKey", default, skip_serializing_if = "Option::is_none")]
    pub sdk_ephem_pub_key: Option<serde_json::Value>,
    #[serde(rename = "sdkMaxTimeout", default, skip_serializing_if = "Option::is_none")]
    pub sdk_max_timeout: Option<String>,
    #[serde(rename = "sdkReferenceNumber", default, skip_serializing_if = "Option::is_none")]
    pub sdk_reference_number: Option<String>,
    #[serde(rename = "sdkTransID", default, skip_serializing_if = "Option::is_none")]
    pub sdk_trans_id: Option<String>,
    #[serde(rename = "deviceRenderOptions", default, skip_serializing_if = "Option::is_none")]
    pub device_render_options: Option<serde_json::Value>,

    #[serde(rename = "messageExtension", default, skip_serializing_if = "Option::is_none")]
    pub message_extension: Option<Vec<MessageExtension>>,
}

/// The authentication response. Built by the decision (`decision.rs`), not parsed here.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ARes {
    #[serde(rename = "messageType")]
    pub message_type: String,
    #[serde(rename = "messageVersion")]
    pub message_version: MessageVersion,
    #[serde(rename = "threeDSServerTransID")]
    pub three_ds_server_trans_id: String,
    #[serde(rename = "dsTransID")]
    pub ds_trans_id: String,
    #[serde(rename = "dsReferenceNumber", default, skip_serializing_if = "Option::is_none")]
    pub ds_reference_number: Option<String>,
    #[serde(rename = "sdkTransID", default, skip_serializing_if = "Option::is_none")]
    pub sdk_trans_id: Option<String>,
    #[serde(rename = "acsTransID")]
    pub acs_trans_id: String,
    #[serde(rename = "acsReferenceNumber")]
    pub acs_reference_number: String,
    #[serde(rename = "acsOperatorID", default, skip_serializing_if = "Option::is_none")]
    pub acs_operator_id: Option<String>,
    #[serde(rename = "transStatus")]
    pub trans_status: TransStatus,
    #[serde(rename = "transStatusReason", default, skip_serializing_if = "Option::is_none")]
    pub trans_status_reason: Option<String>,
    /// Where the browser posts the CReq (transStatus C, deviceChannel 02).
    #[serde(rename = "acsURL", default, skip_serializing_if = "Option::is_none")]
    pub acs_url: Option<String>,
    #[serde(rename = "acsChallengeMandated", default, skip_serializing_if = "Option::is_none")]
    pub acs_challenge_mandated: Option<ChallengeMandated>,
    #[serde(rename = "authenticationType", default, skip_serializing_if = "Option::is_none")]
    pub authentication_type: Option<AuthenticationType>,
    /// Base64 of the 20-byte cryptogram (28 characters), for transStatus Y or A.
    #[serde(rename = "authenticationValue", default, skip_serializing_if = "Option::is_none")]
    pub authentication_value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eci: Option<String>,
    #[serde(rename = "messageExtension", default, skip_serializing_if = "Option::is_none")]
    pub message_extension: Option<Vec<MessageExtension>>,
}

/// The error codes of Table A.4 (EMV 3DS 2.2.0). An ACS sends most of them; all are read,
/// since a DS may answer an RReq with any.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 101: message received invalid.
    MessageInvalid,
    /// 102: message version number not supported.
    VersionNotSupported,
    /// 201: required data element missing.
    RequiredMissing,
    /// 202: critical message extension not recognised.
    CriticalExtensionNotRecognised,
    /// 203: format of one or more data elements is invalid according to the specification.
    InvalidFormat,
    /// 204: duplicate data element.
    DuplicateElement,
    /// 301: transaction ID not recognised.
    TransactionIdNotRecognised,
    /// 303: access denied, invalid endpoint.
    AccessDenied,
    /// 304: ISO code invalid.
    IsoCodeInvalid,
    /// 305: transaction data not valid.
    TransactionDataInvalid,
    /// 402: transaction timed out.
    TimedOut,
    /// 403: transient system failure.
    TransientFailure,
    /// 404: permanent system failure.
    PermanentFailure,
    /// 405: system connection failure.
    SystemConnectionFailure,
    /// 103: sent messages limit exceeded (PReq only; read in a DS's `Erro`, never sent).
    SentMessagesLimitExceeded,
    /// 302: data decryption failure.
    DataDecryptionFailure,
    /// 306: merchant category code not valid for the payment system.
    MccNotValid,
    /// 307: serial number not valid (PReq/PRes).
    SerialNumberNotValid,
}

impl ErrorCode {
    pub fn code(self) -> &'static str {
        match self {
            Self::MessageInvalid => "101",
            Self::VersionNotSupported => "102",
            Self::RequiredMissing => "201",
            Self::CriticalExtensionNotRecognised => "202",
            Self::InvalidFormat => "203",
            Self::DuplicateElement => "204",
            Self::TransactionIdNotRecognised => "301",
            Self::AccessDenied => "303",
            Self::IsoCodeInvalid => "304",
            Self::TransactionDataInvalid => "305",
            Self::TimedOut => "402",
            Self::TransientFailure => "403",
            Self::PermanentFailure => "404",
            Self::SystemConnectionFailure => "405",
            Self::SentMessagesLimitExceeded => "103",
            Self::DataDecryptionFailure => "302",
            Self::MccNotValid => "306",
            Self::SerialNumberNotValid => "307",
        }
    }

    /// A short `errorDescription` for the code (our wording, after Table A.4's names).
    pub fn description(self) -> &'static str {
        match self {
            Self::MessageInvalid => "Message received invalid",
            Self::VersionNotSupported => "Message version number not supported",
            Self::RequiredMissing => "A message element required as defined in Table A.1 is missing",
            Self::CriticalExtensionNotRecognised => "Critical message extension not recognised",
            Self::InvalidFormat => "Format of one or more data elements is invalid",
            Self::DuplicateElement => "Duplicate data element",
            Self::TransactionIdNotRecognised => "Transaction ID not recognised",
            Self::AccessDenied => "Access denied, invalid endpoint",
            Self::IsoCodeInvalid => "ISO code invalid",
            Self::TransactionDataInvalid => "Transaction data not valid",
            Self::TimedOut => "Transaction timed out",
            Self::TransientFailure => "Transient system failure",
            Self::PermanentFailure => "Permanent system failure",
            Self::SystemConnectionFailure => "System connection failure",
            Self::SentMessagesLimitExceeded => "Sent messages limit exceeded",
            Self::DataDecryptionFailure => "Data decryption failure",
            Self::MccNotValid => "Merchant category code not valid for payment system",
            Self::SerialNumberNotValid => "Serial number not valid",
        }
    }

    const ALL: [ErrorCode; 18] = [
        Self::MessageInvalid,
        Self::VersionNotSupported,
        Self::RequiredMissing,
        Self::CriticalExtensionNotRecognised,
        Self::InvalidFormat,
        Self::DuplicateElement,
        Self::TransactionIdNotRecognised,
        Self::AccessDenied,
        Self::IsoCodeInvalid,
        Self::TransactionDataInvalid,
        Self::TimedOut,
        Self::TransientFailure,
        Self::PermanentFailure,
        Self::SystemConnectionFailure,
        Self::SentMessagesLimitExceeded,
        Self::DataDecryptionFailure,
        Self::MccNotValid,
        Self::SerialNumberNotValid,
    ];

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::from_code(&text).ok_or_else(|| D::Error::custom("unknown errorCode"))
    }
}

/// `errorComponent` for everything this server sends: A, the ACS.
pub const ERROR_COMPONENT_ACS: &str = "A";

/// The error message. `errorDetail` names the offending fields, comma-separated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Erro {
    #[serde(rename = "messageType")]
    pub message_type: String,
    /// The version of the message in error when it was a supported one; otherwise the
    /// newest version this ACS speaks (the spec leaves the 102 case loosely defined;
    /// this is our reading).
    #[serde(rename = "messageVersion")]
    pub message_version: String,
    #[serde(rename = "errorCode")]
    pub error_code: ErrorCode,
    #[serde(rename = "errorComponent")]
    pub error_component: String,
    #[serde(rename = "errorDescription")]
    pub error_description: String,
    #[serde(rename = "errorDetail")]
    pub error_detail: String,
    /// The `messageType` of the message in error, when it could be read.
    #[serde(rename = "errorMessageType", default, skip_serializing_if = "Option::is_none")]
    pub error_message_type: Option<String>,
    #[serde(rename = "threeDSServerTransID", default, skip_serializing_if = "Option::is_none")]
    pub three_ds_server_trans_id: Option<String>,
    #[serde(rename = "dsTransID", default, skip_serializing_if = "Option::is_none")]
    pub ds_trans_id: Option<String>,
    #[serde(rename = "acsTransID", default, skip_serializing_if = "Option::is_none")]
    pub acs_trans_id: Option<String>,
    #[serde(rename = "sdkTransID", default, skip_serializing_if = "Option::is_none")]
    pub sdk_trans_id: Option<String>,
}

impl Erro {
    /// The field names in `errorDetail`, split back out (tests and audit).
    pub fn detail_fields(&self) -> Vec<&str> {
        self.error_detail.split(',').filter(|s| !s.is_empty()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pan_debug_and_display_show_only_the_last_four() {
        let pan = Pan::parse("4111111111111111").unwrap();
        assert_eq!(format!("{pan:?}"), "Pan(…1111)");
        assert_eq!(pan.to_string(), "…1111");
        let pan = Pan::parse("5500000000000004").unwrap();
        assert!(!format!("{pan:?}").contains("550000"));
        assert!(pan.luhn_valid());
    }

    #[test]
    fn pan_format_is_13_to_19_digits() {
        assert!(Pan::parse("4222222222222").is_some());
        assert!(Pan::parse("4111111111111111111").is_some());
        assert!(Pan::parse("411111111111").is_none());
        assert!(Pan::parse("41111111111111111111").is_none());
        assert!(Pan::parse("4111 1111 1111 1111").is_none());
    }

    #[test]
    fn luhn() {
        assert!(luhn_valid("4111111111111111"));
        assert!(luhn_valid("79927398713"));
        assert!(!luhn_valid("4111111111111112"));
        assert!(!luhn_valid(""));
        assert!(!luhn_valid("4a11"));
    }

    #[test]
    fn ares_uses_the_spec_names_and_leaves_out_what_is_absent() {
        let ares = ARes {
            message_type: "ARes".into(),
            message_version: MessageVersion::V2_2_0,
            three_ds_server_trans_id: "8a880dc0-d2d2-4067-bcb1-b08d1690b26e".into(),
            ds_trans_id: "9b9b9b9b-d2d2-4067-bcb1-b08d1690b26e".into(),
            ds_reference_number: None,
            sdk_trans_id: None,
            acs_trans_id: "0a0a0a0a-d2d2-4067-bcb1-b08d1690b26e".into(),
            acs_reference_number: "ACS_REF".into(),
            acs_operator_id: None,
            trans_status: TransStatus::Challenge,
            trans_status_reason: None,
            acs_url: Some("https://acs.example/creq".into()),
            acs_challenge_mandated: Some(ChallengeMandated::Yes),
            authentication_type: Some(AuthenticationType::OutOfBand),
            authentication_value: None,
            eci: None,
            message_extension: None,
        };
        let json = serde_json::to_value(&ares).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "messageType": "ARes", "messageVersion": "2.2.0",
                "threeDSServerTransID": "8a880dc0-d2d2-4067-bcb1-b08d1690b26e",
                "dsTransID": "9b9b9b9b-d2d2-4067-bcb1-b08d1690b26e",
                "acsTransID": "0a0a0a0a-d2d2-4067-bcb1-b08d1690b26e",
                "acsReferenceNumber": "ACS_REF", "transStatus": "C",
                "acsURL": "https://acs.example/creq", "acsChallengeMandated": "Y",
                "authenticationType": "03"
            })
        );
        assert_eq!(serde_json::from_value::<ARes>(json).unwrap(), ares);
    }

    #[test]
    fn error_codes_follow_table_a4() {
        let table = [
            ("101", ErrorCode::MessageInvalid),
            ("102", ErrorCode::VersionNotSupported),
            ("103", ErrorCode::SentMessagesLimitExceeded),
            ("201", ErrorCode::RequiredMissing),
            ("202", ErrorCode::CriticalExtensionNotRecognised),
            ("203", ErrorCode::InvalidFormat),
            ("204", ErrorCode::DuplicateElement),
            ("301", ErrorCode::TransactionIdNotRecognised),
            ("302", ErrorCode::DataDecryptionFailure),
            ("303", ErrorCode::AccessDenied),
            ("304", ErrorCode::IsoCodeInvalid),
            ("305", ErrorCode::TransactionDataInvalid),
            ("306", ErrorCode::MccNotValid),
            ("307", ErrorCode::SerialNumberNotValid),
            ("402", ErrorCode::TimedOut),
            ("403", ErrorCode::TransientFailure),
            ("404", ErrorCode::PermanentFailure),
            ("405", ErrorCode::SystemConnectionFailure),
        ];
        assert_eq!(table.len(), ErrorCode::ALL.len());
        for (code, variant) in table {
            assert_eq!((variant.code(), ErrorCode::from_code(code)), (code, Some(variant)));
        }
        assert_eq!(ErrorCode::from_code("401"), None);
    }

    #[test]
    fn trans_status_reasons() {
        assert_eq!(TransStatusReason::ALL.len(), 26);
        for (i, reason) in TransStatusReason::ALL.iter().enumerate() {
            assert_eq!(reason.as_str(), format!("{:02}", i + 1));
        }
        assert_eq!(TransStatusReason::TimedOutAtAcs.since(), MessageVersion::V2_1_0);
        assert_eq!(TransStatusReason::AcsTechnicalIssue.since(), MessageVersion::V2_2_0);
        assert_eq!(TransStatusReason::from_code("27"), None);
    }

    #[test]
    fn code_enums_round_trip_and_take_ds_values() {
        assert_eq!(ChallengeInd::from_code("04"), Some(ChallengeInd::ChallengeRequestedMandate));
        assert_eq!(ChallengeInd::from_code("82"), Some(ChallengeInd::DsSpecific(82)));
        assert_eq!(ChallengeInd::DsSpecific(82).code(), "82");
        assert_eq!(ChallengeInd::from_code("79"), None);
        assert_eq!(DeviceChannel::from_code("80"), None);
        let json = serde_json::to_string(&TransStatus::Challenge).unwrap();
        assert_eq!(json, "\"C\"");
        assert_eq!(serde_json::from_str::<ErrorCode>("\"203\"").unwrap(), ErrorCode::InvalidFormat);
    }
}
