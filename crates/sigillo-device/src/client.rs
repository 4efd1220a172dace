//! HTTP to the device API: JSON bodies, the signed-request headers, and the server's
//! `{"error", "message"}` refusals turned into [`DeviceError::Server`].

use crate::error::{DeviceError, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sigillo_core::device::unb64;

#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    base: String,
}

#[derive(Debug, Deserialize)]
pub struct Info {
    pub master_key: String,
    pub protocol: String,
}

#[derive(Debug, Deserialize)]
struct Challenge {
    challenge: String,
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: String,
    message: String,
}

/// What a signed request carries besides its body.
#[derive(Debug)]
pub struct Proof {
    pub binding: String,
    pub challenge: String,
    pub signatures: String,
}

impl Client {
    pub fn new(base: &str) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .user_agent(concat!("sigillo-device/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { http, base: base.trim_end_matches('/').to_owned() })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub async fn info(&self) -> Result<Info> {
        decode(self.http.get(format!("{}/device/v1/info", self.base)).send().await?).await
    }

    pub async fn activate<T: DeserializeOwned>(&self, body: &impl Serialize) -> Result<T> {
        decode(self.http.post(format!("{}/device/v1/activation", self.base)).json(body).send().await?).await
    }

    /// A fresh challenge (raw bytes and as sent) for the next signed request.
    pub async fn challenge(&self, binding: &str) -> Result<(Vec<u8>, String)> {
        let resp = self
            .http
            .post(format!("{}/device/v1/challenge", self.base))
            .json(&serde_json::json!({ "binding": binding }))
            .send()
            .await?;
        let c: Challenge = decode(resp).await?;
        let raw = unb64(&c.challenge).ok_or_else(|| DeviceError::Protocol("challenge is not base64url".into()))?;
        Ok((raw, c.challenge))
    }

    /// Sends a signed request; `None` for a 204.
    pub async fn signed<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Vec<u8>,
        proof: &Proof,
    ) -> Result<Option<T>> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("Sigillo-Binding", &proof.binding)
            .header("Sigillo-Challenge", &proof.challenge)
            .header("Sigillo-Signature", &proof.signatures);
        if !body.is_empty() {
            req = req.header(reqwest::header::CONTENT_TYPE, "application/json").body(body);
        }
        let resp = check(req.send().await?).await?;
        if resp.status() == reqwest::StatusCode::NO_CONTENT {
            return Ok(None);
        }
        let bytes = resp.bytes().await?;
        serde_json::from_slice(&bytes).map(Some).map_err(|e| DeviceError::Protocol(format!("unexpected answer: {e}")))
    }
}

impl Client {
    /// Opens a signed GET whose answer is a stream (server-sent events).
    pub async fn stream(&self, path: &str, proof: &Proof) -> Result<reqwest::Response> {
        let req = self
            .http
            .get(format!("{}{path}", self.base))
            .header("Sigillo-Binding", &proof.binding)
            .header("Sigillo-Challenge", &proof.challenge)
            .header("Sigillo-Signature", &proof.signatures)
            .header(reqwest::header::ACCEPT, "text/event-stream")
            // The client's 30 s limit covers whole bodies; a stream stays open for hours.
            .timeout(std::time::Duration::from_secs(24 * 3600));
        check(req.send().await?).await
    }
}

/// The response if it succeeded; the server's refusal as [`DeviceError::Server`] otherwise.
async fn check(resp: reqwest::Response) -> Result<reqwest::Response> {
    if resp.status().is_success() {
        return Ok(resp);
    }
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap_or_default();
    Err(match serde_json::from_str::<ErrorBody>(&body) {
        Ok(e) => DeviceError::Server { status, code: e.error, message: e.message },
        Err(_) => DeviceError::Server { status, code: "http".into(), message: body.chars().take(200).collect() },
    })
}

async fn decode<T: DeserializeOwned>(resp: reqwest::Response) -> Result<T> {
    let bytes = check(resp).await?.bytes().await?;
    serde_json::from_slice(&bytes).map_err(|e| DeviceError::Protocol(format!("unexpected answer: {e}")))
}
