//! Payment cards and their Key6 (issue 5; DESIGN flows 8 and 9).
//!
//! The PAN is sealed under the key-encryption key and found again through a keyed digest
//! (P7): nothing but the last four digits ever reaches a page, a log line or the audit
//! trail. Key6 is sealed too, not hashed, because the holder may view it. Viewing and
//! unlocking it need a fresh SCA: an operation about the card, approved on the phone or
//! with an SMS OTP, good for one view or one unlock.

use super::{Actor, Origin, ServiceError, ServiceResult, Services, audit};
use crate::events::Topic;
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::json;
use sha2::Sha256;
use sigillo_core::attempts::Secret;
use sigillo_core::device::messages::Operation as OperationData;
use sigillo_core::identity;
use sigillo_core::threeds::messages::{Pan, luhn_valid};
use sigillo_core::time::UnixMillis;
use sigillo_store::repo::cards::{self, Card, NewCard};
use sigillo_store::repo::operations::{self, NewOperation};
use sigillo_store::repo::{attempts, users};
use std::time::Duration;
use zeroize::Zeroizing;

/// Card brands sigillo's ACS serves.
pub const BRANDS: [&str; 2] = ["visa", "mastercard"];
/// Card kinds.
pub const KINDS: [&str; 3] = ["debit", "credit", "prepaid"];
/// How long an approval made to view or unlock a Key6 may be used.
const KEY6_SCA_WINDOW: Duration = Duration::from_secs(120);

/// What an operator or the holder sees of a card: never more than the last four digits.
#[derive(Clone, Debug, Serialize)]
pub struct CardView {
    pub card_id: String,
    pub last4: String,
    pub brand: String,
    pub kind: String,
    pub corporate: bool,
    /// The holder's user code, if the holder has web banking or a portal UserID.
    pub holder: Option<String>,
    /// The 3-D Secure phone, masked.
    pub phone: String,
    pub enrolled: bool,
    pub key6_set: bool,
    pub key6_blocked: bool,
    /// Wrong card data or registration codes locked the card's portal registration.
    pub portal_locked: bool,
}

/// A card as the bank issues it (`sigillo admin card create|import`).
#[derive(Clone, Debug)]
pub struct CardRequest<'a> {
    pub pan: &'a str,
    pub brand: &'a str,
    pub kind: &'a str,
    pub holder_user_code: Option<&'a str>,
    pub phone: &'a str,
    pub corporate: bool,
    /// `YYMM`.
    pub expiry: Option<&'a str>,
}

/// What a Key6 SCA operation is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key6Action {
    View,
    Unlock,
}

impl Key6Action {
    pub fn kind(self) -> &'static str {
        match self {
            Self::View => "key6_view",
            Self::Unlock => "key6_unlock",
        }
    }
}

impl Services {
    /// The keyed digest that finds a card from a PAN (HMAC-SHA256 under a key derived
    /// from the key-encryption key): a stolen database alone does not map digests to PANs.
    pub(crate) fn pan_lookup(&self, pan: &str) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.pan_key.as_slice()).unwrap_or_else(|_| unreachable!());
        mac.update(pan.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Issues a card: checks the PAN (Luhn, the brand's prefixes), seals it, and audits
    /// the last four digits only.
    pub async fn create_card(&self, req: &CardRequest<'_>, actor: &Actor, origin: &Origin) -> ServiceResult<CardView> {
        let pan = check_pan(req.pan, req.brand)?;
        if !KINDS.contains(&req.kind) {
            return Err(ServiceError::Invalid("card_kind"));
        }
        if let Some(expiry) = req.expiry {
            let ok = expiry.len() == 4
                && expiry.bytes().all(|b| b.is_ascii_digit())
                && (1..=12).contains(&expiry[2..].parse::<u8>().unwrap_or(0));
            if !ok {
                return Err(ServiceError::Invalid("card_expiry"));
            }
        }
        let phone = identity::normalize_phone(req.phone).map_err(|_| ServiceError::Invalid("phone"))?;
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let holder = match req.holder_user_code {
            Some(code) => Some(users::by_username(&mut tx, code).await?.ok_or(ServiceError::NotFound)?),
            None => None,
        };
        let id = sigillo_store::new_id();
        let lookup = self.pan_lookup(pan.expose());
        let sealed = self.kek.seal(pan_aad(&id).as_bytes(), pan.expose().as_bytes(), &mut rand::rngs::OsRng);
        let new = NewCard {
            id: &id,
            pan_lookup: &lookup,
            pan_sealed: &sealed,
            last4: pan.last_four(),
            brand: req.brand,
            kind: req.kind,
            corporate: req.corporate,
            holder_user_id: holder.as_ref().map(|u| u.id.as_str()),
            phone: &phone,
            expiry: req.expiry,
        };
        cards::insert(&mut tx, &new, now.0).await?;
        audit(
            &mut tx,
            now,
            actor,
            "card.created",
            &id,
            origin,
            json!({
                "last4": pan.last_four(), "brand": req.brand, "kind": req.kind, "corporate": req.corporate,
                "holder": holder.as_ref().map(|u| u.id.clone()), "phone": identity::mask_phone(&phone),
            }),
        )
        .await?;
        sigillo_store::commit(tx).await?;
        self.card_view(&id).await
    }

    /// A card by id, as operators and holders see it.
    pub async fn card_view(&self, card_id: &str) -> ServiceResult<CardView> {
        let mut conn = self.store.conn().await?;
        let card = cards::get(&mut conn, card_id).await?.ok_or(ServiceError::NotFound)?;
        self.view_of(&mut conn, card).await
    }

    /// The card with this PAN (operators look cards up by number; it is never echoed).
    pub async fn card_by_pan(&self, pan: &str) -> ServiceResult<CardView> {
        let lookup = self.pan_lookup(pan.trim());
        let mut conn = self.store.conn().await?;
        let card = cards::by_pan_lookup(&mut conn, &lookup).await?.ok_or(ServiceError::NotFound)?;
        self.view_of(&mut conn, card).await
    }

    /// The cards a user holds (personal and corporate ones: a corporate card's Key6 is
    /// managed from its holder's personal login).
    pub async fn cards_of(&self, user_id: &str) -> ServiceResult<Vec<CardView>> {
        let mut conn = self.store.conn().await?;
        let held = cards::for_holder(&mut conn, user_id).await?;
        let mut views = Vec::with_capacity(held.len());
        for card in held {
            views.push(self.view_of(&mut conn, card).await?);
        }
        Ok(views)
    }

    /// What a loaded card shows: its holder's user code and whether its Key6 is blocked.
    async fn view_of(&self, conn: &mut sigillo_store::Conn, card: Card) -> ServiceResult<CardView> {
        let holder = match &card.holder_user_id {
            Some(id) => users::by_id(conn, id).await?.map(|u| u.user_code),
            None => None,
        };
        let counter = attempts::get(conn, &card.id, Secret::Key6).await?;
        let card_data = attempts::get(conn, &card.id, Secret::CardData).await?;
        Ok(CardView {
            card_id: card.id,
            last4: card.last4,
            brand: card.brand,
            kind: card.kind,
            corporate: card.corporate,
            holder,
            phone: identity::mask_phone(&card.phone),
            enrolled: card.enrolled,
            key6_set: card.key6_sealed.is_some(),
            key6_blocked: counter.is_locked(self.now().0),
            portal_locked: card_data.is_locked(self.now().0),
        })
    }

    /// An operator lifts the lock on a card's portal registration (`card unlock-portal`).
    pub async fn unlock_card_data(&self, card_id: &str, actor: &Actor, origin: &Origin) -> ServiceResult<CardView> {
        let now = self.now();
        let mut tx = self.store.begin().await?;
        cards::get(&mut tx, card_id).await?.ok_or(ServiceError::NotFound)?;
        attempts::reset(&mut tx, card_id, Secret::CardData).await?;
        audit(&mut tx, now, actor, "card_data.unlocked", card_id, origin, json!({})).await?;
        sigillo_store::commit(tx).await?;
        self.card_view(card_id).await
    }

    /// An operator looked at a card (audited like a look at a user).
    pub async fn audit_operator_card_read(&self, card_id: &str, operator: &str) -> ServiceResult<()> {
        let mut tx = self.store.begin().await?;
        audit(
            &mut tx,
            self.now(),
            &Actor::Operator(operator.into()),
            "card.viewed",
            card_id,
            &Origin::cli(),
            json!({}),
        )
        .await?;
        sigillo_store::commit(tx).await?;
        Ok(())
    }

    /// Changes a card's 3-D Secure phone (operators).
    pub async fn set_card_phone(
        &self,
        card_id: &str,
        phone: &str,
        actor: &Actor,
        origin: &Origin,
    ) -> ServiceResult<CardView> {
        let phone = identity::normalize_phone(phone).map_err(|_| ServiceError::Invalid("phone"))?;
        let now = self.now();
        let mut tx = self.store.begin().await?;
        if !cards::set_phone(&mut tx, card_id, &phone, now.0).await? {
            return Err(ServiceError::NotFound);
        }
        // A card-portal holder has no phone but its card's: its login codes follow.
        if let Some(holder) = cards::get(&mut tx, card_id).await?.and_then(|c| c.holder_user_id) {
            users::set_portal_phone(&mut tx, &holder, &phone, now.0).await?;
        }
        audit(
            &mut tx,
            now,
            actor,
            "card.phone_changed",
            card_id,
            origin,
            json!({ "phone": identity::mask_phone(&phone) }),
        )
        .await?;
        sigillo_store::commit(tx).await?;
        self.card_view(card_id).await
    }

    /// Enrols a card in 3-D Secure or takes it out (then its purchases are answered U).
    pub async fn set_card_enrolled(
        &self,
        card_id: &str,
        enrolled: bool,
        actor: &Actor,
        origin: &Origin,
    ) -> ServiceResult<CardView> {
        let now = self.now();
        let mut tx = self.store.begin().await?;
        if !cards::set_enrolled(&mut tx, card_id, enrolled, now.0).await? {
            return Err(ServiceError::NotFound);
        }
        let action = if enrolled { "card.enrolled" } else { "card.unenrolled" };
        audit(&mut tx, now, actor, action, card_id, origin, json!({})).await?;
        sigillo_store::commit(tx).await?;
        self.card_view(card_id).await
    }

    /// The holder's own card, or `NotFound` (also for another holder's card: no oracle).
    pub(crate) async fn holders_card(&self, user_id: &str, card_id: &str) -> ServiceResult<Card> {
        let mut conn = self.store.conn().await?;
        match cards::get(&mut conn, card_id).await? {
            Some(card) if card.holder_user_id.as_deref() == Some(user_id) => Ok(card),
            _ => Err(ServiceError::NotFound),
        }
    }

    /// Sets or changes a card's Key6. A blocked Key6 must be unlocked (with SCA) first.
    pub async fn set_key6(&self, user_id: &str, card_id: &str, code: &str, origin: &Origin) -> ServiceResult<()> {
        let card = self.holders_card(user_id, card_id).await?;
        sigillo_core::key6::check_key6_for_card(code, &card.last4)
            .map_err(|p| ServiceError::Invalid(p.message_key()))?;
        let now = self.now();
        let mut tx = self.store.begin().await?;
        if attempts::get(&mut tx, &card.id, Secret::Key6).await?.is_locked(now.0) {
            return Err(ServiceError::Forbidden);
        }
        let sealed = self.kek.seal(key6_aad(&card.id).as_bytes(), code.as_bytes(), &mut rand::rngs::OsRng);
        cards::set_key6(&mut tx, &card.id, &sealed, now.0).await?;
        let action = if card.key6_sealed.is_some() { "key6.changed" } else { "key6.set" };
        audit(&mut tx, now, &Actor::User(user_id.into()), action, &card.id, origin, json!({ "last4": card.last4 }))
            .await?;
        sigillo_store::commit(tx).await?;
        Ok(())
    }

    /// Starts the SCA that viewing or unlocking a Key6 needs: an operation about the card,
    /// pushed to the holder's phones (or approved with an SMS OTP).
    pub async fn start_key6_sca(
        &self,
        user_id: &str,
        card_id: &str,
        action: Key6Action,
        origin: &Origin,
    ) -> ServiceResult<String> {
        let card = self.holders_card(user_id, card_id).await?;
        let now = self.now();
        let id = sigillo_store::new_id();
        let expires = now.plus(Duration::from_secs(self.cfg.operations.ttl_secs));
        let data = OperationData {
            id: id.clone(),
            kind: action.kind().into(),
            expires_at_ms: expires.0 as u64,
            fields: vec![("card".into(), format!("{} •••• {}", brand_label(&card.brand), card.last4))],
        };
        let bytes = data.encode();
        let new = NewOperation {
            id: &id,
            user_id,
            kind: action.kind(),
            subject: Some(&card.id),
            data: &bytes,
            expires_at: expires.0,
            requested_by: Some("customer"),
            ..NewOperation::default()
        };
        let mut tx = self.store.begin().await?;
        operations::create(&mut tx, &new, now.0).await?;
        self.notify_phones(&mut tx, user_id, &id, action.kind(), expires, now).await?;
        audit(
            &mut tx,
            now,
            &Actor::User(user_id.into()),
            "operation.created",
            user_id,
            origin,
            json!({ "operation": id, "kind": action.kind(), "card": card.id }),
        )
        .await?;
        sigillo_store::commit(tx).await?;
        self.events.publish(Topic::User(user_id.into())).await;
        Ok(id)
    }

    /// Uses up an approved Key6 SCA operation; `Forbidden` when there is none to use.
    async fn consume_key6_sca(
        &self,
        tx: &mut sigillo_store::Conn,
        user_id: &str,
        card: &Card,
        action: Key6Action,
        operation_id: &str,
        now: UnixMillis,
    ) -> ServiceResult<()> {
        let since = now.0 - KEY6_SCA_WINDOW.as_millis() as i64;
        if operations::consume(tx, operation_id, user_id, action.kind(), &card.id, since, now.0).await? {
            Ok(())
        } else {
            Err(ServiceError::Forbidden)
        }
    }

    /// Shows a Key6 once per approved SCA operation.
    pub async fn reveal_key6(
        &self,
        user_id: &str,
        card_id: &str,
        operation_id: &str,
        origin: &Origin,
    ) -> ServiceResult<Zeroizing<String>> {
        let card = self.holders_card(user_id, card_id).await?;
        let sealed = card.key6_sealed.as_deref().ok_or(ServiceError::NotFound)?;
        let now = self.now();
        let mut tx = self.store.begin().await?;
        self.consume_key6_sca(&mut tx, user_id, &card, Key6Action::View, operation_id, now).await?;
        let code = self.open_key6(&card.id, sealed)?;
        audit(
            &mut tx,
            now,
            &Actor::User(user_id.into()),
            "key6.viewed",
            &card.id,
            origin,
            json!({ "last4": card.last4 }),
        )
        .await?;
        sigillo_store::commit(tx).await?;
        Ok(code)
    }

    /// Unlocks a blocked Key6 with an approved SCA operation.
    pub async fn unlock_key6(
        &self,
        user_id: &str,
        card_id: &str,
        operation_id: &str,
        origin: &Origin,
    ) -> ServiceResult<()> {
        let card = self.holders_card(user_id, card_id).await?;
        let now = self.now();
        let mut tx = self.store.begin().await?;
        self.consume_key6_sca(&mut tx, user_id, &card, Key6Action::Unlock, operation_id, now).await?;
        attempts::reset(&mut tx, &card.id, Secret::Key6).await?;
        audit(
            &mut tx,
            now,
            &Actor::User(user_id.into()),
            "key6.unlocked",
            &card.id,
            origin,
            json!({ "last4": card.last4 }),
        )
        .await?;
        sigillo_store::commit(tx).await?;
        Ok(())
    }

    pub(crate) fn open_key6(&self, card_id: &str, sealed: &[u8]) -> ServiceResult<Zeroizing<String>> {
        let plain = self.kek.open(key6_aad(card_id).as_bytes(), sealed).map_err(anyhow::Error::from)?;
        let text = std::str::from_utf8(&plain).map_err(anyhow::Error::from)?;
        Ok(Zeroizing::new(text.to_owned()))
    }
}

/// A PAN as an operator types it (spaces allowed), checked against the brand.
pub(crate) fn check_pan(text: &str, brand: &str) -> ServiceResult<Pan> {
    let compact: String = text.chars().filter(|c| *c != ' ').collect();
    let pan = Pan::parse(&compact).filter(|p| luhn_valid(p.expose())).ok_or(ServiceError::Invalid("card_pan"))?;
    let digits = pan.expose();
    let prefix = |n: usize| digits[..n].parse::<u32>().unwrap_or(0);
    let brand_ok = match brand {
        "visa" => digits.starts_with('4'),
        // Mastercard: 51–55 and the 2-series 2221–2720.
        "mastercard" => (51..=55).contains(&prefix(2)) || (2221..=2720).contains(&prefix(4)),
        _ => return Err(ServiceError::Invalid("card_brand")),
    };
    if brand_ok { Ok(pan) } else { Err(ServiceError::Invalid("card_brand")) }
}

/// A brand as screens and SMS name it.
pub(crate) fn brand_label(brand: &str) -> &str {
    match brand {
        "visa" => "Visa",
        "mastercard" => "Mastercard",
        other => other,
    }
}

fn pan_aad(card_id: &str) -> String {
    format!("sigillo/card-pan/v1:{card_id}")
}

fn key6_aad(card_id: &str) -> String {
    format!("sigillo/key6/v1:{card_id}")
}
