//! Wake-ups across nodes on PostgreSQL: every publication is also a `NOTIFY` on one
//! channel, and every node `LISTEN`s on it and wakes its own waiters. No broker beyond
//! the database the nodes already share. A notification sent while a listener is
//! reconnecting is lost; waiters re-read the state on a timer as well, so that costs
//! latency, never correctness.

use super::{Hub, Topic};
use sigillo_store::Store;
use sqlx::postgres::PgListener;
use std::time::Duration;
use tokio::sync::watch;

/// The channel all nodes share.
pub const CHANNEL: &str = "sigillo_events";

/// Sends publications to the other nodes.
#[derive(Clone, Debug)]
pub struct Notifier {
    store: Store,
}

impl Notifier {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// One notification carrying every topic's key, one per line.
    pub async fn send(&self, topics: &[Topic]) {
        let payload = topics.iter().map(Topic::key).collect::<Vec<_>>().join("\n");
        let sent = async {
            let mut conn = self.store.conn().await?;
            sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(payload).execute(&mut *conn).await?;
            anyhow::Ok(())
        };
        if let Err(e) = sent.await {
            tracing::warn!(error = %e, "could not notify the other nodes");
        }
    }
}

async fn forward(url: &str, hub: &Hub) -> anyhow::Result<()> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen(CHANNEL).await?;
    tracing::info!(channel = CHANNEL, "listening for other nodes' wake-ups");
    loop {
        let note = listener.recv().await?;
        for topic in note.payload().lines().filter_map(Topic::from_key) {
            hub.wake_local(&topic);
        }
    }
}

/// Listens until `shutdown`, waking `hub`'s local waiters for every notification, and
/// reconnects with a pause after errors.
pub async fn listen(url: String, hub: Hub, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            result = forward(&url, &hub) => {
                if let Err(e) = result {
                    tracing::warn!(error = %e, "wake-up listener lost its connection; reconnecting");
                }
            }
            _ = shutdown.changed() => return,
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.changed() => return,
        }
    }
}
