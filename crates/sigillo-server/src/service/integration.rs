//! The bank's back ends ask sigillo to authorize an operation for one of its users (the
//! integration API), and learn the outcome from a signed webhook. A client is named in
//! the configuration with the SHA-256 of its API key; its operations are marked
//! `requested_by = integration:<name>` and only it can read them.
//!
//! The outcome of each decided (or expired) operation is queued for the webhook exactly
//! once: `operations.notified_at` is claimed in the transaction that queues it, by
//! whichever comes first of the wake-up after the decision and the periodic sweep, which
//! also expires operations nobody answered.

use super::operations::OperationView;
use super::{Actor, Origin, ServiceError, ServiceResult, Services, audit};
use crate::config::IntegrationClient;
use serde_json::json;
use sha2::{Digest, Sha256};
use sigillo_core::payment::PaymentRequest;
use sigillo_store::repo::operations::{self, Operation};
use sigillo_store::repo::outbox::{self, Channel};
use sigillo_store::repo::users;
use subtle::ConstantTimeEq;

/// Operations looked at per sweep step.
const SWEEP_BATCH: i64 = 100;

/// What `requested_by` says for a client.
fn requester(client: &IntegrationClient) -> String {
    format!("integration:{}", client.name)
}

impl Services {
    /// The client this API key belongs to. Every configured digest is compared, in
    /// constant time, so timing tells nothing about which keys exist.
    pub fn integration_client(&self, api_key: &str) -> Option<&IntegrationClient> {
        let digest = hex::encode(Sha256::digest(api_key.as_bytes()));
        let mut found = None;
        for client in &self.cfg.integration.clients {
            if bool::from(client.api_key_sha256.as_bytes().ct_eq(digest.as_bytes())) {
                found = Some(client);
            }
        }
        found
    }

    /// A payment for `username` (user code or alias) to approve, on behalf of `client`.
    pub async fn integration_create(
        &self,
        client: &IntegrationClient,
        username: &str,
        request: &PaymentRequest<'_>,
        reference: Option<&str>,
        origin: &Origin,
    ) -> ServiceResult<OperationView> {
        if reference.is_some_and(|r| r.is_empty() || r.chars().count() > 64 || r.chars().any(char::is_control)) {
            return Err(ServiceError::BadRequest {
                field: "reference",
                message: "reference must be 1-64 characters without control characters".into(),
            });
        }
        let user = {
            let mut conn = self.store.conn().await?;
            users::by_username(&mut conn, username).await?
        };
        let user = user.ok_or(ServiceError::NotFound)?;
        let origin = Origin { channel: "integration", ip: origin.ip };
        let requested_by = requester(client);
        self.create_payment(&user, request, &requested_by, reference, client.webhook_url.as_deref(), &origin).await
    }

    /// One of the client's own operations.
    pub async fn integration_view(
        &self,
        client: &IntegrationClient,
        op_id: &str,
    ) -> ServiceResult<(OperationView, Option<String>)> {
        let op = {
            let mut conn = self.store.conn().await?;
            operations::get(&mut conn, op_id).await?
        };
        match op {
            Some(op) if op.requested_by.as_deref() == Some(requester(client).as_str()) => {
                let reference = op.client_ref.clone();
                Ok((self.view(&op).await?, reference))
            }
            _ => Err(ServiceError::NotFound),
        }
    }

    /// Queues the webhook of one decided operation, once (P8 for outcomes).
    pub(crate) async fn queue_outcome(&self, op: &Operation) -> ServiceResult<bool> {
        let Some(name) = op.requested_by.as_deref().and_then(|r| r.strip_prefix("integration:")) else {
            return Ok(false);
        };
        let now = self.now();
        let has_webhook = self.cfg.integration.clients.iter().any(|c| c.name == name && c.webhook_url.is_some());
        let mut tx = self.store.begin().await?;
        if !operations::mark_notified(&mut tx, &op.id, now.0).await? {
            return Ok(false);
        }
        if has_webhook {
            let body = json!({
                "event": "operation.decided",
                "id": op.id,
                "reference": op.client_ref,
                "kind": op.kind,
                "status": op.status,
                "method": op.method,
                "decided_at": op.decided_at,
            })
            .to_string();
            let sealed =
                self.kek().seal(&crate::notify::outbox_aad("webhook", name), body.as_bytes(), &mut rand::rngs::OsRng);
            outbox::enqueue(&mut tx, Channel::Webhook, name, None, &sealed, now.0).await?;
        }
        sigillo_store::commit(tx).await?;
        Ok(has_webhook)
    }

    /// Queues the outcomes of every decided integration operation not yet queued.
    pub async fn queue_outcomes(&self) -> ServiceResult<usize> {
        let ops = {
            let mut conn = self.store.conn().await?;
            operations::outcomes_to_notify(&mut conn, SWEEP_BATCH).await?
        };
        let mut queued = 0;
        for op in &ops {
            queued += usize::from(self.queue_outcome(op).await?);
        }
        Ok(queued)
    }

    /// The periodic sweep: marks unanswered operations expired (waking their waiters and
    /// auditing it) and queues outcomes for webhooks.
    pub async fn sweep_operations(&self) -> ServiceResult<()> {
        let now = self.now();
        let due = {
            let mut conn = self.store.conn().await?;
            operations::any_due(&mut conn, now.0).await?
        };
        let expired = if !due {
            Vec::new()
        } else {
            let mut tx = self.store.begin().await?;
            let expired = operations::expire_due(&mut tx, now.0, SWEEP_BATCH).await?;
            for op in &expired {
                audit(
                    &mut tx,
                    now,
                    &Actor::System,
                    "operation.expired",
                    &op.user_id,
                    &Origin::internal(),
                    json!({ "operation": op.id, "kind": op.kind }),
                )
                .await?;
            }
            sigillo_store::commit(tx).await?;
            expired
        };
        for op in &expired {
            self.operation_changed(op).await;
        }
        self.queue_outcomes().await?;
        // Expired device challenges are of no further use (kept an hour for inquiries).
        let mut conn = self.store.conn().await?;
        sigillo_store::repo::challenges::purge(&mut conn, now.0 - 3_600_000).await?;
        Ok(())
    }
}
