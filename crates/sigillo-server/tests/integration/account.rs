use crate::each_backend;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Password change: current password + SMS OTP of a flow this user started; other
/// sessions end; the customer is told by SMS and email.
/// Requirements: R9, R13, P9.
#[tokio::test]
async fn password_change_needs_current_password_and_otp() {
    each_backend!(|app| {
        let env = app.user().await;
        let phone = "+393331234567";
        let token = app.activate(&env, "58301649", phone).await;
        let (other_session, _) = app.login(&env.user_code, "58301649", phone).await;

        let resp =
            app.post("/api/v1/password", json!({ "current": "58301649", "new": "73920518" }), Some(&token)).await;
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(resp.json::<Value>().await.unwrap()["error"], "otp_required");

        let started: Value = app.post("/api/v1/password/otp", json!({}), Some(&token)).await.json().await.unwrap();
        let flow = started["flow"].as_str().unwrap().to_owned();
        let code = app.last_otp(phone).await;
        assert!(app.outbox().await.last().unwrap().body.contains("cambiare la password"), "the SMS names its purpose");
        // Wrong current password and wrong code look the same.
        let wrong_current = app
            .post(
                "/api/v1/password",
                json!({ "current": "00000000", "new": "73920518", "flow": flow, "code": code }),
                Some(&token),
            )
            .await;
        let wrong_code = app
            .post(
                "/api/v1/password",
                json!({ "current": "58301649", "new": "73920518", "flow": flow, "code": "000000" }),
                Some(&token),
            )
            .await;
        assert_eq!(wrong_current.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(wrong_code.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(wrong_current.text().await.unwrap(), wrong_code.text().await.unwrap());
        let ok = app
            .post(
                "/api/v1/password",
                json!({ "current": "58301649", "new": "73920518", "flow": flow, "code": code }),
                Some(&token),
            )
            .await;
        assert_eq!(ok.status(), StatusCode::NO_CONTENT);

        assert_eq!(app.get("/api/v1/me", Some(&token)).await.status(), StatusCode::OK, "this session lives on");
        assert_eq!(app.get("/api/v1/me", Some(&other_session)).await.status(), StatusCode::UNAUTHORIZED, "others end");
        let outbox = app.outbox().await;
        assert!(outbox.iter().any(|m| m.channel == "sms" && m.body.contains("e' stata cambiata")));
        assert!(
            outbox
                .iter()
                .any(|m| m.channel == "email" && m.subject.as_deref().is_some_and(|s| s.contains("Password cambiata")))
        );
        app.login(&env.user_code, "73920518", phone).await;

        // A flow of another user cannot be borrowed.
        let intruder = app.user_with_phone("+393330000002").await;
        let intruder_token = app.activate(&intruder, "58301649", "+393330000002").await;
        let resp = app
            .post(
                "/api/v1/password",
                json!({ "current": "58301649", "new": "84930261", "flow": flow, "code": code }),
                Some(&intruder_token),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    });
}

/// Aliases: unique case-insensitively, 3–32 characters, never all digits; removable.
#[tokio::test]
async fn alias_rules() {
    each_backend!(|app| {
        let a = app.user().await;
        let b = app.user_with_phone("+393330000003").await;
        let ta = app.activate(&a, "58301649", "+393331234567").await;
        let tb = app.activate(&b, "58301649", "+393330000003").await;
        let put = |token: String, alias: Value| {
            let req = app.client.put(app.url("/api/v1/alias")).bearer_auth(token).json(&json!({ "alias": alias }));
            async move { req.send().await.unwrap() }
        };
        let resp = put(ta.clone(), json!("Rossi.M")).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.json::<Value>().await.unwrap()["alias"], "Rossi.M");
        let resp = put(tb.clone(), json!("rossi.m")).await;
        assert_eq!(resp.status(), StatusCode::CONFLICT);
        for (bad, code) in
            [("12345678", "alias_all_digits"), ("ab", "alias_length"), ("mario rossi", "alias_characters")]
        {
            let resp = put(tb.clone(), json!(bad)).await;
            assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
            assert_eq!(resp.json::<Value>().await.unwrap()["error"], code);
        }
        assert_eq!(put(ta.clone(), Value::Null).await.status(), StatusCode::OK);
        assert_eq!(put(tb.clone(), json!("rossi.m")).await.status(), StatusCode::OK, "free again");
        let me: Value = app.get("/api/v1/me", Some(&tb)).await.json().await.unwrap();
        assert_eq!(me["alias"], "rossi.m");
    });
}
