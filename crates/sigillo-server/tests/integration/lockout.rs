use crate::each_backend;
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

/// DESIGN P2, RTS art. 4(3)(b): 50 parallel wrong passwords are counted without lost
/// updates, exactly 5 are verified, the 5th locks, and the customer is alerted (R11).
/// Requirements: R10, R11, P2.
#[tokio::test]
async fn fifty_parallel_wrong_passwords_lock_after_five() {
    each_backend!(|app| {
        let env = app.user().await;
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let client = app.client.clone();
            let url = app.url("/api/v1/login");
            let body = json!({ "username": env.user_code, "password": "00000000" });
            tasks.push(tokio::spawn(async move { client.post(url).json(&body).send().await.unwrap().status() }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), StatusCode::UNAUTHORIZED);
        }
        let actions = app.audit_actions().await;
        assert_eq!(actions.iter().filter(|a| *a == "password.failed").count(), 5, "only five verifications");
        assert_eq!(actions.iter().filter(|a| *a == "lock.temporary").count(), 1);
        // Locked: the right password does not help now.
        let resp = app
            .post("/api/v1/login", json!({ "username": env.user_code, "password": env.initial_password }), None)
            .await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        let outbox = app.outbox().await;
        let alerts: Vec<_> = outbox
            .iter()
            .filter(|m| m.body.contains("troppi tentativi") || m.body.contains("too many failed"))
            .collect();
        assert_eq!(alerts.iter().filter(|m| m.channel == "sms").count(), 1, "one SMS alert");
        assert_eq!(alerts.iter().filter(|m| m.channel == "email").count(), 1, "one email alert");
        assert!(alerts[0].body.contains("definitivo"), "the alert warns that the next lock is permanent");
    });
}

/// A temporary lock ends by itself; the next series of failures locks for good, and
/// only the security code (or an operator) lifts that (RTS art. 4, R12).
/// Requirements: R10, R11, R12, P2.
#[tokio::test]
async fn temporary_then_permanent_lock() {
    each_backend!(|app| {
        let env = app.user().await;
        let wrong = || app.post("/api/v1/login", json!({ "username": env.user_code, "password": "00000000" }), None);
        for _ in 0..5 {
            wrong().await;
        }
        app.advance(Duration::from_secs(15 * 60));
        // The lock ran out, but the next series of failures after it locks for good.
        for _ in 0..5 {
            wrong().await;
        }
        app.advance(Duration::from_secs(24 * 3600));
        let resp = app
            .post("/api/v1/login", json!({ "username": env.user_code, "password": env.initial_password }), None)
            .await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "two series of failures");
        let (view, _) = app.services.show_user(&env.user_code).await.unwrap();
        assert_eq!(view.status, "locked");
        assert!(app.audit_actions().await.iter().any(|a| a == "lock.permanent"));
        let permanent_alert = app.outbox().await.into_iter().rev().find(|m| m.channel == "sms").unwrap();
        assert!(permanent_alert.body.contains("bloccata"), "{}", permanent_alert.body);

        // The operator unlocks: back to the first-access state, since the password is still the envelope's.
        app.services.unlock_user(&env.user_code, "test-operator").await.unwrap();
        let (_, must_change) = app.login(&env.user_code, &env.initial_password, "+393331234567").await;
        assert!(must_change);

        // Another customer: after a temporary lock runs out, the right password works
        // and wipes the history (a success proves the customer, not an attacker).
        let other = app.user_with_phone("+393330000001").await;
        for _ in 0..5 {
            app.post("/api/v1/login", json!({ "username": other.user_code, "password": "00000000" }), None).await;
        }
        let resp = app
            .post("/api/v1/login", json!({ "username": other.user_code, "password": other.initial_password }), None)
            .await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "still within the temporary lock");
        app.advance(Duration::from_secs(15 * 60));
        app.start_login(&other.user_code, &other.initial_password).await;
    });
}

/// Wrong SMS codes count per user across flows: starting a new flow does not reset them.
/// Requirements: R10, R23, P2.
#[tokio::test]
async fn wrong_otps_lock_across_flows_and_resending_does_not_reset() {
    each_backend!(|app| {
        let env = app.user().await;
        let flow = app.start_login(&env.user_code, &env.initial_password).await;
        app.post(&format!("/api/v1/login/{flow}/sms"), json!({}), None).await;
        for _ in 0..3 {
            app.post(&format!("/api/v1/login/{flow}/otp"), json!({ "code": "000000" }), None).await;
        }
        app.post(&format!("/api/v1/login/{flow}/sms"), json!({}), None).await;
        app.post(&format!("/api/v1/login/{flow}/otp"), json!({ "code": "000001" }), None).await;
        let flow2 = app.start_login(&env.user_code, &env.initial_password).await;
        app.post(&format!("/api/v1/login/{flow2}/sms"), json!({}), None).await;
        let code = app.last_otp("+393331234567").await;
        let wrong = if code == "000002" { "000003" } else { "000002" };
        assert_eq!(
            app.post(&format!("/api/v1/login/{flow2}/otp"), json!({ "code": wrong }), None).await.status(),
            StatusCode::UNAUTHORIZED
        );
        // Fifth failure: locked. The right code no longer works, nor does a new login.
        assert_eq!(
            app.post(&format!("/api/v1/login/{flow2}/otp"), json!({ "code": code }), None).await.status(),
            StatusCode::UNAUTHORIZED
        );
        let resp = app
            .post("/api/v1/login", json!({ "username": env.user_code, "password": env.initial_password }), None)
            .await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        let actions = app.audit_actions().await;
        assert_eq!(actions.iter().filter(|a| *a == "sms_otp.failed").count(), 5);
        assert!(actions.iter().any(|a| a == "lock.temporary"));
    });
}

/// Per-address rate limit on the authentication endpoints, with Retry-After.
#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    each_backend!(with |c: &mut sigillo_server::config::Config| { c.rate_limit.per_ip_per_second = 1; c.rate_limit.burst = 3; }, |app| {
        let mut statuses = Vec::new();
        for _ in 0..4 {
            let resp = app.post("/api/v1/login", json!({ "username": "12345678", "password": "x" }), None).await;
            statuses.push((resp.status(), resp.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned())));
        }
        assert_eq!(statuses[..3].iter().map(|s| s.0).collect::<Vec<_>>(), [StatusCode::UNAUTHORIZED; 3]);
        assert_eq!(statuses[3].0, StatusCode::TOO_MANY_REQUESTS);
        let retry: u64 = statuses[3].1.as_deref().unwrap().parse().unwrap();
        assert!((1..=2).contains(&retry));
        // Other endpoints are not limited.
        assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);
    });
}
