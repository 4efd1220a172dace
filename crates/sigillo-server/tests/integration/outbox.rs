//! Delivery: the HTTP SMS gateway (a recording fake at the edge of the world) and SMTP
//! (a real server, aiosmtpd).

use crate::support::{TestApp, test_config};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use sigillo_server::config::{Config, SenderKind, SmtpTls};
use sigillo_server::notify::email::EmailSender;
use sigillo_server::notify::sms::SmsSender;
use sigillo_server::notify::webhook::WebhookSender;
use sigillo_server::notify::worker::{Senders, deliver_due};
use sigillo_server::push::PushSender;
use sigillo_store::testing::backends;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request to the gateway: its Authorization header and JSON body.
type Received = (Option<String>, Value);

/// What the fake gateway received, and how many requests it should still fail.
#[derive(Clone, Default)]
struct Gateway {
    received: Arc<Mutex<Vec<Received>>>,
    fail_next: Arc<Mutex<u32>>,
}

async fn gateway_handler(State(g): State<Gateway>, headers: HeaderMap, Json(body): Json<Value>) -> StatusCode {
    let auth = headers.get("authorization").map(|v| v.to_str().unwrap().to_owned());
    g.received.lock().unwrap().push((auth, body));
    let mut fail = g.fail_next.lock().unwrap();
    if *fail > 0 {
        *fail -= 1;
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    }
}

async fn start_gateway(g: Gateway) -> String {
    let app = axum::Router::new().route("/send", axum::routing::post(gateway_handler)).with_state(g);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/send", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// Nothing is lost while the gateway is down: the message waits in the outbox, is
/// retried with backoff, and is delivered once the gateway answers.
#[tokio::test]
async fn sms_survive_a_gateway_outage() {
    for backend in backends() {
        let gateway = Gateway::default();
        *gateway.fail_next.lock().unwrap() = 2;
        let url = start_gateway(gateway.clone()).await;
        let app = TestApp::spawn(backend).await;
        let senders = Senders {
            push: PushSender::none(),
            sms: SmsSender::http(url, Some("Bearer gw-secret".into())).unwrap(),
            email: EmailSender::Console,
            webhook: WebhookSender::default(),
        };
        let env = app.user().await;
        let flow = app.start_login(&env.user_code, &env.initial_password).await;
        app.post(&format!("/api/v1/login/{flow}/sms"), json!({}), None).await;
        let code = app.last_otp("+393331234567").await;

        assert_eq!(deliver_due(&app.services, &senders).await.unwrap(), 0, "gateway down");
        assert_eq!(deliver_due(&app.services, &senders).await.unwrap(), 0, "backoff: not due yet");
        app.advance(Duration::from_secs(3));
        assert_eq!(deliver_due(&app.services, &senders).await.unwrap(), 0, "down again");
        app.advance(Duration::from_secs(5));
        assert_eq!(deliver_due(&app.services, &senders).await.unwrap(), 1);
        assert_eq!(deliver_due(&app.services, &senders).await.unwrap(), 0, "delivered once");

        let received = gateway.received.lock().unwrap().clone();
        assert_eq!(received.len(), 3);
        let (auth, body) = &received[2];
        assert_eq!(auth.as_deref(), Some("Bearer gw-secret"));
        assert_eq!(body["to"], "+393331234567");
        assert!(body["text"].as_str().unwrap().contains(&code));
        let metrics = app.get("/metrics", None).await.text().await.unwrap();
        assert!(metrics.contains(r#"sigillo_outbox_deliveries_total{channel="sms",result="failed"} 2"#), "{metrics}");
        assert!(metrics.contains("sigillo_outbox_backlog 0"), "{metrics}");
        app.stop().await;
    }
}

/// A real SMTP server (aiosmtpd, installed by .ci/run) receives the validation email.
#[tokio::test]
async fn email_goes_out_over_smtp() {
    let dir = tempfile::tempdir().unwrap();
    let (mut smtpd, port) = start_smtpd(&dir.path().join("mbox")).await;

    let backend = backends()[0];
    let app = TestApp::spawn(backend).await;
    let mut cfg: Config = test_config("sqlite::memory:");
    cfg.email.kind = SenderKind::Smtp;
    cfg.email.smtp_host = "127.0.0.1".into();
    cfg.email.smtp_port = port;
    cfg.email.smtp_tls = SmtpTls::None;
    cfg.email.from = "sigillo <no-reply@bank.example>".into();
    let senders = Senders {
        sms: SmsSender::Console,
        email: EmailSender::smtp(&cfg.email, None).unwrap(),
        push: PushSender::none(),
        webhook: WebhookSender::default(),
    };
    let env = app.user().await;
    app.activate(&env, "58301649", "+393331234567").await;
    let delivered = deliver_due(&app.services, &senders).await.unwrap();
    assert!(delivered >= 2, "the SMS and the validation email");

    // aiosmtpd's Mailbox handler writes a Maildir: one file per message in new/.
    let mbox: String = std::fs::read_dir(dir.path().join("mbox").join("new"))
        .expect("aiosmtpd wrote the maildir")
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert!(mbox.contains("To: mario@example.it"), "{mbox}");
    assert!(mbox.contains("From: sigillo <no-reply@bank.example>"), "{mbox}");
    assert!(mbox.contains("/email/verify?token="), "{mbox}");
    smtpd.kill().ok();
    smtpd.wait().ok();
    app.stop().await;
}

/// Starts aiosmtpd on a free port. The port is picked before aiosmtpd binds it, so another
/// test may take it in between: a server counts as started only once it greets with SMTP's
/// 220, and a child that exited (address in use) is retried on a new port.
async fn start_smtpd(maildir: &std::path::Path) -> (std::process::Child, u16) {
    use tokio::io::AsyncReadExt;
    for _ in 0..5 {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut child = std::process::Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Mailbox", maildir.to_str().unwrap(), "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .spawn()
            .expect("python3 with aiosmtpd (pip install aiosmtpd; .ci/run does)");
        for _ in 0..100 {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            if let Ok(mut conn) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
                let mut greeting = [0u8; 4];
                let read = tokio::time::timeout(Duration::from_secs(2), conn.read_exact(&mut greeting)).await;
                if matches!(read, Ok(Ok(_))) && &greeting[..3] == b"220" && child.try_wait().unwrap().is_none() {
                    return (child, port);
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        child.kill().ok();
        child.wait().ok();
    }
    panic!("aiosmtpd did not start (is it installed? .ci/run installs it)");
}

/// P7, R40: a copy of the database shows no live code. Bodies are sealed under the KEK at
/// rest, and outside dev mode they are wiped once delivered.
#[tokio::test]
async fn outbox_bodies_are_sealed_at_rest_and_wiped_after_delivery() {
    for backend in backends() {
        let app = TestApp::spawn_with(backend, |c| c.dev_mode = false).await;
        let env = app.user().await;
        let flow = app.start_login(&env.user_code, &env.initial_password).await;
        app.post(&format!("/api/v1/login/{flow}/sms"), json!({}), None).await;
        let code = app.last_otp("+393331234567").await;
        let raw = {
            let mut conn = app.services.store.conn().await.unwrap();
            sigillo_store::repo::outbox::recent(&mut conn, 10).await.unwrap()
        };
        let sms = raw.iter().find(|m| m.channel == "sms").unwrap();
        assert!(!sms.body.is_empty());
        assert!(!sms.body.windows(code.len()).any(|w| w == code.as_bytes()), "the code is not in the row");
        assert!(!String::from_utf8_lossy(&sms.body).contains("sigillo"), "nor any of the text");

        let senders = Senders {
            sms: SmsSender::Console,
            email: EmailSender::Console,
            push: PushSender::none(),
            webhook: WebhookSender::default(),
        };
        assert_eq!(deliver_due(&app.services, &senders).await.unwrap(), 1);
        let mut conn = app.services.store.conn().await.unwrap();
        let after = sigillo_store::repo::outbox::recent(&mut conn, 10).await.unwrap();
        assert!(after.iter().all(|m| m.body.is_empty() && m.delivered_at.is_some()), "wiped once delivered");
        drop(conn);
        app.stop().await;
    }
}
