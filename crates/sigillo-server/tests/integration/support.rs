//! `TestApp`: the whole server in-process on port 0, on a fresh database, with a
//! manual clock. The SMS gateway and email are the dev console senders; tests read
//! what was sent from the outbox, as the dev outbox endpoint does.

use regex::Regex;
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use sigillo_core::kek::Kek;
use sigillo_core::password::HashParams;
use sigillo_core::time::UnixMillis;
use sigillo_server::app::App;
use sigillo_server::clock::ManualClock;
use sigillo_server::config::Config;
use sigillo_server::notify::Outgoing;
use sigillo_server::notify::worker::Senders;
use sigillo_server::service::Services;
use sigillo_server::service::operator::Envelope;
use sigillo_store::Backend;
use sigillo_store::testing::TestDb;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// 2026-11-23T08:00:00Z.
pub const START: UnixMillis = UnixMillis(1_795_420_800_000);

pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub services: Services,
    /// The senders the app's own worker uses (dev mode: console, and the push recorder
    /// behind `GET /dev/push`), for tests that deliver explicitly.
    pub senders: Senders,
    pub clock: Arc<ManualClock>,
    pub db: Option<TestDb>,
    /// The node's configuration and key: a second node on the same database shares them.
    pub cfg: Config,
    kek: Kek,
    shutdown: watch::Sender<bool>,
    server: Option<tokio::task::JoinHandle<()>>,
}

/// Cheap hashing: the cost parameters are not what these tests are about.
pub fn test_config(database_url: &str) -> Config {
    let mut cfg = Config { database_url: database_url.to_owned(), ..Config::default() };
    cfg.security.hashing = HashParams { memory_kib: 256, iterations: 1, parallelism: 1 };
    // No outbox worker: tests deliver explicitly (a worker's first pass could run at any
    // moment on a loaded machine and take the messages a test is about to deliver).
    cfg.outbox.poll_ms = 0;
    cfg
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Self {
        let db = TestDb::new(backend).await;
        let mut cfg = test_config(&db.url);
        tweak(&mut cfg);
        let clock = Arc::new(ManualClock::new(START));
        let kek = Kek::generate(&mut rand::rngs::OsRng);
        Self::start(cfg, clock, kek, Some(db)).await
    }

    /// Another node on the same database, with the same key and clock (scale-out).
    pub async fn second_node(&self) -> Self {
        Self::start(self.cfg.clone(), self.clock.clone(), self.kek.clone(), None).await
    }

    async fn start(cfg: Config, clock: Arc<ManualClock>, kek: Kek, db: Option<TestDb>) -> Self {
        let app = App::build(cfg.clone(), clock.clone(), kek.clone()).await.expect("build app");
        let services = app.services.clone();
        let senders = app.senders.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (shutdown, rx) = watch::channel(false);
        let server = tokio::spawn(async move {
            app.serve(listener, rx).await.expect("serve");
        });
        let client = Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        Self { base, client, services, senders, clock, db, cfg, kek, shutdown, server: Some(server) }
    }

    pub async fn stop(mut self) {
        self.shutdown.send(true).ok();
        if let Some(server) = self.server.take() {
            server.await.ok();
        }
        if let Some(db) = self.db.take() {
            db.cleanup().await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn post(&self, path: &str, body: Value, token: Option<&str>) -> Response {
        let mut req = self.client.post(self.url(path)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut req = self.client.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    pub async fn user(&self) -> Envelope {
        self.user_with_phone("+393331234567").await
    }

    pub async fn user_with_phone(&self, phone: &str) -> Envelope {
        self.services.create_user(phone, Some("mario@example.it"), "test-operator").await.expect("create user")
    }

    /// Every message queued so far, oldest first, opened.
    pub async fn outbox(&self) -> Vec<Outgoing> {
        self.services.outbox_messages(10_000).await.expect("outbox")
    }

    /// The newest SMS OTP sent to `phone`.
    pub async fn last_otp(&self, phone: &str) -> String {
        let re = Regex::new(r"\b(\d{6})\b").expect("regex");
        self.outbox()
            .await
            .iter()
            .rev()
            .filter(|m| m.channel == "sms" && m.recipient == phone)
            .find_map(|m| re.captures(&m.body).map(|c| c[1].to_owned()))
            .expect("an OTP was sent")
    }

    /// Password step of a login: the flow handle.
    pub async fn start_login(&self, username: &str, password: &str) -> String {
        let resp = self.post("/api/v1/login", json!({ "username": username, "password": password }), None).await;
        assert_eq!(resp.status(), StatusCode::OK);
        resp.json::<Value>().await.expect("json")["flow"].as_str().expect("flow").to_owned()
    }

    /// A full API login (password, SMS, OTP): the session token and the must-change flag.
    pub async fn login(&self, username: &str, password: &str, phone: &str) -> (String, bool) {
        let flow = self.start_login(username, password).await;
        let resp = self.post(&format!("/api/v1/login/{flow}/sms"), json!({}), None).await;
        assert_eq!(resp.status(), StatusCode::ACCEPTED);
        let code = self.last_otp(phone).await;
        let resp = self.post(&format!("/api/v1/login/{flow}/otp"), json!({ "code": code }), None).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let body: Value = resp.json().await.expect("json");
        (body["token"].as_str().expect("token").to_owned(), body["must_change_password"].as_bool().expect("flag"))
    }

    /// First access through the API: login with the envelope, new password. Returns a full session.
    pub async fn activate(&self, env: &Envelope, new_password: &str, phone: &str) -> String {
        let (token, must_change) = self.login(&env.user_code, &env.initial_password, phone).await;
        assert!(must_change);
        let resp = self
            .post("/api/v1/password", json!({ "current": env.initial_password, "new": new_password }), Some(&token))
            .await;
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        token
    }

    pub fn advance(&self, d: Duration) {
        self.clock.advance(d);
    }

    pub async fn audit_actions(&self) -> Vec<String> {
        self.services.audit_tail(100_000).await.expect("audit").into_iter().map(|r| r.action).collect()
    }
}

/// Runs a test body once per configured backend.
#[macro_export]
macro_rules! each_backend {
    (|$app:ident| $body:block) => {
        for backend in sigillo_store::testing::backends() {
            let $app = $crate::support::TestApp::spawn(backend).await;
            $body
            $app.stop().await;
        }
    };
    (with $tweak:expr, |$app:ident| $body:block) => {
        for backend in sigillo_store::testing::backends() {
            let $app = $crate::support::TestApp::spawn_with(backend, $tweak).await;
            $body
            $app.stop().await;
        }
    };
}
