//! Group commit for the AReq path: every answered AReq of a known card is one row, and on
//! SQLite (`synchronous = full`) each commit is an fsync, which would bound the ACS at the
//! disk's fsyncs per second. One writer task takes every row queued while the previous
//! commit ran and writes them in one transaction; each AReq is answered only after its
//! row is durable, so nothing answered can be lost (ADR 0011, ADR 0012).

use crate::service::{ServiceError, ServiceResult};
use sigillo_store::Store;
use sigillo_store::repo::{cards, threeds};
use tokio::sync::{mpsc, oneshot};

/// Rows written per transaction at most (a bound on the time one commit holds the lock).
const MAX_BATCH: usize = 512;

/// One AReq's row, and the low-value count it must make (RTS art. 16).
#[derive(Debug)]
pub(crate) struct Entry {
    pub txn: OwnedTransaction,
    /// (card id, the counters the decision read, the amount in EUR cents).
    pub low_value: Option<(String, (i64, i64), i64)>,
}

/// What became of an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Written {
    Stored,
    /// Another AReq for the card changed the low-value counters first: decide again.
    LowValueRaced,
    /// This `dsTransID` is on file already.
    Duplicate,
}

type Reply = oneshot::Sender<Result<Written, String>>;

/// The writer's handle; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Journal {
    queue: mpsc::Sender<(Entry, Reply)>,
}

impl Journal {
    /// Starts the writer on the current runtime.
    pub fn start(store: Store) -> Self {
        let (queue, rx) = mpsc::channel(8 * MAX_BATCH);
        tokio::spawn(writer(store, rx));
        Self { queue }
    }

    /// Queues `entry` and waits until it is committed (or refused).
    pub async fn write(&self, entry: Entry) -> ServiceResult<Written> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((entry, reply))
            .await
            .map_err(|_| ServiceError::Internal(anyhow::anyhow!("the ACS journal stopped")))?;
        match answer.await {
            Ok(Ok(written)) => Ok(written),
            Ok(Err(e)) => Err(ServiceError::Internal(anyhow::anyhow!("ACS journal: {e}"))),
            Err(_) => Err(ServiceError::Internal(anyhow::anyhow!("the ACS journal dropped a write"))),
        }
    }
}

async fn writer(store: Store, mut rx: mpsc::Receiver<(Entry, Reply)>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let result = write_batch(&store, &batch).await;
        match result {
            Ok(outcomes) => {
                for ((_, reply), outcome) in batch.drain(..).zip(outcomes) {
                    let _ = reply.send(Ok(outcome));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, rows = batch.len(), "ACS journal: batch not written");
                for (_, reply) in batch.drain(..) {
                    let _ = reply.send(Err(e.to_string()));
                }
            }
        }
    }
}

async fn write_batch(store: &Store, batch: &[(Entry, Reply)]) -> sigillo_store::Result<Vec<Written>> {
    let mut db = store.begin().await?;
    let mut written = std::collections::HashSet::with_capacity(batch.len());
    for chunk in batch.chunks(threeds::ROWS_PER_INSERT) {
        let rows: Vec<_> = chunk.iter().map(|(e, _)| e.txn.as_new()).collect();
        // The rows were decided a moment apart: they share the latest of their times.
        let now = chunk.iter().map(|(e, _)| e.txn.created_at).max().unwrap_or_default();
        written.extend(threeds::insert_many(&mut db, &rows, now).await?);
    }
    let mut outcomes = Vec::with_capacity(batch.len());
    for (entry, _) in batch {
        let txn = &entry.txn;
        if !written.contains(&txn.acs_trans_id) {
            outcomes.push(Written::Duplicate);
            continue;
        }
        if let Some((card_id, seen, cents)) = &entry.low_value {
            if !cards::count_low_value(&mut db, card_id, *seen, *cents, txn.created_at).await? {
                threeds::delete_fresh(&mut db, &txn.acs_trans_id).await?;
                outcomes.push(Written::LowValueRaced);
                continue;
            }
        }
        outcomes.push(Written::Stored);
    }
    sigillo_store::commit(db).await?;
    Ok(outcomes)
}

/// A transaction row that can wait in the queue.
#[derive(Clone, Debug)]
pub(crate) struct OwnedTransaction {
    pub acs_trans_id: String,
    pub server_trans_id: String,
    pub ds_trans_id: String,
    pub card_id: String,
    pub message_version: String,
    pub message_category: String,
    pub amount_minor: Option<i64>,
    pub currency: Option<i64>,
    pub exponent: Option<i64>,
    pub merchant_name: String,
    pub purchase_date: Option<String>,
    pub ds_url: String,
    pub notification_url: Option<String>,
    pub status: String,
    pub status_reason: Option<String>,
    pub exemption: Option<&'static str>,
    pub challenge: Option<&'static str>,
    pub auth_value: Option<String>,
    pub eci: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
}

impl OwnedTransaction {
    fn as_new(&self) -> threeds::NewTransaction<'_> {
        threeds::NewTransaction {
            acs_trans_id: &self.acs_trans_id,
            server_trans_id: &self.server_trans_id,
            ds_trans_id: &self.ds_trans_id,
            card_id: &self.card_id,
            message_version: &self.message_version,
            message_category: &self.message_category,
            amount_minor: self.amount_minor,
            currency: self.currency,
            exponent: self.exponent,
            merchant_name: &self.merchant_name,
            purchase_date: self.purchase_date.as_deref(),
            ds_url: &self.ds_url,
            notification_url: self.notification_url.as_deref(),
            status: &self.status,
            status_reason: self.status_reason.as_deref(),
            exemption: self.exemption,
            challenge: self.challenge,
            auth_value: self.auth_value.as_deref(),
            eci: self.eci.as_deref(),
            expires_at: self.expires_at,
        }
    }
}
