//! The outbox worker: delivers due messages with exponential backoff. Several nodes
//! may run it at once; a claim (a lease in the row) keeps each message to one worker,
//! and a worker that dies simply lets its lease run out.
//!
//! Push rows are best effort on top of that: a note for an operation that has expired,
//! or for a binding that no longer holds the token, is given up unsent; a provider that
//! calls the token dead ends the retries at once and the token is forgotten.

use super::email::EmailSender;
use super::sms::SmsSender;
use super::webhook::WebhookSender;
use super::{Outgoing, PushBody};
use crate::push::{PushError, PushSender};
use crate::service::Services;
use sigillo_store::repo::{bindings, outbox};
use std::time::Duration;
use tokio::sync::watch;

const BATCH: i64 = 20;
const LEASE_MS: i64 = 60_000;

#[derive(Clone, Debug)]
pub struct Senders {
    pub sms: SmsSender,
    pub email: EmailSender,
    pub push: PushSender,
    pub webhook: WebhookSender,
}

/// Why a delivery failed, and whether to try again.
struct Failure {
    error: String,
    /// Retrying cannot help: give up now.
    give_up: bool,
    /// The provider asked for a pause (Retry-After), in milliseconds.
    not_before_ms: Option<i64>,
}

impl Failure {
    fn retry(error: String) -> Self {
        Self { error, give_up: false, not_before_ms: None }
    }

    fn final_(error: impl Into<String>) -> Self {
        Self { error: error.into(), give_up: true, not_before_ms: None }
    }
}

/// Runs until `shutdown` turns true, then finishes the batch in hand.
pub async fn run(services: Services, senders: Senders, mut shutdown: watch::Receiver<bool>) {
    let poll = Duration::from_millis(services.cfg.outbox.poll_ms.max(10));
    loop {
        if let Err(e) = deliver_due(&services, &senders).await {
            tracing::error!(error = %e, "outbox worker");
        }
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            return;
        }
    }
}

/// One pass: claims due messages and tries each once. Returns how many were delivered.
pub async fn deliver_due(services: &Services, senders: &Senders) -> anyhow::Result<usize> {
    let now = services.now().0;
    let batch = {
        let mut tx = services.store.begin().await?;
        let batch = outbox::claim_due(&mut tx, now, BATCH, LEASE_MS).await?;
        sigillo_store::commit(tx).await?;
        batch
    };
    let mut delivered = 0;
    // Outside dev mode a delivered body is wiped; dev mode keeps it for GET /dev/outbox.
    let wipe = !services.cfg.dev_mode;
    for stored in batch {
        let msg = match services.open_message(stored.clone()) {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(id = %stored.id, error = %e, "outbox message does not open: given up");
                let mut conn = services.store.conn().await?;
                outbox::mark_failed(
                    &mut conn,
                    &stored.id,
                    "sealed body does not open (another key-encryption key?)",
                    i64::MAX,
                )
                .await?;
                continue;
            }
        };
        let result = match msg.channel.as_str() {
            "sms" => senders.sms.send(&msg.recipient, &msg.body).await.map_err(Failure::retry),
            "push" => deliver_push(services, &senders.push, &msg).await?,
            "webhook" => deliver_webhook(services, &senders.webhook, &msg).await,
            _ => senders
                .email
                .send(&msg.recipient, msg.subject.as_deref().unwrap_or_default(), &msg.body)
                .await
                .map_err(Failure::retry),
        };
        let mut conn = services.store.conn().await?;
        let now = services.now().0;
        match result {
            Ok(()) => {
                outbox::mark_delivered(&mut conn, &msg.id, now, wipe).await?;
                services.metrics.deliveries.with_label_values(&[&msg.channel, "delivered"]).inc();
                delivered += 1;
            }
            Err(Failure { error, give_up, not_before_ms }) => {
                // The text is never logged: it may hold a one-time code.
                let give_up = give_up || msg.attempts >= i64::from(services.cfg.outbox.max_attempts);
                let wait = backoff_ms(msg.attempts).max(not_before_ms.unwrap_or(0));
                let next = if give_up { i64::MAX } else { now + wait };
                tracing::warn!(id = %msg.id, channel = %msg.channel, attempts = msg.attempts, give_up, %error, "delivery failed");
                outbox::mark_failed(&mut conn, &msg.id, &error, next).await?;
                services.metrics.deliveries.with_label_values(&[&msg.channel, "failed"]).inc();
            }
        }
    }
    Ok(delivered)
}

/// One push row: checks it is still worth sending, sends it, and forgets a dead token.
/// The outer error is the database's; the inner one the delivery's.
async fn deliver_push(services: &Services, sender: &PushSender, msg: &Outgoing) -> anyhow::Result<Result<(), Failure>> {
    let Ok(PushBody { target, note }) = serde_json::from_str::<PushBody>(&msg.body) else {
        return Ok(Err(Failure::final_("push body is not a note")));
    };
    if services.now().0 >= note.expires_at {
        return Ok(Err(Failure::final_("operation expired before delivery")));
    }
    let binding_id = &msg.recipient;
    let current = bindings::active_push_token(&mut *services.store.conn().await?, binding_id).await?;
    if current.as_ref() != Some(&(target.provider.clone(), target.token.clone())) {
        return Ok(Err(Failure::final_("the binding no longer has this push token")));
    }
    Ok(match sender.send(&target, &note).await {
        Ok(()) => Ok(()),
        Err(e @ PushError::DeadToken { .. }) => {
            let mut conn = services.store.conn().await?;
            bindings::clear_push_token(&mut conn, binding_id, &target.provider, &target.token).await?;
            tracing::warn!(
                binding = %binding_id,
                provider = %target.provider,
                token = %target.token_prefix(),
                error = %e,
                "push token is dead: forgotten"
            );
            Err(Failure::final_(e.to_string()))
        }
        Err(e @ PushError::Permanent { .. }) => Err(Failure::final_(e.to_string())),
        Err(e) => {
            let not_before_ms = e.retry_after().map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
            Err(Failure { error: e.to_string(), give_up: false, not_before_ms })
        }
    })
}

/// An operation's outcome to an integration client (`recipient` is the client's name).
/// A client no longer configured ends the retries.
async fn deliver_webhook(services: &Services, sender: &WebhookSender, msg: &Outgoing) -> Result<(), Failure> {
    let Some(client) = services.cfg.integration.clients.iter().find(|c| c.name == msg.recipient) else {
        return Err(Failure::final_("the integration client is no longer configured"));
    };
    sender.send(client, &msg.body, services.now().0.div_euclid(1000)).await.map_err(Failure::retry)
}

/// 2 s, 4 s, 8 s … capped at one hour.
pub fn backoff_ms(attempts: i64) -> i64 {
    let exp = u32::try_from(attempts.clamp(1, 12)).unwrap_or(12);
    (1000 * 2i64.pow(exp)).min(3_600_000)
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(super::backoff_ms(1), 2_000);
        assert_eq!(super::backoff_ms(2), 4_000);
        assert_eq!(super::backoff_ms(11), 2_048_000);
        assert_eq!(super::backoff_ms(40), 3_600_000);
    }
}
