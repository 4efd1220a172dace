//! [`Sim`]: the running simulator (an axum server on its own port) and the API tests use to
//! drive purchases through an ACS and to inspect what came back.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::purchase::{AreqContext, Purchase, build_areq};
use crate::records::{DsExchange, Notification, Records, Transaction};
use crate::wire::{b64url_encode, creq, encode_creq, is_uuid, str_field};
use crate::{control, ds, merchant};

/// Where and how the simulator listens.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Listening address; port 0 picks a free one. Default `127.0.0.1:0`.
    pub listen: SocketAddr,
    /// The base URL the ACS and browsers reach the simulator at, when it differs from
    /// `http://{listen}` (a container, a proxy). Used in `dsURL`, `notificationURL` and pages.
    pub public_url: Option<String>,
    /// Timeout of each request the simulator sends to the ACS. Default 30 s.
    pub http_timeout: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self { listen: SocketAddr::from(([127, 0, 0, 1], 0)), public_url: None, http_timeout: Duration::from_secs(30) }
    }
}

/// An AReq body for [`Sim::send_areq_raw`]: JSON, or any bytes for malformed-input tests.
#[derive(Clone, Debug)]
pub enum AreqBody {
    Json(Value),
    Bytes(Vec<u8>),
}

impl From<Value> for AreqBody {
    fn from(value: Value) -> Self {
        Self::Json(value)
    }
}

impl From<Vec<u8>> for AreqBody {
    fn from(bytes: Vec<u8>) -> Self {
        Self::Bytes(bytes)
    }
}

impl From<&str> for AreqBody {
    fn from(text: &str) -> Self {
        Self::Bytes(text.as_bytes().to_vec())
    }
}

/// What came back for one AReq.
#[derive(Clone, Debug, Serialize)]
pub struct AreqOutcome {
    /// The AReq as sent (`Value::Null` when raw bytes that are not JSON were sent).
    pub areq: Value,
    /// The response body as JSON (`Value::Null` if it was not JSON; see `response_text`).
    pub response: Value,
    /// The response body as text.
    pub response_text: String,
    pub http_status: u16,
    /// The response, when it is an ARes.
    pub ares: Option<Value>,
    /// The response, when it is an Erro.
    pub erro: Option<Value>,
    /// The merchant's checkout page, when the ARes asks for a browser challenge.
    pub checkout_url: Option<String>,
    /// Everything the 3DS Server found wrong with the answer (empty when it is all right).
    pub problems: Vec<String>,
}

/// State shared by the simulator's handlers and its [`Sim`] handle.
pub(crate) struct Shared {
    pub base_url: String,
    pub client: reqwest::Client,
    records: Mutex<Records>,
    /// Bumped on every change to `records`, so waiters wake up.
    changed: watch::Sender<u64>,
}

impl Shared {
    pub fn read<T>(&self, f: impl FnOnce(&Records) -> T) -> T {
        f(&self.records.lock().unwrap_or_else(PoisonError::into_inner))
    }

    pub fn update<T>(&self, f: impl FnOnce(&mut Records) -> T) -> T {
        let out = f(&mut self.records.lock().unwrap_or_else(PoisonError::into_inner));
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
        out
    }

    /// Waits until `find` returns something or `timeout` passes.
    async fn wait_for<T>(&self, timeout: Duration, find: impl Fn(&Records) -> Option<T>) -> Option<T> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut changes = self.changed.subscribe();
        loop {
            if let Some(found) = self.read(&find) {
                return Some(found);
            }
            if tokio::time::timeout_at(deadline, changes.changed()).await.is_err() {
                return self.read(&find);
            }
        }
    }

    /// A fresh transaction: new ids, a new AReq, remembered until its RReq and CRes arrive.
    pub fn build_areq(&self, purchase: &Purchase) -> Value {
        let server_id = uuid::Uuid::new_v4().to_string();
        let ds_id = uuid::Uuid::new_v4().to_string();
        let ctx = AreqContext {
            three_ds_server_trans_id: &server_id,
            ds_trans_id: &ds_id,
            sim_base_url: &self.base_url,
            now: system_now(),
        };
        let areq = build_areq(purchase, &ctx);
        self.remember(&areq, &purchase.window_size);
        areq
    }

    /// Records the transaction an AReq opens, unless it is already known.
    fn remember(&self, areq: &Value, window_size: &str) {
        let Some(server_id) = str_field(areq, "threeDSServerTransID") else { return };
        let tx = Transaction {
            ds_trans_id: str_field(areq, "dsTransID").unwrap_or_default().to_owned(),
            message_version: str_field(areq, "messageVersion").unwrap_or_default().to_owned(),
            window_size: window_size.to_owned(),
            session_data: new_session_data(),
            ares: None,
        };
        self.update(|r| {
            r.transactions.entry(server_id.to_owned()).or_insert(tx);
        });
    }

    pub async fn send_areq(&self, acs_base: &str, body: AreqBody) -> anyhow::Result<AreqOutcome> {
        let url = format!("{}/3ds/v2/areq", acs_base.trim_end_matches('/'));
        let (areq, bytes) = match body {
            AreqBody::Json(value) => (value.clone(), value.to_string().into_bytes()),
            AreqBody::Bytes(bytes) => (serde_json::from_slice(&bytes).unwrap_or(Value::Null), bytes),
        };
        // Default window for an AReq a test built by hand; build_areq has recorded the rest.
        self.remember(&areq, "02");
        let response = self
            .client
            .post(&url)
            .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
            .body(bytes)
            .send()
            .await
            .with_context(|| format!("sending the AReq to {url}"))?;
        let http_status = response.status().as_u16();
        let response_text = response.text().await.context("reading the ACS's answer")?;
        let response: Value = serde_json::from_str(&response_text).unwrap_or(Value::Null);
        Ok(self.read_answer(areq, response, response_text, http_status))
    }

    fn read_answer(&self, areq: Value, response: Value, response_text: String, http_status: u16) -> AreqOutcome {
        let kind = str_field(&response, "messageType");
        let ares = (kind == Some("ARes")).then(|| response.clone());
        let erro = (kind == Some("Erro")).then(|| response.clone());
        let mut problems = Vec::new();
        if ares.is_none() && erro.is_none() {
            problems.push("the answer is neither ARes nor Erro".to_owned());
        }
        let mut checkout_url = None;
        if let Some(ares) = &ares {
            problems.extend(ares_problems(&areq, ares, http_status));
            let server_id = str_field(&areq, "threeDSServerTransID").unwrap_or_default();
            let stored = self.update(|r| r.transactions.get_mut(server_id).map(|tx| tx.ares = Some(ares.clone())));
            if stored.is_some() && str_field(ares, "transStatus") == Some("C") && ares.get("acsURL").is_some() {
                checkout_url = Some(format!("{}/merchant/checkout/{server_id}", self.base_url));
            }
        }
        AreqOutcome { areq, response, response_text, http_status, ares, erro, checkout_url, problems }
    }
}

/// Checks an ARes against the AReq it answers (EMV 3DS 2.2.0 Table A.1, ARes).
fn ares_problems(areq: &Value, ares: &Value, http_status: u16) -> Vec<String> {
    let mut problems = Vec::new();
    if http_status != 200 {
        problems.push(format!("ARes with HTTP status {http_status}"));
    }
    for echoed in ["threeDSServerTransID", "dsTransID", "messageVersion"] {
        if str_field(ares, echoed) != str_field(areq, echoed) {
            problems.push(format!("{echoed} is not the AReq's"));
        }
    }
    if !str_field(ares, "acsTransID").is_some_and(is_uuid) {
        problems.push("acsTransID is not a UUID".to_owned());
    }
    match str_field(ares, "transStatus") {
        Some("C") if str_field(ares, "acsURL").is_none() => problems.push("transStatus C without acsURL".to_owned()),
        Some("Y" | "N" | "U" | "A" | "R" | "C" | "D" | "I") => {}
        _ => problems.push("transStatus is missing or unknown".to_owned()),
    }
    problems
}

/// The purchase date of a new AReq: the simulator is the merchant, its clock is the system's.
#[expect(clippy::disallowed_methods, reason = "the simulator plays the merchant's 3DS Server, on the system clock")]
fn system_now() -> chrono::DateTime<chrono::Utc> {
    std::time::SystemTime::now().into()
}

/// The merchant's opaque `threeDSSessionData`: base64url, fresh per transaction.
fn new_session_data() -> String {
    b64url_encode(format!("sim-order:{}", uuid::Uuid::new_v4()).as_bytes())
}

/// A JSON response with the media type the 3DS messages use.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json; charset=utf-8")], body.to_string()).into_response()
}

/// The running simulator. Dropping it stops the server.
pub struct Sim {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: JoinHandle<()>,
}

impl Sim {
    /// Binds `config.listen` and serves the DS, merchant and control endpoints in the background.
    pub async fn start(config: SimConfig) -> anyhow::Result<Sim> {
        let listener =
            tokio::net::TcpListener::bind(config.listen).await.with_context(|| format!("binding {}", config.listen))?;
        let addr = listener.local_addr()?;
        let base_url = config.public_url.unwrap_or_else(|| format!("http://{addr}"));
        let shared = Arc::new(Shared {
            base_url: base_url.trim_end_matches('/').to_owned(),
            client: reqwest::Client::builder().timeout(config.http_timeout).build()?,
            records: Mutex::default(),
            changed: watch::Sender::new(0),
        });
        let app = router(shared.clone());
        let server = tokio::spawn(async move {
            // The server only ends with the process or when the handle aborts it.
            let _ = axum::serve(listener, app).await;
        });
        Ok(Sim { shared, addr, server })
    }

    /// The base URL of the simulator, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Builds the AReq for `purchase`, sends it to `{acs_base}/3ds/v2/areq`, records the
    /// transaction and returns what the ACS answered.
    pub async fn purchase(&self, acs_base: &str, purchase: &Purchase) -> anyhow::Result<AreqOutcome> {
        let areq = self.shared.build_areq(purchase);
        self.shared.send_areq(acs_base, AreqBody::Json(areq)).await
    }

    /// The AReq `purchase` would send, with fresh ids and already recorded, so a test can
    /// alter it and send it with [`Sim::send_areq_raw`].
    pub fn build_areq(&self, purchase: &Purchase) -> Value {
        self.shared.build_areq(purchase)
    }

    /// Sends any body as an AReq (malformed JSON, missing fields). A JSON object with a
    /// `threeDSServerTransID` is recorded as a transaction, so its RReq and CRes are accepted.
    pub async fn send_areq_raw(&self, acs_base: &str, body: impl Into<AreqBody>) -> anyhow::Result<AreqOutcome> {
        self.shared.send_areq(acs_base, body.into()).await
    }

    /// The `creq` form field for the challenge an ARes announced (base64url, no padding),
    /// with the window size of its purchase ("02" for a transaction the sim does not know).
    pub fn creq_for(&self, ares: &Value) -> anyhow::Result<String> {
        let field = |name| str_field(ares, name).with_context(|| format!("the ARes has no {name}"));
        let (server_id, acs_id, version) =
            (field("threeDSServerTransID")?, field("acsTransID")?, field("messageVersion")?);
        let window = self.shared.read(|r| r.transactions.get(server_id).map(|tx| tx.window_size.clone()));
        Ok(encode_creq(&creq(server_id, acs_id, version, window.as_deref().unwrap_or("02"))))
    }

    /// The `threeDSSessionData` the merchant posts with the CReq of `server_trans_id`.
    pub fn session_data_for(&self, server_trans_id: &str) -> Option<String> {
        self.shared.read(|r| r.transactions.get(server_trans_id).map(|tx| tx.session_data.clone()))
    }

    /// Makes the DS answer the next `n` RReqs with HTTP 500 (added to any still pending).
    pub fn fail_next_rreqs(&self, n: u32) {
        self.shared.update(|r| r.fail_next_rreqs = r.fail_next_rreqs.saturating_add(n));
    }

    /// The RReqs the DS processed (answered RRes or Erro), oldest first; failures on
    /// demand are left out (see [`Sim::ds_exchanges`]).
    pub fn rreqs(&self) -> Vec<Value> {
        self.shared.read(Records::rreqs)
    }

    /// Every request to the DS, failures on demand included, with the answer given.
    pub fn ds_exchanges(&self) -> Vec<DsExchange> {
        self.shared.read(|r| r.ds_exchanges.clone())
    }

    /// Waits up to `timeout` for the first processed RReq for `acs_trans_id`.
    pub async fn wait_rreq(&self, acs_trans_id: &str, timeout: Duration) -> Option<Value> {
        self.shared.wait_for(timeout, |r| r.rreq_for(acs_trans_id)).await
    }

    /// Every notification the merchant received, oldest first.
    pub fn notifications(&self) -> Vec<Notification> {
        self.shared.read(|r| r.notifications.clone())
    }

    /// Waits up to `timeout` for the first notification whose CRes names `server_trans_id`.
    pub async fn wait_notification(&self, server_trans_id: &str, timeout: Duration) -> Option<Notification> {
        self.shared.wait_for(timeout, |r| r.notification_for(server_trans_id)).await
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/ds/rreq", post(ds::receive_rreq))
        .route("/merchant/checkout/{server_trans_id}", get(merchant::checkout))
        .route("/merchant/notify", post(merchant::notify))
        .route("/sim/purchase", post(control::purchase))
        .route("/sim/rreqs", get(control::rreqs))
        .route("/sim/notifications", get(control::notifications))
        .route("/sim/fail-next-rreqs", post(control::fail_next_rreqs))
        .with_state(shared)
}
