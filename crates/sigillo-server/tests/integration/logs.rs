//! P10: no password, OTP, security code or bearer handle in any log line. The real
//! binary runs every flow (also a 3-D Secure purchase: no full PAN either) with logging at its most verbose (JSON), and
//! its log stream is scanned. It also shows the dev-mode demo user and graceful shutdown.

use regex::Regex;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::process::{Command, Stdio};
use std::time::Duration;

/// `sigillo serve` in a fresh folder, tracing everything as JSON. The port is picked before
/// the server binds it, so another test may take it in between: the server counts as up only
/// if it answers and is still alive, and one that exited (address in use) is retried.
async fn start_server() -> (tempfile::TempDir, u16, std::process::Child) {
    let client = reqwest::Client::new();
    let mut last_err = String::new();
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let stdout = std::fs::File::create(dir.path().join("stdout")).unwrap();
        let stderr = std::fs::File::create(dir.path().join("stderr")).unwrap();
        let mut server = Command::new(env!("CARGO_BIN_EXE_sigillo"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .current_dir(dir.path())
            .env("SIGILLO_LOG", "trace")
            .env("SIGILLO_LOG_FORMAT", "json")
            .env("SIGILLO_SECURITY__HASHING__MEMORY_KIB", "256")
            .env("SIGILLO_SECURITY__HASHING__ITERATIONS", "1")
            .env("SIGILLO_OUTBOX__POLL_MS", "50")
            .stdout(Stdio::from(stdout))
            .stderr(Stdio::from(stderr))
            .spawn()
            .unwrap();
        for _ in 0..100 {
            if server.try_wait().unwrap().is_some() {
                break;
            }
            let healthy = client
                .get(format!("http://127.0.0.1:{port}/healthz"))
                .send()
                .await
                .is_ok_and(|r| r.status() == StatusCode::OK);
            if healthy && server.try_wait().unwrap().is_none() {
                return (dir, port, server);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        server.kill().ok();
        server.wait().ok();
        last_err = std::fs::read_to_string(dir.path().join("stderr")).unwrap();
    }
    panic!("server did not start: {last_err}");
}

/// R22, P10: no secret in any log line of a full run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_run_logs_no_secret() {
    let (dir, port, mut server) = start_server().await;
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();

    // The demo user's envelope, as a newcomer reads it from the console.
    let out = std::fs::read_to_string(dir.path().join("stdout")).unwrap();
    let field = |name: &str| Regex::new(&format!(r"{name}:\s+(\S+)")).unwrap().captures(&out).unwrap()[1].to_owned();
    let (user_code, initial, security_code) = (field("user code"), field("initial password"), field("security code"));
    let phone = "+393331234567";
    let mut secrets = vec![
        initial.clone(),
        security_code.replace('-', ""),
        security_code.clone(),
        "58301649".into(),
        "73920518".into(),
        "99999999".into(),
    ];

    let post = |path: &str, body: Value, token: Option<String>| {
        let mut req = client.post(format!("{base}{path}")).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        async move { req.send().await.unwrap() }
    };
    let last_otp = || async {
        let outbox: Vec<Value> = client.get(format!("{base}/dev/outbox")).send().await.unwrap().json().await.unwrap();
        let text = outbox.iter().rev().find(|m| m["channel"] == "sms" && m["to"] == phone).unwrap()["text"]
            .as_str()
            .unwrap()
            .to_owned();
        Regex::new(r"\b(\d{6})\b").unwrap().captures(&text).unwrap()[1].to_owned()
    };

    let flow = post("/api/v1/login", json!({ "username": user_code, "password": initial }), None)
        .await
        .json::<Value>()
        .await
        .unwrap()["flow"]
        .as_str()
        .unwrap()
        .to_owned();
    post(&format!("/api/v1/login/{flow}/sms"), json!({}), None).await;
    let otp = last_otp().await;
    let grant: Value =
        post(&format!("/api/v1/login/{flow}/otp"), json!({ "code": otp }), None).await.json().await.unwrap();
    let token = grant["token"].as_str().unwrap().to_owned();
    secrets.extend([flow, otp, token.clone()]);
    assert_eq!(
        post("/api/v1/password", json!({ "current": initial, "new": "58301649" }), Some(token.clone())).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        post("/api/v1/login", json!({ "username": user_code, "password": "99999999" }), None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let flow = post("/api/v1/recovery", json!({ "username": user_code, "security_code": security_code }), None)
        .await
        .json::<Value>()
        .await
        .unwrap()["flow"]
        .as_str()
        .unwrap()
        .to_owned();
    post(&format!("/api/v1/recovery/{flow}/sms"), json!({}), None).await;
    let otp = last_otp().await;
    assert_eq!(
        post(&format!("/api/v1/recovery/{flow}/complete"), json!({ "code": otp, "new_password": "73920518" }), None)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    secrets.extend([flow, otp]);
    let outbox: Vec<Value> = client.get(format!("{base}/dev/outbox")).send().await.unwrap().json().await.unwrap();
    let link = outbox
        .iter()
        .find_map(|m| m["text"].as_str().unwrap().split("token=").nth(1).map(|t| t[..43].to_owned()))
        .unwrap();
    client.get(format!("{base}/email/verify?token={link}")).send().await.unwrap();
    assert_eq!(post("/api/v1/email/verify", json!({ "token": link }), None).await.status(), StatusCode::NO_CONTENT);
    secrets.push(link);

    // A 3-D Secure purchase of the demo card: frictionless, then a challenge with an SMS
    // code and a wrong Key6: neither the full PAN, the code nor the Key6 may be logged.
    let pan = sigillo_server::app::DEMO_PAN;
    let sim = sigillo_3ds_sim::Sim::start(sigillo_3ds_sim::SimConfig::default()).await.unwrap();
    let y = sim.purchase(&base, &sigillo_3ds_sim::Purchase::new(pan, 1_250)).await.unwrap();
    assert_eq!(y.ares.unwrap()["transStatus"], "Y");
    let c = sim.purchase(&base, &sigillo_3ds_sim::Purchase::new(pan, 9_000)).await.unwrap().ares.unwrap();
    assert_eq!(c["transStatus"], "U", "no Key6 and no phone yet: nothing to challenge with");
    let answer = client
        .post(format!("{base}/3ds/v2/challenge"))
        .form(&[("creq", "eyJub3QiOiJhIGNyZXEifQ")])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    secrets.push(pan.to_owned());

    // The holder sets a Key6 over the API; then a challenge by SMS code + a wrong Key6.
    let flow = post("/api/v1/login", json!({ "username": user_code, "password": "73920518" }), None)
        .await
        .json::<Value>()
        .await
        .unwrap()["flow"]
        .as_str()
        .unwrap()
        .to_owned();
    post(&format!("/api/v1/login/{flow}/sms"), json!({}), None).await;
    let otp = last_otp().await;
    let grant: Value =
        post(&format!("/api/v1/login/{flow}/otp"), json!({ "code": otp }), None).await.json().await.unwrap();
    let token = grant["token"].as_str().unwrap().to_owned();
    let cards: Value =
        client.get(format!("{base}/api/v1/cards")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    let card_id = cards[0]["card_id"].as_str().unwrap().to_owned();
    let key6 = "583920";
    let set = client
        .put(format!("{base}/api/v1/cards/{card_id}/key6"))
        .bearer_auth(&token)
        .json(&json!({ "key6": key6 }))
        .send()
        .await
        .unwrap();
    assert!(set.status().is_success(), "{}", set.status());
    let c = sim.purchase(&base, &sigillo_3ds_sim::Purchase::new(pan, 9_000)).await.unwrap().ares.unwrap();
    assert_eq!(c["transStatus"], "C");
    let creq = sim.creq_for(&c).unwrap();
    let page = client
        .post(format!("{base}/3ds/v2/challenge"))
        .form(&[("creq", creq)])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let t = Regex::new(r#"name="t" value="([^"]+)""#).unwrap().captures(&page).unwrap()[1].to_owned();
    let acs = c["acsTransID"].as_str().unwrap();
    client.post(format!("{base}/3ds/v2/challenge/{acs}/sms")).form(&[("t", &t)]).send().await.unwrap();
    let purchase_otp = last_otp().await;
    let wrong = client
        .post(format!("{base}/3ds/v2/challenge/{acs}/verify"))
        .form(&[("t", t.as_str()), ("otp", purchase_otp.as_str()), ("key6", "583921")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    secrets.extend([flow, otp, token, key6.to_owned(), "583921".to_owned(), purchase_otp, t]);

    // The card portal: "Iscriviti" with the portal demo card's data, its SMS code and a
    // password; neither the PAN (typed with spaces too), the code nor the password is logged.
    let portal_pan = sigillo_server::app::DEMO_PORTAL_PAN;
    let browser =
        reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let form_page = browser.get(format!("{base}/portal/register")).send().await.unwrap().text().await.unwrap();
    let csrf = Regex::new(r#"name="csrf" value="([^"]+)""#).unwrap().captures(&form_page).unwrap()[1].to_owned();
    let spaced = format!("{} {} {} {}", &portal_pan[..4], &portal_pan[4..8], &portal_pan[8..12], &portal_pan[12..]);
    let started = browser
        .post(format!("{base}/portal/register"))
        .form(&[("csrf", csrf.as_str()), ("pan", spaced.as_str()), ("expiry", "12/30")])
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), StatusCode::SEE_OTHER);
    let outbox: Vec<Value> = client.get(format!("{base}/dev/outbox")).send().await.unwrap().json().await.unwrap();
    let text = outbox.iter().rev().find(|m| m["to"] == sigillo_server::app::DEMO_PORTAL_PHONE).unwrap()["text"]
        .as_str()
        .unwrap()
        .to_owned();
    let portal_otp = Regex::new(r"\b(\d{6})\b").unwrap().captures(&text).unwrap()[1].to_owned();
    let portal_password = "60418273";
    let done = browser
        .post(format!("{base}/portal/register/complete"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("code", portal_otp.as_str()),
            ("new_password", portal_password),
            ("confirm_password", portal_password),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    secrets.extend([portal_pan.to_owned(), spaced, portal_otp, portal_password.to_owned()]);

    // Dev mode's acquired bank: the demo customer starts an activation with the old password.
    let old = sigillo_server::app::DEMO_LEGACY_PASSWORD;
    let started = post(
        "/api/v1/activation",
        json!({ "bank": sigillo_server::app::DEMO_LEGACY_BANK, "legacy_code": sigillo_server::app::DEMO_LEGACY_CODE, "password": old }),
        None,
    )
    .await;
    assert_eq!(started.status(), StatusCode::CREATED);
    let activation: Value = started.json().await.unwrap();
    secrets.extend([
        old.to_owned(),
        // The import at start-up logged no hash either.
        sigillo_server::app::demo_legacy_hash(),
        activation["activation"].as_str().unwrap().to_owned(),
        last_otp().await,
    ]);

    // Graceful shutdown on SIGTERM.
    let status = Command::new("kill").args(["-TERM", &server.id().to_string()]).status().unwrap();
    assert!(status.success());
    let mut exited = None;
    for _ in 0..100 {
        if let Some(s) = server.try_wait().unwrap() {
            exited = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let exited = exited.unwrap_or_else(|| {
        server.kill().ok();
        panic!("no exit after SIGTERM")
    });
    assert!(exited.success(), "clean exit after SIGTERM: {exited:?}");

    let logs = std::fs::read_to_string(dir.path().join("stderr")).unwrap();
    let lines: Vec<&str> = logs.lines().collect();
    assert!(lines.len() > 50, "trace logging was on: {} lines", lines.len());
    for line in &lines {
        let parsed: Result<Value, _> = serde_json::from_str(line);
        assert!(parsed.is_ok(), "every log line is JSON: {line}");
    }
    assert!(logs.contains("security event") && logs.contains("shutting down"));
    for secret in &secrets {
        assert!(!logs.contains(secret.as_str()), "secret {secret:?} leaked into the logs");
    }
}
