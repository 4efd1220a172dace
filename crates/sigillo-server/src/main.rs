//! The `sigillo` binary.
#![forbid(unsafe_code)]

use anyhow::Context;
use clap::{Parser, Subcommand};
use sigillo_core::security_code;
use sigillo_server::admin::{self, AdminCommand};
use sigillo_server::app::{App, ensure_demo_user};
use sigillo_server::clock::SystemClock;
use sigillo_server::config::{self, Config, Overrides};
use sigillo_server::service::Services;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Parser)]
#[command(name = "sigillo", version, about = "Strong customer authentication (PSD2 SCA) for banks")]
struct Cli {
    /// Configuration file (TOML); see `sigillo config example`.
    #[arg(long, global = true, env = "SIGILLO_CONFIG")]
    config: Option<PathBuf>,
    /// sqlite:PATH or postgres://… (also SIGILLO_DATABASE_URL).
    #[arg(long, global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the server (dev mode by default: console SMS/email, a demo user).
    Serve {
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Applies database migrations and exits.
    Migrate,
    /// Operator commands.
    Admin {
        /// Who is acting, for the audit trail (defaults to $USER).
        #[arg(long, global = true)]
        operator: Option<String>,
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Prints the reference configuration, or checks a file.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Prints the commented reference configuration.
    Example,
    /// Validates a configuration file (with the environment applied).
    Check { file: PathBuf },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => std::process::ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<u8> {
    let listen = match &cli.command {
        Command::Serve { listen } => *listen,
        _ => None,
    };
    let overrides = Overrides { listen, database_url: cli.database_url.clone() };
    match cli.command {
        Command::Config(ConfigCommand::Example) => {
            print!("{}", config::EXAMPLE);
            Ok(0)
        }
        Command::Config(ConfigCommand::Check { file }) => {
            let cfg = Config::load(Some(&file), &Overrides::default())?;
            println!(
                "{} is valid (dev_mode = {}, database = {})",
                file.display(),
                cfg.dev_mode,
                redact_url(&cfg.database_url)
            );
            Ok(0)
        }
        Command::Migrate => {
            let cfg = Config::load(cli.config.as_deref(), &overrides)?;
            sigillo_server::telemetry::init(cfg.log_format);
            let store = sigillo_store::Store::connect_with(&cfg.database_url, &cfg.store_options()).await?;
            store.migrate().await?;
            println!("migrations applied to {}", redact_url(&cfg.database_url));
            Ok(0)
        }
        Command::Admin { operator, command } => {
            let cfg = Config::load(cli.config.as_deref(), &overrides)?;
            let kek = cfg.load_kek()?;
            let store = sigillo_store::Store::connect_with(&cfg.database_url, &cfg.store_options()).await?;
            store.migrate().await?;
            let services = Services::new(store, cfg, Arc::new(SystemClock), kek).await?;
            let operator = operator.or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "cli".into());
            let code = admin::run(&services, &operator, command).await?;
            Ok(u8::try_from(code).unwrap_or(1))
        }
        Command::Serve { .. } => serve(cli.config, overrides).await,
    }
}

async fn serve(config: Option<PathBuf>, overrides: Overrides) -> anyhow::Result<u8> {
    let mut cfg = Config::load(config.as_deref(), &overrides)?;
    sigillo_server::telemetry::init(cfg.log_format);
    if cfg.dev_mode && cfg.legacy.banks.is_empty() {
        // The README tour's acquired bank, open already (DESIGN flow 10).
        cfg.legacy.banks.push(sigillo_server::app::demo_legacy_bank());
    }
    if cfg.dev_mode {
        tracing::warn!(
            "DEV MODE: SMS and email go to this console and to GET /dev/outbox; cookies are not Secure. Never in production."
        );
    }
    let kek = cfg.load_kek()?;
    let listen = cfg.listen;
    let dev = cfg.dev_mode;
    let database = redact_url(&cfg.database_url);
    let app = App::build(cfg, Arc::new(SystemClock), kek).await?;
    if dev {
        match ensure_demo_user(&app.services).await? {
            Some(env) => {
                println!("\n=== sigillo dev mode: demo user (envelope) ===");
                println!("user code:        {}", env.user_code);
                println!("initial password: {}", env.initial_password);
                println!("security code:    {}", security_code::format_grouped(&env.security_code));
                println!("certified phone:  +393331234567 (its SMS appear here and at /dev/outbox)");
                // The last four digits only, as everywhere (the README tour gives the number).
                let last4 = &sigillo_server::app::DEMO_PAN[12..];
                println!("demo card:        Visa •••• {last4} (its 3-D Secure phone: the same)");
                let portal_last4 = &sigillo_server::app::DEMO_PORTAL_PAN[12..];
                println!(
                    "portal demo card: Mastercard •••• {portal_last4}, expiry 12/30, no holder yet: sign up at /portal"
                );
                println!(
                    "acquired bank:    customer code {} of {}, old password in the README: activate at /activation",
                    sigillo_server::app::DEMO_LEGACY_CODE,
                    sigillo_server::app::demo_legacy_bank().name
                );
                println!("==============================================\n");
            }
            None => {
                println!("dev mode: users already exist; `sigillo admin user create --phone +39… --json` makes another")
            }
        }
    }
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("binding {listen}"))?;
    tracing::info!(%listen, database = %database, "sigillo listening");
    println!("sigillo listening on http://{listen}");
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing in-flight requests");
        tx.send(true).ok();
    });
    app.serve(listener, rx).await?;
    Ok(0)
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await.ok();
}

/// A database URL without its password, for logs.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}
