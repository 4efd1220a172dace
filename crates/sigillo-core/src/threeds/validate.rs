//! AReq validation: bytes in, a typed [`AReq`] or the [`Erro`] to answer with.
//!
//! The rules are one table, [`AREQ_RULES`], read like the spec's Table A.1 (EMVCo 3DS
//! Core Spec v2.2.0, Annex A): field name, first version that defines it, when it is
//! required, and its format. Order of the checks, and so which error code wins:
//! 1. not JSON / not an object → 101; `messageType` missing → 201, not `AReq` → 101;
//! 2. `messageVersion` missing → 201, not one we speak → 102;
//! 3. required elements missing → 201 naming all of them;
//! 4. formats, values, elements not defined for the version, cross-field rules → 203
//!    naming all of them;
//! 5. a critical `messageExtension` we do not recognise → 202 naming its id.
//!
//! Where this reading of the spec is uncertain, the rule says so in a comment.
//!
//! A repeated top-level key is 204 (after the version checks, before 201).
//!
//! Not done yet: duplicate keys inside nested objects, the ISO 3166-1 country list (country codes are checked as three digits only), the
//! full ISO 4217 numeric list (only the exponent of non-2-decimal currencies is checked),
//! and the 2.3.1 changes (a 2.3.1 AReq is checked with the 2.2.0 rules).

use super::messages::{
    AReq, AuthenticationInd, ChallengeInd, DeviceChannel, ERROR_COMPONENT_ACS, Erro, ErrorCode, MessageCategory,
    MessageVersion,
};
use serde_json::{Map, Value};
use std::net::IpAddr;

/// When an element must be present (Table A.1 "Message Inclusion" and "Conditional
/// Inclusion"). All conditions apply only when the element is defined for the version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Required {
    /// Required in every AReq.
    Always,
    /// Never required (it may still have to be well-formed).
    Optional,
    /// deviceChannel 01 (APP).
    App,
    /// deviceChannel 02 (BRW).
    Browser,
    /// deviceChannel 03 (3RI).
    ThreeRi,
    /// deviceChannel 01 or 02: `threeDSRequestorAuthenticationInd`.
    AppOrBrowser,
    /// messageCategory 01 (PA). Merchant and acquirer fields: Table A.1 marks them
    /// Required for PA and leaves NPA to DS rules; the EMVCo test platform's NPA AReqs
    /// leave them out, so we do not require them for NPA.
    Payment,
    /// Purchase fields: PA, or NPA with threeDSRequestorAuthenticationInd 02 (recurring)
    /// or 03 (instalment).
    Purchase,
    /// threeDSRequestorAuthenticationInd 02 or 03: `recurringExpiry`, `recurringFrequency`.
    Recurring,
    /// threeDSRequestorAuthenticationInd 03: `purchaseInstalData`.
    Instalment,
    /// Browser details that need JavaScript: in 2.1.0 required for BRW; from 2.2.0
    /// required for BRW only when `browserJavascriptEnabled` is true.
    BrowserWithJavascript,
}

/// The format of an element (Table A.1 "Length/Format/Values").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A canonical UUID, 36 characters (RFC 4122 text form), as the spec requires for
    /// every transaction ID.
    Uuid,
    /// ASCII digits, `min..=max` of them.
    Numeric(usize, usize),
    /// Any string of `min..=max` characters.
    Text(usize, usize),
    /// A fully qualified http(s) URL of at most `max` characters.
    Url(usize),
    /// One of the listed codes.
    OneOf(&'static [&'static str]),
    /// A JSON boolean.
    Bool,
    /// A JSON object.
    Object,
    /// YYYYMMDD.
    Date,
    /// YYYYMMDDHHMMSS, UTC.
    DateTime,
    /// YYMM.
    YearMonth,
    /// ISO 4217 three-digit numeric, without the values Table A.5 excludes (955–964, 999).
    Currency,
    /// ISO 3166-1 three-digit numeric. Only the form is checked (see the module docs).
    Country,
    /// An IPv4 or IPv6 address in text form, at most 45 characters.
    Ip,
    /// A 2-digit code of the enumeration, valid for the message's version.
    ChallengeInd,
    /// A 2-digit code of `threeDSRequestorAuthenticationInd`.
    AuthenticationInd,
    /// `threeRIInd`: 01–05 in 2.1.0, 01–11 from 2.2.0, or 80–99.
    ThreeRiInd,
    /// `browserColorDepth`: 1, 4, 8, 15, 16, 24, 32 or 48.
    ColorDepth,
    /// `browserTZ`: minutes from UTC, 1–5 characters, optionally signed. The spec gives
    /// no range, so none is enforced (the Visa fixtures send 3994).
    TimeZone,
    /// `browserLanguage`: IETF BCP 47, 1–8 characters. Checked as letters, digits and
    /// hyphens only; the subtag registry is not consulted.
    Language,
    /// `sdkMaxTimeout`: two digits, at least 05 (minutes).
    SdkMaxTimeout,
    /// `acctNumber`: 13–19 digits.
    Pan,
    /// `messageExtension`: an array of 1–10 extension objects (Table A.7).
    Extensions,
}

/// One row of the field table.
#[derive(Clone, Copy, Debug)]
pub struct FieldRule {
    pub name: &'static str,
    /// The first version that defines the element. Present in an older message → 203.
    pub since: MessageVersion,
    pub required: Required,
    pub format: Format,
}

const V210: MessageVersion = MessageVersion::V2_1_0;
const V220: MessageVersion = MessageVersion::V2_2_0;

const fn rule(name: &'static str, since: MessageVersion, required: Required, format: Format) -> FieldRule {
    FieldRule { name, since, required, format }
}

use Format as F;
use Required as R;

/// The AReq field table, after EMVCo 3DS Core Spec v2.2.0 Table A.1 (lengths and formats)
/// for the elements an ACS receives. `messageType` and `messageVersion` are checked
/// before the table. Elements not listed are ignored.
pub const AREQ_RULES: &[FieldRule] = &[
    // Transaction identifiers. dsTransID and dsReferenceNumber are added by the DS: a
    // 3DS Server's AReq (as in the fixtures) lacks them and is not yet an ACS's input.
    rule("threeDSServerTransID", V210, R::Always, F::Uuid),
    rule("dsTransID", V210, R::Always, F::Uuid),
    rule("dsReferenceNumber", V210, R::Always, F::Text(1, 32)),
    // dsURL: where the ACS sends the RReq. Unsure whether Table A.1 makes it required in
    // the DS→ACS AReq; treated as optional, well-formed when present.
    rule("dsURL", V210, R::Optional, F::Url(2048)),
    rule("threeDSServerRefNumber", V210, R::Always, F::Text(1, 32)),
    rule("threeDSServerOperatorID", V210, R::Optional, F::Text(1, 32)),
    rule("threeDSServerURL", V210, R::Optional, F::Url(2048)),
    // messageCategory 80–99 are DS-specific categories; this ACS knows none, so 203.
    rule("messageCategory", V210, R::Always, F::OneOf(&["01", "02"])),
    rule("deviceChannel", V210, R::Always, F::OneOf(&["01", "02", "03"])),
    // Card.
    rule("acctNumber", V210, R::Always, F::Pan),
    // cardExpiryDate: Table A.1 lets DS rules decide; not required here.
    rule("cardExpiryDate", V210, R::Optional, F::YearMonth),
    rule("acctType", V210, R::Optional, F::OneOf(&["01", "02", "03"])),
    rule("acctID", V210, R::Optional, F::Text(1, 64)),
    rule("cardholderName", V210, R::Optional, F::Text(2, 45)),
    rule("email", V210, R::Optional, F::Text(1, 254)),
    // Requestor.
    rule("threeDSRequestorID", V210, R::Always, F::Text(1, 35)),
    rule("threeDSRequestorName", V210, R::Always, F::Text(1, 40)),
    rule("threeDSRequestorURL", V210, R::Always, F::Url(2048)),
    rule("threeDSRequestorChallengeInd", V210, R::Optional, F::ChallengeInd),
    rule("threeDSRequestorAuthenticationInd", V210, R::AppOrBrowser, F::AuthenticationInd),
    rule("threeDSRequestorAuthenticationInfo", V210, R::Optional, F::Object),
    rule("threeDSRequestorPriorAuthenticationInfo", V210, R::Optional, F::Object),
    rule("threeRIInd", V210, R::ThreeRi, F::ThreeRiInd),
    // Merchant and acquirer.
    rule("acquirerBIN", V210, R::Payment, F::Text(1, 11)),
    rule("acquirerMerchantID", V210, R::Payment, F::Text(1, 35)),
    rule("mcc", V210, R::Payment, F::Numeric(4, 4)),
    rule("merchantCountryCode", V210, R::Payment, F::Country),
    rule("merchantName", V210, R::Payment, F::Text(1, 40)),
    rule("merchantRiskIndicator", V210, R::Optional, F::Object),
    // Purchase.
    rule("purchaseAmount", V210, R::Purchase, F::Numeric(1, 48)),
    rule("purchaseCurrency", V210, R::Purchase, F::Currency),
    rule("purchaseExponent", V210, R::Purchase, F::Numeric(1, 1)),
    rule("purchaseDate", V210, R::Purchase, F::DateTime),
    rule("purchaseInstalData", V210, R::Instalment, F::Numeric(1, 3)),
    rule("recurringExpiry", V210, R::Recurring, F::Date),
    rule("recurringFrequency", V210, R::Recurring, F::Numeric(1, 4)),
    rule("transType", V210, R::Optional, F::OneOf(&["01", "03", "10", "11", "28"])),
    rule("acctInfo", V210, R::Optional, F::Object),
    rule("addrMatch", V210, R::Optional, F::OneOf(&["Y", "N"])),
    rule("billAddrCountry", V210, R::Optional, F::Country),
    rule("shipAddrCountry", V210, R::Optional, F::Country),
    rule("homePhone", V210, R::Optional, F::Object),
    rule("mobilePhone", V210, R::Optional, F::Object),
    rule("workPhone", V210, R::Optional, F::Object),
    // Browser (02-BRW).
    rule("notificationURL", V210, R::Browser, F::Url(256)),
    rule("threeDSCompInd", V210, R::Browser, F::OneOf(&["Y", "N", "U"])),
    rule("browserAcceptHeader", V210, R::Browser, F::Text(1, 2048)),
    // browserIP: required "where regionally permitted", so optional here.
    rule("browserIP", V210, R::Optional, F::Ip),
    rule("browserJavaEnabled", V210, R::BrowserWithJavascript, F::Bool),
    rule("browserJavascriptEnabled", V220, R::Browser, F::Bool),
    rule("browserLanguage", V210, R::BrowserWithJavascript, F::Language),
    rule("browserColorDepth", V210, R::BrowserWithJavascript, F::ColorDepth),
    rule("browserScreenHeight", V210, R::BrowserWithJavascript, F::Numeric(1, 6)),
    rule("browserScreenWidth", V210, R::BrowserWithJavascript, F::Numeric(1, 6)),
    rule("browserTZ", V210, R::BrowserWithJavascript, F::TimeZone),
    rule("browserUserAgent", V210, R::Browser, F::Text(1, 2048)),
    // App (01-APP).
    rule("sdkAppID", V210, R::App, F::Uuid),
    rule("sdkEncData", V210, R::App, F::Text(1, 64000)),
    rule("sdkEphemPubKey", V210, R::App, F::Object),
    rule("sdkMaxTimeout", V210, R::App, F::SdkMaxTimeout),
    rule("sdkReferenceNumber", V210, R::App, F::Text(1, 32)),
    rule("sdkTransID", V210, R::App, F::Uuid),
    rule("deviceRenderOptions", V210, R::App, F::Object),
    // 2.2.0 additions.
    rule("whiteListStatus", V220, R::Optional, F::OneOf(&["Y", "N", "E", "P", "R", "U"])),
    rule("whiteListStatusSource", V220, R::Optional, F::OneOf(&["01", "02", "03"])),
    rule("payTokenSource", V220, R::Optional, F::OneOf(&["01", "02", "03"])),
    rule("threeDSRequestorDecReqInd", V220, R::Optional, F::OneOf(&["Y", "N"])),
    rule("threeDSRequestorDecMaxTime", V220, R::Optional, F::Numeric(5, 5)),
    // Extensions.
    rule("messageExtension", V210, R::Optional, F::Extensions),
];

/// What the conditional rules look at, read from the message before the table runs.
/// `None` where the element is absent or unreadable (its own row reports it).
struct Context {
    version: MessageVersion,
    channel: Option<DeviceChannel>,
    category: Option<MessageCategory>,
    auth_ind: Option<String>,
    javascript: Option<bool>,
}

impl Required {
    fn holds(self, ctx: &Context) -> bool {
        let auth = ctx.auth_ind.as_deref();
        match self {
            Self::Always => true,
            Self::Optional => false,
            Self::App => ctx.channel == Some(DeviceChannel::App),
            Self::Browser => ctx.channel == Some(DeviceChannel::Browser),
            Self::ThreeRi => ctx.channel == Some(DeviceChannel::ThreeRi),
            Self::AppOrBrowser => {
                matches!(ctx.channel, Some(DeviceChannel::App | DeviceChannel::Browser))
            }
            Self::Payment => ctx.category == Some(MessageCategory::Payment),
            Self::Purchase => {
                ctx.category == Some(MessageCategory::Payment)
                    || (ctx.category == Some(MessageCategory::NonPayment) && matches!(auth, Some("02" | "03")))
            }
            Self::Recurring => matches!(auth, Some("02" | "03")),
            Self::Instalment => auth == Some("03"),
            Self::BrowserWithJavascript => {
                ctx.channel == Some(DeviceChannel::Browser)
                    && (ctx.version == MessageVersion::V2_1_0 || ctx.javascript == Some(true))
            }
        }
    }
}

/// Whether `value` has the format, for a message of `version`.
fn format_ok(format: Format, value: &Value, version: MessageVersion) -> bool {
    if let Value::Bool(_) = value {
        return format == Format::Bool;
    }
    if let Value::Object(_) = value {
        return format == Format::Object;
    }
    if let Value::Array(items) = value {
        return format == Format::Extensions && extensions_ok(items);
    }
    let Value::String(s) = value else {
        // null and numbers: the spec sends every element as a JSON string, boolean,
        // object or array, and says empty or null elements are not to be sent.
        return false;
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let len = s.chars().count();
    match format {
        Format::Uuid => is_uuid(s),
        Format::Numeric(min, max) => (min..=max).contains(&s.len()) && digits(s),
        Format::Text(min, max) => (min..=max).contains(&len),
        Format::Url(max) => len <= max && is_url(s),
        Format::OneOf(codes) => codes.contains(&s.as_str()),
        Format::Bool | Format::Object | Format::Extensions => false,
        Format::Date => s.len() == 8 && digits(s) && date_ok(s),
        Format::DateTime => s.len() == 14 && digits(s) && date_ok(&s[..8]) && time_ok(&s[8..]),
        Format::YearMonth => s.len() == 4 && digits(s) && matches!(s[2..].parse::<u8>(), Ok(1..=12)),
        Format::Currency => s.len() == 3 && digits(s) && !matches!(s.parse::<u16>(), Ok(955..=964 | 999)),
        Format::Country => s.len() == 3 && digits(s),
        Format::Ip => len <= 45 && s.parse::<IpAddr>().is_ok(),
        Format::ChallengeInd => match ChallengeInd::from_code(s) {
            None => false,
            // 05–09 arrived with 2.2.0.
            Some(ChallengeInd::DsSpecific(_)) => true,
            Some(_) => version >= MessageVersion::V2_2_0 || s.as_str() <= "04",
        },
        Format::AuthenticationInd => AuthenticationInd::from_code(s).is_some(),
        Format::ThreeRiInd => {
            let top = if version >= MessageVersion::V2_2_0 { 11 } else { 5 };
            s.len() == 2
                && digits(s)
                && matches!(s.parse::<u8>(), Ok(n) if (1..=top).contains(&n) || (80..=99).contains(&n))
        }
        Format::ColorDepth => {
            matches!(s.as_str(), "1" | "4" | "8" | "15" | "16" | "24" | "32" | "48")
        }
        Format::TimeZone => {
            let body = s.strip_prefix(['-', '+']).unwrap_or(s);
            (1..=5).contains(&s.len()) && !body.is_empty() && digits(body)
        }
        Format::Language => (1..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
        Format::SdkMaxTimeout => s.len() == 2 && digits(s) && s.as_str() >= "05",
        Format::Pan => (13..=19).contains(&s.len()) && digits(s),
    }
}

/// Table A.7: 1–10 extensions, each with name and id (at most 64 characters), a boolean
/// criticalityIndicator and a data object.
pub(super) fn extensions_ok(items: &[Value]) -> bool {
    (1..=10).contains(&items.len())
        && items.iter().all(|item| {
            let Value::Object(ext) = item else { return false };
            let short =
                |key: &str| matches!(ext.get(key), Some(Value::String(s)) if (1..=64).contains(&s.chars().count()));
            short("name")
                && short("id")
                && matches!(ext.get("criticalityIndicator"), Some(Value::Bool(_)))
                && matches!(ext.get("data"), Some(Value::Object(_)))
        })
}

/// The 8-4-4-4-12 hexadecimal form, 36 characters.
pub(super) fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// A fully qualified URL: an http or https scheme and a non-empty host part. The spec asks
/// for "fully qualified URL"; we do not require https (the EMVCo test platform sends http).
fn is_url(s: &str) -> bool {
    let rest = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://"));
    match rest {
        Some(rest) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            !host.is_empty() && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    }
}

/// YYYYMMDD with a real month and a day that exists in it.
fn date_ok(s: &str) -> bool {
    let (Ok(year), Ok(month), Ok(day)) = (s[..4].parse::<u32>(), s[4..6].parse::<u32>(), s[6..8].parse::<u32>()) else {
        return false;
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// HHMMSS.
fn time_ok(s: &str) -> bool {
    matches!((s[..2].parse::<u8>(), s[2..4].parse::<u8>(), s[4..6].parse::<u8>()), (Ok(0..=23), Ok(0..=59), Ok(0..=59)))
}

/// ISO 4217 currencies whose minor unit is not 2 (numeric code, exponent). Every other
/// code is expected with exponent 2. Source: ISO 4217 list one (as in `payment::currency`).
const EXPONENT_NOT_2: &[(&str, &str)] = &[
    ("048", "3"), // BHD
    ("108", "0"), // BIF
    ("152", "0"), // CLP
    ("174", "0"), // KMF
    ("262", "0"), // DJF
    ("324", "0"), // GNF
    ("352", "0"), // ISK
    ("368", "3"), // IQD
    ("392", "0"), // JPY
    ("400", "3"), // JOD
    ("410", "0"), // KRW
    ("414", "3"), // KWD
    ("434", "3"), // LYD
    ("512", "3"), // OMR
    ("548", "0"), // VUV
    ("600", "0"), // PYG
    ("646", "0"), // RWF
    ("704", "0"), // VND
    ("788", "3"), // TND
    ("800", "0"), // UGX
    ("927", "4"), // UYW
    ("940", "0"), // UYI
    ("950", "0"), // XAF
    ("952", "0"), // XOF
    ("953", "0"), // XPF
    ("990", "4"), // CLF
];

pub(super) fn expected_exponent(currency: &str) -> &'static str {
    EXPONENT_NOT_2.iter().find(|(code, _)| *code == currency).map_or("2", |(_, exp)| exp)
}

/// Parses and validates an AReq from the DS, recognising no message extension.
pub fn parse_areq(raw: &[u8]) -> Result<AReq, Box<Erro>> {
    parse_areq_recognising(raw, &[])
}

/// As [`parse_areq`], with the ids of the message extensions this ACS understands: a
/// critical extension whose id is not among them gives 202.
pub fn parse_areq_recognising(raw: &[u8], known_extensions: &[&str]) -> Result<AReq, Box<Erro>> {
    let invalid = || ErroBuilder::default().build(ErrorCode::MessageInvalid, "not a JSON object".into());
    let TopLevel { map, duplicates } = serde_json::from_slice(raw).map_err(|_| invalid())?;
    let erro = ErroBuilder::from_map(&map);

    match map.get("messageType") {
        None => return Err(erro.build(ErrorCode::RequiredMissing, "messageType".into())),
        Some(Value::String(t)) if t == "AReq" => {}
        Some(_) => return Err(erro.build(ErrorCode::MessageInvalid, "messageType".into())),
    }
    let version = match map.get("messageVersion") {
        None => return Err(erro.build(ErrorCode::RequiredMissing, "messageVersion".into())),
        Some(Value::String(v)) => MessageVersion::parse(v),
        Some(_) => None,
    };
    let Some(version) = version else {
        let supported: Vec<&str> = MessageVersion::SUPPORTED.iter().map(|v| v.as_str()).collect();
        return Err(erro.build(ErrorCode::VersionNotSupported, supported.join(",")));
    };
    let erro = ErroBuilder { version: Some(version), ..erro };

    // Table A.4: 204, duplicate data element. Only the top level is checked.
    if !duplicates.is_empty() {
        return Err(erro.build(ErrorCode::DuplicateElement, duplicates.join(",")));
    }

    let text = |key: &str| match map.get(key) {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    let ctx = Context {
        version,
        channel: text("deviceChannel").and_then(|c| DeviceChannel::from_code(&c)),
        category: text("messageCategory").and_then(|c| MessageCategory::from_code(&c)),
        auth_ind: text("threeDSRequestorAuthenticationInd"),
        javascript: match map.get("browserJavascriptEnabled") {
            Some(Value::Bool(b)) => Some(*b),
            _ => None,
        },
    };

    let missing: Vec<&str> = AREQ_RULES
        .iter()
        .filter(|r| r.since <= version && r.required.holds(&ctx) && !map.contains_key(r.name))
        .map(|r| r.name)
        .collect();
    if !missing.is_empty() {
        return Err(erro.build(ErrorCode::RequiredMissing, missing.join(",")));
    }

    let mut invalid: Vec<&str> = AREQ_RULES
        .iter()
        .filter(|r| match map.get(r.name) {
            None => false,
            // An element the version does not define: the spec's data elements are
            // per version, and we refuse rather than guess what an older sender meant.
            Some(_) if r.since > version => true,
            Some(v) => !format_ok(r.format, v, version),
        })
        .map(|r| r.name)
        .collect();
    // 2.1.0: 3RI is for non-payment only (3RI payments arrived with 2.2.0).
    if version == MessageVersion::V2_1_0
        && ctx.channel == Some(DeviceChannel::ThreeRi)
        && ctx.category == Some(MessageCategory::Payment)
    {
        invalid.push("messageCategory");
    }
    // purchaseExponent must be the currency's ISO 4217 minor unit.
    if let (Some(cur), Some(exp)) = (text("purchaseCurrency"), text("purchaseExponent")) {
        if !invalid.contains(&"purchaseCurrency")
            && !invalid.contains(&"purchaseExponent")
            && exp != expected_exponent(&cur)
        {
            invalid.push("purchaseExponent");
        }
    }
    // Instalments: Table A.1 says purchaseInstalData is greater than 1.
    if let Some(n) = text("purchaseInstalData").and_then(|n| n.parse::<u32>().ok()) {
        if n < 2 {
            invalid.push("purchaseInstalData");
        }
    }
    if !invalid.is_empty() {
        invalid.dedup();
        return Err(erro.build(ErrorCode::InvalidFormat, invalid.join(",")));
    }

    if let Some(Value::Array(exts)) = map.get("messageExtension") {
        let unknown: Vec<&str> = exts
            .iter()
            .filter_map(|e| {
                let critical = e.get("criticalityIndicator") == Some(&Value::Bool(true));
                let id = e.get("id").and_then(Value::as_str)?;
                (critical && !known_extensions.contains(&id)).then_some(id)
            })
            .collect();
        if !unknown.is_empty() {
            return Err(erro.build(ErrorCode::CriticalExtensionNotRecognised, unknown.join(",")));
        }
    }

    // The table has accepted every element the struct reads, so this cannot fail unless
    // the table and the struct disagree; answer 203 then rather than panic.
    serde_json::from_value(Value::Object(map)).map_err(|_| erro.build(ErrorCode::InvalidFormat, "AReq".into()))
}

/// A top-level JSON object read key by key, so that a repeated key is seen (serde_json's
/// own `Map` keeps the last value silently). Anything but an object fails to deserialize.
pub(super) struct TopLevel {
    pub(super) map: Map<String, Value>,
    pub(super) duplicates: Vec<String>,
}

impl<'de> serde::Deserialize<'de> for TopLevel {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = TopLevel;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut access: A) -> Result<TopLevel, A::Error> {
                let mut top = TopLevel { map: Map::new(), duplicates: Vec::new() };
                while let Some(key) = access.next_key::<String>()? {
                    let value: Value = access.next_value()?;
                    if top.map.contains_key(&key) {
                        if !top.duplicates.contains(&key) {
                            top.duplicates.push(key);
                        }
                    } else {
                        top.map.insert(key, value);
                    }
                }
                Ok(top)
            }
        }
        d.deserialize_map(Visitor)
    }
}

/// What an `Erro` echoes from the message in error: only well-formed ids.
#[derive(Clone, Debug, Default)]
pub(super) struct ErroBuilder {
    pub(super) version: Option<MessageVersion>,
    pub(super) message_type: Option<String>,
    pub(super) server_id: Option<String>,
    pub(super) ds_id: Option<String>,
    pub(super) acs_id: Option<String>,
    pub(super) sdk_id: Option<String>,
}

impl ErroBuilder {
    pub(super) fn from_map(map: &Map<String, Value>) -> Self {
        let uuid = |key: &str| map.get(key).and_then(Value::as_str).filter(|s| is_uuid(s)).map(str::to_owned);
        Self {
            version: map.get("messageVersion").and_then(Value::as_str).and_then(MessageVersion::parse),
            message_type: map
                .get("messageType")
                .and_then(Value::as_str)
                .filter(|t| t.len() <= 4 && t.bytes().all(|b| b.is_ascii_alphabetic()))
                .map(str::to_owned),
            server_id: uuid("threeDSServerTransID"),
            ds_id: uuid("dsTransID"),
            acs_id: uuid("acsTransID"),
            sdk_id: uuid("sdkTransID"),
        }
    }

    /// Boxed: an `Erro` is a few hundred bytes, too big for every `Result` to carry.
    pub(super) fn build(&self, code: ErrorCode, detail: String) -> Box<Erro> {
        Box::new(Erro {
            message_type: "Erro".into(),
            message_version: self.version.unwrap_or(MessageVersion::V2_2_0).as_str().into(),
            error_code: code,
            error_component: ERROR_COMPONENT_ACS.into(),
            error_description: code.description().into(),
            error_detail: detail,
            error_message_type: self.message_type.clone(),
            three_ds_server_trans_id: self.server_id.clone(),
            ds_trans_id: self.ds_id.clone(),
            acs_trans_id: self.acs_id.clone(),
            sdk_trans_id: self.sdk_id.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::threeds::testutil::{with, without};
    use serde_json::json;

    fn browser_areq() -> Value {
        json!({
            "messageType": "AReq", "messageVersion": "2.2.0",
            "messageCategory": "01", "deviceChannel": "02",
            "threeDSServerTransID": "8a880dc0-d2d2-4067-bcb1-b08d1690b26e",
            "dsTransID": "9b9b9b9b-d2d2-4067-bcb1-b08d1690b26e",
            "dsReferenceNumber": "DS_REF_1",
            "threeDSServerRefNumber": "3DS_LOA_SER_TEST_020200_00001",
            "acctNumber": "4111111111111111", "cardExpiryDate": "2812",
            "threeDSRequestorID": "req-1", "threeDSRequestorName": "Shop",
            "threeDSRequestorURL": "https://shop.example/",
            "threeDSRequestorAuthenticationInd": "01",
            "acquirerBIN": "400551", "acquirerMerchantID": "M1", "mcc": "5411",
            "merchantCountryCode": "380", "merchantName": "Shop",
            "purchaseAmount": "1999", "purchaseCurrency": "978", "purchaseExponent": "2",
            "purchaseDate": "20261123182700",
            "notificationURL": "https://shop.example/notify", "threeDSCompInd": "Y",
            "browserAcceptHeader": "text/html", "browserIP": "192.0.2.1",
            "browserJavaEnabled": false, "browserJavascriptEnabled": true,
            "browserLanguage": "it-IT", "browserColorDepth": "24",
            "browserScreenHeight": "1080", "browserScreenWidth": "1920", "browserTZ": "-60",
            "browserUserAgent": "Mozilla/5.0"
        })
    }

    fn run(v: &Value) -> Result<AReq, Box<Erro>> {
        parse_areq(v.to_string().as_bytes())
    }

    fn err(v: &Value) -> (ErrorCode, String) {
        let e = run(v).unwrap_err();
        (e.error_code, e.error_detail)
    }

    #[test]
    fn a_good_browser_areq_parses() {
        let areq = run(&browser_areq()).unwrap();
        assert_eq!(areq.device_channel, DeviceChannel::Browser);
        assert_eq!(areq.acct_number.last_four(), "1111");
        assert!(!format!("{areq:?}").contains("4111111111111111"));
    }

    #[test]
    fn message_level_errors() {
        assert_eq!(parse_areq(b"{nope").unwrap_err().error_code, ErrorCode::MessageInvalid);
        assert_eq!(parse_areq(b"[1]").unwrap_err().error_code, ErrorCode::MessageInvalid);
        let e = run(&with(browser_areq(), "messageType", json!("CReq"))).unwrap_err();
        assert_eq!(e.error_code, ErrorCode::MessageInvalid);
        assert_eq!(e.three_ds_server_trans_id.as_deref(), Some("8a880dc0-d2d2-4067-bcb1-b08d1690b26e"));
        let e = run(&with(browser_areq(), "messageVersion", json!("2.0.9"))).unwrap_err();
        assert_eq!((e.error_code, e.error_detail.as_str()), (ErrorCode::VersionNotSupported, "2.1.0,2.2.0,2.3.1"));
        assert_eq!(e.error_component, "A");
        assert_eq!(err(&without(browser_areq(), "messageVersion")).0, ErrorCode::RequiredMissing);
    }

    #[test]
    fn missing_elements_are_201_and_all_named() {
        let v = without(without(browser_areq(), "dsTransID"), "browserUserAgent");
        assert_eq!(err(&v), (ErrorCode::RequiredMissing, "dsTransID,browserUserAgent".into()));
    }

    #[test]
    fn conditional_requirements() {
        // NPA with authentication indicator 04 (add card) needs no purchase fields …
        let mut v = with(browser_areq(), "messageCategory", json!("02"));
        v = with(v, "threeDSRequestorAuthenticationInd", json!("04"));
        for f in ["purchaseAmount", "purchaseCurrency", "purchaseExponent", "purchaseDate", "mcc"] {
            v = without(v, f);
        }
        assert!(run(&v).is_ok());
        // … but recurring (02) does, and recurringExpiry/Frequency too.
        let v2 = with(v.clone(), "threeDSRequestorAuthenticationInd", json!("02"));
        assert_eq!(
            err(&v2),
            (
                ErrorCode::RequiredMissing,
                "purchaseAmount,purchaseCurrency,purchaseExponent,purchaseDate,recurringExpiry,recurringFrequency"
                    .into()
            )
        );
        // 2.2.0: JavaScript off means no screen details are required.
        let mut v = with(browser_areq(), "browserJavascriptEnabled", json!(false));
        for f in [
            "browserColorDepth",
            "browserScreenHeight",
            "browserScreenWidth",
            "browserTZ",
            "browserLanguage",
            "browserJavaEnabled",
        ] {
            v = without(v, f);
        }
        assert!(run(&v).is_ok());
        // 2.1.0 has no browserJavascriptEnabled and needs them all.
        let v = without(with(v, "messageVersion", json!("2.1.0")), "browserJavascriptEnabled");
        assert_eq!(err(&v).0, ErrorCode::RequiredMissing);
        // App channel: the SDK fields.
        let v = with(browser_areq(), "deviceChannel", json!("01"));
        assert_eq!(
            err(&v),
            (
                ErrorCode::RequiredMissing,
                "sdkAppID,sdkEncData,sdkEphemPubKey,sdkMaxTimeout,sdkReferenceNumber,sdkTransID,deviceRenderOptions"
                    .into()
            )
        );
        // 3RI: threeRIInd; no authentication indicator needed.
        let v = without(with(browser_areq(), "deviceChannel", json!("03")), "threeDSRequestorAuthenticationInd");
        assert_eq!(err(&v), (ErrorCode::RequiredMissing, "threeRIInd".into()));
    }

    #[test]
    fn formats_are_203_and_all_named() {
        let cases: &[(&str, Value)] = &[
            ("threeDSServerTransID", json!("not-a-uuid")),
            ("acctNumber", json!("411111111111")),
            ("acctNumber", json!("4111-1111-1111-1111")),
            ("cardExpiryDate", json!("2813")),
            ("purchaseDate", json!("20260230120000")),
            ("purchaseDate", json!("20261123246000")),
            ("purchaseAmount", json!(1999)),
            ("purchaseCurrency", json!("EUR")),
            ("purchaseCurrency", json!("999")),
            ("merchantCountryCode", json!("IT")),
            ("mcc", json!("54a1")),
            ("threeDSRequestorURL", json!("shop.example")),
            ("browserIP", json!("300.1.1.1")),
            ("browserColorDepth", json!("12")),
            ("browserTZ", json!("60m")),
            ("browserJavaEnabled", json!("false")),
            ("deviceChannel", json!("04")),
            ("messageCategory", json!("03")),
            ("threeDSRequestorChallengeInd", json!("10")),
            ("merchantName", json!("")),
            ("merchantName", Value::Null),
            ("merchantName", json!("x".repeat(41))),
        ];
        for (field, value) in cases {
            let v = with(browser_areq(), field, value.clone());
            assert_eq!(err(&v), (ErrorCode::InvalidFormat, (*field).to_owned()), "{field} = {value}");
        }
        let v = with(with(browser_areq(), "mcc", json!("1")), "browserTZ", json!("x"));
        assert_eq!(err(&v), (ErrorCode::InvalidFormat, "mcc,browserTZ".into()));
    }

    #[test]
    fn version_specific_values_and_elements() {
        // 2.2.0 challenge indicators in a 2.1.0 message.
        let v = without(with(browser_areq(), "messageVersion", json!("2.1.0")), "browserJavascriptEnabled");
        assert!(run(&v).is_ok());
        let v21 = with(v.clone(), "threeDSRequestorChallengeInd", json!("05"));
        assert_eq!(err(&v21), (ErrorCode::InvalidFormat, "threeDSRequestorChallengeInd".into()));
        assert!(run(&with(v.clone(), "threeDSRequestorChallengeInd", json!("85"))).is_ok());
        // An element 2.1.0 does not define.
        let v21 = with(v.clone(), "browserJavascriptEnabled", json!(true));
        assert_eq!(err(&v21), (ErrorCode::InvalidFormat, "browserJavascriptEnabled".into()));
        // 3RI payment only from 2.2.0.
        let three_ri = with(with(browser_areq(), "deviceChannel", json!("03")), "threeRIInd", json!("01"));
        assert!(run(&three_ri).is_ok());
        let three_ri = without(with(three_ri, "messageVersion", json!("2.1.0")), "browserJavascriptEnabled");
        assert_eq!(err(&three_ri), (ErrorCode::InvalidFormat, "messageCategory".into()));
        // 2.3.1 is accepted.
        assert!(run(&with(browser_areq(), "messageVersion", json!("2.3.1"))).is_ok());
    }

    #[test]
    fn exponent_follows_the_currency() {
        let jpy = with(with(browser_areq(), "purchaseCurrency", json!("392")), "purchaseExponent", json!("0"));
        assert!(run(&jpy).is_ok());
        let bad = with(jpy, "purchaseExponent", json!("2"));
        assert_eq!(err(&bad), (ErrorCode::InvalidFormat, "purchaseExponent".into()));
        let eur = with(browser_areq(), "purchaseExponent", json!("3"));
        assert_eq!(err(&eur), (ErrorCode::InvalidFormat, "purchaseExponent".into()));
    }

    #[test]
    fn extensions() {
        let ext = |critical: bool| json!([{ "name": "n", "id": "X-1", "criticalityIndicator": critical, "data": {} }]);
        assert!(run(&with(browser_areq(), "messageExtension", ext(false))).is_ok());
        let v = with(browser_areq(), "messageExtension", ext(true));
        assert_eq!(err(&v), (ErrorCode::CriticalExtensionNotRecognised, "X-1".into()));
        assert!(parse_areq_recognising(v.to_string().as_bytes(), &["X-1"]).is_ok());
        let v = with(browser_areq(), "messageExtension", json!([{ "name": "n", "id": "X-1" }]));
        assert_eq!(err(&v), (ErrorCode::InvalidFormat, "messageExtension".into()));
    }

    #[test]
    fn a_repeated_key_is_204() {
        let text = browser_areq().to_string();
        let doubled = text.replacen("{", "{\"mcc\":\"1234\",", 1);
        let e = parse_areq(doubled.as_bytes()).unwrap_err();
        assert_eq!((e.error_code, e.error_detail.as_str()), (ErrorCode::DuplicateElement, "mcc"));
    }

    #[test]
    fn erro_uses_the_spec_names() {
        let e = run(&without(browser_areq(), "dsTransID")).unwrap_err();
        let json = serde_json::to_value(&*e).unwrap();
        assert_eq!(
            json,
            json!({
                "messageType": "Erro", "messageVersion": "2.2.0", "errorCode": "201",
                "errorComponent": "A", "errorDescription": ErrorCode::RequiredMissing.description(),
                "errorDetail": "dsTransID", "errorMessageType": "AReq",
                "threeDSServerTransID": "8a880dc0-d2d2-4067-bcb1-b08d1690b26e"
            })
        );
        assert_eq!(e.detail_fields(), ["dsTransID"]);
    }

    #[test]
    fn the_table_names_each_field_once() {
        let mut names: Vec<&str> = AREQ_RULES.iter().map(|r| r.name).collect();
        names.sort_unstable();
        let n = names.len();
        names.dedup();
        assert_eq!(names.len(), n);
    }
}
