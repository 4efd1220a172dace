//! A signed device request: the proof headers plus everything the signatures cover.

use crate::api::error::ApiError;
use crate::router::AppState;
use crate::service::ServiceError;
use crate::service::device_auth::{DeviceProof, parse_challenge};
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use sigillo_core::device::keys::Factor;
use sigillo_core::device::messages::{self, Signatures};

pub const BINDING_HEADER: &str = "sigillo-binding";
pub const CHALLENGE_HEADER: &str = "sigillo-challenge";
pub const SIGNATURE_HEADER: &str = "sigillo-signature";

#[derive(Debug)]
pub struct Signed {
    pub proof: DeviceProof,
    pub method: String,
    pub path: String,
    pub body: Bytes,
}

impl Signed {
    /// The message each factor signed (PROTOCOL.md §6.2).
    pub fn message(&self) -> impl Fn(Factor) -> Vec<u8> + Sync + '_ {
        // The body is hashed once, whatever the number of factors (bench/sigverify).
        let digest = messages::body_digest(&self.body);
        move |factor| {
            messages::request_with_digest(
                factor,
                &self.proof.binding,
                &self.proof.challenge,
                &self.method,
                &self.path,
                &digest,
            )
        }
    }

    /// The body as JSON of type `T`; an empty body reads as `{}`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        let body: &[u8] = if self.body.is_empty() { b"{}" } else { &self.body };
        serde_json::from_slice(body).map_err(|e| ApiError::Malformed(format!("Failed to parse the request body: {e}")))
    }

    /// Refuses a request whose signed binding is not the one in the path.
    pub fn for_binding(&self, id: &str) -> Result<(), ApiError> {
        if self.proof.binding == id { Ok(()) } else { Err(ServiceError::AuthFailed.into()) }
    }
}

impl FromRequest<AppState> for Signed {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let (binding, challenge, signatures, method, path) = {
            // Exactly one of each: a repeated header is ambiguous, so it is refused.
            let header = |name: &str| {
                let mut values = req.headers().get_all(name).iter();
                match (values.next(), values.next()) {
                    (Some(v), None) => v.to_str().ok().map(str::to_owned),
                    _ => None,
                }
            };
            let (Some(binding), Some(challenge), Some(signatures)) =
                (header(BINDING_HEADER), header(CHALLENGE_HEADER), header(SIGNATURE_HEADER))
            else {
                return Err(ServiceError::AuthFailed.into());
            };
            (binding, challenge, signatures, req.method().as_str().to_owned(), req.uri().path().to_owned())
        };
        let challenge = parse_challenge(&challenge).ok_or(ServiceError::AuthFailed)?;
        let signatures = Signatures::parse(&signatures).map_err(|_| ServiceError::AuthFailed)?;
        let body = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge
            } else {
                ApiError::Malformed(e.body_text())
            }
        })?;
        Ok(Self { proof: DeviceProof { binding, challenge, signatures }, method, path, body })
    }
}
