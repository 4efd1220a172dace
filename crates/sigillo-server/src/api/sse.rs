//! Server-sent events that follow one state: an event now, then one after each wake-up
//! of its topic ([`crate::events`]) that changed it, until it is final. No polling loop:
//! the waiter sleeps on the topic, and re-reads the state only when woken or, as a safety
//! net for a lost cross-node notification, after the waiter's `recheck`.

use crate::events::Waiter;
use axum::response::sse::Event;
use futures::Stream;
use std::convert::Infallible;
use std::future::Future;

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
    woken: Waiter,
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
                        woken.wait().await;
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
