use crate::each_backend;
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

/// RTS art. 4(3)(d), P10: five minutes without activity end the session on the server,
/// whatever the client holds; activity keeps it alive; logout ends it at once.
/// Requirements: R14, P10.
#[tokio::test]
async fn sessions_end_after_five_idle_minutes() {
    each_backend!(|app| {
        let env = app.user().await;
        let token = app.activate(&env, "58301649", "+393331234567").await;
        app.advance(Duration::from_secs(299));
        assert_eq!(app.get("/api/v1/me", Some(&token)).await.status(), StatusCode::OK);
        app.advance(Duration::from_secs(299));
        assert_eq!(app.get("/api/v1/me", Some(&token)).await.status(), StatusCode::OK, "activity moved the deadline");
        app.advance(Duration::from_secs(300));
        assert_eq!(app.get("/api/v1/me", Some(&token)).await.status(), StatusCode::UNAUTHORIZED);
        app.advance(Duration::from_secs(1));
        assert_eq!(app.get("/api/v1/me", Some(&token)).await.status(), StatusCode::UNAUTHORIZED, "and stays ended");
        assert_eq!(app.audit_actions().await.iter().filter(|a| *a == "session.expired").count(), 1, "audited once");

        let (token, _) = app.login(&env.user_code, "58301649", "+393331234567").await;
        assert_eq!(app.post("/api/v1/logout", json!({}), Some(&token)).await.status(), StatusCode::NO_CONTENT);
        assert_eq!(app.get("/api/v1/me", Some(&token)).await.status(), StatusCode::UNAUTHORIZED);
        assert!(app.audit_actions().await.iter().any(|a| a == "session.logout"));
    });
}

/// A login flow that waits too long for its second factor expires.
#[tokio::test]
async fn login_flows_expire() {
    each_backend!(|app| {
        let env = app.user().await;
        let flow = app.start_login(&env.user_code, &env.initial_password).await;
        app.advance(Duration::from_secs(301));
        let resp = app.post(&format!("/api/v1/login/{flow}/sms"), json!({}), None).await;
        assert_eq!(resp.status(), StatusCode::GONE);
        assert!(app.outbox().await.iter().all(|m| m.channel != "sms"), "no code for an expired flow");
    });
}
