//! What branch and contact-centre operators do (`sigillo admin …`). Every change is
//! audited with the operator's name.

use super::{Actor, Origin, ServiceError, ServiceResult, Services, audit};
use crate::notify::texts;
use serde::Serialize;
use serde_json::json;
use sigillo_core::attempts::Secret;
use sigillo_core::audit::{Break, Record, Verifier};
use sigillo_core::{identity, security_code};
use sigillo_store::StoreError;
use sigillo_store::repo::users::{self, NewUser, User, UserStatus};
use sigillo_store::repo::{attempts, audit as audit_repo, sessions};

/// The branch envelope: shown once, never stored in clear.
#[derive(Debug, Serialize)]
pub struct Envelope {
    pub user_code: String,
    pub initial_password: String,
    /// The canonical 20 characters (the printed envelope groups them by five).
    pub security_code: String,
}

/// An operator's view of a user: no hashes, no secrets.
#[derive(Debug, Serialize)]
pub struct UserView {
    pub id: String,
    pub user_code: String,
    pub alias: Option<String>,
    pub status: &'static str,
    pub password_initial: bool,
    pub phone: String,
    pub phone_certified: bool,
    pub email: Option<String>,
    pub email_verified: bool,
    pub counters: Vec<CounterView>,
    pub created_at: i64,
}

#[derive(Debug, Serialize)]
pub struct CounterView {
    pub secret: &'static str,
    pub failures: u32,
    pub locks: u32,
    pub locked_until: Option<i64>,
    pub permanent: bool,
}

impl Services {
    /// A web banking user by user code or alias, or a card-portal user by UserID.
    async fn user_by_code(&self, user_code: &str) -> ServiceResult<User> {
        let mut conn = self.store.conn().await?;
        let user = if sigillo_core::identity::looks_like_portal_user_id(user_code.trim()) {
            users::portal_by_user_id(&mut conn, user_code).await?
        } else {
            users::by_username(&mut conn, user_code).await?
        };
        user.ok_or(ServiceError::NotFound)
    }

    /// Creates a user and its envelope. The user code is random; a collision draws again.
    pub async fn create_user(&self, phone: &str, email: Option<&str>, operator: &str) -> ServiceResult<Envelope> {
        let phone = identity::normalize_phone(phone).map_err(|_| ServiceError::Invalid("phone"))?;
        let email = email.map(identity::normalize_email).transpose().map_err(|_| ServiceError::Invalid("email"))?;
        let (initial_password, code) = self.new_envelope_secrets();
        let password_hash = self.hash_secret(&initial_password).await?;
        let code_hash = self.hash_secret(&code).await?;
        let now = self.now();
        for _ in 0..20 {
            let user_code = identity::generate_user_code(&mut rand::rngs::OsRng);
            let mut tx = self.store.begin().await?;
            let new = NewUser {
                user_code: &user_code,
                password_hash: &password_hash,
                security_code_hash: &code_hash,
                phone: &phone,
                email: email.as_deref(),
                status: UserStatus::MustChangePassword,
            };
            let user = match users::insert(&mut tx, &new, now.0).await {
                Ok(user) => user,
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            };
            audit(
                &mut tx,
                now,
                &Actor::Operator(operator.into()),
                "user.created",
                &user.id,
                &Origin::cli(),
                json!({
                    "user_code": user_code, "phone": identity::mask_phone(&phone),
                }),
            )
            .await?;
            sigillo_store::commit(tx).await?;
            return Ok(Envelope { user_code, initial_password, security_code: code });
        }
        Err(ServiceError::Internal(anyhow::anyhow!("no free user code after 20 draws")))
    }

    fn new_envelope_secrets(&self) -> (String, String) {
        let mut rng = rand::rngs::OsRng;
        (self.cfg.security.password.generate_initial(&mut rng), security_code::generate(&mut rng))
    }

    /// A new envelope for an existing user: new initial password and security code; the
    /// old security code stops working. A locked user stays locked until the new
    /// security code unlocks it (recovery), which proves the envelope reached its owner.
    pub async fn reissue_envelope(&self, user_code: &str, operator: &str) -> ServiceResult<Envelope> {
        let user = self.user_by_code(user_code).await?;
        let (initial_password, code) = self.new_envelope_secrets();
        let password_hash = self.hash_secret(&initial_password).await?;
        let code_hash = self.hash_secret(&code).await?;
        let now = self.now();
        let status = match user.status {
            UserStatus::Locked | UserStatus::Blocked => user.status,
            _ => UserStatus::MustChangePassword,
        };
        let mut tx = self.store.begin().await?;
        users::set_password(&mut tx, &user.id, &password_hash, true, status, now.0).await?;
        users::set_security_code(&mut tx, &user.id, &code_hash, now.0).await?;
        // The new code starts with a clean count (a lock on the old one must not bar it),
        // and so does the recovery it opens. Password and login-code locks stay: the new
        // security code lifts them through recovery.
        attempts::reset(&mut tx, &user.id, Secret::SecurityCode).await?;
        attempts::reset(&mut tx, &user.id, Secret::RecoveryOtp).await?;
        sessions::end_all_for_user(&mut tx, &user.id, "envelope_reissued", now.0).await?;
        audit(
            &mut tx,
            now,
            &Actor::Operator(operator.into()),
            "user.envelope_reissued",
            &user.id,
            &Origin::cli(),
            json!({}),
        )
        .await?;
        sigillo_store::commit(tx).await?;
        Ok(Envelope { user_code: user.user_code, initial_password, security_code: code })
    }

    /// Lifts every lock and counter of a user.
    pub async fn unlock_user(&self, user_code: &str, operator: &str) -> ServiceResult<()> {
        let user = self.user_by_code(user_code).await?;
        let now = self.now();
        let status = if user.password_initial { UserStatus::MustChangePassword } else { UserStatus::Active };
        let mut tx = self.store.begin().await?;
        attempts::reset_all(&mut tx, &user.id).await?;
        if user.status == UserStatus::Locked {
            users::set_status(&mut tx, &user.id, status, now.0).await?;
        }
        audit(
            &mut tx,
            now,
            &Actor::Operator(operator.into()),
            "user.unlocked",
            &user.id,
            &Origin::cli(),
            json!({ "by": "operator" }),
        )
        .await?;
        sigillo_store::commit(tx).await?;
        Ok(())
    }

    /// Blocks a user at the bank's request (fraud suspicion, death, closed relationship):
    /// every session ends, login and recovery are refused until an operator unblocks.
    pub async fn block_user(&self, user_code: &str, reason: &str, operator: &str) -> ServiceResult<()> {
        let user = self.user_by_code(user_code).await?;
        let now = self.now();
        let mut tx = self.store.begin().await?;
        users::set_status(&mut tx, &user.id, UserStatus::Blocked, now.0).await?;
        sessions::end_all_for_user(&mut tx, &user.id, "blocked", now.0).await?;
        audit(
            &mut tx,
            now,
            &Actor::Operator(operator.into()),
            "user.blocked",
            &user.id,
            &Origin::cli(),
            json!({ "reason": reason }),
        )
        .await?;
        sigillo_store::commit(tx).await?;
        Ok(())
    }

    /// Lifts a bank block. Locks from failed attempts are not lifted by this (see `unlock_user`).
    pub async fn unblock_user(&self, user_code: &str, operator: &str) -> ServiceResult<()> {
        let user = self.user_by_code(user_code).await?;
        if user.status != UserStatus::Blocked {
            return Err(ServiceError::Invalid("not_blocked"));
        }
        let now = self.now();
        let status = if user.password_initial { UserStatus::MustChangePassword } else { UserStatus::Active };
        let mut tx = self.store.begin().await?;
        users::set_status(&mut tx, &user.id, status, now.0).await?;
        audit(&mut tx, now, &Actor::Operator(operator.into()), "user.unblocked", &user.id, &Origin::cli(), json!({}))
            .await?;
        sigillo_store::commit(tx).await?;
        Ok(())
    }

    /// Changes the certified phone. The new number is uncertified until the customer
    /// proves it with an OTP; the old number is told, in case this is an account takeover.
    pub async fn set_phone(&self, user_code: &str, phone: &str, operator: &str) -> ServiceResult<()> {
        let user = self.user_by_code(user_code).await?;
        let phone = identity::normalize_phone(phone).map_err(|_| ServiceError::Invalid("phone"))?;
        let now = self.now();
        let mut tx = self.store.begin().await?;
        users::set_phone(&mut tx, &user.id, &phone, false, now.0).await?;
        if user.phone != phone {
            self.queue_sms(&mut tx, &user.phone, &texts::phone_changed_sms(&identity::mask_phone(&phone)), now).await?;
        }
        audit(
            &mut tx,
            now,
            &Actor::Operator(operator.into()),
            "user.phone_changed",
            &user.id,
            &Origin::cli(),
            json!({
                "from": identity::mask_phone(&user.phone), "to": identity::mask_phone(&phone),
            }),
        )
        .await?;
        sigillo_store::commit(tx).await?;
        Ok(())
    }

    /// Changes the email address; a validation link goes to the new one.
    pub async fn set_email(&self, user_code: &str, email: &str, operator: &str) -> ServiceResult<()> {
        let mut user = self.user_by_code(user_code).await?;
        let email = identity::normalize_email(email).map_err(|_| ServiceError::Invalid("email"))?;
        let now = self.now();
        let mut tx = self.store.begin().await?;
        users::set_email(&mut tx, &user.id, &email, false, now.0).await?;
        user.email = Some(email.clone());
        self.queue_email_validation(&mut tx, &user, &email).await?;
        audit(
            &mut tx,
            now,
            &Actor::Operator(operator.into()),
            "user.email_changed",
            &user.id,
            &Origin::cli(),
            json!({
                "to": identity::mask_email(&email),
            }),
        )
        .await?;
        sigillo_store::commit(tx).await?;
        Ok(())
    }

    pub async fn show_user(&self, user_code: &str) -> ServiceResult<(UserView, Vec<Record>)> {
        let user = self.user_by_code(user_code).await?;
        let mut conn = self.store.conn().await?;
        let mut counters = Vec::new();
        for secret in [Secret::Password, Secret::SmsOtp, Secret::SecurityCode, Secret::RecoveryOtp] {
            let c = attempts::get(&mut conn, &user.id, secret).await?;
            counters.push(CounterView {
                secret: secret.as_str(),
                failures: c.failures,
                locks: c.lock_count,
                locked_until: c.locked_until,
                permanent: c.permanent,
            });
        }
        let history = audit_repo::for_subject(&mut conn, &user.id, 20).await?;
        let view = UserView {
            id: user.id,
            user_code: user.user_code,
            alias: user.alias,
            status: user.status.as_str(),
            password_initial: user.password_initial,
            phone: user.phone,
            phone_certified: user.phone_certified,
            email: user.email,
            email_verified: user.email_verified,
            counters,
            created_at: user.created_at,
        };
        Ok((view, history))
    }

    /// Walks the whole audit trail. `Ok(n)`: n records, intact. `Err`: the first break.
    pub async fn verify_audit(&self) -> ServiceResult<Result<i64, Break>> {
        let mut conn = self.store.conn().await?;
        let mut verifier = Verifier::default();
        let mut after = 0;
        loop {
            let page = audit_repo::page(&mut conn, after, 1000).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for record in &page {
                if let Err(b) = verifier.push(record) {
                    return Ok(Err(b));
                }
            }
        }
        let (head_seq, head_hash) = audit_repo::head(&mut conn).await?;
        Ok(verifier.finish(head_seq, &head_hash))
    }

    pub async fn audit_tail(&self, n: i64) -> ServiceResult<Vec<Record>> {
        let mut conn = self.store.conn().await?;
        Ok(audit_repo::tail(&mut conn, n).await?)
    }

    /// Records an operator's read of a user's data (reads of personal data are audited too).
    pub async fn audit_operator_read(&self, user_id: &str, operator: &str) -> ServiceResult<()> {
        let mut tx = self.store.begin().await?;
        audit(
            &mut tx,
            self.now(),
            &Actor::Operator(operator.into()),
            "user.viewed",
            user_id,
            &Origin::cli(),
            json!({}),
        )
        .await?;
        sigillo_store::commit(tx).await?;
        Ok(())
    }

    /// A user's phones, for the contact centre (the read is audited).
    pub async fn operator_devices(
        &self,
        user_code: &str,
        operator: &str,
    ) -> ServiceResult<Vec<super::binding::DeviceView>> {
        let user = self.user_by_code(user_code).await?;
        let devices = self.list_devices(&user.id).await?;
        self.audit_operator_read(&user.id, operator).await?;
        Ok(devices)
    }

    /// Removes one of a user's phones (lost or stolen phone reported by phone or at the branch).
    pub async fn operator_remove_device(&self, user_code: &str, binding: &str, operator: &str) -> ServiceResult<()> {
        let user = self.user_by_code(user_code).await?;
        self.remove_device(&user.id, binding, &Actor::Operator(operator.into()), &Origin::cli()).await
    }

    /// Unblocks one of a user's phones; its app then asks for a new PIN.
    pub async fn operator_unblock_device(&self, user_code: &str, binding: &str, operator: &str) -> ServiceResult<()> {
        let user = self.user_by_code(user_code).await?;
        self.unblock_device(&user.id, binding, &Actor::Operator(operator.into()), &Origin::cli()).await
    }
}
