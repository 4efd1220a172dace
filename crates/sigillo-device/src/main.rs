//! `sigillo-device`: plays a phone with the sigillo app, for tests, demos and support.
//! One state file is one phone (several users on it); every command can print JSON.

use clap::{Args, Parser, Subcommand};
use serde_json::json;
use sigillo_device::keystore::FileKeystore;
use sigillo_device::prompt::Unlock;
use sigillo_device::state::State;
use sigillo_device::{Device, DeviceError};
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(name = "sigillo-device", version, about = "A phone with the sigillo app, on the command line")]
struct Cli {
    /// The phone's state file (its keys go to FILE.keys, both mode 0600).
    #[arg(long, global = true, env = "SIGILLO_DEVICE_STATE", default_value = "sigillo-device.json")]
    state: PathBuf,
    /// Print JSON.
    #[arg(long, global = true)]
    json: bool,
    /// Which user on the phone (binding id or user code); the current one by default.
    #[arg(long, global = true)]
    user: Option<String>,
    /// The phone's name as the bank shows it.
    #[arg(long, global = true, default_value = "sigillo-device")]
    name: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Bind a user from an activation code, a QR payload, or a PNG of the QR.
    Activate {
        #[arg(long)]
        server: String,
        /// `XXXXX-XXXXX-XXXXX-XXXXX`, `SIGILLO1:…`, or a .png file.
        code: String,
        /// The new 5-digit Smart PIN.
        #[arg(long)]
        pin: String,
        /// Also enrol biometry (simulated: a key kept apart that opens without the PIN).
        #[arg(long)]
        biometry: bool,
    },
    /// Finish a binding that a bound phone has approved.
    Commit {
        #[arg(long)]
        pin: String,
    },
    /// The binding's status on the server.
    Status,
    /// The users on this phone.
    Users {
        #[command(subcommand)]
        action: Option<UsersAction>,
    },
    /// The Smart PIN.
    Pin {
        #[command(subcommand)]
        action: PinAction,
    },
    /// Biometry on or off.
    Biometry {
        #[command(subcommand)]
        action: BiometryAction,
    },
    /// In-app login: prints an app session token.
    Login(UnlockArgs),
    /// Operations waiting for approval.
    Pending,
    /// Approve an operation.
    Approve {
        id: String,
        #[command(flatten)]
        unlock: UnlockArgs,
        /// For a login: the number the web page shows (one of the three offered).
        #[arg(long = "match")]
        number: Option<u8>,
    },
    /// Wait for operations to approve (the phone's event stream): prints the pending
    /// operations now and whenever they change.
    Listen {
        /// Stop after the first time something is pending.
        #[arg(long)]
        once: bool,
        /// Give up after this many seconds (exit status 3).
        #[arg(long)]
        timeout: Option<u64>,
    },
    /// Offline codes ("Genera OTP").
    Otp {
        #[command(subcommand)]
        action: OtpAction,
    },
    /// Reject an operation ("non sono io").
    Reject { id: String },
    /// The user's cards and their Key6.
    Key6 {
        #[command(subcommand)]
        action: Key6Command,
    },
    /// Register a push token.
    Push {
        #[arg(long)]
        provider: String,
        #[arg(long)]
        token: String,
    },
}

#[derive(Subcommand)]
enum OtpAction {
    /// "OTP login": the 6-digit code to type on the web.
    Login {
        #[arg(long)]
        pin: String,
    },
    /// "OTP dispositiva": scan the payment page's QR (its text `SIGILLOTX1:…`, or a .png),
    /// check it, show the payment and print the 8-digit code.
    Scan {
        payload: String,
        #[arg(long)]
        pin: String,
    },
}

#[derive(Subcommand)]
enum Key6Command {
    /// The user's cards: last four digits and Key6 state.
    List,
    /// Set or change a card's Key6 (signed with the PIN or biometry).
    Set {
        #[arg(long)]
        card: String,
        #[arg(long)]
        key6: String,
        #[command(flatten)]
        unlock: UnlockArgs,
    },
    /// Show a card's Key6 (the phone approves the request itself).
    View {
        #[arg(long)]
        card: String,
        #[command(flatten)]
        unlock: UnlockArgs,
    },
    /// Unlock a card's blocked Key6 (the phone approves the request itself).
    Unlock {
        #[arg(long)]
        card: String,
        #[command(flatten)]
        unlock: UnlockArgs,
    },
}

#[derive(Subcommand)]
enum UsersAction {
    List,
    /// Show this user in the app.
    Switch {
        id: String,
    },
    /// Make this user the phone's primary one (it gets the notifications).
    Primary {
        id: String,
    },
    /// Remove this user from the phone and the bank.
    Remove {
        id: String,
    },
}

#[derive(Subcommand)]
enum PinAction {
    Change {
        #[arg(long)]
        old: String,
        #[arg(long)]
        new: String,
    },
    /// After the bank unblocked the binding: choose a new PIN.
    Reset {
        #[arg(long)]
        new: String,
    },
}

#[derive(Subcommand)]
enum BiometryAction {
    On {
        #[arg(long)]
        pin: String,
    },
    Off,
}

#[derive(Args)]
struct UnlockArgs {
    #[arg(long, conflicts_with = "biometry", required_unless_present = "biometry")]
    pin: Option<String>,
    #[arg(long)]
    biometry: bool,
}

impl UnlockArgs {
    fn unlock(&self) -> Unlock {
        match &self.pin {
            Some(pin) => Unlock::pin(pin),
            None => Unlock::Biometry,
        }
    }
}

fn keystore_path(state: &Path) -> PathBuf {
    let mut name = state.as_os_str().to_owned();
    name.push(".keys");
    PathBuf::from(name)
}

#[expect(clippy::disallowed_methods, reason = "the CLI is the phone: its clock is the system's")]
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default()
}

/// A QR given as a PNG file is decoded; anything else is the code or payload itself.
fn code_or_qr(arg: &str) -> anyhow::Result<String> {
    let path = Path::new(arg);
    if arg.to_ascii_lowercase().ends_with(".png") && path.is_file() {
        return Ok(sigillo_device::qr::decode_png(path)?);
    }
    Ok(arg.to_owned())
}

fn print(json_out: bool, value: serde_json::Value, text: impl FnOnce() -> String) {
    if json_out {
        println!("{value}");
    } else {
        println!("{}", text());
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(&cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            let code = match e.downcast_ref::<DeviceError>() {
                Some(DeviceError::Server { code, .. }) => code.clone(),
                Some(DeviceError::Protocol(_)) => "protocol".into(),
                Some(DeviceError::Code(_) | DeviceError::Pin(_)) => "invalid_input".into(),
                _ => "error".into(),
            };
            if cli.json {
                println!("{}", json!({ "error": code, "message": format!("{e:#}") }));
            } else {
                eprintln!("sigillo-device: {e:#}");
            }
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: &Cli) -> anyhow::Result<()> {
    let state = State::load(&cli.state)?;
    let keystore = FileKeystore::open(keystore_path(&cli.state))?;
    let mut device = Device::new(state, keystore, &cli.name, "cli");
    let user = cli.user.as_deref();
    let result = command(cli, &mut device, user).await;
    // The state is saved whatever happened: an activation that reached the server but
    // failed later still leaves a record to commit or remove.
    device.state.save(&cli.state)?;
    result
}

async fn key6(j: bool, device: &Device<FileKeystore>, user: Option<&str>, action: &Key6Command) -> anyhow::Result<()> {
    match action {
        Key6Command::List => {
            let cards = device.cards(user).await?;
            print(j, serde_json::to_value(&cards)?, || {
                if cards.is_empty() {
                    return "no cards".into();
                }
                cards
                    .iter()
                    .map(|c| {
                        let state = match (c.key6_blocked, c.key6_set) {
                            (true, _) => "blocked",
                            (false, true) => "active",
                            (false, false) => "not set",
                        };
                        format!("{} {} •••• {}: Key6 {state}", c.card_id, c.brand, c.last4)
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        Key6Command::Set { card, key6, unlock } => {
            device.set_key6(user, card, key6, &unlock.unlock()).await?;
            print(j, json!({ "card": card, "key6": "set" }), || format!("Key6 of {card} set"));
        }
        Key6Command::View { card, unlock } => {
            let key6 = device.view_key6(user, card, &unlock.unlock(), now_ms()).await?;
            print(j, json!({ "card": card, "key6": key6.as_str() }), || key6.to_string());
        }
        Key6Command::Unlock { card, unlock } => {
            device.unlock_key6(user, card, &unlock.unlock(), now_ms()).await?;
            print(j, json!({ "card": card, "key6": "unlocked" }), || format!("Key6 of {card} unlocked"));
        }
    }
    Ok(())
}

async fn command(cli: &Cli, device: &mut Device<FileKeystore>, user: Option<&str>) -> anyhow::Result<()> {
    let j = cli.json;
    match &cli.command {
        Command::Activate { server, code, pin, biometry } => {
            let bound = device.activate(server, &code_or_qr(code)?, pin, *biometry, now_ms()).await?;
            print(j, serde_json::to_value(&bound)?, || {
                format!(
                    "bound user {} ({}), binding {}\nfingerprint: {}",
                    bound.user, bound.status, bound.binding, bound.fingerprint
                )
            });
        }
        Command::Commit { pin } => {
            let binding = device.state.user(user)?.binding.clone();
            let status = device.commit(&binding, pin).await?;
            print(j, serde_json::to_value(&status)?, || format!("binding {}: {}", status.id, status.status));
        }
        Command::Status => {
            let status = device.status(user).await?;
            print(j, serde_json::to_value(&status)?, || {
                format!(
                    "binding {} ({}): {}{}{}; fingerprint {}",
                    status.id,
                    status.name,
                    status.status,
                    if status.pin_reset_required { ", choose a new PIN (pin reset)" } else { "" },
                    if status.suspended_until.is_some() { ", PIN suspended for now" } else { "" },
                    status.fingerprint
                )
            });
        }
        Command::Users { action } => match action {
            None | Some(UsersAction::List) => {
                let current = device.state.user(None).map(|u| u.binding.clone()).ok();
                let users: Vec<_> = device
                    .state
                    .users
                    .iter()
                    .map(|u| {
                        json!({
                            "binding": u.binding, "user": u.user, "status": u.status, "primary": u.primary,
                            "current": current.as_deref() == Some(u.binding.as_str()), "biometry": u.biometry,
                            "fingerprint": u.fingerprint,
                        })
                    })
                    .collect();
                print(j, json!(users), || {
                    device
                        .state
                        .users
                        .iter()
                        .map(|u| {
                            format!(
                                "{} {} {}{}",
                                if current.as_deref() == Some(u.binding.as_str()) { "*" } else { " " },
                                u.user,
                                u.status,
                                if u.primary { " (primary)" } else { "" }
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                });
            }
            Some(UsersAction::Switch { id }) => {
                let binding = device.state.user(Some(id))?.binding.clone();
                device.state.current = Some(binding.clone());
                print(j, json!({ "current": binding }), || format!("now showing {id}"));
            }
            Some(UsersAction::Primary { id }) => {
                device.make_primary(id).await?;
                print(j, json!({ "primary": id }), || format!("{id} is now the primary user"));
            }
            Some(UsersAction::Remove { id }) => {
                device.remove(Some(id)).await?;
                print(j, json!({ "removed": id }), || format!("{id} removed from this phone"));
            }
        },
        Command::Pin { action } => match action {
            PinAction::Change { old, new } => {
                device.change_pin(user, old, new).await?;
                print(j, json!({ "pin": "changed" }), || "PIN changed".into());
            }
            PinAction::Reset { new } => {
                device.reset_pin(user, new).await?;
                print(j, json!({ "pin": "reset" }), || "new PIN set".into());
            }
        },
        Command::Biometry { action } => match action {
            BiometryAction::On { pin } => {
                device.biometry_on(user, pin).await?;
                print(j, json!({ "biometry": true }), || "biometry on".into());
            }
            BiometryAction::Off => {
                device.biometry_off(user).await?;
                print(j, json!({ "biometry": false }), || "biometry off".into());
            }
        },
        Command::Login(unlock) => {
            let session = device.login(user, &unlock.unlock()).await?;
            print(j, serde_json::to_value(&session)?, || format!("app session: {}", session.token));
        }
        Command::Pending => {
            let ops = device.pending(user, now_ms()).await?;
            print(j, serde_json::to_value(&ops)?, || {
                if ops.is_empty() {
                    return "nothing to approve".into();
                }
                ops.iter()
                    .map(|op| {
                        let fields: Vec<String> = op.fields.iter().map(|(k, v)| format!("  {k}: {v}")).collect();
                        format!("{} {}\n{}", op.id, op.kind, fields.join("\n"))
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        Command::Approve { id, unlock, number } => {
            device.approve(user, id, &unlock.unlock(), *number, now_ms()).await?;
            print(j, json!({ "approved": id }), || format!("{id} approved"));
        }
        Command::Listen { once, timeout } => {
            let once = *once;
            let listening = device.listen(user, |ids| {
                if j {
                    println!("{}", json!({ "pending": ids }));
                } else if ids.is_empty() {
                    println!("nothing to approve");
                } else {
                    println!("pending: {}", ids.join(" "));
                }
                !once || ids.is_empty()
            });
            match timeout {
                Some(secs) => match tokio::time::timeout(std::time::Duration::from_secs(*secs), listening).await {
                    Ok(done) => done?,
                    Err(_) => {
                        eprintln!("nothing arrived within {secs} s");
                        std::process::exit(3);
                    }
                },
                None => listening.await?,
            }
        }
        Command::Otp { action: OtpAction::Login { pin } } => {
            let code = device.login_otp(user, pin, now_ms())?;
            print(j, json!({ "code": code }), || code.clone());
        }
        Command::Otp { action: OtpAction::Scan { payload, pin } } => {
            let payload = if payload.ends_with(".png") {
                sigillo_device::qr::decode_png(Path::new(payload))?
            } else {
                payload.clone()
            };
            let scanned = device.transaction_otp(user, &payload, pin, now_ms())?;
            print(j, serde_json::to_value(&scanned)?, || {
                let fields: Vec<String> = scanned.fields.iter().map(|(k, v)| format!("  {k}: {v}")).collect();
                format!("{} {}\n{}\ncode: {}", scanned.id, scanned.kind, fields.join("\n"), scanned.code)
            });
        }
        Command::Reject { id } => {
            device.reject(user, id, now_ms()).await?;
            print(j, json!({ "rejected": id }), || format!("{id} rejected"));
        }
        Command::Key6 { action } => key6(j, device, user, action).await?,
        Command::Push { provider, token } => {
            device.register_push(user, provider, token).await?;
            print(j, json!({ "push": provider }), || format!("push via {provider} registered"));
        }
    }
    Ok(())
}
