//! Device binding end to end (issue 3, DESIGN flows 2 and 5): the `sigillo-device` SDK
//! plays the phone against the real server on each backend.

use crate::each_backend;
use crate::support::TestApp;
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sigillo_core::device::activation::ActivationCode;
use sigillo_core::device::keys::{self, Factor};
use sigillo_core::device::messages::{self, Signatures};
use sigillo_core::device::{b64, pin};
use sigillo_device::keystore::{FileKeystore, Keystore};
use sigillo_device::prompt::Unlock;
use sigillo_device::state::State;
use sigillo_device::{Device, DeviceError};
use sigillo_server::clock::Clock;
use std::collections::HashSet;

const PHONE: &str = "+393331234567";
const PIN: &str = "24680";

fn phone(name: &str) -> Device<FileKeystore> {
    Device::new(State { version: State::VERSION, ..State::default() }, FileKeystore::in_memory(), name, "android")
}

fn now(app: &TestApp) -> u64 {
    u64::try_from(app.clock.now().0).unwrap()
}

/// A user past first access, with a full session.
async fn customer(app: &TestApp, phone_number: &str) -> (String, String) {
    let env = app.user_with_phone(phone_number).await;
    let token = app.activate(&env, "58301649", phone_number).await;
    (env.user_code, token)
}

async fn activation(app: &TestApp, token: &str) -> (String, String) {
    let resp = app.post("/api/v1/devices/activation", json!({}), Some(token)).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let body: Value = resp.json().await.unwrap();
    (body["code"].as_str().unwrap().to_owned(), body["qr"].as_str().unwrap().to_owned())
}

fn server_error(e: &DeviceError) -> (u16, &str) {
    match e {
        DeviceError::Server { status, code, .. } => (*status, code.as_str()),
        other => panic!("expected a server refusal, got {other:?}"),
    }
}

async fn count(app: &TestApp, action: &str) -> usize {
    app.audit_actions().await.iter().filter(|a| *a == action).count()
}

/// DESIGN flow 2: the web session (password + SMS OTP) gets an activation QR; the phone
/// checks its signature, binds with a PIN, commits; the bank lists the phone with the
/// same fingerprint the phone shows; the in-app login works with the PIN (flow 5).
/// Requirements: R23, R40, R43, R44, P3, P6.
#[tokio::test]
async fn a_phone_binds_from_the_qr_and_logs_in_with_the_pin() {
    each_backend!(|app| {
        let (user_code, token) = customer(&app, PHONE).await;
        let (code, qr) = activation(&app, &token).await;
        assert_eq!(ActivationCode::parse(&code).unwrap().display(), code, "printed in its canonical form");
        assert!(qr.starts_with("SIGILLO1:") && qr.contains(&code));

        let mut a = phone("Pixel di Mario");
        let bound = a.activate(&app.base, &qr, PIN, false, now(&app)).await.unwrap();
        assert_eq!((bound.status.as_str(), bound.user.as_str()), ("active", user_code.as_str()));

        let list: Value = app.get("/api/v1/devices", Some(&token)).await.json().await.unwrap();
        assert_eq!(list.as_array().unwrap().len(), 1);
        assert_eq!(list[0]["status"], "active");
        assert_eq!(list[0]["name"], "Pixel di Mario");
        assert_eq!(list[0]["fingerprint"], bound.fingerprint.as_str());
        let actions = app.audit_actions().await;
        for action in ["device.activation_issued", "device.activated", "device.committed"] {
            assert!(actions.iter().any(|a| a == action), "{action} audited");
        }
        let sms = app.outbox().await;
        assert!(sms.iter().any(|m| m.recipient == PHONE && m.body.contains("Pixel di Mario")), "bound-device SMS");

        // In-app login with the PIN gives a session for the user.
        let session = a.login(None, &Unlock::pin(PIN)).await.unwrap();
        let me: Value = app.get("/api/v1/me", Some(&session.token)).await.json().await.unwrap();
        assert_eq!(me["user_code"], user_code.as_str());

        // The code was used: a second phone cannot reuse it.
        let mut b = phone("other");
        let err = b.activate(&app.base, &code, PIN, false, now(&app)).await.unwrap_err();
        assert_eq!(server_error(&err), (401, "authentication_failed"));
    });
}

/// Biometry: enrolled with the PIN, then approves alone; turned off, it is gone.
/// Requirements: R24, R25.
#[tokio::test]
async fn biometry_is_enrolled_with_the_pin_and_signs_without_it() {
    each_backend!(|app| {
        let (_, token) = customer(&app, PHONE).await;
        let (code, _) = activation(&app, &token).await;
        let mut a = phone("a");
        a.activate(&app.base, &code, PIN, false, now(&app)).await.unwrap();
        assert!(matches!(a.login(None, &Unlock::Biometry).await, Err(DeviceError::State(_))));
        let err = a.biometry_on(None, "13579").await.unwrap_err();
        assert_eq!(server_error(&err).0, 401, "a wrong PIN enrols nothing");
        a.biometry_on(None, PIN).await.unwrap();
        a.login(None, &Unlock::Biometry).await.unwrap();
        let list: Value = app.get("/api/v1/devices", Some(&token)).await.json().await.unwrap();
        assert_eq!(list[0]["biometry"], true);
        a.biometry_off(None).await.unwrap();
        let list: Value = app.get("/api/v1/devices", Some(&token)).await.json().await.unwrap();
        assert_eq!(list[0]["biometry"], false);
        assert_eq!(count(&app, "device.biometry_enrolled").await, 1);
        assert_eq!(count(&app, "device.biometry_revoked").await, 1);

        // Push tokens per binding (delivered from issue 4 on): only APNs and FCM.
        let err = a.register_push(None, "pigeon", "abc").await.unwrap_err();
        assert_eq!(server_error(&err), (422, "push_provider"));
        a.register_push(None, "fcm", "fcm-token-123").await.unwrap();
        assert_eq!(count(&app, "device.push_registered").await, 1);
    });
}

/// DESIGN flow 2, second device: the new phone waits until the bound one approves it
/// (the approval shows the new phone's name and fingerprint); a rejected phone is removed.
/// Requirements: R5, R26, R43, P3, P6, P8.
#[tokio::test]
async fn a_second_phone_is_approved_from_the_first() {
    each_backend!(|app| {
        let (_, token) = customer(&app, PHONE).await;
        let (code, _) = activation(&app, &token).await;
        let mut a = phone("A");
        a.activate(&app.base, &code, PIN, false, now(&app)).await.unwrap();

        let (code, _) = activation(&app, &token).await;
        let mut b = phone("B");
        let bound = b.activate(&app.base, &code, "97531", false, now(&app)).await.unwrap();
        assert_eq!(bound.status, "pending_approval");
        let err = b.commit(&bound.binding, "97531").await.unwrap_err();
        assert_eq!(server_error(&err).0, 401, "no commit before the approval");

        let pending = a.pending(None, now(&app)).await.unwrap();
        assert_eq!(pending.len(), 1);
        let op = &pending[0];
        assert_eq!(op.kind, "device_binding");
        assert!(op.fields.contains(&("device".into(), "B".into())));
        assert!(op.fields.contains(&("fingerprint".into(), bound.fingerprint.clone())));
        assert!(b.pending(None, now(&app)).await.is_err(), "a phone that is not active lists nothing");

        a.approve(None, &op.id, &Unlock::pin(PIN), None, now(&app)).await.unwrap();
        assert!(a.approve(None, &op.id, &Unlock::pin(PIN), None, now(&app)).await.is_err(), "approved once (P8)");
        let status = b.commit(&bound.binding, "97531").await.unwrap();
        assert_eq!(status.status, "active");
        let list: Value = app.get("/api/v1/devices", Some(&token)).await.json().await.unwrap();
        assert_eq!(list.as_array().unwrap().len(), 2);

        // A third phone, rejected from the first ("non sono io"): removed.
        let (code, _) = activation(&app, &token).await;
        let mut c = phone("C");
        c.activate(&app.base, &code, "97531", false, now(&app)).await.unwrap();
        let op = a.pending(None, now(&app)).await.unwrap().remove(0);
        a.reject(None, &op.id, now(&app)).await.unwrap();
        assert!(c.status(None).await.is_err());
        let list: Value = app.get("/api/v1/devices", Some(&token)).await.json().await.unwrap();
        assert_eq!(list.as_array().unwrap().len(), 2);
        assert_eq!(count(&app, "operation.rejected").await, 1);
        assert_eq!(count(&app, "device.removed").await, 1, "the rejected phone's removal is audited");
    });
}

/// DESIGN flow 5: two users on one phone; switching and the primary user.
/// Requirements: R25, R43.
#[tokio::test]
async fn two_users_share_one_phone() {
    each_backend!(|app| {
        let (first, t1) = customer(&app, PHONE).await;
        let (second, t2) = customer(&app, "+393339876543").await;
        let mut a = phone("A");
        let (code, _) = activation(&app, &t1).await;
        a.activate(&app.base, &code, PIN, false, now(&app)).await.unwrap();
        let (code, _) = activation(&app, &t2).await;
        a.activate(&app.base, &code, "97531", false, now(&app)).await.unwrap();
        assert_eq!(a.state.users.len(), 2);
        assert_eq!(a.state.user(None).unwrap().user, first, "the first user is primary");

        let s1 = a.login(Some(&first), &Unlock::pin(PIN)).await.unwrap();
        let s2 = a.login(Some(&second), &Unlock::pin("97531")).await.unwrap();
        let me: Value = app.get("/api/v1/me", Some(&s2.token)).await.json().await.unwrap();
        assert_eq!(me["user_code"], second.as_str());
        assert_ne!(s1.token, s2.token);
        // One user's PIN is not the other's.
        assert!(a.login(Some(&second), &Unlock::pin(PIN)).await.is_err());

        a.make_primary(&second).await.unwrap();
        assert_eq!(a.state.user(None).unwrap().user, second);
        a.remove(Some(&first)).await.unwrap();
        assert_eq!(a.state.users.len(), 1);
        assert!(app.outbox().await.iter().any(|m| m.recipient == PHONE && m.body.contains("non e' piu' associato")));
        let list: Value = app.get("/api/v1/devices", Some(&t1)).await.json().await.unwrap();
        assert_eq!(list.as_array().unwrap().len(), 0, "removed on the bank's side too");
    });
}

/// P2 (RTS art. 4(3)(b)): 20 parallel logins with a wrong PIN count exactly 5 and
/// suspend the PIN for 15 minutes with an SMS (the alert before the block is permanent,
/// RTS art. 4); five more wrong PINs block the binding, with another SMS, and the right
/// PIN is refused too. The web unblocks (the session was made with password + SMS OTP);
/// the app must then set a new PIN, and the old one no longer works.
/// Requirements: R9, R10, R11, R12, P1, P2.
#[tokio::test]
async fn wrong_pins_suspend_then_block_the_binding_even_in_parallel() {
    each_backend!(|app| {
        let (user_code, token) = customer(&app, PHONE).await;
        let (code, _) = activation(&app, &token).await;
        let mut a = phone("A");
        let bound = a.activate(&app.base, &code, PIN, false, now(&app)).await.unwrap();

        let wrong = Unlock::pin("11112");
        let results = join_all((0..20).map(|_| a.login(None, &wrong))).await;
        assert!(results.iter().all(Result::is_err));
        assert_eq!(count(&app, "binding.failed").await, 5, "exactly five guesses were evaluated");
        assert_eq!(count(&app, "device.suspended").await, 1);
        let err = a.login(None, &Unlock::pin(PIN)).await.unwrap_err();
        assert_eq!(server_error(&err), (401, "authentication_failed"), "suspended: the right PIN waits too");
        let list: Value = app.get("/api/v1/devices", Some(&token)).await.json().await.unwrap();
        assert_eq!(list[0]["status"], "active");
        assert!(list[0]["suspended_until"].as_i64().unwrap() > app.clock.now().0);
        assert!(app.outbox().await.iter().any(|m| m.recipient == PHONE && m.body.contains("sospeso")));
        assert!(
            app.outbox()
                .await
                .iter()
                .any(|m| m.channel == "email" && m.subject.as_deref().is_some_and(|s| s.contains("Smart PIN sospeso")))
        );

        app.advance(std::time::Duration::from_secs(15 * 60 + 1));
        for _ in 0..5 {
            assert!(a.login(None, &wrong).await.is_err());
        }
        assert_eq!(count(&app, "binding.failed").await, 10);
        assert_eq!(count(&app, "device.blocked").await, 1);
        app.advance(std::time::Duration::from_secs(24 * 3600));
        assert!(a.login(None, &Unlock::pin(PIN)).await.is_err(), "a block does not wear off");
        // The customer signs in again on the web (password + SMS OTP) to unblock.
        let (token, _) = app.login(&user_code, "58301649", PHONE).await;
        let list: Value = app.get("/api/v1/devices", Some(&token)).await.json().await.unwrap();
        assert_eq!(list[0]["status"], "blocked");
        assert!(app.outbox().await.iter().any(|m| m.recipient == PHONE && m.body.contains("bloccato")));

        let resp = app.post(&format!("/api/v1/devices/{}/unblock", bound.binding), json!({}), Some(&token)).await;
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        let status = a.status(None).await.unwrap();
        assert!(status.pin_reset_required);
        assert!(a.login(None, &Unlock::pin(PIN)).await.is_err(), "the PIN must be replaced first");
        assert_eq!(count(&app, "binding.failed").await, 10, "refused without counting");
        a.reset_pin(None, "97531").await.unwrap();
        assert!(a.reset_pin(None, "86420").await.is_err(), "a reset without the PIN is allowed once");
        a.login(None, &Unlock::pin("97531")).await.unwrap();
        assert!(a.login(None, &Unlock::pin(PIN)).await.is_err());
        assert_eq!(count(&app, "device.unblocked").await, 1);
        assert_eq!(count(&app, "device.pin_reset").await, 1);
        assert!(app.outbox().await.iter().any(|m| m.recipient == PHONE && m.body.contains("sbloccato")));
    });
}

/// A bank block of the user stops every approval and in-app login from the phone.
/// Requirements: R46.
#[tokio::test]
async fn a_blocked_user_approves_nothing_from_the_phone() {
    each_backend!(|app| {
        let (user_code, token) = customer(&app, PHONE).await;
        let (code, _) = activation(&app, &token).await;
        let mut a = phone("A");
        a.activate(&app.base, &code, PIN, false, now(&app)).await.unwrap();
        app.services.block_user(&user_code, "fraud investigation", "branch-007").await.unwrap();
        assert_eq!(server_error(&a.login(None, &Unlock::pin(PIN)).await.unwrap_err()).0, 401);
        assert_eq!(count(&app, "binding.failed").await, 0, "not a PIN failure");
        app.services.unblock_user(&user_code, "branch-007").await.unwrap();
        a.login(None, &Unlock::pin(PIN)).await.unwrap();
    });
}

/// A second phone that is never approved drops off the list; its app cannot finish.
#[tokio::test]
async fn an_unapproved_phone_expires() {
    each_backend!(|app| {
        let (user_code, token) = customer(&app, PHONE).await;
        let (code, _) = activation(&app, &token).await;
        phone("A").activate(&app.base, &code, PIN, false, now(&app)).await.unwrap();
        let (code, _) = activation(&app, &token).await;
        let mut b = phone("B");
        let bound = b.activate(&app.base, &code, "97531", false, now(&app)).await.unwrap();
        assert_eq!(bound.status, "pending_approval");
        app.advance(std::time::Duration::from_secs(16 * 60));
        let (token, _) = app.login(&user_code, "58301649", PHONE).await;
        let list: Value = app.get("/api/v1/devices", Some(&token)).await.json().await.unwrap();
        assert_eq!(list.as_array().unwrap().len(), 1);
        assert!(b.commit(&bound.binding, "97531").await.is_err());
    });
}

/// Changing the PIN proves the old one to the server (a wrong one counts) and makes a
/// new knowledge key; trivial PINs are refused on the phone. Requirements: R22, R45, P2.
#[tokio::test]
async fn the_pin_changes_only_with_the_old_one() {
    each_backend!(|app| {
        let (_, token) = customer(&app, PHONE).await;
        let (code, _) = activation(&app, &token).await;
        let mut a = phone("A");
        a.activate(&app.base, &code, PIN, false, now(&app)).await.unwrap();
        let before = a.state.user(None).unwrap().knowledge.clone();
        assert!(matches!(a.change_pin(None, PIN, "12345").await, Err(DeviceError::Pin(_))));
        assert_eq!(server_error(&a.change_pin(None, "13579", "97531").await.unwrap_err()).0, 401);
        assert_eq!(count(&app, "binding.failed").await, 1);
        a.change_pin(None, PIN, "97531").await.unwrap();
        assert_ne!(a.state.user(None).unwrap().knowledge, before);
        a.login(None, &Unlock::pin("97531")).await.unwrap();
        assert!(a.login(None, &Unlock::pin(PIN)).await.is_err());
        assert_eq!(count(&app, "device.pin_changed").await, 1);
    });
}

/// An activation code allows 5 wrong tries, then dies; the phone refuses a tampered QR
/// before calling the server. Requirements: R10, R44, P2, P6.
#[tokio::test]
async fn activation_codes_allow_five_tries_and_tampered_qrs_are_refused() {
    each_backend!(|app| {
        let (_, token) = customer(&app, PHONE).await;
        let (code, qr) = activation(&app, &token).await;
        let parsed = ActivationCode::parse(&code).unwrap();

        let tampered = qr.replace(&code, &ActivationCode::from_parts(parsed.id, [9; 5]).display());
        let err = phone("x").activate(&app.base, &tampered, PIN, false, now(&app)).await.unwrap_err();
        assert!(matches!(err, DeviceError::Code(_)), "{err:?}");
        let expired = phone("x").activate(&app.base, &qr, PIN, false, now(&app) + 11 * 60_000).await.unwrap_err();
        assert!(matches!(expired, DeviceError::State(_)), "{expired:?}");
        assert_eq!(count(&app, "device.activation_failed").await, 0, "nothing reached the server");

        for i in 0..5u8 {
            let wrong = ActivationCode::from_parts(parsed.id, [i; 5]).display();
            let err = phone("x").activate(&app.base, &wrong, PIN, false, now(&app)).await.unwrap_err();
            assert_eq!(server_error(&err), (401, "authentication_failed"));
        }
        let err = phone("x").activate(&app.base, &code, PIN, false, now(&app)).await.unwrap_err();
        assert_eq!(server_error(&err).0, 401, "the code died after five wrong tries");
        assert_eq!(count(&app, "device.activation_failed").await, 6);

        // An expired code is refused too.
        let (code, _) = activation(&app, &token).await;
        app.advance(std::time::Duration::from_secs(601));
        let err = phone("x").activate(&app.base, &code, PIN, false, now(&app)).await.unwrap_err();
        assert_eq!(server_error(&err).0, 401);
    });
}

/// P8: a signed request is accepted once; a replay, a changed body and a foreign
/// binding's challenge are refused; bad headers give the uniform failure.
/// Requirements: R5, R8, R9, R13, P8, P9.
#[tokio::test]
async fn signed_requests_cannot_be_replayed_or_changed() {
    each_backend!(|app| {
        let (_, token) = customer(&app, PHONE).await;
        let (code, _) = activation(&app, &token).await;
        let mut a = phone("A");
        let bound = a.activate(&app.base, &code, PIN, false, now(&app)).await.unwrap();
        let user = a.state.user(None).unwrap().clone();

        let challenge = |app: &TestApp| {
            let c = app.client.post(app.url("/device/v1/challenge")).json(&json!({ "binding": bound.binding }));
            async move { c.send().await.unwrap().json::<Value>().await.unwrap()["challenge"].as_str().unwrap().to_owned() }
        };
        let send = |app: &TestApp, challenge: &str, body: &str, signed_body: &str| {
            let raw = sigillo_core::device::unb64(challenge).unwrap();
            let msg =
                |f| messages::request(f, &bound.binding, &raw, "POST", "/device/v1/login", signed_body.as_bytes());
            let knowledge = pin::knowledge_key(&user.knowledge, PIN, &user.binding).unwrap();
            let sigs = Signatures::default()
                .with(Factor::Possession, a.keystore.sign(&user.possession_alias(), &msg(Factor::Possession)).unwrap())
                .with(Factor::Knowledge, knowledge.sign(&msg(Factor::Knowledge)));
            app.client
                .post(app.url("/device/v1/login"))
                .header("Sigillo-Binding", &bound.binding)
                .header("Sigillo-Challenge", challenge)
                .header("Sigillo-Signature", sigs.header())
                .body(body.to_owned())
        };
        let c = challenge(&app).await;
        assert_eq!(send(&app, &c, "", "").send().await.unwrap().status(), StatusCode::OK);
        assert_eq!(send(&app, &c, "", "").send().await.unwrap().status(), StatusCode::UNAUTHORIZED, "replay");
        let c = challenge(&app).await;
        let changed = send(&app, &c, "{\"x\":1}", "").send().await.unwrap();
        assert_eq!(changed.status(), StatusCode::UNAUTHORIZED, "a body the signatures do not cover");
        for (name, value) in
            [("Sigillo-Signature", "p=!!"), ("Sigillo-Challenge", "short"), ("Sigillo-Binding", "nope")]
        {
            let c = challenge(&app).await;
            let mut req = send(&app, &c, "", "").build().unwrap();
            req.headers_mut().insert(name, value.parse().unwrap());
            let resp = app.client.execute(req).await.unwrap();
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{name}");
            assert_eq!(resp.json::<Value>().await.unwrap()["error"], "authentication_failed");
        }
        let c = challenge(&app).await;
        let doubled = send(&app, &c, "", "").header("Sigillo-Binding", "nope").send().await.unwrap();
        assert_eq!(doubled.status(), StatusCode::UNAUTHORIZED, "a repeated proof header is refused");
        // A bad possession signature is refused without counting against the PIN.
        assert_eq!(count(&app, "binding.failed").await, 0);
        let resp = app
            .client
            .post(app.url("/device/v1/challenge"))
            .json(&json!({ "binding": "unknown" }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    });
}

/// P1 and P3: the server's database holds public keys and sealed OTP keys only — no
/// private key, no PIN-derived value, no OTP key in the clear — and the phone's files
/// hold nothing that tells the right PIN from the other 99,999: every PIN unwraps to a
/// valid, different knowledge key, and the registered knowledge public key is not on
/// the phone. Requirements: R6, R8, R22, R25, R40, P1, P3, P7.
#[tokio::test]
async fn neither_a_database_copy_nor_the_phone_files_reveal_keys_or_the_pin() {
    let backend = sigillo_store::Backend::Sqlite;
    let app = TestApp::spawn(backend).await;
    let (_, token) = customer(&app, PHONE).await;
    let (code, _) = activation(&app, &token).await;
    let dir = tempfile::tempdir().unwrap();
    let state_path = dir.path().join("phone.json");
    let keys_path = dir.path().join("phone.json.keys");
    let mut a =
        Device::new(State::load(&state_path).unwrap(), FileKeystore::open(keys_path.clone()).unwrap(), "A", "cli");
    let bound = a.activate(&app.base, &code, PIN, true, now(&app)).await.unwrap();
    a.state.save(&state_path).unwrap();

    // What must not be anywhere in the database.
    let user = a.state.user(None).unwrap().clone();
    let keystore: std::collections::BTreeMap<String, String> =
        serde_json::from_slice(&std::fs::read(&keys_path).unwrap()).unwrap();
    let mut secrets: Vec<Vec<u8>> = keystore.values().map(|k| hex::decode(k).unwrap()).collect();
    let seed = pin::candidate_seed(&user.knowledge, PIN, &user.binding).unwrap();
    secrets.push(seed.to_vec());
    secrets.push(pin::knowledge_key(&user.knowledge, PIN, &user.binding).unwrap().to_bytes().to_vec());
    let server_key = sigillo_core::device::unb64(&user.server_key).unwrap();
    let shared = a.keystore.agree(&user.possession_alias(), &server_key).unwrap();
    secrets.push(keys::factor_otp_key(&shared, &user.binding, Factor::Possession).to_vec());
    secrets.push(PIN.as_bytes().to_vec());
    // The knowledge public key is public, but with the phone's storage it would test PINs:
    // the database keeps it sealed.
    let registered = pin::knowledge_key(&user.knowledge, PIN, &user.binding).unwrap().public_key();
    secrets.push(registered.clone());

    let mut conn = app.services.store.conn().await.unwrap();
    let mut seen = 0;
    for table in ["bindings", "activations", "device_challenges", "operations", "audit_log", "outbox"] {
        use sqlx::{Column, Row};
        let rows = sqlx::query(&format!("SELECT * FROM {table}")).fetch_all(&mut *conn).await.unwrap();
        for row in &rows {
            for (i, col) in row.columns().iter().enumerate() {
                let value: Vec<u8> = row
                    .try_get::<Vec<u8>, _>(i)
                    .or_else(|_| row.try_get::<String, _>(i).map(String::into_bytes))
                    .unwrap_or_default();
                seen += 1;
                for secret in &secrets {
                    let found = value.windows(secret.len()).any(|w| w == secret.as_slice())
                        || String::from_utf8_lossy(&value).contains(&b64(secret))
                        || String::from_utf8_lossy(&value).contains(&hex::encode(secret));
                    assert!(!found, "a secret is in {table}.{}", col.name());
                }
            }
        }
    }
    assert!(seen > 50);
    drop(conn);

    // The phone's files: the registered knowledge public key is not there, and no digest of the PIN.
    let files = [std::fs::read(&state_path).unwrap(), std::fs::read(&keys_path).unwrap()].concat();
    let files = String::from_utf8(files).unwrap();
    assert!(!files.contains(&b64(&registered)) && !files.contains(&hex::encode(&registered)));
    // Nothing the phone keeps is derived from the knowledge key: the fingerprint comes
    // from the possession and server keys alone.
    let possession_private = hex::decode(&keystore[&user.possession_alias()]).unwrap();
    let possession = sigillo_core::device::keys::KeyPair::from_bytes(&possession_private).unwrap().public_key();
    assert_eq!(user.fingerprint, keys::fingerprint(&possession, &server_key));
    use sha2::Digest;
    assert!(!files.contains(&hex::encode(sha2::Sha256::digest(PIN))));
    #[cfg(unix)]
    for path in [&state_path, &keys_path] {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(path).unwrap().permissions().mode() & 0o777, 0o600);
    }

    // Offline, every one of the 100,000 PINs unwraps to a well-formed key, all different:
    // nothing on the phone marks the right one. Only the server can tell, and it counts.
    let reloaded = State::load(&state_path).unwrap();
    let stored = reloaded.user(Some(&bound.binding)).unwrap();
    let mut publics = HashSet::with_capacity(100_000);
    for n in 0..100_000u32 {
        let candidate = format!("{n:05}");
        let key = pin::knowledge_key(&stored.knowledge, &candidate, &stored.binding).unwrap();
        let public = key.public_key();
        keys::check_public_key(&public).unwrap();
        assert!(publics.insert(public), "two PINs gave the same key");
    }
    assert!(publics.contains(&registered), "the right PIN is among them, unmarked");
    app.stop().await;
}

/// Operators list, unblock and remove a user's phones with `sigillo admin device …`,
/// and each change is audited under their name. Requirements: R12, R46, P11.
#[tokio::test]
async fn operators_list_unblock_and_remove_phones() {
    each_backend!(|app| {
        let (user_code, token) = customer(&app, PHONE).await;
        let (code, _) = activation(&app, &token).await;
        let mut a = phone("Telefono smarrito");
        let bound = a.activate(&app.base, &code, PIN, false, now(&app)).await.unwrap();
        let db = app.db.as_ref().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let admin = |args: &[&str]| crate::operator::sigillo(db, dir.path(), args);

        let (status, out, err) = admin(&["admin", "device", "list", &user_code, "--json"]);
        assert_eq!(status, 0, "{err}");
        let list: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(list[0]["id"], bound.binding.as_str());
        assert_eq!(list[0]["fingerprint"], bound.fingerprint.as_str());

        let (status, _, _) = admin(&["admin", "device", "unblock", &user_code, &bound.binding]);
        assert_ne!(status, 0, "an active phone is not blocked");
        let (status, _, _) = admin(&["admin", "device", "remove", "00000000", &bound.binding]);
        assert_ne!(status, 0, "another user's phone is not found");
        let (status, _, err) = admin(&["admin", "device", "remove", &user_code, &bound.binding]);
        assert_eq!(status, 0, "{err}");
        assert!(a.login(None, &Unlock::pin(PIN)).await.is_err(), "a removed phone approves nothing");
        let records = app.services.audit_tail(50).await.unwrap();
        let removed = records.iter().find(|r| r.action == "device.removed").unwrap();
        assert_eq!(removed.actor, "operator:branch-007");
    });
}

/// Wrong PINs at commit count like any other: suspended first, then the half-made
/// binding is removed (there is nothing to unblock) and the customer told; a commit
/// that comes too late is refused without counting a PIN. Requirements: R10, R11, P2.
#[tokio::test]
async fn wrong_pins_at_commit_and_late_commits() {
    each_backend!(with | cfg | cfg.security.lockout.temporary_lock_secs = 60, |app| {
        let (_, token) = customer(&app, PHONE).await;
        let (code, _) = activation(&app, &token).await;
        let mut a = phone("A");
        a.activate(&app.base, &code, PIN, false, now(&app)).await.unwrap();

        // B waits for A's approval: its commits are refused without counting.
        let (code, _) = activation(&app, &token).await;
        let mut b = phone("B");
        let bound = b.activate(&app.base, &code, "97531", false, now(&app)).await.unwrap();
        assert!(b.commit(&bound.binding, "11112").await.is_err());
        assert_eq!(count(&app, "binding.failed").await, 0);
        let op = a.pending(None, now(&app)).await.unwrap().remove(0);
        a.approve(None, &op.id, &Unlock::pin(PIN), None, now(&app)).await.unwrap();

        // Now B commits with wrong PINs: suspended, then removed.
        for _ in 0..5 {
            assert!(b.commit(&bound.binding, "11112").await.is_err());
        }
        assert_eq!(count(&app, "device.suspended").await, 1);
        assert!(b.commit(&bound.binding, "97531").await.is_err(), "suspended");
        app.advance(std::time::Duration::from_secs(61));
        for _ in 0..5 {
            assert!(b.commit(&bound.binding, "11112").await.is_err());
        }
        assert_eq!(count(&app, "binding.failed").await, 10);
        assert!(b.commit(&bound.binding, "97531").await.is_err(), "removed");
        let records = app.services.audit_tail(300).await.unwrap();
        assert!(records.iter().any(|r| r.action == "device.removed" && r.detail.contains("blocked_before_commit")));
        assert!(app.outbox().await.iter().any(|m| m.recipient == PHONE && m.body.contains("annullata")));

        // C is approved but commits too late: refused, and no PIN attempt is spent.
        let (code, _) = activation(&app, &token).await;
        let mut c = phone("C");
        let bound = c.activate(&app.base, &code, "97531", false, now(&app)).await.unwrap();
        let op = a.pending(None, now(&app)).await.unwrap().remove(0);
        a.approve(None, &op.id, &Unlock::pin(PIN), None, now(&app)).await.unwrap();
        app.advance(std::time::Duration::from_secs(16 * 60));
        assert!(c.commit(&bound.binding, "97531").await.is_err(), "too late");
        assert_eq!(count(&app, "binding.failed").await, 10, "a late commit spends no PIN attempt");
        let records = app.services.audit_tail(300).await.unwrap();
        assert!(records.iter().any(|r| r.action == "device.removed" && r.detail.contains("expired")));
    });
}
