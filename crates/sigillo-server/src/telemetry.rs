//! Logging: human-readable text or one JSON object per line. Nothing logged ever holds
//! a password, OTP, security code or key: requests are logged by method and path only
//! (no query string, no body), and the services log ids and reasons.

use crate::config::LogFormat;
use tracing_subscriber::EnvFilter;

pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_env("SIGILLO_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    // Logs go to stderr; stdout belongs to command output and, in dev mode, to the
    // console "phone" that shows SMS and emails.
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(true).with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
    // A second init (tests) keeps the first subscriber.
    drop(result);
}
