//! Configuration: defaults < file < `SIGILLO_*` environment < command-line flags.
//!
//! Unknown keys are refused (a typo must not silently fall back to a default). Secrets
//! can come from files (`kek_file`, `sms.auth_header_file`, `email.smtp_password_file`,
//! `push.apns.key_file`, `push.fcm.service_account_file`) so
//! they stay out of the environment and the config file. `sigillo config example`
//! prints `sigillo.example.toml`, which a test keeps equal to the defaults.

use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use sigillo_core::attempts::LockoutPolicy;
use sigillo_core::kek::Kek;
use sigillo_core::password::{HashParams, PasswordPolicy};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// The commented reference configuration, the same file as `sigillo.example.toml`.
pub const EXAMPLE: &str = include_str!("../../../sigillo.example.toml");

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Development mode: console SMS/email, `GET /dev/outbox`, a generated KEK, a demo user,
    /// cookies without `Secure`. Never in production.
    pub dev_mode: bool,
    pub listen: SocketAddr,
    pub database_url: String,
    /// SQLite only: `full` (every commit on disk before it is answered) or `normal` (WAL:
    /// faster; the last commits may roll back after a power loss). ADR 0011.
    pub sqlite_synchronous: sigillo_store::SqliteSynchronous,
    /// Where dev mode keeps its generated key-encryption key.
    pub data_dir: PathBuf,
    /// The address customers reach sigillo at, for links in emails.
    pub public_url: String,
    /// Key-encryption key, base64 of 32 bytes (P7). Prefer `kek_file`.
    pub kek: Option<String>,
    pub kek_file: Option<PathBuf>,
    /// `text` or `json`.
    pub log_format: LogFormat,
    pub security: Security,
    pub operations: Operations,
    pub rate_limit: RateLimit,
    pub sms: Sms,
    pub email: Email,
    pub outbox: Outbox,
    pub push: Push,
    pub integration: Integration,
    pub acs: Acs,
    pub legacy: Legacy,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Security {
    /// RTS art. 4(3)(d): at most 300 seconds without activity.
    pub session_idle_secs: u64,
    pub login_flow_secs: u64,
    pub otp_ttl_secs: u64,
    pub otp_max_sends: u32,
    pub email_link_ttl_secs: u64,
    pub lockout: LockoutPolicy,
    pub password: PasswordPolicy,
    pub hashing: HashParams,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimit {
    /// Requests per second per client address on the authentication endpoints.
    pub per_ip_per_second: u32,
    pub burst: u32,
    /// Take the client address from the last `X-Forwarded-For` entry (behind a trusted proxy only).
    pub trust_forwarded_for: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Sms {
    /// `console` (dev mode only) or `http`.
    pub kind: SenderKind,
    /// The gateway's URL: sigillo POSTs `{"to", "text"}` as JSON.
    pub url: Option<String>,
    /// Full `Authorization` header value sent to the gateway. Prefer `auth_header_file`.
    pub auth_header: Option<String>,
    pub auth_header_file: Option<PathBuf>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Email {
    /// `console` (dev mode only) or `smtp`.
    pub kind: SenderKind,
    pub from: String,
    pub smtp_host: String,
    pub smtp_port: u16,
    /// `none`, `starttls` or `tls`.
    pub smtp_tls: SmtpTls,
    pub smtp_username: Option<String>,
    pub smtp_password: Option<String>,
    pub smtp_password_file: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SenderKind {
    Console,
    Http,
    Smtp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    None,
    Starttls,
    Tls,
}

/// The bank's back ends that may ask sigillo to authorize operations (issue 4).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Integration {
    pub clients: Vec<IntegrationClient>,
}

/// One back end: its API key (as a SHA-256, so the configuration never holds the key)
/// and where its webhook goes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationClient {
    /// `[a-z0-9_-]`, 1–32 characters: named in the audit trail and `requested_by`.
    pub name: String,
    /// Lower-case hex SHA-256 of the API key (`sigillo admin integration key` makes both).
    pub api_key_sha256: String,
    /// Where the outcome of each operation is posted; none: no webhook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    /// The HMAC-SHA256 key of webhook signatures. Prefer `webhook_secret_file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret_file: Option<PathBuf>,
}

impl IntegrationClient {
    pub fn webhook_secret(&self) -> anyhow::Result<Option<String>> {
        secret(&self.webhook_secret, &self.webhook_secret_file)
    }
}

/// The 3-D Secure Access Control Server (issue 5, EMV 3DS 2.2.0).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Acs {
    /// The address the Directory Server and card holders' browsers reach the ACS at; the
    /// ARes `acsURL` is this + `/3ds/v2/challenge`. Empty: `public_url`.
    pub public_url: String,
    /// `acsReferenceNumber`, assigned by EMVCo at the ACS's approval.
    pub reference_number: String,
    /// `acsOperatorID`, assigned by the Directory Server (optional).
    pub operator_id: Option<String>,
    /// The RReq goes to the AReq's `dsURL`: only to URLs that start with one of these
    /// (the DS's own addresses), so a forged AReq cannot make the ACS call elsewhere.
    /// Empty is allowed only in dev mode.
    pub ds_url_prefixes: Vec<String>,
    /// How long after a challenge ARes the first CReq may arrive.
    pub creq_timeout_secs: u64,
    /// How long a challenge may run (RTS art. 4(3)(d): at most 300 s).
    pub challenge_ttl_secs: u64,
    /// SMS OTPs one challenge may send (the first included).
    pub otp_max_sends: u32,
    /// RTS art. 16 low-value exemption (≤ 30 EUR; cumulative 100 EUR or 5 purchases).
    pub low_value_exemption: bool,
    /// RTS art. 18: the exemption threshold (EUR cents) for a requestor's transaction risk
    /// analysis (challenge indicator 05), per the bank's fraud rate; none: always challenge.
    pub tra_limit_eur_cents: Option<u64>,
    /// Attempts at delivering an RReq before it is left for an operator.
    pub rreq_max_attempts: u32,
    /// Authentication-value keys per brand, base64 of 32 bytes (the scheme's or the
    /// issuer's authorisation system verifies with the same key). Prefer the `_file`
    /// form; unset: derived from the key-encryption key.
    pub visa_av_key: Option<String>,
    pub visa_av_key_file: Option<PathBuf>,
    pub mastercard_av_key: Option<String>,
    pub mastercard_av_key_file: Option<PathBuf>,
}

/// DESIGN flow 10: the acquired banks whose customers move over with their old
/// credentials (`[[legacy.banks]]`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Legacy {
    pub banks: Vec<LegacyBank>,
}

/// One acquired bank.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegacyBank {
    /// What the import command and the activation pages call it (1-32 of a-z 0-9 _ -).
    pub id: String,
    /// Its name as customers know it ("Banca Carige").
    pub name: String,
    /// The old credentials, in the customers' words ("Codice Cliente Carige Online e password").
    pub credentials_label: String,
    /// When activation opens, RFC 3339 ("2026-11-28T00:00:00+01:00"): before it the page
    /// says that date and nothing else.
    pub opens_at: String,
    /// When activation closes, if it does.
    #[serde(default)]
    pub closes_at: Option<String>,
    /// Whether its hardware-token customers keep SCA by SMS OTP until they bind the app.
    #[serde(default = "yes")]
    pub hardware_token_sms: bool,
}

fn yes() -> bool {
    true
}

impl LegacyBank {
    /// When activation opens and (if set) closes, in Unix milliseconds.
    pub fn window(&self) -> anyhow::Result<(i64, Option<i64>)> {
        let at = |s: &str| {
            chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| t.timestamp_millis())
                .with_context(|| format!("legacy.banks.{}: {s:?} is not an RFC 3339 time", self.id))
        };
        Ok((at(&self.opens_at)?, self.closes_at.as_deref().map(at).transpose()?))
    }
}

impl Default for Acs {
    fn default() -> Self {
        Self {
            public_url: String::new(),
            reference_number: "3DS_LOA_ACS_SIGI_020200_00001".into(),
            operator_id: None,
            ds_url_prefixes: Vec::new(),
            creq_timeout_secs: 30,
            challenge_ttl_secs: 300,
            otp_max_sends: 3,
            low_value_exemption: true,
            tra_limit_eur_cents: None,
            rreq_max_attempts: 8,
            visa_av_key: None,
            visa_av_key_file: None,
            mastercard_av_key: None,
            mastercard_av_key_file: None,
        }
    }
}

/// Logins and payments approved on the phone (issue 4).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Operations {
    /// How long an operation waits for its approval (RTS art. 4(3)(d): at most 300 s).
    pub ttl_secs: u64,
    /// Wrong codes that fail one operation (P2, at most 5). A wrong number in number
    /// matching refuses the login at once.
    pub max_failures: u32,
    /// Whether customers with a bound phone may also ask for an SMS OTP.
    pub sms_for_app_users: bool,
}

impl Default for Operations {
    fn default() -> Self {
        Self { ttl_secs: 300, max_failures: 5, sms_for_app_users: true }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Outbox {
    /// How often the worker looks for due messages, in milliseconds; 0: this node runs no
    /// worker (another node delivers).
    pub poll_ms: u64,
    /// Attempts before a message is given up (it stays in the table, marked with its error).
    pub max_attempts: u32,
}

/// Push notifications to bound phones (issue 4). A provider left out is skipped, with a
/// warning at start-up; dev mode records the notes of missing providers at `GET /dev/push`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Push {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apns: Option<Apns>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fcm: Option<Fcm>,
}

/// Apple Push Notification service with token-based authentication.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Apns {
    /// The `.p8` signing key's PEM text. Prefer `key_file`.
    pub key: Option<String>,
    pub key_file: Option<PathBuf>,
    /// The key's 10-character id (the JWT's `kid`).
    pub key_id: String,
    /// The Apple developer team id (the JWT's `iss`).
    pub team_id: String,
    /// The app's bundle id (`apns-topic`).
    pub topic: String,
    /// `https://api.push.apple.com` or the sandbox, `https://api.sandbox.push.apple.com`.
    pub endpoint: String,
}

/// Firebase Cloud Messaging HTTP v1 with a service account.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Fcm {
    /// The service account's JSON key. Prefer `service_account_file`.
    pub service_account: Option<String>,
    pub service_account_file: Option<PathBuf>,
    /// Defaults to the service account's `project_id`.
    pub project_id: Option<String>,
    pub endpoint: String,
    /// Defaults to the service account's `token_uri`.
    pub token_uri: Option<String>,
}

impl Default for Apns {
    fn default() -> Self {
        Self {
            key: None,
            key_file: None,
            key_id: String::new(),
            team_id: String::new(),
            topic: String::new(),
            endpoint: crate::push::apns::PRODUCTION.into(),
        }
    }
}

impl Default for Fcm {
    fn default() -> Self {
        Self {
            service_account: None,
            service_account_file: None,
            project_id: None,
            endpoint: crate::push::fcm::ENDPOINT.into(),
            token_uri: None,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            dev_mode: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: "sqlite:./sigillo.db".into(),
            sqlite_synchronous: sigillo_store::SqliteSynchronous::Full,
            data_dir: PathBuf::from("."),
            public_url: "http://127.0.0.1:8080".into(),
            kek: None,
            kek_file: None,
            log_format: LogFormat::Text,
            security: Security::default(),
            operations: Operations::default(),
            rate_limit: RateLimit::default(),
            sms: Sms::default(),
            email: Email::default(),
            outbox: Outbox::default(),
            push: Push::default(),
            integration: Integration::default(),
            acs: Acs::default(),
            legacy: Legacy::default(),
        }
    }
}

impl Default for Security {
    fn default() -> Self {
        Self {
            session_idle_secs: 300,
            login_flow_secs: 300,
            otp_ttl_secs: 300,
            otp_max_sends: 3,
            email_link_ttl_secs: 48 * 3600,
            lockout: LockoutPolicy::default(),
            password: PasswordPolicy::default(),
            hashing: HashParams::default(),
        }
    }
}

impl Default for RateLimit {
    fn default() -> Self {
        // A carrier NAT can put thousands of customers behind one address: the per-user
        // counters are the real defence, this only blunts floods.
        Self { per_ip_per_second: 50, burst: 500, trust_forwarded_for: false }
    }
}

impl Default for Sms {
    fn default() -> Self {
        Self { kind: SenderKind::Console, url: None, auth_header: None, auth_header_file: None }
    }
}

impl Default for Email {
    fn default() -> Self {
        Self {
            kind: SenderKind::Console,
            from: "sigillo <no-reply@sigillo.invalid>".into(),
            smtp_host: "localhost".into(),
            smtp_port: 25,
            smtp_tls: SmtpTls::Starttls,
            smtp_username: None,
            smtp_password: None,
            smtp_password_file: None,
        }
    }
}

impl Default for Outbox {
    fn default() -> Self {
        Self { poll_ms: 500, max_attempts: 12 }
    }
}

/// Top-level keys the environment may set: anything else under `SIGILLO_` (such as
/// the test suite's `SIGILLO_TEST_POSTGRES_URL`) is not configuration.
const ENV_KEYS: &[&str] = &[
    "dev_mode",
    "listen",
    "database_url",
    "sqlite_synchronous",
    "data_dir",
    "public_url",
    "kek",
    "kek_file",
    "log_format",
    "security",
    "operations",
    "rate_limit",
    "sms",
    "email",
    "outbox",
    "push",
    "integration",
    "acs",
];

/// Command-line overrides (the last layer).
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
}

impl Config {
    /// Loads the layers. `file` is optional; a named file that does not exist is an error.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Self> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                bail!("configuration file {} does not exist", path.display());
            }
            fig = fig.merge(Toml::file(path));
        }
        let env = Env::prefixed("SIGILLO_").split("__").filter(|key| {
            let top = key.as_str().split('.').next().unwrap_or_default().to_ascii_lowercase();
            ENV_KEYS.contains(&top.as_str())
        });
        fig = fig.merge(env).merge(Serialized::defaults(overrides));
        let config: Config = fig.extract().context("invalid configuration")?;
        config.validate()?;
        Ok(config)
    }

    /// Parses one TOML text on top of the defaults (for `config check` and tests).
    pub fn from_toml(text: &str) -> anyhow::Result<Self> {
        let config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string(text))
            .extract()
            .context("invalid configuration")?;
        config.validate()?;
        Ok(config)
    }

    /// Rules that types alone cannot state.
    pub fn validate(&self) -> anyhow::Result<()> {
        let s = &self.security;
        if s.session_idle_secs == 0 || s.session_idle_secs > 300 {
            bail!("security.session_idle_secs must be between 1 and 300 (RTS art. 4(3)(d))");
        }
        if s.lockout.max_failures == 0 || s.lockout.max_failures > 5 {
            bail!("security.lockout.max_failures must be between 1 and 5 (RTS art. 4(3)(b))");
        }
        if s.lockout.temporary_locks == 0 {
            bail!(
                "security.lockout.temporary_locks must be at least 1: the customer is alerted at a temporary lock, before a permanent one (RTS art. 4)"
            );
        }
        let acs = &self.acs;
        if acs.challenge_ttl_secs == 0 || acs.challenge_ttl_secs > 300 {
            bail!("acs.challenge_ttl_secs must be between 1 and 300 (RTS art. 4(3)(d))");
        }
        if acs.creq_timeout_secs == 0 || acs.creq_timeout_secs > acs.challenge_ttl_secs {
            bail!("acs.creq_timeout_secs must be between 1 and acs.challenge_ttl_secs");
        }
        if !(1..=5).contains(&acs.otp_max_sends) {
            bail!("acs.otp_max_sends must be between 1 and 5");
        }
        if acs.rreq_max_attempts == 0 {
            bail!("acs.rreq_max_attempts must be at least 1");
        }
        if !self.dev_mode && acs.ds_url_prefixes.is_empty() {
            bail!("acs.ds_url_prefixes: name the Directory Servers' URLs (only dev mode may send RReqs anywhere)");
        }
        if acs
            .ds_url_prefixes
            .iter()
            .any(|p| !(p.starts_with("https://") || (self.dev_mode && p.starts_with("http://"))))
        {
            bail!("acs.ds_url_prefixes must be https:// URLs (http:// only in dev mode)");
        }
        let mut names = std::collections::HashSet::new();
        for c in &self.integration.clients {
            let name_ok = (1..=32).contains(&c.name.len())
                && c.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
            if !name_ok || !names.insert(c.name.as_str()) {
                bail!("integration.clients: each name must be unique, 1-32 of a-z 0-9 _ - ({:?})", c.name);
            }
            if c.api_key_sha256.len() != 64 || !c.api_key_sha256.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            {
                bail!("integration.clients.{}: api_key_sha256 must be 64 lower-case hex digits", c.name);
            }
            let has_secret = c.webhook_secret.is_some() || c.webhook_secret_file.is_some();
            if c.webhook_url.is_some() != has_secret {
                bail!("integration.clients.{}: webhook_url and webhook_secret(_file) go together", c.name);
            }
            if let Some(url) = &c.webhook_url {
                if !(url.starts_with("https://") || (self.dev_mode && url.starts_with("http://"))) {
                    bail!("integration.clients.{}: webhook_url must be https:// (http:// only in dev mode)", c.name);
                }
            }
        }
        let mut banks = std::collections::HashSet::new();
        for b in &self.legacy.banks {
            let id_ok = (1..=32).contains(&b.id.len())
                && b.id.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' || c == b'-');
            // The activation pages' own paths cannot be banks (/activation/{bank}).
            let reserved = ["otp", "confirm", "email", "password"].contains(&b.id.as_str());
            if !id_ok || reserved || !banks.insert(b.id.as_str()) {
                bail!(
                    "legacy.banks: each id must be unique, 1-32 of a-z 0-9 _ -, and not otp, confirm, email or password ({:?})",
                    b.id
                );
            }
            if b.name.trim().is_empty() || b.credentials_label.trim().is_empty() {
                bail!("legacy.banks.{}: name and credentials_label are needed", b.id);
            }
            let (opens, closes) = b.window()?;
            if closes.is_some_and(|c| c <= opens) {
                bail!("legacy.banks.{}: closes_at must come after opens_at", b.id);
            }
        }
        let ops = &self.operations;
        if !(1..=300).contains(&ops.ttl_secs) {
            bail!("operations.ttl_secs must be between 1 and 300");
        }
        if !(1..=5).contains(&ops.max_failures) {
            bail!("operations.max_failures must be between 1 and 5 (RTS art. 4(3)(b))");
        }
        if s.otp_max_sends == 0 {
            bail!("security.otp_max_sends must be at least 1");
        }
        if s.password.min_length < 8 || s.password.max_length < s.password.min_length {
            bail!("security.password: min_length must be at least 8 and not above max_length");
        }
        let weak_hashing = s.hashing.memory_kib < 8 * 1024 || s.hashing.iterations == 0 || s.hashing.parallelism == 0;
        if weak_hashing && !self.dev_mode {
            bail!("security.hashing: at least 8 MiB, 1 iteration and 1 lane outside dev mode");
        }
        if self.rate_limit.per_ip_per_second == 0 || self.rate_limit.burst == 0 {
            bail!("rate_limit: per_ip_per_second and burst must be positive");
        }
        if !self.dev_mode {
            if self.sms.kind != SenderKind::Http || self.sms.url.is_none() {
                bail!("sms: outside dev mode set kind = \"http\" and the gateway url");
            }
            if self.email.kind != SenderKind::Smtp {
                bail!("email: outside dev mode set kind = \"smtp\"");
            }
            if self.kek.is_none() && self.kek_file.is_none() {
                bail!("kek or kek_file is required outside dev mode (P7)");
            }
        }
        if let Some(apns) = &self.push.apns {
            if apns.key_id.is_empty() || apns.team_id.is_empty() || apns.topic.is_empty() {
                bail!("push.apns: key_id, team_id and topic are required");
            }
            if apns.key.is_none() && apns.key_file.is_none() {
                bail!("push.apns: set key_file (or key)");
            }
            endpoint_ok("push.apns.endpoint", &apns.endpoint)?;
        }
        if let Some(fcm) = &self.push.fcm {
            if fcm.service_account.is_none() && fcm.service_account_file.is_none() {
                bail!("push.fcm: set service_account_file (or service_account)");
            }
            endpoint_ok("push.fcm.endpoint", &fcm.endpoint)?;
            if let Some(uri) = &fcm.token_uri {
                endpoint_ok("push.fcm.token_uri", uri)?;
            }
        }
        if self.sms.kind == SenderKind::Smtp || self.email.kind == SenderKind::Http {
            bail!("sms.kind is console or http; email.kind is console or smtp");
        }
        Ok(())
    }

    /// The key-encryption key: from `kek`, `kek_file`, or, in dev mode only, a key
    /// generated once into `data_dir` (with a loud warning).
    pub fn load_kek(&self) -> anyhow::Result<Kek> {
        if let Some(text) = &self.kek {
            return Kek::from_base64(text).context("kek");
        }
        if let Some(path) = &self.kek_file {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading kek_file {}", path.display()))?;
            return Kek::from_base64(&text).context("kek_file");
        }
        if !self.dev_mode {
            bail!("kek or kek_file is required outside dev mode");
        }
        let path = self.data_dir.join("sigillo-dev.kek");
        if let Ok(text) = std::fs::read_to_string(&path) {
            return Kek::from_base64(&text).with_context(|| format!("dev key {}", path.display()));
        }
        let kek = Kek::generate(&mut rand::rngs::OsRng);
        std::fs::create_dir_all(&self.data_dir)?;
        write_private(&path, kek.to_base64().as_bytes())?;
        tracing::warn!(
            path = %path.display(),
            "DEV MODE: generated a key-encryption key on disk. Never use this in production: set kek_file"
        );
        Ok(kek)
    }

    /// How the store is opened.
    pub fn store_options(&self) -> sigillo_store::StoreOptions {
        sigillo_store::StoreOptions { sqlite_synchronous: self.sqlite_synchronous }
    }

    pub fn sms_auth_header(&self) -> anyhow::Result<Option<String>> {
        secret(&self.sms.auth_header, &self.sms.auth_header_file)
    }

    /// The authentication-value key of a brand (EMV 3DS: 20 bytes of keyed MAC per
    /// transaction); derived from the key-encryption key when not configured.
    pub fn av_key(
        &self,
        brand: sigillo_core::threeds::authval::Brand,
        kek: &Kek,
    ) -> anyhow::Result<Zeroizing<[u8; 32]>> {
        use sigillo_core::threeds::authval::Brand;
        let (inline, file, label) = match brand {
            Brand::Visa => (&self.acs.visa_av_key, &self.acs.visa_av_key_file, "sigillo/3ds-av/visa/v1"),
            Brand::Mastercard => {
                (&self.acs.mastercard_av_key, &self.acs.mastercard_av_key_file, "sigillo/3ds-av/mastercard/v1")
            }
        };
        let Some(text) = secret(inline, file)? else {
            return Ok(kek.derive(label));
        };
        let bytes = Zeroizing::new(
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, text.trim())
                .context("acs authentication-value key: not base64")?,
        );
        let key: [u8; 32] =
            bytes.as_slice().try_into().map_err(|_| anyhow::anyhow!("acs authentication-value key: need 32 bytes"))?;
        Ok(Zeroizing::new(key))
    }

    pub fn smtp_password(&self) -> anyhow::Result<Option<String>> {
        secret(&self.email.smtp_password, &self.email.smtp_password_file)
    }

    /// The APNs signing key's PEM text, when APNs is configured.
    pub fn apns_key(&self) -> anyhow::Result<Option<String>> {
        match &self.push.apns {
            Some(apns) => secret(&apns.key, &apns.key_file),
            None => Ok(None),
        }
    }

    /// The FCM service account's JSON, when FCM is configured.
    pub fn fcm_service_account(&self) -> anyhow::Result<Option<String>> {
        match &self.push.fcm {
            Some(fcm) => secret(&fcm.service_account, &fcm.service_account_file),
            None => Ok(None),
        }
    }
}

/// A provider endpoint is an absolute `https://` URL; `http://` is accepted for tests
/// (spoken to in HTTP/2 cleartext for APNs) and warned about at start-up.
fn endpoint_ok(key: &str, url: &str) -> anyhow::Result<()> {
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        bail!("{key} must be an https:// URL");
    }
    Ok(())
}

fn secret(inline: &Option<String>, file: &Option<PathBuf>) -> anyhow::Result<Option<String>> {
    match (inline, file) {
        (Some(v), _) => Ok(Some(v.clone())),
        (None, Some(path)) => Ok(Some(
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?.trim_end().to_owned(),
        )),
        (None, None) => Ok(None),
    }
}

/// Writes a file readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(bytes)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_is_the_defaults_for_production() {
        let example =
            Config::from_toml(EXAMPLE.replace("dev_mode = false", "dev_mode = true").as_str()).expect("example parses");
        // The example shows production senders and a key file, commented where optional.
        let expected = Config {
            sms: example.sms.clone(),
            email: example.email.clone(),
            kek_file: example.kek_file.clone(),
            push: example.push.clone(),
            // The Directory Servers' addresses have no default: the example shows one.
            acs: Acs { ds_url_prefixes: example.acs.ds_url_prefixes.clone(), ..Acs::default() },
            // Acquired banks have no default either: the example shows one.
            legacy: example.legacy.clone(),
            ..Config::default()
        };
        assert_eq!(example, expected);
        assert!(EXAMPLE.contains("dev_mode = false"));
    }

    #[test]
    #[expect(clippy::result_large_err, reason = "figment::Jail's closure returns figment's own error type")]
    fn layers_apply_in_order_and_foreign_variables_are_ignored() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "s.toml",
                "listen = \"127.0.0.1:7000\"\ndatabase_url = \"sqlite:file.db\"\n[security]\nsession_idle_secs = 200\n",
            )?;
            jail.set_env("SIGILLO_DATABASE_URL", "postgres://db/sigillo");
            jail.set_env("SIGILLO_SECURITY__OTP_MAX_SENDS", "2");
            jail.set_env("SIGILLO_TEST_POSTGRES_URL", "postgres://not-config");
            let overrides = Overrides {
                listen: Some("127.0.0.1:7001".parse().unwrap_or_else(|_| unreachable!())),
                database_url: None,
            };
            let cfg = Config::load(Some(Path::new("s.toml")), &overrides).map_err(|e| e.to_string())?;
            assert_eq!(cfg.listen.port(), 7001, "flags beat everything");
            assert_eq!(cfg.database_url, "postgres://db/sigillo", "environment beats the file");
            assert_eq!(cfg.security.session_idle_secs, 200, "the file beats defaults");
            assert_eq!(cfg.security.otp_max_sends, 2);
            jail.set_env("SIGILLO_SECURITY__SESION_IDLE_SECS", "1");
            assert!(
                Config::load(Some(Path::new("s.toml")), &Overrides::default()).is_err(),
                "unknown keys from the environment too"
            );
            Ok(())
        });
    }

    /// R10, R14: a failure limit above five or an idle limit above 300 s is refused.
    #[test]
    fn unknown_keys_and_unsafe_values_are_refused() {
        assert!(Config::from_toml("listen_adress = \"0.0.0.0:1\"").is_err());
        assert!(Config::from_toml("[security]\nsession_idle_secs = 301").is_err());
        assert!(Config::from_toml("[security.lockout]\nmax_failures = 6").is_err());
        assert!(
            Config::from_toml("[security.lockout]\nmax_failures = 5\ntemporary_lock_secs = 900\ntemporary_locks = 0")
                .is_err(),
            "R11: a permanent lock always follows an alerted temporary one"
        );
        assert!(Config::from_toml("[security.password]\nkind = \"numeric\"\nmin_length = 6\nmax_length = 32").is_err());
        assert!(Config::from_toml("dev_mode = false").is_err(), "production needs real senders and a KEK");
        assert!(Config::from_toml("[security]\nsession_idle_secs = 120").is_ok());
    }

    #[test]
    fn push_providers_are_optional_but_complete() {
        let none = Config::from_toml("").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(none.push, Push::default());
        assert!(Config::from_toml("[push.apns]\nkey_id = \"K\"\nteam_id = \"T\"").is_err(), "no topic, no key");
        let apns = Config::from_toml(
            "[push.apns]\nkey_file = \"k.p8\"\nkey_id = \"K\"\nteam_id = \"T\"\ntopic = \"it.bank.app\"",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(apns.push.apns.map(|a| a.endpoint).as_deref(), Some("https://api.push.apple.com"));
        assert!(Config::from_toml("[push.fcm]\nproject_id = \"p\"").is_err(), "no service account");
        assert!(Config::from_toml("[push.fcm]\nservice_account_file = \"sa.json\"\nendpoint = \"ftp://x\"").is_err());
        assert!(Config::from_toml("[push.fcm]\nservice_account_file = \"sa.json\"\nkey = \"x\"").is_err());
    }
}
