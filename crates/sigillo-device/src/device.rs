//! What the phone does (PROTOCOL.md §3–§7): each function talks to the server, checks
//! what the server signed, and only then changes the state.

use crate::client::{Client, Proof};
use crate::error::{DeviceError, Result};
use crate::keystore::Keystore;
use crate::prompt::Unlock;
use crate::state::{State, UserBinding};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use sigillo_core::device::activation::{self, ActivationCode};
use sigillo_core::device::keys::{self, Factor, KeyPair};
use sigillo_core::device::messages::{self, OfferedKeys, Operation, Signatures};
use sigillo_core::device::offline::{self, OfflinePurpose, TransactionQr};
use sigillo_core::device::{b64, matching, pin, unb64};
use sigillo_core::payment::Payment;
use sigillo_core::time::UnixMillis;
use zeroize::Zeroizing;

/// One phone: its state, its keystore and its server.
pub struct Device<K: Keystore> {
    pub state: State,
    pub keystore: K,
    /// The phone's name as the bank will show it ("Pixel 8 di Mario").
    pub name: String,
    pub platform: String,
}

/// The server's answer to an activation, as the phone checks it.
#[derive(Debug, Deserialize)]
struct Activated {
    binding: String,
    status: String,
    server_key: String,
    fingerprint: String,
    user: String,
    signature: String,
}

/// The outcome the app shows after activation.
#[derive(Clone, Debug, Serialize)]
pub struct Bound {
    pub binding: String,
    pub user: String,
    /// `active`, or `pending_approval` until a bound phone approves this one.
    pub status: String,
    pub fingerprint: String,
}

/// The binding as the server reports it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Status {
    pub id: String,
    pub name: String,
    pub platform: String,
    pub status: String,
    pub fingerprint: String,
    pub biometry: bool,
    pub pin_reset_required: bool,
    /// Set while the PIN is suspended after too many wrong tries.
    #[serde(default)]
    pub suspended_until: Option<i64>,
    pub created_at: i64,
    pub committed_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct Pending {
    id: String,
    data: String,
    signature: String,
}

/// An operation waiting for approval, decoded from the bytes the server signed.
#[derive(Clone, Debug, Serialize)]
pub struct PendingOperation {
    pub id: String,
    pub kind: String,
    pub expires_at: u64,
    pub fields: Vec<(String, String)>,
    /// A login's three numbers (number matching): the customer picks the one on screen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub numbers: Option<[u8; 3]>,
    #[serde(skip)]
    data: Vec<u8>,
}

/// A factor OTP key (32 bytes, wiped when dropped).
type OtpKey = Zeroizing<[u8; 32]>;

/// A scanned transaction QR: what it asks to approve, and the code that approves it.
#[derive(Clone, Debug, Serialize)]
pub struct ScannedOperation {
    pub id: String,
    pub kind: String,
    pub fields: Vec<(String, String)>,
    pub code: String,
}

#[derive(Debug, Deserialize)]
struct PendingEvent {
    pending: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct KeyReplaced {
    server_key: String,
    signature: String,
}

#[derive(Debug, Deserialize, Serialize)]
pub struct AppSession {
    pub token: String,
    pub must_change_password: bool,
}

/// A card of the user, as the bank lists it (never more than the last four digits).
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Card {
    pub card_id: String,
    pub last4: String,
    pub brand: String,
    pub kind: String,
    pub corporate: bool,
    pub enrolled: bool,
    pub key6_set: bool,
    pub key6_blocked: bool,
}

/// What a Key6 SCA is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key6Action {
    View,
    Unlock,
}

impl Key6Action {
    fn name(self) -> &'static str {
        match self {
            Self::View => "view",
            Self::Unlock => "unlock",
        }
    }

    /// The operation kind the server creates for it.
    fn kind(self) -> &'static str {
        match self {
            Self::View => "key6_view",
            Self::Unlock => "key6_unlock",
        }
    }
}

#[derive(Debug, Deserialize)]
struct ScaStarted {
    operation: String,
}

#[derive(Debug, Deserialize)]
struct Key6Shown {
    key6: Zeroizing<String>,
}

fn protocol(why: &str) -> DeviceError {
    DeviceError::Protocol(why.to_owned())
}

fn decode_key(text: &str) -> Result<Vec<u8>> {
    let key = unb64(text).ok_or_else(|| protocol("a key is not base64url"))?;
    keys::check_public_key(&key).map_err(|_| protocol("a key is not a P-256 point"))?;
    Ok(key)
}

/// What the signatures of a request cover: the request itself, or an approval.
enum Signs<'a> {
    Request { method: &'a Method, path: &'a str, body: &'a [u8] },
    Approval { operation: &'a [u8], answer: Option<&'a str> },
}

impl<K: Keystore> Device<K> {
    pub fn new(state: State, keystore: K, name: &str, platform: &str) -> Self {
        Self { state, keystore, name: name.to_owned(), platform: platform.to_owned() }
    }

    fn client(&self) -> Result<Client> {
        let server =
            self.state.server.as_deref().ok_or_else(|| DeviceError::State("no server yet: activate first".into()))?;
        Client::new(server)
    }

    fn master_key(&self) -> Result<Vec<u8>> {
        let pinned =
            self.state.master_key.as_deref().ok_or_else(|| DeviceError::State("no master key pinned".into()))?;
        unb64(pinned).ok_or_else(|| DeviceError::State("the pinned master key is corrupt".into()))
    }

    /// Points the phone at another address of the same bank (another node behind the
    /// load balancer); the pinned master key still has to match on every answer.
    pub fn set_server(&mut self, base: &str) {
        self.state.server = Some(base.trim_end_matches('/').to_owned());
    }

    /// Pins the server's master key at first contact (a real app ships it instead), and
    /// refuses a server whose key changed.
    async fn contact(&mut self, server: &str) -> Result<Vec<u8>> {
        if let Some(known) = &self.state.server {
            if known.trim_end_matches('/') != server.trim_end_matches('/') {
                return Err(DeviceError::State(format!("this phone is bound to {known}")));
            }
        }
        let info = Client::new(server)?.info().await?;
        match &self.state.master_key {
            Some(pinned) if *pinned != info.master_key => {
                return Err(protocol("the server's master key is not the one this phone pinned"));
            }
            Some(_) => {}
            None => {
                decode_key(&info.master_key)?;
                self.state.master_key = Some(info.master_key);
                self.state.server = Some(server.trim_end_matches('/').to_owned());
            }
        }
        self.master_key()
    }

    /// Binds a user from an activation code or a QR payload (DESIGN flow 2). The PIN is
    /// checked against the rules before anything is sent; a QR is checked against the
    /// master key's signature (P6) and its expiry; a code against its checksum.
    pub async fn activate(
        &mut self,
        server: &str,
        code_or_qr: &str,
        new_pin: &str,
        biometry: bool,
        now_ms: u64,
    ) -> Result<Bound> {
        pin::check_new(new_pin)?;
        let is_qr = code_or_qr.trim().starts_with("SIGILLO1:");
        // A typed code's typos are caught before any server call.
        let typed = if is_qr { None } else { Some(ActivationCode::parse(code_or_qr)?) };
        let master = self.contact(server).await?;
        let code = match typed {
            Some(code) => code,
            None => {
                let (code, expires) = activation::verify_qr(code_or_qr, &master)?;
                if expires <= now_ms {
                    return Err(DeviceError::State("this QR code has expired: ask for a new one".into()));
                }
                code
            }
        };
        let display = code.display();

        let tmp_alias = format!("pending/{}", code.lookup_id());
        let possession = self.keystore.generate(&format!("possession/{tmp_alias}"))?;
        let biometry_key =
            if biometry { Some(self.keystore.generate(&format!("biometry/{tmp_alias}"))?) } else { None };
        let seed = pin::new_seed(&mut rand::rngs::OsRng);
        let knowledge = pin::key_from_seed(&seed);
        let knowledge_public = knowledge.public_key();
        let offered =
            OfferedKeys { possession: &possession, knowledge: &knowledge_public, biometry: biometry_key.as_deref() };
        let proof = |factor| messages::activation_proof(factor, &display, &self.name, &self.platform, &offered);
        let proofs = serde_json::json!({
            "possession": b64(&self.keystore.sign(&format!("possession/{tmp_alias}"), &proof(Factor::Possession))?),
            "knowledge": b64(&knowledge.sign(&proof(Factor::Knowledge))),
            "biometry": match &biometry_key {
                Some(_) => Some(b64(&self.keystore.sign(&format!("biometry/{tmp_alias}"), &proof(Factor::Biometry))?)),
                None => None,
            },
        });
        let body = serde_json::json!({
            "code": display,
            "device_name": self.name,
            "platform": self.platform,
            "possession_key": b64(&possession),
            "knowledge_key": b64(&knowledge_public),
            "biometry_key": biometry_key.as_deref().map(b64),
            "proofs": proofs,
        });
        let answer: Activated = match self.client()?.activate(&body).await {
            Ok(a) => a,
            Err(e) => {
                self.keystore.delete(&format!("possession/{tmp_alias}"))?;
                self.keystore.delete(&format!("biometry/{tmp_alias}"))?;
                return Err(e);
            }
        };

        // The answer must be the server's, over exactly the keys this phone offered.
        let server_key = decode_key(&answer.server_key)?;
        let signature = unb64(&answer.signature).ok_or_else(|| protocol("bad signature encoding"))?;
        if !keys::verify(&master, &messages::activation_answer(&answer.binding, &server_key, &offered), &signature) {
            return Err(protocol("the activation answer is not signed by the server"));
        }
        if answer.fingerprint != keys::fingerprint(&possession, &server_key) {
            return Err(protocol("the binding fingerprint does not match"));
        }
        drop(knowledge);
        let wrapped = pin::wrap(&seed, new_pin, &answer.binding, &mut rand::rngs::OsRng)?;
        drop(seed);
        let user = UserBinding {
            binding: answer.binding.clone(),
            user: answer.user,
            status: answer.status.clone(),
            primary: self.state.users.is_empty(),
            fingerprint: answer.fingerprint,
            server_key: answer.server_key.clone(),
            knowledge_server_key: answer.server_key,
            knowledge: wrapped,
            biometry: biometry_key.is_some(),
        };
        self.rename_key(&format!("possession/{tmp_alias}"), &user.possession_alias())?;
        if biometry_key.is_some() {
            self.rename_key(&format!("biometry/{tmp_alias}"), &user.biometry_alias())?;
        }
        self.state.users.retain(|u| u.binding != user.binding);
        self.state.users.push(user);
        if answer.status == "pending_commit" {
            self.commit(&answer.binding, new_pin).await?;
        }
        let user = self.state.user(Some(&answer.binding))?;
        Ok(Bound {
            binding: user.binding.clone(),
            user: user.user.clone(),
            status: user.status.clone(),
            fingerprint: user.fingerprint.clone(),
        })
    }

    /// Keystores cannot rename: the CLI's can, through its own file. A platform
    /// keystore would generate under the final alias after activation instead.
    fn rename_key(&mut self, from: &str, to: &str) -> Result<()> {
        self.keystore.rename(from, to)
    }

    /// Confirms the binding: the server activates it once the phone proves it derived
    /// the same OTP keys and the PIN unwraps the registered knowledge key.
    pub async fn commit(&mut self, binding: &str, pin: &str) -> Result<Status> {
        let user = self.state.user(Some(binding))?.clone();
        let (kp, kk) = self.factor_otp_keys(&user, pin)?;
        let body = serde_json::json!({
            "possession_confirmation": b64(&messages::key_confirmation(&kp, &user.binding, Factor::Possession)),
            "knowledge_confirmation": b64(&messages::key_confirmation(&kk, &user.binding, Factor::Knowledge)),
        });
        let path = format!("/device/v1/bindings/{}/commit", user.binding);
        let status: Status = self
            .request(&user, Method::POST, &path, Some(&body), Some(&Unlock::pin(pin)))
            .await?
            .ok_or_else(|| protocol("empty answer"))?;
        self.state.user_mut(binding)?.status = status.status.clone();
        Ok(status)
    }

    /// Signs and sends a request for `user`: possession always, plus the second factor
    /// `unlock` gives.
    async fn request<T: serde::de::DeserializeOwned>(
        &self,
        user: &UserBinding,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
        unlock: Option<&Unlock>,
    ) -> Result<Option<T>> {
        let body = match body {
            Some(b) => serde_json::to_vec(b).map_err(|e| DeviceError::State(e.to_string()))?,
            None => Vec::new(),
        };
        self.send(user, &method, path, body.clone(), unlock, Signs::Request { method: &method, path, body: &body })
            .await
    }

    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        user: &UserBinding,
        method: &Method,
        path: &str,
        body: Vec<u8>,
        unlock: Option<&Unlock>,
        signs: Signs<'_>,
    ) -> Result<Option<T>> {
        let client = self.client()?;
        let proof = self.proof(&client, user, unlock, signs).await?;
        client.signed(method.clone(), path, body, &proof).await
    }

    /// A fresh challenge and the signatures over `signs`: possession always, plus the
    /// second factor `unlock` gives.
    async fn proof(
        &self,
        client: &Client,
        user: &UserBinding,
        unlock: Option<&Unlock>,
        signs: Signs<'_>,
    ) -> Result<Proof> {
        let (challenge, challenge_text) = client.challenge(&user.binding).await?;
        let message = |factor: Factor| match &signs {
            Signs::Request { method, path, body } => {
                messages::request(factor, &user.binding, &challenge, method.as_str(), path, body)
            }
            Signs::Approval { operation, answer: None } => {
                messages::approval(factor, &user.binding, &challenge, operation)
            }
            Signs::Approval { operation, answer: Some(answer) } => {
                messages::approval_with_answer(factor, &user.binding, &challenge, operation, answer)
            }
        };
        let mut signatures = Signatures::default()
            .with(Factor::Possession, self.keystore.sign(&user.possession_alias(), &message(Factor::Possession))?);
        match unlock {
            Some(Unlock::Pin(pin)) => {
                // Any PIN unwraps to a key; only the server can tell whether it is the right one.
                let key = pin::knowledge_key(&user.knowledge, pin, &user.binding)?;
                signatures = signatures.with(Factor::Knowledge, key.sign(&message(Factor::Knowledge)));
            }
            Some(Unlock::Biometry) => {
                if !self.keystore.contains(&user.biometry_alias()) {
                    return Err(DeviceError::State("biometry is not enabled for this user".into()));
                }
                signatures = signatures
                    .with(Factor::Biometry, self.keystore.sign(&user.biometry_alias(), &message(Factor::Biometry))?);
            }
            None => {}
        }
        Ok(Proof { binding: user.binding.clone(), challenge: challenge_text, signatures: signatures.header() })
    }

    /// The binding's status on the server (possession only); the local copy follows.
    pub async fn status(&mut self, id: Option<&str>) -> Result<Status> {
        let user = self.state.user(id)?.clone();
        let path = format!("/device/v1/bindings/{}", user.binding);
        let status: Status =
            self.request(&user, Method::GET, &path, None, None).await?.ok_or_else(|| protocol("empty answer"))?;
        self.state.user_mut(&user.binding)?.status = status.status.clone();
        Ok(status)
    }

    /// In-app login (DESIGN flow 5).
    pub async fn login(&self, id: Option<&str>, unlock: &Unlock) -> Result<AppSession> {
        let user = self.state.user(id)?;
        self.request(user, Method::POST, "/device/v1/login", None, Some(unlock))
            .await?
            .ok_or_else(|| protocol("empty answer"))
    }

    /// Changes the PIN: the old one proves itself to the server, a new knowledge key
    /// replaces the old (never the same seed re-wrapped, see `sigillo_core::device::pin`).
    pub async fn change_pin(&mut self, id: Option<&str>, old: &str, new: &str) -> Result<()> {
        self.replace_knowledge(id, Some(old), new).await
    }

    /// Sets a new PIN after the binding was unblocked (the server allows it once).
    pub async fn reset_pin(&mut self, id: Option<&str>, new: &str) -> Result<()> {
        self.replace_knowledge(id, None, new).await
    }

    async fn replace_knowledge(&mut self, id: Option<&str>, old: Option<&str>, new: &str) -> Result<()> {
        pin::check_new(new)?;
        let user = self.state.user(id)?.clone();
        let seed = pin::new_seed(&mut rand::rngs::OsRng);
        let key = pin::key_from_seed(&seed);
        let public = key.public_key();
        let body = serde_json::json!({
            "key": b64(&public),
            "proof": b64(&key.sign(&messages::new_key_proof(Factor::Knowledge, &user.binding, &public))),
        });
        let path = format!("/device/v1/bindings/{}/pin", user.binding);
        let unlock = old.map(Unlock::pin);
        let answer: KeyReplaced = self
            .request(&user, Method::POST, &path, Some(&body), unlock.as_ref())
            .await?
            .ok_or_else(|| protocol("empty answer"))?;
        let server_key = decode_key(&answer.server_key)?;
        let signature = unb64(&answer.signature).ok_or_else(|| protocol("bad signature encoding"))?;
        let signed = messages::new_key_answer(Factor::Knowledge, &user.binding, &public, &server_key);
        if !keys::verify(&self.master_key()?, &signed, &signature) {
            return Err(protocol("the new key's answer is not signed by the server"));
        }
        let wrapped = pin::wrap(&seed, new, &user.binding, &mut rand::rngs::OsRng)?;
        let stored = self.state.user_mut(&user.binding)?;
        stored.knowledge = wrapped;
        stored.knowledge_server_key = answer.server_key;
        Ok(())
    }

    /// Biometry on: a new key in the keystore, registered with possession + PIN.
    pub async fn biometry_on(&mut self, id: Option<&str>, pin: &str) -> Result<()> {
        let user = self.state.user(id)?.clone();
        let staged = format!("staged/{}", user.biometry_alias());
        let public = self.keystore.generate(&staged)?;
        let body = serde_json::json!({
            "key": b64(&public),
            "proof": b64(&self.keystore.sign(&staged, &messages::new_key_proof(Factor::Biometry, &user.binding, &public))?),
        });
        let path = format!("/device/v1/bindings/{}/biometry", user.binding);
        let sent: Result<Option<serde_json::Value>> =
            self.request(&user, Method::POST, &path, Some(&body), Some(&Unlock::pin(pin))).await;
        if let Err(e) = sent {
            self.keystore.delete(&staged)?;
            return Err(e);
        }
        self.rename_key(&staged, &user.biometry_alias())?;
        self.state.user_mut(&user.binding)?.biometry = true;
        Ok(())
    }

    /// Biometry off, on the server and in the keystore.
    pub async fn biometry_off(&mut self, id: Option<&str>) -> Result<()> {
        let user = self.state.user(id)?.clone();
        let path = format!("/device/v1/bindings/{}/biometry", user.binding);
        let _: Option<serde_json::Value> = self.request(&user, Method::DELETE, &path, None, None).await?;
        self.keystore.delete(&user.biometry_alias())?;
        self.state.user_mut(&user.binding)?.biometry = false;
        Ok(())
    }

    /// Removes a user from this phone, on the server first.
    pub async fn remove(&mut self, id: Option<&str>) -> Result<()> {
        let user = self.state.user(id)?.clone();
        let path = format!("/device/v1/bindings/{}", user.binding);
        let _: Option<serde_json::Value> = self.request(&user, Method::DELETE, &path, None, None).await?;
        self.forget(&user)
    }

    /// Drops a user locally (e.g. after the bank removed the binding).
    pub fn forget(&mut self, user: &UserBinding) -> Result<()> {
        self.keystore.delete(&user.possession_alias())?;
        self.keystore.delete(&user.biometry_alias())?;
        self.state.users.retain(|u| u.binding != user.binding);
        if !self.state.users.iter().any(|u| u.primary) {
            if let Some(first) = self.state.users.first_mut() {
                first.primary = true;
            }
        }
        Ok(())
    }

    /// Makes `id` the phone's primary user, on the server too.
    pub async fn make_primary(&mut self, id: &str) -> Result<()> {
        let target = self.state.user(Some(id))?.clone();
        for user in self.state.users.clone() {
            let primary = user.binding == target.binding;
            if user.primary != primary && user.status == "active" {
                let path = format!("/device/v1/bindings/{}/primary", user.binding);
                let body = serde_json::json!({ "primary": primary });
                let _: Option<serde_json::Value> = self.request(&user, Method::PUT, &path, Some(&body), None).await?;
            }
            self.state.user_mut(&user.binding)?.primary = primary;
        }
        Ok(())
    }

    /// Registers a push token (APNs or FCM) for a user.
    pub async fn register_push(&self, id: Option<&str>, provider: &str, token: &str) -> Result<()> {
        let user = self.state.user(id)?;
        let path = format!("/device/v1/bindings/{}/push", user.binding);
        let body = serde_json::json!({ "provider": provider, "token": token });
        let _: Option<serde_json::Value> = self.request(user, Method::PUT, &path, Some(&body), None).await?;
        Ok(())
    }

    /// The operations waiting for this user, each checked against the master key's
    /// signature before it is decoded for display (P6); expired ones are left out.
    pub async fn pending(&self, id: Option<&str>, now_ms: u64) -> Result<Vec<PendingOperation>> {
        let user = self.state.user(id)?;
        let master = self.master_key()?;
        let list: Vec<Pending> =
            self.request(user, Method::GET, "/device/v1/operations", None, None).await?.unwrap_or_default();
        let mut out = Vec::with_capacity(list.len());
        for p in list {
            let data = unb64(&p.data).ok_or_else(|| protocol("operation data is not base64url"))?;
            let signature = unb64(&p.signature).ok_or_else(|| protocol("bad signature encoding"))?;
            if !keys::verify(&master, &data, &signature) {
                return Err(protocol("an operation is not signed by the server"));
            }
            let op = Operation::decode(&data).map_err(|_| protocol("operation data is malformed"))?;
            if op.id != p.id {
                return Err(protocol("an operation's id does not match its signed data"));
            }
            if op.expires_at_ms <= now_ms {
                continue;
            }
            // A payment is shown only if its fields read back as a valid payment (P5).
            if op.kind.starts_with("payment.") {
                Payment::from_operation(&op).map_err(|e| protocol(&format!("a payment's fields are invalid: {e}")))?;
            }
            out.push(PendingOperation {
                numbers: matching::offered(&op),
                id: op.id,
                kind: op.kind,
                expires_at: op.expires_at_ms,
                fields: op.fields,
                data,
            });
        }
        Ok(out)
    }

    /// Listens to the phone's event stream (`GET /device/v1/events`, signed with
    /// possession): `on_pending` gets the ids of the pending operations now and after each
    /// change, until it returns `false` or the server ends the stream. A real app would be
    /// woken by a push notification instead; this is what `sigillo-device listen` runs.
    pub async fn listen(&self, id: Option<&str>, mut on_pending: impl FnMut(Vec<String>) -> bool) -> Result<()> {
        let user = self.state.user(id)?;
        let client = self.client()?;
        let path = "/device/v1/events";
        let signs = Signs::Request { method: &Method::GET, path, body: &[] };
        let proof = self.proof(&client, user, None, signs).await?;
        let mut stream = client.stream(path, &proof).await?;
        let mut buf = String::new();
        while let Some(chunk) = stream.chunk().await? {
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buf.find("\n\n") {
                let block: String = buf.drain(..end + 2).collect();
                let Some(data) = block.lines().find_map(|l| l.strip_prefix("data: ")) else { continue };
                let event: PendingEvent =
                    serde_json::from_str(data).map_err(|e| protocol(&format!("unexpected event: {e}")))?;
                if !on_pending(event.pending) {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Approves an operation with the PIN or biometry: the signatures cover the exact
    /// bytes shown (P5). A login needs `number`, the one of its three numbers that the
    /// web page shows (number matching); it is signed with the approval.
    pub async fn approve(
        &self,
        id: Option<&str>,
        operation: &str,
        unlock: &Unlock,
        number: Option<u8>,
        now_ms: u64,
    ) -> Result<()> {
        let op = self.find_pending(id, operation, now_ms).await?;
        let user = self.state.user(id)?;
        let answer = match (op.numbers, number) {
            (Some(offered), Some(n)) if offered.contains(&n) => Some(n.to_string()),
            (Some(offered), _) => {
                return Err(DeviceError::State(format!(
                    "pick the number the web page shows: one of {} {} {}",
                    offered[0], offered[1], offered[2]
                )));
            }
            (None, _) => None,
        };
        let path = format!("/device/v1/operations/{}/approve", op.id);
        let body = match &answer {
            Some(a) => serde_json::json!({ "answer": a }).to_string().into_bytes(),
            None => Vec::new(),
        };
        let signs = Signs::Approval { operation: &op.data, answer: answer.as_deref() };
        let _: Option<serde_json::Value> = self.send(user, &Method::POST, &path, body, Some(unlock), signs).await?;
        Ok(())
    }

    /// The two factor OTP keys (P4): possession from the keystore, knowledge from the
    /// PIN. Any PIN gives keys; a wrong one gives wrong codes, which the server counts.
    fn factor_otp_keys(&self, user: &UserBinding, pin: &str) -> Result<(OtpKey, OtpKey)> {
        let kp = keys::factor_otp_key(
            &*self.keystore.agree(&user.possession_alias(), &decode_key(&user.server_key)?)?,
            &user.binding,
            Factor::Possession,
        );
        let knowledge = pin::knowledge_key(&user.knowledge, pin, &user.binding)?;
        let kk = keys::factor_otp_key(
            &*knowledge.agree(&decode_key(&user.knowledge_server_key)?).map_err(|_| protocol("bad server key"))?,
            &user.binding,
            Factor::Knowledge,
        );
        Ok((kp, kk))
    }

    /// The offline key of `purpose` for a user and PIN.
    pub fn offline_key(&self, id: Option<&str>, pin: &str, purpose: OfflinePurpose) -> Result<Zeroizing<[u8; 32]>> {
        let user = self.state.user(id)?;
        let (kp, kk) = self.factor_otp_keys(user, pin)?;
        Ok(offline::offline_key(&kp, &kk, &user.binding, purpose))
    }

    /// "Genera OTP → OTP login": the 6-digit login OTP at `now_ms`, without a connection.
    pub fn login_otp(&self, id: Option<&str>, pin: &str, now_ms: u64) -> Result<String> {
        let key = self.offline_key(id, pin, OfflinePurpose::Login)?;
        let now = UnixMillis(i64::try_from(now_ms).unwrap_or(i64::MAX));
        offline::login_code(&key, now).ok_or_else(|| DeviceError::State("the clock is before 1970".into()))
    }

    /// "OTP dispositiva": checks the QR's signature (P6), decodes the operation from the
    /// signed bytes for display, and computes the 8-digit transaction OTP over them (P5).
    /// Only an unexpired payment whose fields read back as a valid payment is shown and
    /// coded.
    pub fn transaction_otp(&self, id: Option<&str>, payload: &str, pin: &str, now_ms: u64) -> Result<ScannedOperation> {
        let master = self.master_key()?;
        let qr = TransactionQr::verify(payload, &master).map_err(|_| protocol("the QR is not signed by the bank"))?;
        let op = Operation::decode(&qr.operation).map_err(|_| protocol("the QR's operation is malformed"))?;
        if !op.kind.starts_with("payment.") {
            return Err(protocol("the QR is not a payment"));
        }
        Payment::from_operation(&op).map_err(|e| protocol(&format!("the QR's payment is invalid: {e}")))?;
        if op.expires_at_ms <= now_ms {
            return Err(DeviceError::State("this payment has expired: ask the page for a new one".into()));
        }
        let key = self.offline_key(id, pin, OfflinePurpose::Transaction)?;
        Ok(ScannedOperation { id: op.id, kind: op.kind, fields: op.fields, code: qr.code(&key) })
    }

    /// The user's cards (possession).
    pub async fn cards(&self, id: Option<&str>) -> Result<Vec<Card>> {
        let user = self.state.user(id)?;
        Ok(self.request(user, Method::GET, "/device/v1/cards", None, None).await?.unwrap_or_default())
    }

    /// Sets or changes a card's Key6, signed with possession and the PIN or biometry.
    pub async fn set_key6(&self, id: Option<&str>, card: &str, key6: &str, unlock: &Unlock) -> Result<()> {
        let user = self.state.user(id)?;
        let path = format!("/device/v1/cards/{card}/key6");
        let body = serde_json::json!({ "key6": key6 });
        let _: Option<serde_json::Value> = self.request(user, Method::PUT, &path, Some(&body), Some(unlock)).await?;
        Ok(())
    }

    /// The SCA a Key6 view or unlock needs, done on the phone itself: the server creates
    /// the operation about the card, the phone checks its signed bytes (P6) and approves
    /// them with the PIN or biometry (P3). Returns the approved operation's id.
    async fn key6_sca(
        &self,
        id: Option<&str>,
        card: &str,
        action: Key6Action,
        unlock: &Unlock,
        now_ms: u64,
    ) -> Result<String> {
        let user = self.state.user(id)?;
        let path = format!("/device/v1/cards/{card}/key6/sca");
        let body = serde_json::json!({ "action": action.name() });
        let started: ScaStarted = self
            .request(user, Method::POST, &path, Some(&body), None)
            .await?
            .ok_or_else(|| protocol("empty answer"))?;
        let op = self.find_pending(id, &started.operation, now_ms).await?;
        if op.kind != action.kind() {
            return Err(protocol("the operation to approve is not the Key6 request"));
        }
        self.approve(id, &op.id, unlock, None, now_ms).await?;
        Ok(op.id)
    }

    /// Shows a card's Key6: an SCA approved on this phone, used once.
    pub async fn view_key6(
        &self,
        id: Option<&str>,
        card: &str,
        unlock: &Unlock,
        now_ms: u64,
    ) -> Result<Zeroizing<String>> {
        let operation = self.key6_sca(id, card, Key6Action::View, unlock, now_ms).await?;
        let user = self.state.user(id)?;
        let path = format!("/device/v1/cards/{card}/key6/reveal");
        let body = serde_json::json!({ "operation": operation });
        let shown: Key6Shown = self
            .request(user, Method::POST, &path, Some(&body), None)
            .await?
            .ok_or_else(|| protocol("empty answer"))?;
        Ok(shown.key6)
    }

    /// Unlocks a card's blocked Key6: an SCA approved on this phone, used once.
    pub async fn unlock_key6(&self, id: Option<&str>, card: &str, unlock: &Unlock, now_ms: u64) -> Result<()> {
        let operation = self.key6_sca(id, card, Key6Action::Unlock, unlock, now_ms).await?;
        let user = self.state.user(id)?;
        let path = format!("/device/v1/cards/{card}/key6/unlock");
        let body = serde_json::json!({ "operation": operation });
        let _: Option<serde_json::Value> = self.request(user, Method::POST, &path, Some(&body), None).await?;
        Ok(())
    }

    /// Rejects an operation ("non sono io").
    pub async fn reject(&self, id: Option<&str>, operation: &str, now_ms: u64) -> Result<()> {
        let op = self.find_pending(id, operation, now_ms).await?;
        let user = self.state.user(id)?;
        let path = format!("/device/v1/operations/{}/reject", op.id);
        let _: Option<serde_json::Value> = self.request(user, Method::POST, &path, None, None).await?;
        Ok(())
    }

    async fn find_pending(&self, id: Option<&str>, operation: &str, now_ms: u64) -> Result<PendingOperation> {
        self.pending(id, now_ms)
            .await?
            .into_iter()
            .find(|op| op.id == operation)
            .ok_or_else(|| DeviceError::State(format!("no pending operation {operation}")))
    }
}

/// Proof for tests and tools that the right PIN is not recognisable offline: the key a
/// PIN unwraps to, for any PIN.
pub fn knowledge_candidate(user: &UserBinding, pin: &str) -> Result<KeyPair> {
    Ok(pin::knowledge_key(&user.knowledge, pin, &user.binding)?)
}
