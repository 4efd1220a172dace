//! Prometheus metrics (`GET /metrics`). One registry per app instance, so tests that
//! run several apps in one process do not share counters.

use prometheus::{Encoder, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};

#[derive(Clone, Debug)]
pub struct Metrics {
    registry: Registry,
    /// Completed logins by outcome (`success`, `failure`).
    pub logins: IntCounterVec,
    /// Failed verifications by secret (`password`, `sms_otp`, `security_code`).
    pub auth_failures: IntCounterVec,
    /// One-time codes sent, by channel.
    pub otp_sent: IntCounterVec,
    /// Outbox deliveries by channel and outcome.
    pub deliveries: IntCounterVec,
    /// Messages waiting in the outbox (refreshed at each scrape).
    pub outbox_backlog: IntGauge,
    /// 3-D Secure messages by type (`areq`, `ares`, `rreq`) and code (transStatus or error code).
    pub threeds_messages: IntCounterVec,
}

impl Metrics {
    pub fn new() -> anyhow::Result<Self> {
        let registry = Registry::new_custom(Some("sigillo".into()), None)?;
        let logins = IntCounterVec::new(Opts::new("logins_total", "Logins by outcome"), &["result"])?;
        let auth_failures =
            IntCounterVec::new(Opts::new("auth_failures_total", "Failed secret verifications"), &["secret"])?;
        let otp_sent = IntCounterVec::new(Opts::new("otp_sent_total", "One-time codes sent"), &["channel"])?;
        let deliveries =
            IntCounterVec::new(Opts::new("outbox_deliveries_total", "Outbox deliveries"), &["channel", "result"])?;
        let outbox_backlog = IntGauge::new("outbox_backlog", "Messages not yet delivered")?;
        registry.register(Box::new(logins.clone()))?;
        registry.register(Box::new(auth_failures.clone()))?;
        registry.register(Box::new(otp_sent.clone()))?;
        registry.register(Box::new(deliveries.clone()))?;
        registry.register(Box::new(outbox_backlog.clone()))?;
        let threeds_messages = IntCounterVec::new(
            Opts::new("threeds_messages_total", "3-D Secure messages by type and status or error code"),
            &["message", "code"],
        )?;
        registry.register(Box::new(threeds_messages.clone()))?;
        Ok(Self { registry, logins, auth_failures, otp_sent, deliveries, outbox_backlog, threeds_messages })
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        if TextEncoder::new().encode(&self.registry.gather(), &mut buf).is_err() {
            return String::new();
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}
