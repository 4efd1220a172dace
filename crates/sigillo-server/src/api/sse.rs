//! Server-sent events that follow one state: an event now, then one after each wake-up
//! of its topic ([`crate::events`]) that changed it, until it is final. No polling loop:
//! the waiter sleeps on the topic, and re-reads the state only when woken or, as a safety
//! net for a lost cross-node notification, every [`RECHECK`].

use axum::response::sse::Event;
use futures::Stream;
use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;
use tokio::sync::watch;

/// How often a waiter re-reads the state without being woken.
pub const RECHECK: Duration = Duration::from_secs(10);

/// A state an event stream can follow.
pub trait Followed {
    /// What makes two states the same for the client (e.g. the status).
    fn key(&self) -> String;
    /// Nothing will change any more: the stream ends after this one.
    fn is_final(&self) -> bool;
    /// Whether this state must be sent even when the key did not change (a one-time token).
    fn always_send(&self) -> bool {
        false
    }
    fn event(&self) -> Event;
}

/// Streams `first`, then each changed state `fetch` reads after a wake-up on `woken`.
/// `fetch` returning `None` (the thing is gone) ends the stream.
pub fn follow<T, F, Fut>(
    woken: watch::Receiver<u64>,
    first: T,
    fetch: F,
) -> impl Stream<Item = Result<Event, Infallible>> + Send + 'static
where
    T: Followed + Send + 'static,
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Option<T>> + Send,
{
    let state = (woken, Some(first), None::<String>, false);
    let fetch = std::sync::Arc::new(fetch);
    futures::stream::unfold(state, move |(mut woken, mut next, last, ended)| {
        let fetch = fetch.clone();
        async move {
            if ended {
                return None;
            }
            loop {
                let current = match next.take() {
                    Some(s) => s,
                    None => {
                        // Both outcomes mean "read again": a wake-up or the safety-net timer.
                        let _ = tokio::time::timeout(RECHECK, woken.changed()).await;
                        woken.borrow_and_update();
                        fetch().await?
                    }
                };
                let key = current.key();
                if Some(&key) != last.as_ref() || current.always_send() {
                    let done = current.is_final();
                    return Some((Ok(current.event()), (woken, None, Some(key), done)));
                }
            }
        }
    })
}
