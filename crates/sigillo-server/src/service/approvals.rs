//! Approvals on a bound phone (P3, P5, P6): the phone lists the user's pending
//! operations — the canonical bytes and the master key's signature over them, which the
//! app checks before it shows anything — and approves one by signing those bytes with a
//! fresh challenge, or rejects it. For now the one kind is `device_binding` (a new phone
//! waiting for an active one); logins and payments join it with issue 4.

use super::device_auth::{DeviceProof, Need};
use super::{Origin, ServiceError, ServiceResult, Services, audit};
use serde::Serialize;
use serde_json::json;
use sigillo_core::device::b64;
use sigillo_core::device::keys::Factor;
use sigillo_core::device::messages;
use sigillo_store::repo::bindings::{self, BindingStatus};
use sigillo_store::repo::operations;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PendingOperation {
    pub id: String,
    pub kind: String,
    pub expires_at: i64,
    /// The canonical bytes (base64url) the phone shows and signs.
    pub data: String,
    /// The master key's signature over `data` (P6).
    pub signature: String,
}

impl Services {
    /// The user's pending operations, for one of their active phones.
    pub async fn pending_operations(
        &self,
        proof: &DeviceProof,
        message: &(dyn Fn(Factor) -> Vec<u8> + Sync),
        origin: &Origin,
    ) -> ServiceResult<Vec<PendingOperation>> {
        let ctx = self.authenticate_device(proof, Need::Possession, &[BindingStatus::Active], message, origin).await?;
        let mut conn = self.store.conn().await?;
        let ops = operations::pending_for_user(&mut conn, &ctx.user.id, self.now().0).await?;
        Ok(ops
            .into_iter()
            // A phone never approves itself.
            .filter(|op| op.subject.as_deref() != Some(ctx.binding.id.as_str()))
            .map(|op| PendingOperation {
                signature: b64(&self.master_key.sign(&op.data)),
                data: b64(&op.data),
                id: op.id,
                kind: op.kind,
                expires_at: op.expires_at,
            })
            .collect())
    }

    /// Approves an operation: the signatures must cover its stored bytes (P5).
    pub async fn approve_operation(&self, op_id: &str, proof: &DeviceProof, origin: &Origin) -> ServiceResult<()> {
        let op = {
            let mut conn = self.store.conn().await?;
            operations::get(&mut conn, op_id).await?.ok_or(ServiceError::NotFound)?
        };
        let binding = proof.binding.clone();
        let challenge = proof.challenge.clone();
        let data = op.data.clone();
        let message = move |f: Factor| messages::approval(f, &binding, &challenge, &data);
        let ctx = self.authenticate_device(proof, Need::TwoFactors, &[BindingStatus::Active], &message, origin).await?;
        if op.user_id != ctx.user.id || op.subject.as_deref() == Some(ctx.binding.id.as_str()) {
            return Err(ServiceError::NotFound);
        }
        let now = self.now();
        let mut tx = self.store.begin().await?;
        if !operations::decide(&mut tx, &op.id, "approved", Some(&ctx.binding.id), now.0).await? {
            return Err(ServiceError::FlowOver);
        }
        if op.kind == "device_binding" {
            if let Some(subject) = &op.subject {
                bindings::transition(
                    &mut tx,
                    subject,
                    BindingStatus::PendingApproval,
                    BindingStatus::PendingCommit,
                    now.0,
                )
                .await?;
            }
        }
        audit(
            &mut tx,
            now,
            &ctx.actor(),
            "operation.approved",
            &ctx.user.id,
            origin,
            json!({
                "operation": op.id, "kind": op.kind, "binding": ctx.binding.id,
                "factor": ctx.second_factor.map(Factor::as_str),
            }),
        )
        .await?;
        sigillo_store::commit(tx).await?;
        Ok(())
    }

    /// Rejects an operation ("non sono io"): possession is enough to say no. A rejected
    /// new phone is removed.
    pub async fn reject_operation(
        &self,
        op_id: &str,
        proof: &DeviceProof,
        message: &(dyn Fn(Factor) -> Vec<u8> + Sync),
        origin: &Origin,
    ) -> ServiceResult<()> {
        let ctx = self.authenticate_device(proof, Need::Possession, &[BindingStatus::Active], message, origin).await?;
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let op = operations::get(&mut tx, op_id).await?.ok_or(ServiceError::NotFound)?;
        if op.user_id != ctx.user.id {
            return Err(ServiceError::NotFound);
        }
        if !operations::decide(&mut tx, &op.id, "rejected", Some(&ctx.binding.id), now.0).await? {
            return Err(ServiceError::FlowOver);
        }
        let removed = match (&op.kind[..], &op.subject) {
            ("device_binding", Some(subject)) => {
                bindings::remove(&mut tx, subject, "rejected", now.0).await?.then_some(subject.clone())
            }
            _ => None,
        };
        audit(
            &mut tx,
            now,
            &ctx.actor(),
            "operation.rejected",
            &ctx.user.id,
            origin,
            json!({ "operation": op.id, "kind": op.kind, "binding": ctx.binding.id, "suspected_fraud": true }),
        )
        .await?;
        if let Some(subject) = removed {
            audit(
                &mut tx,
                now,
                &ctx.actor(),
                "device.removed",
                &ctx.user.id,
                origin,
                json!({ "binding": subject, "reason": "rejected" }),
            )
            .await?;
        }
        sigillo_store::commit(tx).await?;
        Ok(())
    }
}
