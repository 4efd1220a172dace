//! The web surface over plain HTTP (the browser tests in e2e/ drive real Chromium).

use crate::each_backend;
use crate::support::TestApp;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

fn csrf_of(html: &str) -> String {
    regex::Regex::new(r#"name="csrf" value="([^"]+)""#).unwrap().captures(html).unwrap()[1].to_owned()
}

fn cookies(headers: &HeaderMap) -> Vec<String> {
    headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect()
}

/// A browser-like client that keeps cookies.
fn browser() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// Login, OTP, first access and home through the forms; cookies and headers as P10 asks.
/// Requirements: R13, P10.
#[tokio::test]
async fn web_login_sets_a_strict_session_cookie() {
    each_backend!(|app| {
        let env = app.user().await;
        let b = browser();
        let page = b.get(app.url("/login")).send().await.unwrap();
        let h = page.headers().clone();
        assert!(h["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
        assert_eq!(h["cache-control"], "no-store");
        assert_eq!(h["x-frame-options"], "DENY");
        assert!(
            cookies(&h)
                .iter()
                .any(|c| c.starts_with("sg_b=") && c.contains("HttpOnly") && c.contains("SameSite=Strict"))
        );
        let csrf = csrf_of(&page.text().await.unwrap());

        let resp = b
            .post(app.url("/login"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("username", env.user_code.as_str()),
                ("password", env.initial_password.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert_eq!(resp.headers()["location"], "/login/otp");
        let code = app.last_otp("+393331234567").await;
        let resp = b
            .post(app.url("/login/otp"))
            .form(&[("csrf", csrf.as_str()), ("code", code.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.headers()["location"], "/first-access");
        let session = cookies(resp.headers()).into_iter().find(|c| c.starts_with("sg_session=")).unwrap();
        assert!(
            session.contains("HttpOnly") && session.contains("SameSite=Strict") && session.contains("Path=/"),
            "{session}"
        );
        assert!(!session.contains("Secure"), "dev mode serves plain HTTP");
        // Until the password is changed, home sends back to first access.
        assert_eq!(b.get(app.url("/")).send().await.unwrap().headers()["location"], "/first-access");
        let resp = b
            .post(app.url("/first-access"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("current_password", env.initial_password.as_str()),
                ("new_password", "58301649"),
                ("confirm_password", "58301649"),
                ("alias", "web.user"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        let home = b.get(app.url("/?done=first_access")).send().await.unwrap();
        assert_eq!(home.status(), StatusCode::OK);
        assert_eq!(home.headers()["cache-control"], "no-store");
        let html = home.text().await.unwrap();
        assert!(html.contains(&env.user_code) && html.contains("web.user"));
        assert!(html.contains("lang=\"it\""));
    });
}

/// Every form needs this browser's CSRF token; a forged post changes nothing.
/// Requirements: R13, P10.
#[tokio::test]
async fn forms_refuse_missing_or_foreign_csrf_tokens() {
    each_backend!(|app| {
        let env = app.user().await;
        let victim = browser();
        victim.get(app.url("/login")).send().await.unwrap();
        let attacker = browser();
        let attacker_csrf = csrf_of(&attacker.get(app.url("/login")).send().await.unwrap().text().await.unwrap());
        let before = app.audit_actions().await.len();
        for csrf in ["", "forged", attacker_csrf.as_str()] {
            let resp = victim
                .post(app.url("/login"))
                .form(&[
                    ("csrf", csrf),
                    ("username", env.user_code.as_str()),
                    ("password", env.initial_password.as_str()),
                ])
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        }
        let resp = victim.post(app.url("/login")).form(&[("username", env.user_code.as_str())]).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert_eq!(app.audit_actions().await.len(), before, "no login was attempted");
    });
}

/// Italian by default, English by Accept-Language or by the switch (which wins).
#[tokio::test]
async fn pages_speak_italian_and_english() {
    let app = TestApp::spawn(sigillo_store::Backend::Sqlite).await;
    let b = browser();
    let it = b.get(app.url("/login")).send().await.unwrap().text().await.unwrap();
    assert!(it.contains("<html lang=\"it\">") && it.contains("Accedi"));
    let en = b
        .get(app.url("/login"))
        .header("accept-language", "en-GB,en;q=0.9")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(en.contains("<html lang=\"en\">") && en.contains("Sign in"));
    let resp = b.get(app.url("/lang/it?next=/recovery")).header("accept-language", "en").send().await.unwrap();
    assert_eq!(resp.headers()["location"], "/recovery");
    let page = b.get(app.url("/recovery")).header("accept-language", "en").send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Recupera la password"), "the switch's cookie wins");
    let resp = b.get(app.url("/lang/en?next=//evil.example")).send().await.unwrap();
    assert_eq!(resp.headers()["location"], "/", "no open redirect");
    app.stop().await;
}

/// Operational endpoints.
/// Requirements: R13, P10.
#[tokio::test]
async fn health_metrics_openapi_and_dev_outbox() {
    let app = TestApp::spawn(sigillo_store::Backend::Sqlite).await;
    let env = app.user().await;
    app.login(&env.user_code, &env.initial_password, "+393331234567").await;
    let _ =
        app.post("/api/v1/login", serde_json::json!({ "username": env.user_code, "password": "00000000" }), None).await;
    assert_eq!(app.get("/healthz", None).await.text().await.unwrap(), r#"{"status":"ok"}"#);
    // The backlog gauge says what the outbox holds undelivered. The app's own worker makes
    // one pass at start-up, which a loaded machine may run only after the login's SMS was
    // queued (then the backlog is 0): compare with the table, read before and after.
    let backlog = || async {
        let mut conn = app.services.store.conn().await.unwrap();
        sigillo_store::repo::outbox::backlog(&mut conn).await.unwrap()
    };
    let metrics = loop {
        let before = backlog().await;
        let metrics = app.get("/metrics", None).await.text().await.unwrap();
        if backlog().await == before {
            assert!(before <= 1, "one SMS at most: {before}");
            assert!(metrics.contains(&format!("sigillo_outbox_backlog {before}\n")), "{metrics}");
            break metrics;
        }
    };
    for line in [
        r#"sigillo_logins_total{result="success"} 1"#,
        r#"sigillo_logins_total{result="failure"} 1"#,
        r#"sigillo_auth_failures_total{secret="password"} 1"#,
        r#"sigillo_otp_sent_total{channel="sms"} 1"#,
    ] {
        assert!(metrics.contains(line), "missing {line} in\n{metrics}");
    }
    let spec: serde_json::Value = app.get("/openapi.json", None).await.json().await.unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    for path in ["/api/v1/login", "/api/v1/login/{flow}/otp", "/api/v1/password", "/api/v1/recovery"] {
        assert!(spec["paths"].get(path).is_some(), "{path} undocumented");
    }
    let outbox: Vec<serde_json::Value> = app.get("/dev/outbox", None).await.json().await.unwrap();
    let last = outbox.last().unwrap();
    assert_eq!(last["channel"], "sms");
    assert_eq!(last["to"], "+393331234567");
    assert!(last["at"].as_str().unwrap().starts_with("2026-11-23T08:00:00"));
    assert!(last.get("subject").is_none());
    app.stop().await;

    // Outside dev mode the dev outbox does not exist.
    let prod = TestApp::spawn_with(sigillo_store::Backend::Sqlite, |c| c.dev_mode = false).await;
    assert_eq!(prod.get("/dev/outbox", None).await.status(), StatusCode::NOT_FOUND);
    let page = prod.client.get(prod.url("/login")).send().await.unwrap();
    assert!(cookies(page.headers()).iter().all(|c| c.contains("Secure")), "Secure cookies outside dev mode");
    assert_eq!(page.headers()["strict-transport-security"], "max-age=63072000; includeSubDomains");
    prod.stop().await;
}
