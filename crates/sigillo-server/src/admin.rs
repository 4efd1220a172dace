//! `sigillo admin …`: what branch and contact-centre operators do, on the store
//! directly. Every change goes through the services, so it is audited like any other.

use crate::router::rfc3339;
use crate::service::Services;
use crate::service::operator::Envelope;
use clap::Subcommand;
use sigillo_core::audit::Break;
use sigillo_core::security_code;

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Users: create, show, unlock, block, reissue the envelope, change phone or email.
    #[command(subcommand)]
    User(UserCommand),
    /// The audit trail: verify the hash chain, show the latest records.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// A user's bound phones: list, remove, unblock.
    #[command(subcommand)]
    Device(DeviceCommand),
    /// The bank's back ends that use the integration API.
    #[command(subcommand)]
    Integration(IntegrationCommand),
    /// Payment cards enrolled in 3-D Secure: create, import, show, change the phone.
    #[command(subcommand)]
    Card(CardCommand),
    /// Customers of acquired banks: import their legacy credentials, show one's migration.
    #[command(subcommand)]
    Legacy(LegacyCommand),
}

#[derive(Debug, Subcommand)]
pub enum LegacyCommand {
    /// Imports an acquired bank's customers from a CSV file (header
    /// `legacy_code,password_hash,phone,email,name,token`) or JSON Lines (`.jsonl`, same
    /// keys). Idempotent; rejected rows are listed by line and reason. Exit status 2 when
    /// some rows were rejected.
    Import {
        #[arg(long)]
        bank: String,
        file: std::path::PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Lifts the lock that wrong old passwords or SMS codes put on a legacy customer's
    /// activation.
    Unlock {
        #[arg(long)]
        bank: String,
        legacy_code: String,
    },
    /// Shows a legacy customer's migration state by the old customer code, or without a
    /// code the bank's counts.
    Show {
        #[arg(long)]
        bank: String,
        legacy_code: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum CardCommand {
    /// Issues a card. The PAN is sealed; only its last four digits are ever shown.
    Create {
        /// The card number, or `-` to read it from standard input (keeps it out of the
        /// shell history and the process list).
        #[arg(long)]
        pan: String,
        #[arg(long, value_parser = ["visa", "mastercard"])]
        brand: String,
        #[arg(long, default_value = "credit", value_parser = ["debit", "credit", "prepaid"])]
        kind: String,
        /// The holder's user code (web banking); leave out for a holder who will use the card portal.
        #[arg(long)]
        holder: Option<String>,
        /// The 3-D Secure phone, E.164.
        #[arg(long)]
        phone: String,
        #[arg(long)]
        corporate: bool,
        /// Expiry, YYMM.
        #[arg(long)]
        expiry: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Issues cards from a CSV file with the header `pan,brand,kind,holder,phone,corporate,expiry`
    /// (`holder`, `expiry` may be empty; `corporate` is true or false). Stops at the first bad row.
    Import {
        file: std::path::PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Shows a card (by id, or by PAN with `--pan`).
    Show {
        card_id: Option<String>,
        #[arg(long)]
        pan: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Changes a card's 3-D Secure phone.
    SetPhone { card_id: String, phone: String },
    /// Enrols a card in 3-D Secure (`on`) or takes it out (`off`: its purchases get U).
    Enrollment {
        card_id: String,
        #[arg(value_parser = ["on", "off"])]
        state: String,
    },
    /// Lifts the lock that wrong card data or registration codes put on a card's
    /// card-portal registration and UserID recovery (after checking who is asking).
    UnlockPortal { card_id: String },
}

#[derive(Debug, Subcommand)]
pub enum IntegrationCommand {
    /// Makes a new random API key and prints it with its SHA-256, which is what goes into
    /// `[[integration.clients]] api_key_sha256` (the key itself goes to the client only).
    Key {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// Lists a user's phones (status, fingerprint, bound and last used).
    List {
        user_code: String,
        #[arg(long)]
        json: bool,
    },
    /// Removes a phone (lost or stolen): it can approve nothing any more.
    Remove { user_code: String, binding: String },
    /// Unblocks a phone blocked after five wrong PINs; its app then asks for a new PIN.
    Unblock { user_code: String, binding: String },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Creates a user and prints its branch envelope (user code, initial password, security code).
    Create {
        /// Certified phone, E.164 (+393331234567).
        #[arg(long)]
        phone: String,
        #[arg(long)]
        email: Option<String>,
        /// Print the envelope as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Shows a user, its attempt counters and its latest audit records.
    Show {
        user_code: String,
        #[arg(long)]
        json: bool,
    },
    /// Lifts every lock and counter of a user.
    Unlock { user_code: String },
    /// New initial password and security code; the old security code stops working.
    ReissueEnvelope {
        user_code: String,
        #[arg(long)]
        json: bool,
    },
    /// Blocks a user at the bank's request: sessions end, login and recovery are refused.
    Block {
        user_code: String,
        /// Why, for the audit trail (no personal data beyond what is needed).
        #[arg(long)]
        reason: String,
    },
    /// Lifts a bank block.
    Unblock { user_code: String },
    /// Changes the certified phone (the customer is told on the old number).
    SetPhone { user_code: String, phone: String },
    /// Changes the email address (a validation link goes to the new one).
    SetEmail { user_code: String, email: String },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walks the whole chain; exits non-zero and names the first broken record if any.
    Verify,
    /// Prints the latest records.
    Tail {
        #[arg(short = 'n', long, default_value_t = 20)]
        count: i64,
        #[arg(long)]
        json: bool,
    },
}

fn print_envelope(env: &Envelope, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(env)?);
    } else {
        println!("user code:        {}", env.user_code);
        println!("initial password: {}", env.initial_password);
        println!("security code:    {}", security_code::format_grouped(&env.security_code));
        println!("(hand these over in a sealed envelope; they are not shown again)");
    }
    Ok(())
}

/// Runs one command. Returns the process exit code.
pub async fn run(services: &Services, operator: &str, cmd: AdminCommand) -> anyhow::Result<i32> {
    match cmd {
        AdminCommand::User(UserCommand::Create { phone, email, json }) => {
            let env = services.create_user(&phone, email.as_deref(), operator).await?;
            print_envelope(&env, json)?;
        }
        AdminCommand::User(UserCommand::Show { user_code, json }) => {
            let (view, history) = services.show_user(&user_code).await?;
            services.audit_operator_read(&view.id, operator).await?;
            if json {
                let records: Vec<_> = history.iter().map(record_json).collect();
                println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "user": view, "audit": records }))?);
            } else {
                println!("{}", serde_json::to_string_pretty(&view)?);
                for r in &history {
                    println!("{}", record_line(r));
                }
            }
        }
        AdminCommand::User(UserCommand::Unlock { user_code }) => {
            services.unlock_user(&user_code, operator).await?;
            println!("user {user_code} unlocked");
        }
        AdminCommand::User(UserCommand::ReissueEnvelope { user_code, json }) => {
            let env = services.reissue_envelope(&user_code, operator).await?;
            print_envelope(&env, json)?;
        }
        AdminCommand::User(UserCommand::Block { user_code, reason }) => {
            services.block_user(&user_code, &reason, operator).await?;
            println!("user {user_code} blocked");
        }
        AdminCommand::User(UserCommand::Unblock { user_code }) => {
            services.unblock_user(&user_code, operator).await?;
            println!("user {user_code} unblocked");
        }
        AdminCommand::User(UserCommand::SetPhone { user_code, phone }) => {
            services.set_phone(&user_code, &phone, operator).await?;
            println!(
                "certified phone of {user_code} changed; it is certified again at the next SMS code the customer enters"
            );
        }
        AdminCommand::User(UserCommand::SetEmail { user_code, email }) => {
            services.set_email(&user_code, &email, operator).await?;
            println!("email of {user_code} changed; a validation link was queued");
        }
        AdminCommand::Integration(IntegrationCommand::Key { json }) => {
            let key = format!("sk_{}", sigillo_core::token::generate(&mut rand::rngs::OsRng));
            let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(key.as_bytes()));
            if json {
                println!("{}", serde_json::json!({ "api_key": key, "api_key_sha256": digest }));
            } else {
                println!("api key (give it to the client only): {key}");
                println!("api_key_sha256 (for the configuration): {digest}");
            }
        }
        AdminCommand::Card(cmd) => return crate::admin_cards::run(services, operator, cmd).await,
        AdminCommand::Legacy(cmd) => return crate::admin_legacy::run(services, operator, cmd).await,
        AdminCommand::Audit(AuditCommand::Verify) => match services.verify_audit().await? {
            Ok(n) => println!("audit trail intact: {n} records"),
            Err(b) => {
                eprintln!("audit trail BROKEN: {}", describe(&b));
                return Ok(1);
            }
        },
        AdminCommand::Device(DeviceCommand::List { user_code, json }) => {
            let devices = services.operator_devices(&user_code, operator).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&devices)?);
            } else if devices.is_empty() {
                println!("no phones bound to {user_code}");
            } else {
                for d in &devices {
                    println!(
                        "{}  {:<16} {:<8} {:<16} fingerprint {}  bound {}  last used {}",
                        d.id,
                        d.status,
                        d.platform,
                        d.name,
                        d.fingerprint,
                        d.committed_at.map(rfc3339).unwrap_or_else(|| "-".into()),
                        d.last_used_at.map(rfc3339).unwrap_or_else(|| "-".into()),
                    );
                }
            }
        }
        AdminCommand::Device(DeviceCommand::Remove { user_code, binding }) => {
            services.operator_remove_device(&user_code, &binding, operator).await?;
            println!("phone {binding} removed");
        }
        AdminCommand::Device(DeviceCommand::Unblock { user_code, binding }) => {
            services.operator_unblock_device(&user_code, &binding, operator).await?;
            println!("phone {binding} unblocked: the app will ask for a new PIN");
        }
        AdminCommand::Audit(AuditCommand::Tail { count, json }) => {
            for r in services.audit_tail(count).await? {
                if json {
                    println!("{}", record_json(&r));
                } else {
                    println!("{}", record_line(&r));
                }
            }
        }
    }
    Ok(0)
}

fn describe(b: &Break) -> String {
    match b {
        Break::Gap { expected, found } => format!("record {expected} is missing (next found: {found})"),
        Break::Link { seq } => format!("record {seq} does not link to the record before it"),
        Break::Content { seq } => format!("record {seq} was altered"),
        Break::Head { last_seq, head_seq } => {
            format!("records after {last_seq} are missing (the head says {head_seq})")
        }
    }
}

fn record_line(r: &sigillo_core::audit::Record) -> String {
    format!("#{:<6} {} {:<28} {:<24} {} {}", r.seq, rfc3339(r.at_ms), r.action, r.actor, r.subject, r.detail)
}

fn record_json(r: &sigillo_core::audit::Record) -> serde_json::Value {
    serde_json::json!({
        "seq": r.seq, "at": rfc3339(r.at_ms), "actor": r.actor, "action": r.action,
        "subject": r.subject, "detail": serde_json::from_str::<serde_json::Value>(&r.detail).unwrap_or_default(),
        "hash": hex::encode(&r.hash),
    })
}
