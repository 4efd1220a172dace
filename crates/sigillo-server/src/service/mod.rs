//! Use cases: the only layer that loads state, asks `sigillo-core` to decide, persists,
//! audits and queues notifications. The web pages, the JSON API and the operator
//! commands all call these functions, so a rule holds the same on every surface.
//!
//! # Layout
//! - [`error`]: `ServiceError`, one uniform authentication failure.
//! - [`secrets`]: attempt-limited verification of any secret (RTS art. 4(3)(b)).
//! - [`login`]: password, then SMS OTP, then a session.
//! - [`session`]: bearer sessions with the 5-minute idle limit.
//! - [`account`]: first access, password and alias changes, email validation.
//! - [`recovery`]: security code + SMS OTP → new password.
//! - [`operator`]: what branch and contact-centre staff do (`sigillo admin`).
//! - [`device_auth`]: challenges and signature checks of the phone's requests.
//! - [`binding`]: activation codes, binding a phone, PIN and biometry, removal, unblock.
//! - [`approvals`]: operations a bound phone lists, approves or rejects.
//! - [`operations`]: pushed logins and payments, offline codes, what wakes the waiters.
//! - [`integration`]: the bank's back ends: operations on behalf of a user, webhooks.
//! - [`payments`]: validated payments, the transaction OTP and the payment SMS OTP.
//! - [`cards`]: payment cards, Key6 and its SCA-guarded view and unlock.
//! - [`acs`]: the 3-D Secure ACS: AReq → ARes, the browser challenge, the RReq.

pub mod account;
pub mod acs;
pub mod activation;
pub mod approvals;
pub mod binding;
pub mod cards;
pub mod device_auth;
pub mod error;
pub mod integration;
pub mod legacy;
pub mod login;
pub mod operations;
pub mod operator;
pub mod payments;
pub mod portal;
pub mod recovery;
pub mod secrets;
pub mod session;

pub use error::{ServiceError, ServiceResult};

use crate::clock::Clock;
use crate::config::Config;
use crate::hasher::Hasher;
use crate::metrics::Metrics;
use serde_json::Value;
use sigillo_core::kek::Kek;
use sigillo_core::time::UnixMillis;
use sigillo_store::{Conn, Store, repo};
use std::net::IpAddr;
use std::sync::Arc;
use zeroize::Zeroizing;

/// Where a request came from, for the audit trail.
#[derive(Clone, Debug)]
pub struct Origin {
    pub channel: &'static str,
    pub ip: Option<IpAddr>,
}

impl Origin {
    pub fn cli() -> Self {
        Self { channel: "cli", ip: None }
    }

    /// sigillo itself (a timer, a side effect of another event).
    pub fn internal() -> Self {
        Self { channel: "system", ip: None }
    }
}

/// Who acted, as the audit trail names them.
#[derive(Clone, Debug)]
pub enum Actor {
    User(String),
    Operator(String),
    Anonymous,
    System,
}

impl Actor {
    fn label(&self) -> String {
        match self {
            Self::User(id) => format!("user:{id}"),
            Self::Operator(name) => format!("operator:{name}"),
            Self::Anonymous => "anonymous".into(),
            Self::System => "system".into(),
        }
    }
}

/// The services of one node: cheap to clone, shared by every request.
#[derive(Clone, Debug)]
pub struct Services {
    inner: Arc<Inner>,
}

#[derive(Debug)]
pub struct Inner {
    pub store: Store,
    pub cfg: Config,
    pub clock: Arc<dyn Clock>,
    pub metrics: Metrics,
    /// Wakes browsers and phones waiting on a flow, an operation or a user.
    pub events: crate::events::Hub,
    kek: Kek,
    otp_key: Zeroizing<[u8; 32]>,
    csrf_key: Zeroizing<[u8; 32]>,
    /// HMAC key for the secret half of activation codes.
    activation_key: Zeroizing<[u8; 32]>,
    /// Signs QR payloads, activation answers and operation data (P6); derived from the
    /// key-encryption key, never stored.
    master_key: sigillo_core::device::keys::MasterKey,
    /// Verified against when the user does not exist, so timing does not tell (P9).
    dummy_hash: String,
    /// Argon2 runs on its own threads, one per core (see `hasher`).
    hasher: Hasher,
    /// The 3-D Secure authentication-value keys per brand.
    av_keys: AvKeys,
    /// Sends RReqs to the Directory Server: short time-out, no redirects (the URL must
    /// stay one of `acs.ds_url_prefixes`).
    ds_http: reqwest::Client,
    /// HMAC key of the PAN look-up digest (derived once: every AReq uses it).
    pan_key: Zeroizing<[u8; 32]>,
    /// Writes the ACS's transactions in group commits.
    journal: acs::journal::Journal,
}

#[derive(Debug)]
struct AvKeys {
    visa: Zeroizing<[u8; 32]>,
    mastercard: Zeroizing<[u8; 32]>,
}

impl std::ops::Deref for Services {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.inner
    }
}

impl Services {
    pub async fn new(store: Store, cfg: Config, clock: Arc<dyn Clock>, kek: Kek) -> anyhow::Result<Self> {
        let otp_key = kek.derive("sigillo/sms-otp/v1");
        let csrf_key = kek.derive("sigillo/csrf/v1");
        let activation_key = kek.derive("sigillo/activation-secret/v1");
        let master_key = sigillo_core::device::keys::KeyPair::master_from_seed(&kek.derive("sigillo/master-key/v1"));
        let av_keys = AvKeys {
            visa: cfg.av_key(sigillo_core::threeds::authval::Brand::Visa, &kek)?,
            mastercard: cfg.av_key(sigillo_core::threeds::authval::Brand::Mastercard, &kek)?,
        };
        let pan_key = kek.derive("sigillo/pan-lookup/v1");
        let journal = acs::journal::Journal::start(store.clone());
        let ds_http = reqwest::Client::builder()
            .timeout(acs::rreq::RREQ_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let hasher = Hasher::start(cores)?;
        let mut filler = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut filler);
        let dummy_hash = hasher.hash(cfg.security.hashing, &hex::encode(filler)).await??;
        let events = match store.backend() {
            sigillo_store::Backend::Postgres => {
                crate::events::Hub::with_remote(crate::events::pg::Notifier::new(store.clone()))
            }
            sigillo_store::Backend::Sqlite => crate::events::Hub::new(),
        };
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                cfg,
                clock,
                metrics: Metrics::new()?,
                events,
                kek,
                otp_key,
                csrf_key,
                activation_key,
                master_key,
                dummy_hash,
                hasher,
                av_keys,
                ds_http,
                pan_key,
                journal,
            }),
        })
    }

    pub fn now(&self) -> UnixMillis {
        self.clock.now()
    }

    pub fn kek(&self) -> &Kek {
        &self.kek
    }

    /// The master public key the app pins (uncompressed SEC1).
    pub fn master_public_key(&self) -> Vec<u8> {
        self.master_key.public_key()
    }

    pub fn csrf_key(&self) -> &[u8; 32] {
        &self.csrf_key
    }

    /// Hashes a secret with Argon2id off the async runtime.
    pub async fn hash_secret(&self, secret: &str) -> ServiceResult<String> {
        let hash = self.hasher.hash(self.cfg.security.hashing, secret).await.map_err(anyhow::Error::from)?;
        Ok(hash.map_err(anyhow::Error::from)?)
    }

    /// Verifies a secret against a PHC hash off the async runtime. `None` verifies
    /// against the dummy hash (and fails), so a missing user costs the same time.
    pub async fn verify_secret(&self, phc: Option<&str>, secret: &str) -> ServiceResult<bool> {
        let known = phc.is_some();
        let phc = phc.unwrap_or(&self.dummy_hash).to_owned();
        let ok = self.hasher.verify(phc, secret).await.map_err(anyhow::Error::from)?;
        Ok(ok && known)
    }
}

/// Appends an audit record in the caller's transaction (P11). `detail` must never hold
/// a secret: callers pass ids, reasons, counts and the origin only.
pub(crate) async fn audit(
    conn: &mut Conn,
    now: UnixMillis,
    actor: &Actor,
    action: &str,
    subject: &str,
    origin: &Origin,
    mut detail: Value,
) -> ServiceResult<()> {
    if let Value::Object(map) = &mut detail {
        map.insert("channel".into(), Value::from(origin.channel));
        if let Some(ip) = origin.ip {
            map.insert("ip".into(), Value::from(ip.to_string()));
        }
    }
    repo::audit::append(conn, now.0, &actor.label(), action, subject, &detail.to_string()).await?;
    tracing::info!(target: "audit", action, subject, actor = %actor.label(), "security event");
    Ok(())
}
