use crate::each_backend;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn recover(app: &crate::support::TestApp, username: &str, code: &str, phone: &str, new: &str) -> StatusCode {
    let resp = app.post("/api/v1/recovery", json!({ "username": username, "security_code": code }), None).await;
    if resp.status() != StatusCode::OK {
        return resp.status();
    }
    let flow = resp.json::<Value>().await.unwrap()["flow"].as_str().unwrap().to_owned();
    assert_eq!(app.post(&format!("/api/v1/recovery/{flow}/sms"), json!({}), None).await.status(), StatusCode::ACCEPTED);
    let otp = app.last_otp(phone).await;
    app.post(&format!("/api/v1/recovery/{flow}/complete"), json!({ "code": otp, "new_password": new }), None)
        .await
        .status()
}

/// DESIGN flow 6: a locked customer recovers with the security code + SMS OTP, which
/// unlocks the user, sets the new password and ends the old sessions.
/// Requirements: R12, P8.
#[tokio::test]
async fn recovery_unlocks_and_sets_a_new_password() {
    each_backend!(|app| {
        let env = app.user().await;
        let phone = "+393331234567";
        let token = app.activate(&env, "58301649", phone).await;
        for _ in 0..5 {
            app.post("/api/v1/login", json!({ "username": env.user_code, "password": "00000000" }), None).await;
        }
        app.advance(std::time::Duration::from_secs(16 * 60));
        for _ in 0..5 {
            app.post("/api/v1/login", json!({ "username": env.user_code, "password": "00000000" }), None).await;
        }
        assert_eq!(app.services.show_user(&env.user_code).await.unwrap().0.status, "locked");

        // Policy is checked before the OTP is spent; grouped, lower-case codes are accepted.
        let grouped = sigillo_core::security_code::format_grouped(&env.security_code).to_lowercase();
        let resp =
            app.post("/api/v1/recovery", json!({ "username": env.user_code, "security_code": grouped }), None).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let flow = resp.json::<Value>().await.unwrap()["flow"].as_str().unwrap().to_owned();
        app.post(&format!("/api/v1/recovery/{flow}/sms"), json!({}), None).await;
        let otp = app.last_otp(phone).await;
        let resp = app
            .post(
                &format!("/api/v1/recovery/{flow}/complete"),
                json!({ "code": otp, "new_password": "11111111" }),
                None,
            )
            .await;
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let resp = app
            .post(
                &format!("/api/v1/recovery/{flow}/complete"),
                json!({ "code": otp, "new_password": "73920518" }),
                None,
            )
            .await;
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        // Used once.
        let resp = app
            .post(
                &format!("/api/v1/recovery/{flow}/complete"),
                json!({ "code": otp, "new_password": "73920519" }),
                None,
            )
            .await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

        assert_eq!(app.get("/api/v1/me", Some(&token)).await.status(), StatusCode::UNAUTHORIZED, "old sessions ended");
        let (_, must_change) = app.login(&env.user_code, "73920518", phone).await;
        assert!(!must_change);
        assert_eq!(app.services.show_user(&env.user_code).await.unwrap().0.status, "active");
        let actions = app.audit_actions().await;
        assert!(actions.iter().any(|a| a == "user.unlocked") && actions.iter().any(|a| a == "recovery.completed"));
        assert!(
            app.outbox()
                .await
                .iter()
                .any(|m| m.channel == "sms" && m.body.contains("password della tua utenza e' stata cambiata"))
        );
    });
}

/// A reissued envelope: the old security code stops working; the new one unlocks a
/// locked user (it proves the envelope reached its owner).
/// Requirements: R12, R45, R46.
#[tokio::test]
async fn reissued_envelope_security_code_unlocks() {
    each_backend!(|app| {
        let env = app.user().await;
        let phone = "+393331234567";
        app.activate(&env, "58301649", phone).await;
        app.services.unlock_user(&env.user_code, "op").await.unwrap();
        // Lock permanently with wrong passwords.
        for round in 0..2 {
            for _ in 0..5 {
                app.post("/api/v1/login", json!({ "username": env.user_code, "password": "00000000" }), None).await;
            }
            if round == 0 {
                app.advance(std::time::Duration::from_secs(16 * 60));
            }
        }
        let new_env = app.services.reissue_envelope(&env.user_code, "op").await.unwrap();
        assert_eq!(new_env.user_code, env.user_code);
        assert_ne!(new_env.security_code, env.security_code);
        assert_eq!(
            app.services.show_user(&env.user_code).await.unwrap().0.status,
            "locked",
            "reissue alone does not unlock"
        );
        assert_eq!(
            recover(&app, &env.user_code, &env.security_code, phone, "73920518").await,
            StatusCode::UNAUTHORIZED,
            "old code is dead"
        );
        assert_eq!(
            recover(&app, &env.user_code, &new_env.security_code, phone, "73920518").await,
            StatusCode::NO_CONTENT
        );
        let (_, must_change) = app.login(&env.user_code, "73920518", phone).await;
        assert!(!must_change);
    });
}

/// Recovery failures look like login failures, and wrong security codes lock at five.
/// Requirements: R9, R10, P2, P9.
#[tokio::test]
async fn wrong_security_codes_are_limited() {
    each_backend!(|app| {
        let env = app.user().await;
        let bodies: Vec<String> = futures::future::join_all([
            app.post("/api/v1/recovery", json!({ "username": "99999999", "security_code": env.security_code }), None),
            app.post(
                "/api/v1/recovery",
                json!({ "username": env.user_code, "security_code": "ABCDEABCDEABCDEABCDE" }),
                None,
            ),
            app.post("/api/v1/recovery", json!({ "username": env.user_code, "security_code": "short" }), None),
        ])
        .await
        .into_iter()
        .map(|r| format!("{} {:?}", r.status(), r.headers().get("www-authenticate")))
        .collect();
        assert!(bodies.iter().all(|b| b == &bodies[0]) && bodies[0].starts_with("401"), "{bodies:?}");
        for _ in 0..3 {
            app.post(
                "/api/v1/recovery",
                json!({ "username": env.user_code, "security_code": "ABCDEABCDEABCDEABCDE" }),
                None,
            )
            .await;
        }
        // Five failures now: the right code is refused too.
        let resp = app
            .post("/api/v1/recovery", json!({ "username": env.user_code, "security_code": env.security_code }), None)
            .await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(app.audit_actions().await.iter().filter(|a| *a == "security_code.failed").count(), 5);
    });
}

/// A user the bank blocked can neither log in nor recover, whatever it knows; an
/// operator's unblock restores it.
/// Requirements: R9, R46.
#[tokio::test]
async fn blocked_users_cannot_log_in_or_recover() {
    each_backend!(|app| {
        let env = app.user().await;
        let phone = "+393331234567";
        let token = app.activate(&env, "58301649", phone).await;
        app.services.block_user(&env.user_code, "fraud suspicion", "op").await.unwrap();
        assert_eq!(app.get("/api/v1/me", Some(&token)).await.status(), StatusCode::UNAUTHORIZED, "sessions end");
        let resp = app.post("/api/v1/login", json!({ "username": env.user_code, "password": "58301649" }), None).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            recover(&app, &env.user_code, &env.security_code, phone, "73920518").await,
            StatusCode::UNAUTHORIZED
        );
        app.services.unblock_user(&env.user_code, "op").await.unwrap();
        let (_, must_change) = app.login(&env.user_code, "58301649", phone).await;
        assert!(!must_change);
        let actions = app.audit_actions().await;
        assert!(actions.iter().any(|a| a == "user.blocked") && actions.iter().any(|a| a == "user.unblocked"));
    });
}

/// R12: a customer whose login SMS codes are locked for good recovers with the security
/// code, as the alert tells them to: recovery codes are counted apart.
#[tokio::test]
async fn recovery_lifts_a_permanent_sms_code_lock() {
    each_backend!(|app| {
        let env = app.user().await;
        let phone = "+393331234567";
        app.activate(&env, "58301649", phone).await;
        for round in 0..2 {
            let flow = app.start_login(&env.user_code, "58301649").await;
            app.post(&format!("/api/v1/login/{flow}/sms"), json!({}), None).await;
            let code = app.last_otp(phone).await;
            let wrong = if code == "000000" { "000001" } else { "000000" };
            for _ in 0..5 {
                app.post(&format!("/api/v1/login/{flow}/otp"), json!({ "code": wrong }), None).await;
            }
            if round == 0 {
                app.advance(std::time::Duration::from_secs(16 * 60));
            }
        }
        assert_eq!(app.services.show_user(&env.user_code).await.unwrap().0.status, "locked");
        assert!(app.outbox().await.iter().any(|m| m.channel == "sms" && m.body.contains("codice di sicurezza")));
        assert_eq!(recover(&app, &env.user_code, &env.security_code, phone, "73920518").await, StatusCode::NO_CONTENT);
        app.login(&env.user_code, "73920518", phone).await;
    });
}

/// R12, R45: a security code locked for good is replaced by a reissued envelope, whose
/// new code starts with a clean count.
#[tokio::test]
async fn a_reissued_envelope_replaces_a_locked_security_code() {
    each_backend!(|app| {
        let env = app.user().await;
        let phone = "+393331234567";
        for round in 0..2 {
            for _ in 0..5 {
                app.post(
                    "/api/v1/recovery",
                    json!({ "username": env.user_code, "security_code": "ABCDEABCDEABCDEABCDE" }),
                    None,
                )
                .await;
            }
            if round == 0 {
                app.advance(std::time::Duration::from_secs(16 * 60));
            }
        }
        assert_eq!(
            recover(&app, &env.user_code, &env.security_code, phone, "73920518").await,
            StatusCode::UNAUTHORIZED
        );
        let (view, _) = app.services.show_user(&env.user_code).await.unwrap();
        assert!(view.counters.iter().any(|c| c.secret == "security_code" && c.permanent));
        let new_env = app.services.reissue_envelope(&env.user_code, "op").await.unwrap();
        assert_eq!(
            recover(&app, &env.user_code, &new_env.security_code, phone, "73920518").await,
            StatusCode::NO_CONTENT
        );
        app.login(&env.user_code, "73920518", phone).await;
    });
}
