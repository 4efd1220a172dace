//! Binding a phone (PROTOCOL.md §3–§5, DESIGN flow 2): activation codes on the web,
//! activation and commit from the phone, PIN and biometry changes, removal and unblock.
//!
//! A user's first phone is bound on the strength of the web session (password + SMS
//! OTP). A further phone waits in `pending_approval` until an active phone approves it
//! (an operation showing the new phone's name and fingerprint).

use super::device_auth::{DeviceCtx, DeviceProof, Need};
use super::{Actor, Origin, ServiceError, ServiceResult, Services, audit};
use crate::notify::texts;
use serde::Serialize;
use serde_json::json;
use sigillo_core::attempts::Secret;
use sigillo_core::device::activation::{self, ActivationCode};
use sigillo_core::device::keys::{self, Factor, KeyPair};
use sigillo_core::device::messages::{self, OfferedKeys, Operation};
use sigillo_store::repo::bindings::{self, Binding, BindingStatus, NewBinding};
use sigillo_store::repo::users::{self, User};
use sigillo_store::repo::{activations, attempts, operations};
use std::time::Duration;
use zeroize::Zeroizing;

/// Issue 3: an activation code lives 10 minutes.
pub const ACTIVATION_TTL: Duration = Duration::from_secs(600);
/// How long a bound phone has to approve a new one.
pub const APPROVAL_TTL: Duration = Duration::from_secs(300);
const MAX_NAME: usize = 64;
/// Every status a phone can still ask about or give up.
const NOT_REMOVED: &[BindingStatus] =
    &[BindingStatus::PendingApproval, BindingStatus::PendingCommit, BindingStatus::Active, BindingStatus::Blocked];

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ActivationIssued {
    /// 20 characters in four groups, e.g. `7JFJM-YR1TK-M5Z49-61Z2B`.
    pub code: String,
    /// The payload of the QR code, signed by the server.
    pub qr: String,
    pub expires_at: i64,
}

/// What the phone offers at activation.
#[derive(Debug)]
pub struct ActivationRequest {
    pub code: String,
    pub device_name: String,
    pub platform: String,
    pub possession_key: Vec<u8>,
    pub knowledge_key: Vec<u8>,
    pub biometry_key: Option<Vec<u8>>,
    pub proofs: Vec<(Factor, Vec<u8>)>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Activated {
    pub binding: String,
    /// `pending_commit`, or `pending_approval` when another phone must approve first.
    pub status: &'static str,
    /// The server's ECDH public key for this binding (base64url SEC1).
    pub server_key: String,
    pub fingerprint: String,
    /// The user code, for the phone's list of users.
    pub user: String,
    /// The master key's signature over the binding, the server key and the offered keys.
    pub signature: String,
}

/// A phone as the customer and the operator see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeviceView {
    pub id: String,
    pub name: String,
    pub platform: String,
    pub status: &'static str,
    pub fingerprint: String,
    pub biometry: bool,
    pub pin_reset_required: bool,
    /// Set while the PIN is suspended after five wrong tries (the first time: RTS art. 4).
    pub suspended_until: Option<i64>,
    pub created_at: i64,
    pub committed_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

impl From<&Binding> for DeviceView {
    fn from(b: &Binding) -> Self {
        Self {
            id: b.id.clone(),
            name: b.device_name.clone(),
            platform: b.platform.clone(),
            status: b.status.as_str(),
            fingerprint: b.fingerprint.clone(),
            biometry: b.biometry_key.is_some(),
            pin_reset_required: b.pin_reset,
            suspended_until: None,
            created_at: b.created_at,
            committed_at: b.committed_at,
            last_used_at: b.last_used_at,
        }
    }
}

/// The server's answer to a new knowledge key: the server key to agree with.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyReplaced {
    pub server_key: String,
    pub signature: String,
}

fn otp_keys_aad(binding: &str) -> Vec<u8> {
    format!("bindings.otp_keys:{binding}").into_bytes()
}

fn knowledge_key_aad(binding: &str) -> Vec<u8> {
    format!("bindings.knowledge_key:{binding}").into_bytes()
}

fn check_label(value: &str, code: &'static str) -> ServiceResult<()> {
    let ok = !value.trim().is_empty() && value.chars().count() <= MAX_NAME && !value.chars().any(char::is_control);
    if ok { Ok(()) } else { Err(ServiceError::Invalid(code)) }
}

impl Services {
    /// The user's open activation code (the older ones stop working). The caller has
    /// checked that the session was made with SCA.
    pub async fn issue_activation(&self, user: &User, origin: &Origin) -> ServiceResult<ActivationIssued> {
        let now = self.now();
        let code = ActivationCode::generate(&mut rand::rngs::OsRng);
        let expires = now.plus(ACTIVATION_TTL).0;
        let mut tx = self.store.begin().await?;
        activations::cancel_open(&mut tx, &user.id).await?;
        activations::create(
            &mut tx,
            &code.lookup_id(),
            &user.id,
            &code.secret_digest(&self.activation_key),
            now.0,
            expires,
        )
        .await?;
        audit(&mut tx, now, &Actor::User(user.id.clone()), "device.activation_issued", &user.id, origin, json!({}))
            .await?;
        sigillo_store::commit(tx).await?;
        let expires_u = u64::try_from(expires).unwrap_or_default();
        Ok(ActivationIssued {
            code: code.display(),
            qr: activation::qr_payload(&code, expires_u, &self.master_key),
            expires_at: expires,
        })
    }

    /// The phone's activation: checks the code (5 tries), the keys and their proofs,
    /// agrees the OTP keys and creates the binding.
    pub async fn activate_device(&self, req: &ActivationRequest, origin: &Origin) -> ServiceResult<Activated> {
        let code = ActivationCode::parse(&req.code).map_err(|_| ServiceError::Invalid("activation_code_format"))?;
        check_label(&req.device_name, "device_name")?;
        check_label(&req.platform, "platform")?;
        let offered = OfferedKeys {
            possession: &req.possession_key,
            knowledge: &req.knowledge_key,
            biometry: req.biometry_key.as_deref(),
        };
        for key in [Some(offered.possession), Some(offered.knowledge), offered.biometry].into_iter().flatten() {
            keys::check_public_key(key).map_err(|_| ServiceError::Invalid("public_key"))?;
        }
        // Each offered key proves its private half over the whole offer.
        let display = code.display();
        let expected = [
            Some((Factor::Possession, offered.possession)),
            Some((Factor::Knowledge, offered.knowledge)),
            offered.biometry.map(|k| (Factor::Biometry, k)),
        ];
        for (factor, key) in expected.into_iter().flatten() {
            let message = messages::activation_proof(factor, &display, &req.device_name, &req.platform, &offered);
            let proven = req.proofs.iter().any(|(f, sig)| *f == factor && keys::verify(key, &message, sig));
            if !proven {
                return Err(ServiceError::Invalid("key_proof"));
            }
        }

        let now = self.now();
        let limit = i64::from(self.cfg.security.lockout.limit());
        let reserved = {
            let mut conn = self.store.conn().await?;
            activations::reserve_try(&mut conn, &code.lookup_id(), limit, now.0).await?
        };
        let Some(activation) = reserved else {
            self.activation_failed(None, "unknown_or_closed", origin).await?;
            return Err(ServiceError::AuthFailed);
        };
        let expected_digest = code.secret_digest(&self.activation_key);
        if !messages::confirmation_matches(
            &<[u8; 32]>::try_from(expected_digest.as_slice()).map_err(|_| anyhow::anyhow!("digest length"))?,
            &activation.secret_digest,
        ) {
            let last = activation.failures >= limit;
            if last {
                let mut conn = self.store.conn().await?;
                activations::fail(&mut conn, &activation.id).await?;
            }
            self.activation_failed(Some(&activation.user_id), if last { "code_blocked" } else { "wrong_code" }, origin)
                .await?;
            return Err(ServiceError::AuthFailed);
        }

        let binding_id = sigillo_store::new_id();
        let server = KeyPair::generate(&mut rand::rngs::OsRng);
        let server_key = server.public_key();
        let otp_keys = {
            let kp = keys::factor_otp_key(
                &*server.agree(offered.possession).map_err(|_| ServiceError::Invalid("public_key"))?,
                &binding_id,
                Factor::Possession,
            );
            let kk = keys::factor_otp_key(
                &*server.agree(offered.knowledge).map_err(|_| ServiceError::Invalid("public_key"))?,
                &binding_id,
                Factor::Knowledge,
            );
            let mut both = Zeroizing::new(Vec::with_capacity(64));
            both.extend_from_slice(kp.as_ref());
            both.extend_from_slice(kk.as_ref());
            self.kek().seal(&otp_keys_aad(&binding_id), &both, &mut rand::rngs::OsRng)
        };
        drop(server);
        let fingerprint = keys::fingerprint(offered.possession, &server_key);
        let sealed_knowledge = self.seal_knowledge_key(&binding_id, offered.knowledge);

        let mut tx = self.store.begin().await?;
        if !activations::consume(&mut tx, &activation.id, &binding_id, now.0).await? {
            return Err(ServiceError::AuthFailed);
        }
        let user = users::by_id(&mut tx, &activation.user_id).await?.ok_or(ServiceError::AuthFailed)?;
        let needs_approval = bindings::count_active(&mut tx, &user.id).await? > 0;
        let status = if needs_approval { BindingStatus::PendingApproval } else { BindingStatus::PendingCommit };
        bindings::create(
            &mut tx,
            &NewBinding {
                id: &binding_id,
                user_id: &user.id,
                status,
                device_name: req.device_name.trim(),
                platform: req.platform.trim(),
                possession_key: offered.possession,
                knowledge_key: &sealed_knowledge,
                biometry_key: offered.biometry,
                server_key: &server_key,
                otp_keys: &otp_keys,
                fingerprint: &fingerprint,
            },
            now.0,
        )
        .await?;
        if needs_approval {
            let op_id = sigillo_store::new_id();
            let expires = now.plus(APPROVAL_TTL).0;
            let op = Operation {
                id: op_id.clone(),
                kind: "device_binding".into(),
                expires_at_ms: u64::try_from(expires).unwrap_or_default(),
                fields: vec![
                    ("device".into(), req.device_name.trim().to_owned()),
                    ("platform".into(), req.platform.trim().to_owned()),
                    ("fingerprint".into(), fingerprint.clone()),
                ],
            };
            operations::create(
                &mut tx,
                &operations::NewOperation {
                    id: &op_id,
                    user_id: &user.id,
                    kind: "device_binding",
                    subject: Some(&binding_id),
                    data: &op.encode(),
                    expires_at: expires,
                    requested_by: Some("customer"),
                    ..operations::NewOperation::default()
                },
                now.0,
            )
            .await?;
        }
        audit(
            &mut tx,
            now,
            &Actor::User(user.id.clone()),
            "device.activated",
            &user.id,
            origin,
            json!({
                "binding": binding_id, "status": status.as_str(), "platform": req.platform.trim(),
                "biometry": offered.biometry.is_some(),
            }),
        )
        .await?;
        sigillo_store::commit(tx).await?;
        let signature = self.master_key.sign(&messages::activation_answer(&binding_id, &server_key, &offered));
        Ok(Activated {
            binding: binding_id,
            status: status.as_str(),
            server_key: sigillo_core::device::b64(&server_key),
            fingerprint,
            user: user.user_code.clone(),
            signature: sigillo_core::device::b64(&signature),
        })
    }

    async fn activation_failed(&self, user_id: Option<&str>, reason: &str, origin: &Origin) -> ServiceResult<()> {
        self.metrics.auth_failures.with_label_values(&["activation_code"]).inc();
        let mut tx = self.store.begin().await?;
        audit(
            &mut tx,
            self.now(),
            &Actor::Anonymous,
            "device.activation_failed",
            user_id.unwrap_or_default(),
            origin,
            json!({ "reason": reason }),
        )
        .await?;
        sigillo_store::commit(tx).await?;
        Ok(())
    }

    /// The phone confirms it stored the binding: possession + PIN signatures and a MAC
    /// under each OTP key prove it derived the same keys (PROTOCOL.md §4.3).
    pub async fn commit_binding(
        &self,
        proof: &DeviceProof,
        message: &(dyn Fn(Factor) -> Vec<u8> + Sync),
        confirmations: &[(Factor, Vec<u8>)],
        origin: &Origin,
    ) -> ServiceResult<DeviceView> {
        // Too late is refused before the PIN is counted.
        let stale = {
            let mut conn = self.store.conn().await?;
            bindings::get(&mut conn, &proof.binding).await?.filter(|b| b.created_at < self.unfinished_cutoff())
        };
        if let Some(stale) = stale {
            self.expire_unfinished(&stale.user_id).await?;
            return Err(ServiceError::AuthFailed);
        }
        let ctx =
            self.authenticate_device(proof, Need::Knowledge, &[BindingStatus::PendingCommit], message, origin).await?;
        let b = &ctx.binding;
        let otp = self.open_otp_keys(b)?;
        for (i, factor) in [Factor::Possession, Factor::Knowledge].into_iter().enumerate() {
            let mut key = Zeroizing::new([0u8; 32]);
            key.copy_from_slice(&otp[i * 32..(i + 1) * 32]);
            let expected = messages::key_confirmation(&key, &b.id, factor);
            let ok =
                confirmations.iter().any(|(f, mac)| *f == factor && messages::confirmation_matches(&expected, mac));
            if !ok {
                return Err(ServiceError::Invalid("key_confirmation"));
            }
        }
        let now = self.now();
        let mut tx = self.store.begin().await?;
        if !bindings::transition(&mut tx, &b.id, BindingStatus::PendingCommit, BindingStatus::Active, now.0).await? {
            return Err(ServiceError::AuthFailed);
        }
        self.queue_sms(&mut tx, &ctx.user.phone, &texts::device_bound_sms(&b.device_name), now).await?;
        audit(&mut tx, now, &ctx.actor(), "device.committed", &ctx.user.id, origin, json!({ "binding": b.id })).await?;
        sigillo_store::commit(tx).await?;
        let mut conn = self.store.conn().await?;
        let fresh = bindings::get(&mut conn, &b.id).await?.ok_or(ServiceError::NotFound)?;
        Ok(DeviceView::from(&fresh))
    }

    /// The knowledge public key is sealed under the KEK like a secret, although it is
    /// public: with a copy of the phone's storage it would let PINs be tested offline
    /// (PROTOCOL.md §1.4), so a database copy alone must not hold it in clear.
    fn seal_knowledge_key(&self, binding: &str, key: &[u8]) -> Vec<u8> {
        self.kek().seal(&knowledge_key_aad(binding), key, &mut rand::rngs::OsRng)
    }

    pub(crate) fn open_knowledge_key(&self, b: &Binding) -> ServiceResult<Vec<u8>> {
        let key = self
            .kek()
            .open(&knowledge_key_aad(&b.id), &b.knowledge_key)
            .map_err(|e| anyhow::anyhow!("knowledge key: {e}"))?;
        Ok(key.to_vec())
    }

    /// The binding's sealed OTP keys, K_possession || K_knowledge.
    pub(crate) fn open_otp_keys(&self, b: &Binding) -> ServiceResult<Zeroizing<Vec<u8>>> {
        let keys = self.kek().open(&otp_keys_aad(&b.id), &b.otp_keys).map_err(|e| anyhow::anyhow!("otp keys: {e}"))?;
        if keys.len() != 64 {
            return Err(anyhow::anyhow!("otp keys have the wrong length").into());
        }
        Ok(keys)
    }

    /// A new knowledge key: after a PIN change (proved with the old PIN) or, after an
    /// unblock, a PIN reset (possession alone, once). The server answers with a fresh
    /// ECDH key, so the knowledge OTP key changes with the PIN.
    pub async fn replace_knowledge_key(
        &self,
        proof: &DeviceProof,
        message: &(dyn Fn(Factor) -> Vec<u8> + Sync),
        new_key: &[u8],
        new_key_proof: &[u8],
        origin: &Origin,
    ) -> ServiceResult<KeyReplaced> {
        keys::check_public_key(new_key).map_err(|_| ServiceError::Invalid("public_key"))?;
        if !keys::verify(new_key, &messages::new_key_proof(Factor::Knowledge, &proof.binding, new_key), new_key_proof) {
            return Err(ServiceError::Invalid("key_proof"));
        }
        let pin_reset = {
            let mut conn = self.store.conn().await?;
            bindings::get(&mut conn, &proof.binding).await?.is_some_and(|b| b.pin_reset)
        };
        let need = if pin_reset { Need::Possession } else { Need::Knowledge };
        let ctx = self.authenticate_device(proof, need, &[BindingStatus::Active], message, origin).await?;
        if ctx.binding.pin_reset != pin_reset {
            return Err(ServiceError::AuthFailed);
        }
        let server = KeyPair::generate(&mut rand::rngs::OsRng);
        let server_key = server.public_key();
        let kk = keys::factor_otp_key(
            &*server.agree(new_key).map_err(|_| ServiceError::Invalid("public_key"))?,
            &ctx.binding.id,
            Factor::Knowledge,
        );
        drop(server);
        let mut both = self.open_otp_keys(&ctx.binding)?;
        both[32..].copy_from_slice(kk.as_ref());
        let sealed = self.kek().seal(&otp_keys_aad(&ctx.binding.id), &both, &mut rand::rngs::OsRng);
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let sealed_knowledge = self.seal_knowledge_key(&ctx.binding.id, new_key);
        if !bindings::replace_knowledge_key(&mut tx, &ctx.binding.id, &sealed_knowledge, &server_key, &sealed).await? {
            return Err(ServiceError::AuthFailed);
        }
        attempts::reset(&mut tx, &ctx.binding.id, Secret::Binding).await?;
        let action = if pin_reset { "device.pin_reset" } else { "device.pin_changed" };
        audit(&mut tx, now, &ctx.actor(), action, &ctx.user.id, origin, json!({ "binding": ctx.binding.id })).await?;
        sigillo_store::commit(tx).await?;
        let signature =
            self.master_key.sign(&messages::new_key_answer(Factor::Knowledge, &ctx.binding.id, new_key, &server_key));
        Ok(KeyReplaced {
            server_key: sigillo_core::device::b64(&server_key),
            signature: sigillo_core::device::b64(&signature),
        })
    }

    /// Biometry on: a new biometry key, proved with possession and the PIN.
    pub async fn enrol_biometry(
        &self,
        proof: &DeviceProof,
        message: &(dyn Fn(Factor) -> Vec<u8> + Sync),
        new_key: &[u8],
        new_key_proof: &[u8],
        origin: &Origin,
    ) -> ServiceResult<()> {
        keys::check_public_key(new_key).map_err(|_| ServiceError::Invalid("public_key"))?;
        if !keys::verify(new_key, &messages::new_key_proof(Factor::Biometry, &proof.binding, new_key), new_key_proof) {
            return Err(ServiceError::Invalid("key_proof"));
        }
        let ctx = self.authenticate_device(proof, Need::Knowledge, &[BindingStatus::Active], message, origin).await?;
        self.set_biometry(&ctx, Some(new_key), "device.biometry_enrolled", origin).await
    }

    /// Biometry off: possession is enough to give up a factor.
    pub async fn revoke_biometry(
        &self,
        proof: &DeviceProof,
        message: &(dyn Fn(Factor) -> Vec<u8> + Sync),
        origin: &Origin,
    ) -> ServiceResult<()> {
        let ctx = self.authenticate_device(proof, Need::Possession, &[BindingStatus::Active], message, origin).await?;
        self.set_biometry(&ctx, None, "device.biometry_revoked", origin).await
    }

    async fn set_biometry(
        &self,
        ctx: &DeviceCtx,
        key: Option<&[u8]>,
        action: &str,
        origin: &Origin,
    ) -> ServiceResult<()> {
        let now = self.now();
        let mut tx = self.store.begin().await?;
        if !bindings::set_biometry_key(&mut tx, &ctx.binding.id, key).await? {
            return Err(ServiceError::AuthFailed);
        }
        audit(&mut tx, now, &ctx.actor(), action, &ctx.user.id, origin, json!({ "binding": ctx.binding.id })).await?;
        sigillo_store::commit(tx).await?;
        Ok(())
    }

    /// The binding as its phone sees it.
    pub async fn device_status(
        &self,
        proof: &DeviceProof,
        message: &(dyn Fn(Factor) -> Vec<u8> + Sync),
        origin: &Origin,
    ) -> ServiceResult<DeviceView> {
        let ctx = self.authenticate_device(proof, Need::Possession, NOT_REMOVED, message, origin).await?;
        let mut view = DeviceView::from(&ctx.binding);
        let mut conn = self.store.conn().await?;
        let counter = attempts::get(&mut conn, &ctx.binding.id, Secret::Binding).await?;
        view.suspended_until = counter.locked_until.filter(|&t| t > self.now().0);
        Ok(view)
    }

    /// The phone removes itself (possession is enough to give up a binding).
    pub async fn remove_own_binding(
        &self,
        proof: &DeviceProof,
        message: &(dyn Fn(Factor) -> Vec<u8> + Sync),
        origin: &Origin,
    ) -> ServiceResult<()> {
        let ctx = self.authenticate_device(proof, Need::Possession, NOT_REMOVED, message, origin).await?;
        self.remove_binding_in(&ctx.binding, &ctx.actor(), "removed_on_device", origin).await
    }

    /// Registers where push notifications for this binding go (delivered from issue 4 on).
    pub async fn set_push_token(
        &self,
        proof: &DeviceProof,
        message: &(dyn Fn(Factor) -> Vec<u8> + Sync),
        provider: &str,
        push_token: &str,
        origin: &Origin,
    ) -> ServiceResult<()> {
        if !matches!(provider, "apns" | "fcm") {
            return Err(ServiceError::Invalid("push_provider"));
        }
        if push_token.is_empty() || push_token.len() > 4096 || !push_token.chars().all(|c| c.is_ascii_graphic()) {
            return Err(ServiceError::Invalid("push_token"));
        }
        let ctx = self.authenticate_device(proof, Need::Possession, &[BindingStatus::Active], message, origin).await?;
        let now = self.now();
        let mut tx = self.store.begin().await?;
        bindings::set_push_token(&mut tx, &ctx.binding.id, provider, push_token).await?;
        audit(
            &mut tx,
            now,
            &ctx.actor(),
            "device.push_registered",
            &ctx.user.id,
            origin,
            json!({ "binding": ctx.binding.id, "provider": provider }),
        )
        .await?;
        sigillo_store::commit(tx).await?;
        Ok(())
    }

    /// Marks whether this binding is the phone's primary user (who gets the push).
    pub async fn set_primary(
        &self,
        proof: &DeviceProof,
        message: &(dyn Fn(Factor) -> Vec<u8> + Sync),
        primary: bool,
        origin: &Origin,
    ) -> ServiceResult<()> {
        let ctx = self.authenticate_device(proof, Need::Possession, &[BindingStatus::Active], message, origin).await?;
        let mut tx = self.store.begin().await?;
        bindings::set_primary(&mut tx, &ctx.binding.id, primary).await?;
        audit(
            &mut tx,
            self.now(),
            &ctx.actor(),
            "device.primary_set",
            &ctx.user.id,
            origin,
            json!({ "binding": ctx.binding.id, "primary": primary }),
        )
        .await?;
        sigillo_store::commit(tx).await?;
        Ok(())
    }

    /// In-app login (DESIGN flow 5): possession + PIN or biometry gives an app session.
    pub async fn app_login(
        &self,
        proof: &DeviceProof,
        message: &(dyn Fn(Factor) -> Vec<u8> + Sync),
        origin: &Origin,
    ) -> ServiceResult<super::login::Grant> {
        let ctx = self.authenticate_device(proof, Need::TwoFactors, &[BindingStatus::Active], message, origin).await?;
        if matches!(ctx.user.status, users::UserStatus::Locked | users::UserStatus::Blocked) {
            return Err(ServiceError::AuthFailed);
        }
        let mut tx = self.store.begin().await?;
        let app_origin = Origin { channel: "app", ip: origin.ip };
        let grant = self.open_session(&mut tx, &ctx.user, &app_origin).await?;
        sigillo_store::commit(tx).await?;
        Ok(grant)
    }

    /// The user's phones, for the web page and the API.
    pub async fn list_devices(&self, user_id: &str) -> ServiceResult<Vec<DeviceView>> {
        let now = self.now().0;
        self.expire_unfinished(user_id).await?;
        let mut conn = self.store.conn().await?;
        let mut out = Vec::new();
        for b in bindings::for_user(&mut conn, user_id).await? {
            let mut view = DeviceView::from(&b);
            let counter = attempts::get(&mut conn, &b.id, Secret::Binding).await?;
            view.suspended_until = counter.locked_until.filter(|&t| t > now);
            out.push(view);
        }
        Ok(out)
    }

    /// The customer (web, API) or an operator removes one of the user's phones.
    pub async fn remove_device(
        &self,
        user_id: &str,
        binding_id: &str,
        actor: &Actor,
        origin: &Origin,
    ) -> ServiceResult<()> {
        let binding = self.owned_binding(user_id, binding_id).await?;
        self.remove_binding_in(&binding, actor, "removed", origin).await
    }

    async fn remove_binding_in(&self, b: &Binding, actor: &Actor, reason: &str, origin: &Origin) -> ServiceResult<()> {
        let now = self.now();
        let mut tx = self.store.begin().await?;
        if !bindings::remove(&mut tx, &b.id, reason, now.0).await? {
            return Err(ServiceError::NotFound);
        }
        operations::cancel_for_subject(&mut tx, &b.id, now.0).await?;
        if matches!(b.status, BindingStatus::Active | BindingStatus::Blocked) {
            if let Some(user) = users::by_id(&mut tx, &b.user_id).await? {
                self.queue_sms(&mut tx, &user.phone, &texts::device_removed_sms(&b.device_name), now).await?;
            }
        }
        audit(&mut tx, now, actor, "device.removed", &b.user_id, origin, json!({ "binding": b.id, "reason": reason }))
            .await?;
        sigillo_store::commit(tx).await?;
        Ok(())
    }

    /// Unblocks a blocked phone (web with password + SMS OTP, or an operator); its app
    /// must then set a new PIN before the binding approves anything with one.
    pub async fn unblock_device(
        &self,
        user_id: &str,
        binding_id: &str,
        actor: &Actor,
        origin: &Origin,
    ) -> ServiceResult<()> {
        let binding = self.owned_binding(user_id, binding_id).await?;
        let now = self.now();
        let mut tx = self.store.begin().await?;
        if !bindings::unblock(&mut tx, &binding.id).await? {
            return Err(ServiceError::Invalid("device_not_blocked"));
        }
        attempts::reset(&mut tx, &binding.id, Secret::Binding).await?;
        if let Some(user) = users::by_id(&mut tx, user_id).await? {
            self.queue_sms(&mut tx, &user.phone, &texts::device_unblocked_sms(&binding.device_name), now).await?;
        }
        audit(&mut tx, now, actor, "device.unblocked", user_id, origin, json!({ "binding": binding.id })).await?;
        sigillo_store::commit(tx).await?;
        Ok(())
    }

    /// Bindings created before this instant and still unfinished have expired.
    fn unfinished_cutoff(&self) -> i64 {
        self.now().0 - i64::try_from((ACTIVATION_TTL + APPROVAL_TTL).as_millis()).unwrap_or(i64::MAX)
    }

    /// Removes the user's new phones that were never approved or committed in time, with
    /// an audit record for each.
    async fn expire_unfinished(&self, user_id: &str) -> ServiceResult<()> {
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let expired = bindings::expire_unfinished(&mut tx, user_id, self.unfinished_cutoff(), now.0).await?;
        for binding in &expired {
            operations::cancel_for_subject(&mut tx, binding, now.0).await?;
        }
        for binding in &expired {
            audit(
                &mut tx,
                now,
                &Actor::System,
                "device.removed",
                user_id,
                &Origin::internal(),
                json!({ "binding": binding, "reason": "expired" }),
            )
            .await?;
        }
        sigillo_store::commit(tx).await?;
        Ok(())
    }

    async fn owned_binding(&self, user_id: &str, binding_id: &str) -> ServiceResult<Binding> {
        let mut conn = self.store.conn().await?;
        match bindings::get(&mut conn, binding_id).await? {
            Some(b) if b.user_id == user_id && b.status != BindingStatus::Removed => Ok(b),
            _ => Err(ServiceError::NotFound),
        }
    }
}
