//! Firebase Cloud Messaging HTTP v1: `POST {endpoint}/v1/projects/{project}/messages:send`
//! with an OAuth 2.0 access token.
//!
//! The access token comes from the service account (RFC 7523 JWT bearer grant): an RS256
//! assertion (`iss` = `client_email`, `scope` = firebase.messaging, `aud` = `token_uri`,
//! `iat`, `exp` = `iat` + 3600) posted to `token_uri`. It is cached until five minutes
//! before its `expires_in`. Messages are data-only (`op`, `kind`), high priority, with a
//! time to live up to the operation's expiry and the operation id as collapse key.

use super::{PushError, PushNote, PushTarget};
use crate::clock::Clock;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub const ENDPOINT: &str = "https://fcm.googleapis.com";
pub const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// An access token is dropped this long before Google says it expires.
const EXPIRY_MARGIN_MS: i64 = 5 * 60 * 1000;

/// The fields of a Google service-account key file that sigillo uses.
#[derive(Clone, Deserialize)]
pub struct ServiceAccount {
    pub client_email: String,
    pub private_key: String,
    #[serde(default)]
    pub private_key_id: Option<String>,
    #[serde(default)]
    pub project_id: Option<String>,
    #[serde(default = "default_token_uri")]
    pub token_uri: String,
}

fn default_token_uri() -> String {
    "https://oauth2.googleapis.com/token".into()
}

impl ServiceAccount {
    pub fn from_json(text: &str) -> anyhow::Result<Self> {
        serde_json::from_str(text).map_err(|e| anyhow::anyhow!("push.fcm service account: {e}"))
    }
}

/// What the FCM sender needs; see `config::Fcm` for the matching keys.
#[derive(Clone, Debug)]
pub struct FcmConfig {
    pub endpoint: String,
    pub project_id: String,
    pub token_uri: String,
}

#[derive(Clone)]
pub struct FcmSender {
    inner: Arc<Inner>,
}

struct Inner {
    cfg: FcmConfig,
    client_email: String,
    key_id: Option<String>,
    key: EncodingKey,
    client: reqwest::Client,
    clock: Arc<dyn Clock>,
    /// The access token and when to stop using it (unix ms). An async lock: one token
    /// request at a time, the others wait for its answer.
    access: tokio::sync::Mutex<Option<(String, i64)>>,
}

impl std::fmt::Debug for FcmSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FcmSender")
            .field("endpoint", &self.inner.cfg.endpoint)
            .field("project_id", &self.inner.cfg.project_id)
            .field("client_email", &self.inner.client_email)
            .finish_non_exhaustive()
    }
}

/// The claims of the token request's assertion.
#[derive(Serialize, Deserialize)]
pub struct AssertionClaims {
    pub iss: String,
    pub scope: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
}

#[derive(Deserialize)]
struct AccessToken {
    access_token: String,
    expires_in: i64,
}

impl FcmSender {
    /// `cfg.project_id` and `cfg.token_uri` are taken as given: the caller fills them from
    /// the configuration or, when unset there, from the service account.
    pub fn new(cfg: FcmConfig, account: &ServiceAccount, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let key = EncodingKey::from_rsa_pem(account.private_key.as_bytes())
            .map_err(|e| anyhow::anyhow!("push.fcm service account: private_key is not an RSA PEM key ({e})"))?;
        if cfg.project_id.is_empty() {
            anyhow::bail!("push.fcm: no project_id in the configuration nor in the service account");
        }
        let sender = Self {
            inner: Arc::new(Inner {
                cfg,
                client_email: account.client_email.clone(),
                key_id: account.private_key_id.clone(),
                key,
                client: super::client(false)?,
                clock,
                access: tokio::sync::Mutex::new(None),
            }),
        };
        sender.assertion().map_err(|e| anyhow::anyhow!("push.fcm private_key does not sign: {e}"))?;
        Ok(sender)
    }

    /// The signed JWT that the token request carries.
    fn assertion(&self) -> Result<String, PushError> {
        let now = self.inner.clock.now().0 / 1000;
        let mut header = Header::new(Algorithm::RS256);
        header.kid = self.inner.key_id.clone();
        let claims = AssertionClaims {
            iss: self.inner.client_email.clone(),
            scope: SCOPE.into(),
            aud: self.inner.cfg.token_uri.clone(),
            iat: now,
            exp: now + 3600,
        };
        jsonwebtoken::encode(&header, &claims, &self.inner.key)
            .map_err(|e| PushError::permanent(format!("signing the fcm assertion: {e}")))
    }

    /// A live access token: the cached one, or a new one from `token_uri`.
    async fn access_token(&self) -> Result<String, PushError> {
        let mut cached = self.inner.access.lock().await;
        let now = self.inner.clock.now().0;
        if let Some((token, until)) = cached.as_ref() {
            if now < *until {
                return Ok(token.clone());
            }
        }
        let assertion = self.assertion()?;
        let resp = self
            .inner
            .client
            .post(&self.inner.cfg.token_uri)
            .form(&[("grant_type", GRANT_TYPE), ("assertion", assertion.as_str())])
            .send()
            .await
            .map_err(|e| PushError::network("fcm token request", &e))?;
        let status = resp.status();
        if !status.is_success() {
            let what = format!("fcm token request: {status}");
            // invalid_grant and friends are configuration errors; Google's own trouble is not.
            return Err(if status.is_server_error() || status.as_u16() == 429 {
                PushError::Retryable { reason: what, retry_after: super::retry_after(resp.headers()) }
            } else {
                PushError::permanent(what)
            });
        }
        let token: AccessToken =
            resp.json().await.map_err(|e| PushError::retryable(format!("fcm token answer: {}", super::strip(&e))))?;
        let lifetime = token.expires_in.saturating_mul(1000);
        let until = now + (lifetime - EXPIRY_MARGIN_MS).max(lifetime / 2);
        *cached = Some((token.access_token.clone(), until));
        Ok(token.access_token)
    }

    async fn forget_access_token(&self) {
        *self.inner.access.lock().await = None;
    }

    pub async fn send(&self, target: &PushTarget, note: &PushNote) -> Result<(), PushError> {
        let access = self.access_token().await?;
        let now = self.inner.clock.now().0;
        // FCM's ttl is whole seconds in a string ("30s"); an expired operation gets 0:
        // delivered now or never.
        let ttl = ((note.expires_at - now) / 1000).max(0);
        let body = serde_json::json!({
            "message": {
                "token": target.token,
                "data": { "op": note.op, "kind": note.kind },
                "android": {
                    "priority": "HIGH",
                    "ttl": format!("{ttl}s"),
                    "collapse_key": note.op,
                },
            }
        });
        let url = format!(
            "{}/v1/projects/{}/messages:send",
            self.inner.cfg.endpoint.trim_end_matches('/'),
            self.inner.cfg.project_id
        );
        let resp = self
            .inner
            .client
            .post(url)
            .bearer_auth(&access)
            .json(&body)
            .send()
            .await
            .map_err(|e| PushError::network("fcm", &e))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = super::retry_after(resp.headers());
        let answer: serde_json::Value = resp.json().await.unwrap_or_default();
        if status.as_u16() == 401 {
            self.forget_access_token().await;
        }
        Err(classify(status.as_u16(), &answer, retry_after))
    }
}

/// An FCM v1 error answer: `{"error": {"code", "message", "status", "details": [...]}}`,
/// where a `google.firebase.fcm.v1.FcmError` detail holds the `errorCode` and a
/// `google.rpc.BadRequest` detail the offending fields.
pub fn classify(status: u16, answer: &serde_json::Value, retry_after: Option<std::time::Duration>) -> PushError {
    let error = &answer["error"];
    let details = error["details"].as_array().map(Vec::as_slice).unwrap_or_default();
    let code = details
        .iter()
        .find_map(|d| d["errorCode"].as_str())
        .or_else(|| error["status"].as_str())
        .unwrap_or_default()
        .to_owned();
    let about_token = details.iter().any(|d| {
        d["fieldViolations"].as_array().is_some_and(|v| v.iter().any(|f| f["field"].as_str() == Some("message.token")))
    }) || error["message"].as_str().is_some_and(|m| m.contains("registration token"));
    let what = format!("fcm {status} {code}");
    match (status, code.as_str()) {
        (404, _) | (_, "UNREGISTERED") => PushError::DeadToken { reason: what },
        (400, "INVALID_ARGUMENT") if about_token => PushError::DeadToken { reason: what },
        // 401: the access token was refused (it is dropped: the next try gets a new one).
        (401 | 429, _) | (500.., _) => PushError::Retryable { reason: what, retry_after },
        _ => PushError::Permanent { reason: what },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn answer(code: u16, status: &str, error_code: &str) -> serde_json::Value {
        json!({ "error": { "code": code, "message": "m", "status": status, "details": [
            { "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": error_code }
        ] } })
    }

    #[test]
    fn responses_are_classified() {
        assert!(classify(404, &answer(404, "NOT_FOUND", "UNREGISTERED"), None).token_is_dead());
        let bad_token = json!({ "error": { "code": 400, "status": "INVALID_ARGUMENT",
            "message": "The registration token is not a valid FCM registration token" } });
        assert!(classify(400, &bad_token, None).token_is_dead());
        let bad_ttl = answer(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT");
        assert!(matches!(classify(400, &bad_ttl, None), PushError::Permanent { .. }), "not about the token");
        assert!(classify(429, &answer(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED"), None).is_retryable());
        assert!(classify(503, &answer(503, "UNAVAILABLE", "UNAVAILABLE"), None).is_retryable());
        assert!(classify(500, &json!({}), None).is_retryable());
        assert!(classify(401, &answer(401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR"), None).is_retryable());
        assert!(matches!(
            classify(403, &answer(403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH"), None),
            PushError::Permanent { .. }
        ));
    }
}
