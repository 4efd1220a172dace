//! Building and running one node: store, services, senders, router, outbox worker.

use crate::clock::Clock;
use crate::config::{Config, SenderKind};
use crate::middleware::rate_limit;
use crate::notify::email::EmailSender;
use crate::notify::sms::SmsSender;
use crate::notify::webhook::WebhookSender;
use crate::notify::worker::{self, Senders};
use crate::push::PushSender;
use crate::push::apns::{ApnsConfig, ApnsSender};
use crate::push::dev::DevPush;
use crate::push::fcm::{FcmConfig, FcmSender, ServiceAccount};
use crate::router::{AppState, router};
use crate::service::Services;
use crate::service::operator::Envelope;
use crate::web::Web;
use sigillo_core::kek::Kek;
use sigillo_store::Store;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// A built node, ready to serve.
#[derive(Debug)]
pub struct App {
    pub services: Services,
    pub state: AppState,
    pub senders: Senders,
}

impl App {
    /// Connects and migrates the store, and builds everything the node needs.
    pub async fn build(cfg: Config, clock: Arc<dyn Clock>, kek: Kek) -> anyhow::Result<Self> {
        let store = Store::connect_with(&cfg.database_url, &cfg.store_options()).await?;
        store.migrate().await?;
        let senders = senders(&cfg, &clock)?;
        let limiter = Arc::new(rate_limit::limiter(cfg.rate_limit.per_ip_per_second, cfg.rate_limit.burst));
        let services = Services::new(store, cfg, clock, kek).await?;
        let state = AppState {
            services: services.clone(),
            limiter,
            web: Arc::new(Web::new()?),
            dev_push: senders.push.dev.clone(),
        };
        Ok(Self { services, state, senders })
    }

    /// Serves on `listener` until `shutdown` turns true, then drains in-flight requests
    /// and stops the outbox worker.
    pub async fn serve(self, listener: TcpListener, shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
        // `outbox.poll_ms = 0`: no worker on this node (tests deliver explicitly; another node delivers).
        let worker = (self.services.cfg.outbox.poll_ms > 0)
            .then(|| tokio::spawn(worker::run(self.services.clone(), self.senders.clone(), shutdown.clone())));
        if self.services.store.backend() == sigillo_store::Backend::Postgres {
            let url = self.services.store.url().to_owned();
            tokio::spawn(crate::events::pg::listen(url, self.services.events.clone(), shutdown.clone()));
        }
        let sweeper = tokio::spawn(sweep(self.services.clone(), shutdown.clone()));
        let limiter = self.state.limiter.clone();
        let mut tick_shutdown = shutdown.clone();
        let janitor = tokio::spawn(async move {
            // The limiter keeps one entry per address: forget idle ones now and then.
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(60)) => limiter.retain_recent(),
                    _ = tick_shutdown.changed() => return,
                }
            }
        });
        let app = router(self.state).into_make_service_with_connect_info::<std::net::SocketAddr>();
        let mut signal = shutdown.clone();
        // Server-sent events are small writes that must leave at once: without
        // TCP_NODELAY a wake-up waits for the client's delayed ACK (bench/approvals: p99
        // 35 ms → 6 ms).
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp: &mut tokio::net::TcpStream| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "TCP_NODELAY not set");
            }
        });
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                while !*signal.borrow() {
                    if signal.changed().await.is_err() {
                        break;
                    }
                }
            })
            .await?;
        if let Some(worker) = worker {
            worker.await.ok();
        }
        janitor.abort();
        sweeper.abort();
        Ok(())
    }
}

/// Expires unanswered operations, queues webhook outcomes, ends 3-D Secure challenges
/// that timed out and retries their RReqs, every 2 s (each node; the statements are
/// idempotent).
async fn sweep(services: Services, mut shutdown: watch::Receiver<bool>) {
    loop {
        if let Err(e) = services.sweep_operations().await {
            tracing::warn!(error = %e, "operation sweep");
        }
        if let Err(e) = services.sweep_threeds().await {
            tracing::warn!(error = %e, "3-D Secure sweep");
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = shutdown.changed() => return,
        }
    }
}

fn senders(cfg: &Config, clock: &Arc<dyn Clock>) -> anyhow::Result<Senders> {
    let sms = match (cfg.sms.kind, &cfg.sms.url) {
        (SenderKind::Http, Some(url)) => SmsSender::http(url.clone(), cfg.sms_auth_header()?)?,
        (SenderKind::Http, None) => anyhow::bail!("sms.kind = \"http\" needs sms.url"),
        _ => SmsSender::Console,
    };
    let email = match cfg.email.kind {
        SenderKind::Smtp => EmailSender::smtp(&cfg.email, cfg.smtp_password()?)?,
        _ => EmailSender::Console,
    };
    Ok(Senders { sms, email, push: push_sender(cfg, clock)?, webhook: WebhookSender::default() })
}

/// The configured push providers. A missing one is a warning, not an error: approval never
/// depends on a push (the app lists pending operations). Dev mode records the notes of
/// missing providers for `GET /dev/push`.
pub fn push_sender(cfg: &Config, clock: &Arc<dyn Clock>) -> anyhow::Result<PushSender> {
    let mut push = PushSender::none();
    if let (Some(apns), Some(key)) = (&cfg.push.apns, cfg.apns_key()?) {
        let apns_cfg = ApnsConfig {
            endpoint: apns.endpoint.clone(),
            key_id: apns.key_id.clone(),
            team_id: apns.team_id.clone(),
            topic: apns.topic.clone(),
        };
        warn_cleartext("push.apns.endpoint", &apns.endpoint);
        push.apns = Some(ApnsSender::new(apns_cfg, &key, clock.clone())?);
    }
    if let (Some(fcm), Some(json)) = (&cfg.push.fcm, cfg.fcm_service_account()?) {
        let account = ServiceAccount::from_json(&json)?;
        let fcm_cfg = FcmConfig {
            endpoint: fcm.endpoint.clone(),
            project_id: fcm.project_id.clone().or_else(|| account.project_id.clone()).unwrap_or_default(),
            token_uri: fcm.token_uri.clone().unwrap_or_else(|| account.token_uri.clone()),
        };
        warn_cleartext("push.fcm.endpoint", &fcm_cfg.endpoint);
        warn_cleartext("push.fcm.token_uri", &fcm_cfg.token_uri);
        push.fcm = Some(FcmSender::new(fcm_cfg, &account, clock.clone())?);
    }
    if cfg.dev_mode && (push.apns.is_none() || push.fcm.is_none()) {
        push.dev = Some(DevPush::new(clock.clone()));
    }
    for (name, missing) in [("apns", push.apns.is_none()), ("fcm", push.fcm.is_none())] {
        if missing && !cfg.dev_mode {
            tracing::warn!(
                provider = name,
                "push.{name} is not configured: phones registered with it get no notifications"
            );
        }
    }
    Ok(push)
}

fn warn_cleartext(key: &str, url: &str) {
    if url.starts_with("http://") {
        tracing::warn!(key, "push provider endpoint in cleartext: tests only");
    }
}

/// Dev mode: a demo user so a newcomer can try the flows at once. Created on the first
/// start (its envelope is printed then); later starts say it exists.
pub async fn ensure_demo_user(services: &Services) -> anyhow::Result<Option<Envelope>> {
    let mut conn = services.store.conn().await?;
    if sigillo_store::repo::users::count(&mut conn).await? > 0 {
        return Ok(None);
    }
    drop(conn);
    let envelope = services.create_user("+393331234567", Some("demo@sigillo.invalid"), "dev-mode").await?;
    // And a demo card for the 3-D Secure tour (a public test number).
    let card = crate::service::cards::CardRequest {
        pan: DEMO_PAN,
        brand: "visa",
        kind: "credit",
        holder_user_code: Some(&envelope.user_code),
        phone: "+393331234567",
        corporate: false,
        expiry: Some("3012"),
    };
    let actor = crate::service::Actor::Operator("dev-mode".into());
    services.create_card(&card, &actor, &crate::service::Origin::cli()).await?;
    // And a prepaid card nobody holds yet, for the card portal tour ("Iscriviti").
    let portal_card = crate::service::cards::CardRequest {
        pan: DEMO_PORTAL_PAN,
        brand: "mastercard",
        kind: "prepaid",
        holder_user_code: None,
        phone: DEMO_PORTAL_PHONE,
        corporate: false,
        expiry: Some("3012"),
    };
    services.create_card(&portal_card, &actor, &crate::service::Origin::cli()).await?;
    // And a customer of the demo acquired bank, if it is configured (README tour).
    if services.legacy_bank(DEMO_LEGACY_BANK).is_ok() {
        let csv = format!(
            "legacy_code,password_hash,phone,email,name,token\n{DEMO_LEGACY_CODE},{},+393331234567,demo.legacy@sigillo.invalid,Cliente Demo,app\n",
            demo_legacy_hash()
        );
        let input = std::io::Cursor::new(csv.into_bytes());
        let format = crate::service::legacy::ImportFormat::Csv;
        services.import_legacy(DEMO_LEGACY_BANK, input, format, &actor, &crate::service::Origin::cli()).await?;
    }
    Ok(Some(envelope))
}

/// The demo card's number: a public Visa test number that no test of ours issues itself
/// (README tour).
pub const DEMO_PAN: &str = "4242424242424242";

/// Dev mode's acquired bank (DESIGN flow 10), its customer and that customer's old
/// password (README tour).
pub const DEMO_LEGACY_BANK: &str = "banca-demo";
pub const DEMO_LEGACY_CODE: &str = "DEMO0001";
pub const DEMO_LEGACY_PASSWORD: &str = "vecchia2024";

/// The demo acquired bank: open since the start of 2026.
pub fn demo_legacy_bank() -> crate::config::LegacyBank {
    crate::config::LegacyBank {
        id: DEMO_LEGACY_BANK.into(),
        name: "Banca Demo (acquisita)".into(),
        credentials_label: "Codice Cliente Banca Demo e password".into(),
        opens_at: "2026-01-01T00:00:00+01:00".into(),
        closes_at: None,
        hardware_token_sms: true,
    }
}

/// The demo customer's old password as an older system kept it (salted SHA-256).
pub fn demo_legacy_hash() -> String {
    use sha2::Digest;
    let salt = b"banca-demo";
    let digest = sha2::Sha256::digest([salt.as_slice(), DEMO_LEGACY_PASSWORD.as_bytes()].concat());
    format!("$sha256-salted${}${}", hex::encode(salt), hex::encode(digest))
}

/// The card portal's demo card (a public Mastercard test number, README tour), expiring
/// 12/30, and its 3-D Secure phone.
pub const DEMO_PORTAL_PAN: &str = "5200828282828210";
pub const DEMO_PORTAL_PHONE: &str = "+393339876543";
