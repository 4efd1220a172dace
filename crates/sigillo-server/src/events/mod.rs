//! Wake-ups: a browser waiting for its login or payment, and a phone listening for new
//! operations, sleep on a topic until something about it changes. A wake-up carries no
//! data: the waiter re-reads the state from the store, so a lost or doubled wake-up is
//! harmless and the store stays the one source of truth.
//!
//! Topics are local to a node; with PostgreSQL, [`pg`] forwards every publication to all
//! nodes through `LISTEN/NOTIFY`, so an approval handled by one node wakes a browser
//! waiting on another (DESIGN.md "Scale-out").

pub mod pg;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::watch;

/// What a waiter waits on.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Topic {
    /// A login flow (its store id).
    Flow(String),
    /// An operation.
    Operation(String),
    /// Anything about a user's pending operations (what a phone listens to).
    User(String),
    /// A 3-D Secure challenge (its acsTransID): it ended.
    Challenge(String),
}

impl Topic {
    /// The wire form used across nodes.
    pub fn key(&self) -> String {
        match self {
            Self::Flow(id) => format!("f:{id}"),
            Self::Operation(id) => format!("o:{id}"),
            Self::User(id) => format!("u:{id}"),
            Self::Challenge(id) => format!("c:{id}"),
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        let (kind, id) = key.split_once(':')?;
        let id = id.to_owned();
        match kind {
            "f" => Some(Self::Flow(id)),
            "o" => Some(Self::Operation(id)),
            "u" => Some(Self::User(id)),
            "c" => Some(Self::Challenge(id)),
            _ => None,
        }
    }
}

/// How long a waiter sleeps without a wake-up before it re-reads anyway: a safety net for
/// a notification lost between nodes (PostgreSQL), so short there; a single node (SQLite)
/// loses none, so its waiters barely poll (10,000 idle waiters cost little).
const RECHECK_SHARED: Duration = Duration::from_secs(10);
const RECHECK_SINGLE: Duration = Duration::from_secs(60);

/// One subscription: wakes on a publication of its topic, or after `recheck`.
#[derive(Debug)]
pub struct Waiter {
    pub rx: watch::Receiver<u64>,
    pub recheck: Duration,
}

impl Waiter {
    /// Sleeps until the topic is published or `recheck` passes; either way the caller
    /// reads the state again.
    pub async fn wait(&mut self) {
        let _ = tokio::time::timeout(self.recheck, self.rx.changed()).await;
        self.rx.borrow_and_update();
    }
}

/// The node's topics. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Hub {
    inner: Arc<Mutex<Topics>>,
    /// Set when the store is PostgreSQL: publications also go to the other nodes.
    remote: Option<pg::Notifier>,
}

#[derive(Debug, Default)]
struct Topics {
    map: HashMap<Topic, watch::Sender<u64>>,
    /// Size after the last sweep: the map is swept of topics nobody waits on whenever
    /// it has doubled since, so the cost stays amortised O(1) per subscription.
    swept_at: usize,
}

impl Hub {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_remote(remote: pg::Notifier) -> Self {
        Self { inner: Arc::default(), remote: Some(remote) }
    }

    /// A receiver that changes whenever `topic` is published. Subscribe *before*
    /// reading the state, so a change between the read and the wait is not missed.
    pub fn subscribe(&self, topic: Topic) -> Waiter {
        let mut topics = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if topics.map.len() >= 2 * topics.swept_at.max(512) {
            topics.map.retain(|_, tx| tx.receiver_count() > 0);
            topics.swept_at = topics.map.len();
        }
        let rx = topics.map.entry(topic).or_insert_with(|| watch::channel(0).0).subscribe();
        let recheck = if self.remote.is_some() { RECHECK_SHARED } else { RECHECK_SINGLE };
        Waiter { rx, recheck }
    }

    /// Wakes this node's waiters on `topic`.
    pub fn wake_local(&self, topic: &Topic) {
        let mut topics = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(tx) = topics.map.get(topic) {
            if tx.receiver_count() == 0 {
                topics.map.remove(topic);
            } else {
                tx.send_modify(|n| *n = n.wrapping_add(1));
            }
        }
    }

    /// Wakes the waiters on `topic` on every node. Call it after the change committed.
    pub async fn publish(&self, topic: Topic) {
        self.publish_all(&[topic]).await;
    }

    /// Wakes the waiters on several topics on every node: one notification for all of
    /// them, so a change costs one round trip to PostgreSQL, not one per topic.
    pub async fn publish_all(&self, topics: &[Topic]) {
        for topic in topics {
            self.wake_local(topic);
        }
        if let Some(remote) = &self.remote {
            remote.send(topics).await;
        }
    }

    /// How many topics have waiters (for metrics and tests).
    pub fn topics(&self) -> usize {
        let topics = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        topics.map.values().filter(|tx| tx.receiver_count() > 0).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_waiter_wakes_on_its_topic_only() {
        let hub = Hub::new();
        let mut flow = hub.subscribe(Topic::Flow("a".into())).rx;
        let mut other = hub.subscribe(Topic::Flow("b".into())).rx;
        hub.publish(Topic::Flow("a".into())).await;
        assert!(flow.has_changed().unwrap());
        assert!(!other.has_changed().unwrap());
        flow.borrow_and_update();
        assert!(!flow.has_changed().unwrap());
        other.borrow_and_update();
    }

    #[test]
    fn topics_nobody_waits_on_are_swept() {
        let hub = Hub::new();
        for i in 0..5000 {
            drop(hub.subscribe(Topic::Operation(i.to_string())));
        }
        let _kept = hub.subscribe(Topic::User("u".into()));
        assert_eq!(hub.topics(), 1);
        assert!(hub.inner.lock().unwrap().map.len() < 1100);
    }

    #[test]
    fn keys_round_trip() {
        for t in [Topic::Flow("x:y".into()), Topic::Operation("1".into()), Topic::User("u".into())] {
            assert_eq!(Topic::from_key(&t.key()), Some(t));
        }
        assert_eq!(Topic::from_key("z:1"), None);
    }
}
