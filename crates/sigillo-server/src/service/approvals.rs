//! Approvals on a bound phone (P3, P5, P6): the phone lists the user's pending
//! operations — the canonical bytes and the master key's signature over them, which the
//! app checks before it shows anything — and approves one by signing those bytes with a
//! fresh challenge, or rejects it. Kinds: `device_binding` (a new phone waiting for an
//! active one), `login` (with number matching: the phone signs the number the customer
//! picked too), and payments (`payment.*`).

use super::device_auth::{DeviceProof, Need};
use super::{Origin, ServiceError, ServiceResult, Services, audit};
use serde::Serialize;
use serde_json::json;
use sigillo_core::device::b64;
use sigillo_core::device::keys::Factor;
use sigillo_core::device::messages;
use sigillo_store::repo::bindings::{self, BindingStatus};
use sigillo_store::repo::{flows, operations};

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
        let ops = self.pending_for_phone(&ctx.user.id, &ctx.binding.id).await?;
        Ok(ops
            .into_iter()
            .map(|op| PendingOperation {
                signature: b64(&self.master_key.sign(&op.data)),
                data: b64(&op.data),
                id: op.id,
                kind: op.kind,
                expires_at: op.expires_at,
            })
            .collect())
    }

    /// Authenticates a phone that opens its event stream (possession, active binding).
    pub async fn authenticate_listener(
        &self,
        proof: &DeviceProof,
        message: &(dyn Fn(Factor) -> Vec<u8> + Sync),
        origin: &Origin,
    ) -> ServiceResult<super::device_auth::DeviceCtx> {
        self.authenticate_device(proof, Need::Possession, &[BindingStatus::Active], message, origin).await
    }

    /// The ids of what a phone may approve now, oldest first.
    pub async fn pending_ids(&self, user_id: &str, binding_id: &str) -> ServiceResult<Vec<String>> {
        Ok(self.pending_for_phone(user_id, binding_id).await?.into_iter().map(|op| op.id).collect())
    }

    /// The user's pending operations a phone may approve: a phone never approves itself.
    async fn pending_for_phone(&self, user_id: &str, binding_id: &str) -> ServiceResult<Vec<operations::Operation>> {
        let mut conn = self.store.conn().await?;
        let ops = operations::pending_for_user(&mut conn, user_id, self.now().0).await?;
        Ok(ops.into_iter().filter(|op| op.subject.as_deref() != Some(binding_id)).collect())
    }

    /// Approves an operation: the signatures must cover its stored bytes (P5) and, for a
    /// login, the number the customer picked, which must be the one the web page shows.
    pub async fn approve_operation(
        &self,
        op_id: &str,
        proof: &DeviceProof,
        answer: Option<&str>,
        origin: &Origin,
    ) -> ServiceResult<()> {
        let op = {
            let mut conn = self.store.conn().await?;
            operations::get(&mut conn, op_id).await?.ok_or(ServiceError::NotFound)?
        };
        let binding = proof.binding.clone();
        let challenge = proof.challenge.clone();
        let data = op.data.clone();
        let expected = op.match_number;
        let answer = match (expected, answer) {
            (Some(_), Some(a)) => Some(a.to_owned()),
            (Some(_), None) => return Err(ServiceError::Invalid("answer_required")),
            (None, _) => None,
        };
        let signed_answer = answer.clone();
        let message = move |f: Factor| match &signed_answer {
            Some(a) => messages::approval_with_answer(f, &binding, &challenge, &data, a),
            None => messages::approval(f, &binding, &challenge, &data),
        };
        let ctx = self.authenticate_device(proof, Need::TwoFactors, &[BindingStatus::Active], &message, origin).await?;
        if op.user_id != ctx.user.id || op.subject.as_deref() == Some(ctx.binding.id.as_str()) {
            return Err(ServiceError::NotFound);
        }
        let now = self.now();
        let matched = match (expected, &answer) {
            // The canonical decimal only ("47", not "047"): one answer, one spelling.
            (Some(n), Some(a)) => *a == n.to_string(),
            _ => true,
        };
        if !matched {
            return self.wrong_number(&op, &ctx, origin).await;
        }
        let mut tx = self.store.begin().await?;
        if !operations::decide(&mut tx, &op.id, "approved", Some(&ctx.binding.id), Some("push"), now.0).await? {
            return Err(ServiceError::FlowOver);
        }
        if let Some(flow) = &op.flow_id {
            flows::transition(&mut tx, flow, "pending", "approved", now.0).await?;
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
        self.operation_changed(&op).await;
        Ok(())
    }

    /// Number matching failed: the customer is approving a login they cannot see, so it
    /// is refused and marked as suspected fraud (the phone says so).
    async fn wrong_number(
        &self,
        op: &operations::Operation,
        ctx: &super::device_auth::DeviceCtx,
        origin: &Origin,
    ) -> ServiceResult<()> {
        let now = self.now();
        let mut tx = self.store.begin().await?;
        if !operations::decide(&mut tx, &op.id, "failed", Some(&ctx.binding.id), Some("push"), now.0).await? {
            return Err(ServiceError::FlowOver);
        }
        if let Some(flow) = &op.flow_id {
            flows::transition(&mut tx, flow, "pending", "rejected", now.0).await?;
        }
        audit(
            &mut tx,
            now,
            &ctx.actor(),
            "operation.number_mismatch",
            &ctx.user.id,
            origin,
            json!({ "operation": op.id, "kind": op.kind, "binding": ctx.binding.id, "suspected_fraud": true }),
        )
        .await?;
        sigillo_store::commit(tx).await?;
        self.operation_changed(op).await;
        Err(ServiceError::WrongNumber)
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
        if !operations::decide(&mut tx, &op.id, "rejected", Some(&ctx.binding.id), Some("push"), now.0).await? {
            return Err(ServiceError::FlowOver);
        }
        if let Some(flow) = &op.flow_id {
            flows::transition(&mut tx, flow, "pending", "rejected", now.0).await?;
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
        self.operation_changed(&op).await;
        Ok(())
    }
}
