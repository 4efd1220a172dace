//! Push notifications: waking a bound phone when an operation waits for its approval.
//!
//! A notification carries the operation's id and kind and nothing else: the phone
//! fetches the operation over the signed device API and renders it from the signed bytes
//! (P5, P6), so nothing of the payment (amount, payee) ever passes through Apple or
//! Google. Delivery is best effort: approval never depends on it, since the app can
//! always list pending operations. Notes are queued in the outbox (`Services::queue_push`,
//! `Services::notify_phones`) and delivered by the outbox worker with its retries.
//!
//! [`PushSender`] routes a note by the binding's provider string (`apns`, `fcm`) to the
//! configured provider, or, in dev mode, to the [`dev::DevPush`] recorder. A
//! [`PushError`] tells the worker whether to retry, to give up, or to give up and forget
//! the binding's dead token.
//!
//! # Layout
//! - [`apns`]: Apple Push Notification service, HTTP/2 with ES256 provider tokens.
//! - [`fcm`]: Firebase Cloud Messaging HTTP v1, OAuth 2.0 from a service account.
//! - [`dev`]: dev mode's recorder behind `GET /dev/push`.

pub mod apns;
pub mod dev;
pub mod fcm;

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The provider strings a phone may register (`PUT /device/v1/bindings/{id}/push`).
pub const PROVIDERS: &[&str] = &["apns", "fcm"];

/// Where a note goes: a provider and the token the phone registered with it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushTarget {
    pub provider: String,
    pub token: String,
}

impl PushTarget {
    /// The token fit for logs: its first 8 characters.
    pub fn token_prefix(&self) -> String {
        redact(&self.token)
    }
}

/// Tokens are not secrets, but they let whoever holds the provider credentials wake the
/// phone: logs get a prefix only.
impl std::fmt::Debug for PushTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushTarget").field("provider", &self.provider).field("token", &self.token_prefix()).finish()
    }
}

/// What a notification says: which operation waits, of which kind (`login`, `payment`),
/// and until when it is worth delivering.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushNote {
    pub op: String,
    pub kind: String,
    /// The operation's expiry, unix milliseconds: APNs and FCM drop the note after it.
    pub expires_at: i64,
}

/// Why a note was not delivered, as the outbox worker needs to know it.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// Network trouble, a provider's 5xx or 429, an expired credential: try again later
    /// (not before `retry_after` when the provider said so).
    #[error("{reason}")]
    Retryable { reason: String, retry_after: Option<Duration> },
    /// The provider says the token no longer reaches an app (APNs 400 `BadDeviceToken`,
    /// 410 `Unregistered`; FCM 404 `UNREGISTERED`, 400 `INVALID_ARGUMENT` on the token):
    /// give up and forget the token.
    #[error("dead token: {reason}")]
    DeadToken { reason: String },
    /// Retrying would not help (a provider that is not configured, a refused credential or
    /// topic, a malformed request): give up, keep the token.
    #[error("{reason}")]
    Permanent { reason: String },
}

impl PushError {
    pub fn retryable(reason: impl Into<String>) -> Self {
        Self::Retryable { reason: reason.into(), retry_after: None }
    }

    pub fn permanent(reason: impl Into<String>) -> Self {
        Self::Permanent { reason: reason.into() }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Retryable { .. })
    }

    pub fn token_is_dead(&self) -> bool {
        matches!(self, Self::DeadToken { .. })
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Retryable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// A network failure: always worth a retry. The URL is left out (an APNs URL holds the token).
    pub(crate) fn network(what: &str, e: &reqwest::Error) -> Self {
        Self::retryable(format!("{what}: {}", strip(e)))
    }
}

fn strip(e: &reqwest::Error) -> String {
    let mut text = String::new();
    let mut source: Option<&dyn std::error::Error> = Some(e);
    // reqwest's Display names the URL; the sources say what went wrong.
    while let Some(s) = source {
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&s.to_string());
        source = s.source();
    }
    text.replace(e.url().map(|u| u.as_str()).unwrap_or("\u{0}"), "…")
}

/// `Retry-After` in seconds (the form APNs and Google use); an HTTP date is ignored.
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let secs: u64 = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(secs.min(3600)))
}

/// The first 8 characters of a token, then an ellipsis.
pub fn redact(token: &str) -> String {
    let head: String = token.chars().take(8).collect();
    format!("{head}…")
}

/// An HTTP client for one provider. `http://` endpoints (tests) are spoken to in HTTP/2
/// cleartext with prior knowledge when `http2_only`; `https://` ones negotiate with ALPN,
/// offering only `h2` when `http2_only` (APNs speaks nothing else).
pub(crate) fn client(http2_only: bool) -> anyhow::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(5))
        // Apple asks providers to keep their connections open rather than reconnect per note.
        .pool_idle_timeout(Duration::from_secs(600))
        .redirect(reqwest::redirect::Policy::none());
    if http2_only {
        builder = builder.http2_prior_knowledge();
    }
    Ok(builder.build()?)
}

/// Delivers notes to the provider each binding registered with.
#[derive(Clone, Debug, Default)]
pub struct PushSender {
    pub apns: Option<apns::ApnsSender>,
    pub fcm: Option<fcm::FcmSender>,
    /// Dev mode: takes the notes of providers that are not configured.
    pub dev: Option<dev::DevPush>,
}

impl PushSender {
    /// No provider: every note is given up (what a deployment without push gets).
    pub fn none() -> Self {
        Self::default()
    }

    /// Dev mode without providers: every note goes to the recorder.
    pub fn dev(recorder: dev::DevPush) -> Self {
        Self { dev: Some(recorder), ..Self::default() }
    }

    pub async fn send(&self, target: &PushTarget, note: &PushNote) -> Result<(), PushError> {
        match (target.provider.as_str(), &self.apns, &self.fcm) {
            ("apns", Some(apns), _) => apns.send(target, note).await,
            ("fcm", _, Some(fcm)) => fcm.send(target, note).await,
            (provider, _, _) => match &self.dev {
                Some(dev) => dev.send(target, note),
                None => Err(PushError::permanent(format!("push provider {provider} is not configured"))),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_redacted_in_debug_output() {
        let t = PushTarget { provider: "apns".into(), token: "0123456789abcdef0123".into() };
        assert_eq!(t.token_prefix(), "01234567…");
        assert!(!format!("{t:?}").contains("89abcdef"));
    }

    #[tokio::test]
    async fn an_unconfigured_provider_is_a_permanent_failure() {
        let note = PushNote { op: "op".into(), kind: "login".into(), expires_at: 0 };
        let target = PushTarget { provider: "fcm".into(), token: "t".into() };
        let err = PushSender::none().send(&target, &note).await.err();
        assert!(matches!(err, Some(PushError::Permanent { .. })));
    }
}
