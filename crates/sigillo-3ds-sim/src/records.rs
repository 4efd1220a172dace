//! What the simulator remembers: the transactions it forwarded, every RReq exchange at its
//! DS endpoint and every notification at the merchant's endpoint. Tests read these through
//! [`crate::Sim`]; the browser tests through `GET /sim/rreqs` and `GET /sim/notifications`.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

use crate::wire::str_field;

/// One transaction the simulated DS forwarded to the ACS.
#[derive(Clone, Debug)]
pub(crate) struct Transaction {
    pub ds_trans_id: String,
    pub message_version: String,
    pub window_size: String,
    /// The merchant's opaque `threeDSSessionData` for this transaction's challenge.
    pub session_data: String,
    /// The ARes, once the ACS answered with one.
    pub ares: Option<Value>,
}

impl Transaction {
    /// The ACS's id for the transaction, from its ARes.
    pub fn acs_trans_id(&self) -> Option<&str> {
        str_field(self.ares.as_ref()?, "acsTransID")
    }
}

/// One request to the DS's `POST /ds/rreq`, with what the DS answered.
#[derive(Clone, Debug, Serialize)]
pub struct DsExchange {
    /// The request body as JSON; `Value::Null` if it was not JSON.
    pub rreq: Value,
    /// The request's `Content-Type` (the spec wants `application/json; charset=utf-8`).
    pub content_type: Option<String>,
    /// The HTTP status the DS answered with (500 when failing on demand).
    pub http_status: u16,
    /// The RRes or Erro answered; `None` for a failure on demand.
    pub answer: Option<Value>,
}

impl DsExchange {
    /// Whether the DS failed this request on purpose ([`crate::Sim::fail_next_rreqs`]).
    pub fn failed_on_demand(&self) -> bool {
        self.answer.is_none()
    }

    /// Whether the DS accepted the RReq (answered an RRes).
    pub fn accepted(&self) -> bool {
        self.answer.as_ref().and_then(|a| str_field(a, "messageType")) == Some("RRes")
    }
}

/// One browser post to the merchant's `notificationURL`.
#[derive(Clone, Debug, Serialize)]
pub struct Notification {
    /// The decoded CRes; `Value::Null` if `cres` was missing or not base64url JSON.
    pub cres: Value,
    /// The `cres` form field as posted.
    pub cres_raw: String,
    /// The `threeDSSessionData` form field as posted.
    pub three_ds_session_data: String,
    /// Whether `threeDSSessionData` is exactly what the merchant posted with the CReq.
    pub session_data_matches: bool,
    /// Everything the merchant found wrong with the post (empty when it is all right).
    pub problems: Vec<String>,
}

/// The simulator's memory, behind one mutex that is never held across an await.
#[derive(Debug, Default)]
pub(crate) struct Records {
    /// By threeDSServerTransID.
    pub transactions: HashMap<String, Transaction>,
    pub ds_exchanges: Vec<DsExchange>,
    pub notifications: Vec<Notification>,
    pub fail_next_rreqs: u32,
}

impl Records {
    /// The RReqs the DS processed (accepted or answered with Erro), oldest first.
    pub fn rreqs(&self) -> Vec<Value> {
        let processed = self.ds_exchanges.iter().filter(|e| !e.failed_on_demand());
        processed.map(|e| e.rreq.clone()).filter(|r| !r.is_null()).collect()
    }

    /// The first processed RReq for the ACS transaction `acs_trans_id`.
    pub fn rreq_for(&self, acs_trans_id: &str) -> Option<Value> {
        self.rreqs().into_iter().find(|r| str_field(r, "acsTransID") == Some(acs_trans_id))
    }

    /// The first notification whose CRes names `server_trans_id`.
    pub fn notification_for(&self, server_trans_id: &str) -> Option<Notification> {
        let named = |n: &&Notification| str_field(&n.cres, "threeDSServerTransID") == Some(server_trans_id);
        self.notifications.iter().find(named).cloned()
    }
}
