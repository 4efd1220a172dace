//! Apple Push Notification service: `POST {endpoint}/3/device/{token}` over HTTP/2 with
//! token-based authentication.
//!
//! The provider token is a JWT signed ES256 with the team's `.p8` key (header `alg`,
//! `kid`; claims `iss` = team id, `iat`). Apple refuses tokens refreshed more often than
//! every 20 minutes and tokens older than 60: one is reused for [`TOKEN_REFRESH_MS`]
//! (50 minutes), then replaced. Production reaches `api.push.apple.com` over TLS, with
//! ALPN offering only `h2`; an `http://` endpoint (tests) is spoken to in h2c.

use super::{PushError, PushNote, PushTarget};
use crate::clock::Clock;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};

pub const PRODUCTION: &str = "https://api.push.apple.com";
pub const SANDBOX: &str = "https://api.sandbox.push.apple.com";
/// The localization key of the alert; the app's `Localizable.strings` holds the text.
pub const ALERT_LOC_KEY: &str = "SIGILLO_OPERATION_PENDING";
/// A provider token is used this long: past Apple's 20-minute floor, well before its 60-minute limit.
pub const TOKEN_REFRESH_MS: i64 = 50 * 60 * 1000;

/// What the APNs sender needs; see `config::Apns` for the matching keys.
#[derive(Clone, Debug)]
pub struct ApnsConfig {
    pub endpoint: String,
    pub key_id: String,
    pub team_id: String,
    /// The app's bundle id (`apns-topic`).
    pub topic: String,
}

#[derive(Clone)]
pub struct ApnsSender {
    inner: Arc<Inner>,
}

struct Inner {
    cfg: ApnsConfig,
    key: EncodingKey,
    client: reqwest::Client,
    clock: Arc<dyn Clock>,
    /// The current provider token and when it was issued (unix ms).
    token: Mutex<Option<(String, i64)>>,
}

impl std::fmt::Debug for ApnsSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApnsSender")
            .field("endpoint", &self.inner.cfg.endpoint)
            .field("key_id", &self.inner.cfg.key_id)
            .field("topic", &self.inner.cfg.topic)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub iat: i64,
}

#[derive(Deserialize)]
struct Failure {
    reason: Option<String>,
}

impl ApnsSender {
    /// `key_pem` is the `.p8` file's text (PKCS#8 PEM of a P-256 key). A key that does not
    /// sign is refused here, at start-up, not at the first login.
    pub fn new(cfg: ApnsConfig, key_pem: &str, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let key = EncodingKey::from_ec_pem(key_pem.as_bytes())
            .map_err(|e| anyhow::anyhow!("push.apns key: not a PKCS#8 PEM P-256 key ({e})"))?;
        let client = super::client(true)?;
        let sender = Self { inner: Arc::new(Inner { cfg, key, client, clock, token: Mutex::new(None) }) };
        sender.provider_token().map_err(|e| anyhow::anyhow!("push.apns key does not sign: {e}"))?;
        Ok(sender)
    }

    /// The current provider token, made anew when the cached one is 50 minutes old.
    pub fn provider_token(&self) -> Result<String, PushError> {
        let now = self.inner.clock.now().0;
        let mut cached = self.inner.token.lock().map_err(|_| PushError::retryable("apns token lock poisoned"))?;
        if let Some((token, issued)) = cached.as_ref() {
            if now - issued < TOKEN_REFRESH_MS && now >= *issued {
                return Ok(token.clone());
            }
        }
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.inner.cfg.key_id.clone());
        let claims = Claims { iss: self.inner.cfg.team_id.clone(), iat: now / 1000 };
        let token = jsonwebtoken::encode(&header, &claims, &self.inner.key)
            .map_err(|e| PushError::permanent(format!("signing the apns provider token: {e}")))?;
        *cached = Some((token.clone(), now));
        Ok(token)
    }

    /// Apple said the token expired (clock skew, a long pause): the next send makes a new one.
    fn forget_provider_token(&self) {
        if let Ok(mut cached) = self.inner.token.lock() {
            *cached = None;
        }
    }

    pub async fn send(&self, target: &PushTarget, note: &PushNote) -> Result<(), PushError> {
        // A device token is hex: anything else would not name a device (and must not
        // reach the URL path).
        if target.token.is_empty() || !target.token.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(PushError::DeadToken { reason: "BadDeviceToken (not hex)".into() });
        }
        let token = self.provider_token()?;
        let cfg = &self.inner.cfg;
        let url = format!("{}/3/device/{}", cfg.endpoint.trim_end_matches('/'), target.token);
        let body = serde_json::json!({
            "aps": {
                "alert": { "loc-key": ALERT_LOC_KEY },
                "sound": "default",
                "mutable-content": 1,
            },
            "op": note.op,
            "kind": note.kind,
        });
        let resp = self
            .inner
            .client
            .post(url)
            .header(reqwest::header::AUTHORIZATION, format!("bearer {token}"))
            .header("apns-topic", &cfg.topic)
            .header("apns-push-type", "alert")
            .header("apns-priority", "10")
            // Seconds since the epoch: APNs stores the note for an offline phone until then.
            .header("apns-expiration", (note.expires_at / 1000).max(0).to_string())
            .header("apns-collapse-id", &note.op)
            .json(&body)
            .send()
            .await
            .map_err(|e| PushError::network("apns", &e))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = super::retry_after(resp.headers());
        let reason = resp.json::<Failure>().await.ok().and_then(|f| f.reason).unwrap_or_default();
        let err = classify(status.as_u16(), &reason, retry_after);
        if reason == "ExpiredProviderToken" {
            self.forget_provider_token();
        }
        Err(err)
    }
}

/// APNs status and `reason` (Apple's "Handling notification responses from APNs").
pub fn classify(status: u16, reason: &str, retry_after: Option<std::time::Duration>) -> PushError {
    let what = format!("apns {status} {reason}");
    match (status, reason) {
        (400, "BadDeviceToken") | (410, _) => PushError::DeadToken { reason: what },
        (403, "ExpiredProviderToken") | (429, _) => PushError::Retryable { reason: what, retry_after },
        (500.., _) => PushError::Retryable { reason: what, retry_after },
        _ => PushError::Permanent { reason: what },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_are_classified() {
        assert!(classify(400, "BadDeviceToken", None).token_is_dead());
        assert!(classify(410, "Unregistered", None).token_is_dead());
        assert!(classify(410, "ExpiredToken", None).token_is_dead());
        assert!(classify(429, "TooManyRequests", None).is_retryable());
        assert!(classify(500, "InternalServerError", None).is_retryable());
        assert!(classify(503, "ServiceUnavailable", None).is_retryable());
        assert!(classify(403, "ExpiredProviderToken", None).is_retryable());
        let wrong_topic = classify(400, "DeviceTokenNotForTopic", None);
        assert!(!wrong_topic.is_retryable() && !wrong_topic.token_is_dead(), "a configuration error");
        assert!(matches!(classify(403, "InvalidProviderToken", None), PushError::Permanent { .. }));
    }
}
