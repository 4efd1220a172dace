//! `sigillo-3ds-sim`: the 3DS Server + Directory Server simulator as a command.
//! `serve` runs it for browser tests; `purchase` runs one purchase against an ACS for a demo.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand};
use serde_json::Value;
use sigillo_3ds_sim::{Purchase, Sim, SimConfig, parse_amount};

#[derive(Parser)]
#[command(version, about = "EMV 3DS 2.2.0 3DS Server and Directory Server simulator for sigillo's ACS")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the DS, merchant and /sim control endpoints until killed. The first line on
    /// stdout is `listening on http://ADDR`.
    Serve {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        /// Base URL the ACS and browsers reach the simulator at, if not http://LISTEN.
        #[arg(long)]
        public_url: Option<String>,
    },
    /// Send one purchase's AReq to an ACS, print the answer and, for a challenge, the
    /// checkout URL to open; then wait for the CRes and RReq and print them.
    Purchase(Box<PurchaseArgs>),
}

#[derive(Args)]
struct PurchaseArgs {
    /// ACS base URL; the AReq goes to ACS/3ds/v2/areq.
    #[arg(long)]
    acs: String,
    #[arg(long)]
    pan: String,
    /// Amount in the currency's units, e.g. 12.50.
    #[arg(long)]
    amount: String,
    /// ISO 4217 numeric currency code.
    #[arg(long, default_value_t = 978)]
    currency: u16,
    /// Decimals of the currency.
    #[arg(long, default_value_t = 2)]
    exponent: u8,
    #[arg(long, default_value = "Sigillo Demo Shop")]
    merchant: String,
    /// Card expiry, YYMM.
    #[arg(long, default_value = "3012")]
    expiry: String,
    /// messageVersion: 2.2.0 or 2.1.0.
    #[arg(long, default_value = "2.2.0")]
    version: String,
    /// messageCategory: 01 payment, 02 non-payment.
    #[arg(long, default_value = "01")]
    category: String,
    /// threeDSRequestorChallengeInd, e.g. 04 to ask for a challenge.
    #[arg(long)]
    challenge_ind: Option<String>,
    /// challengeWindowSize, 01 to 05.
    #[arg(long, default_value = "02")]
    window_size: String,
    /// Where the simulator listens for the RReq and the browser.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// How long to wait for the challenge to finish, in seconds.
    #[arg(long, default_value_t = 600)]
    wait_secs: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Serve { listen, public_url } => {
            let sim = Sim::start(SimConfig { listen, public_url, ..SimConfig::default() }).await?;
            println!("listening on {}", sim.base_url());
            tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
            Ok(())
        }
        Command::Purchase(args) => {
            let PurchaseArgs {
                acs,
                pan,
                amount,
                currency,
                exponent,
                merchant,
                expiry,
                version,
                category,
                challenge_ind,
                window_size,
                listen,
                wait_secs,
            } = *args;
            let purchase = Purchase {
                pan,
                expiry,
                amount_minor: parse_amount(&amount, exponent)?,
                currency,
                exponent,
                merchant_name: merchant,
                challenge_ind,
                window_size,
                message_version: version,
                message_category: category,
            };
            let sim = Sim::start(SimConfig { listen, ..SimConfig::default() }).await?;
            demo_purchase(&sim, &acs, &purchase, Duration::from_secs(wait_secs)).await
        }
    }
}

async fn demo_purchase(sim: &Sim, acs: &str, purchase: &Purchase, wait: Duration) -> anyhow::Result<()> {
    let outcome = sim.purchase(acs, purchase).await?;
    println!("HTTP {}", outcome.http_status);
    println!("{}", pretty(&outcome.response, &outcome.response_text));
    for problem in &outcome.problems {
        eprintln!("problem: {problem}");
    }
    let (Some(ares), Some(checkout_url)) = (&outcome.ares, &outcome.checkout_url) else {
        if outcome.erro.is_some() {
            bail!("the ACS answered Erro");
        }
        return Ok(());
    };
    println!("challenge: open {checkout_url} in a browser");
    let field = |name| ares.get(name).and_then(Value::as_str).unwrap_or_default();
    let cres = sim
        .wait_notification(field("threeDSServerTransID"), wait)
        .await
        .context("no CRes reached the merchant in time")?;
    println!("CRes:\n{}", pretty(&cres.cres, &cres.cres_raw));
    for problem in &cres.problems {
        eprintln!("problem: {problem}");
    }
    let rreq = sim.wait_rreq(field("acsTransID"), wait).await.context("no RReq reached the DS in time")?;
    println!("RReq:\n{}", pretty(&rreq, ""));
    Ok(())
}

fn pretty(json: &Value, fallback: &str) -> String {
    if json.is_null() { fallback.to_owned() } else { serde_json::to_string_pretty(json).unwrap_or_default() }
}
