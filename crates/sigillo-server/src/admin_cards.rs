//! `sigillo admin card …`: issuing cards, looking them up, changing their 3-D Secure phone.

use crate::admin::CardCommand;
use crate::service::cards::{CardRequest, CardView};
use crate::service::{Actor, Origin, Services};
use anyhow::Context;
use std::io::Read;

pub async fn run(services: &Services, operator: &str, cmd: CardCommand) -> anyhow::Result<i32> {
    let actor = Actor::Operator(operator.into());
    let origin = Origin::cli();
    match cmd {
        CardCommand::Create { pan, brand, kind, holder, phone, corporate, expiry, json } => {
            let pan = if pan == "-" { read_stdin_line()? } else { zeroize::Zeroizing::new(pan) };
            let req = CardRequest {
                pan: &pan,
                brand: &brand,
                kind: &kind,
                holder_user_code: holder.as_deref(),
                phone: &phone,
                corporate,
                expiry: expiry.as_deref(),
            };
            let card = services.create_card(&req, &actor, &origin).await?;
            print_created(&card, json);
        }
        CardCommand::Import { file, json } => {
            let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            let created = import(services, &text, &actor, &origin).await?;
            if json {
                println!("{}", serde_json::to_string(&created)?);
            } else {
                println!("{} cards issued", created.len());
            }
        }
        CardCommand::Show { card_id, pan, json } => {
            let card = match (card_id, pan) {
                (Some(id), None) => services.card_view(&id).await?,
                (None, Some(pan)) => services.card_by_pan(&pan).await?,
                _ => anyhow::bail!("give a card id or --pan, not both"),
            };
            services.audit_operator_card_read(&card.card_id, operator).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&card)?);
            } else {
                println!(
                    "{}  {} {} •••• {}  holder {}  phone {}  enrolled {}  key6 {}  portal {}",
                    card.card_id,
                    card.brand,
                    card.kind,
                    card.last4,
                    card.holder.as_deref().unwrap_or("-"),
                    card.phone,
                    card.enrolled,
                    if card.key6_blocked {
                        "blocked"
                    } else if card.key6_set {
                        "set"
                    } else {
                        "not set"
                    },
                    if card.portal_locked { "locked" } else { "open" },
                );
            }
        }
        CardCommand::SetPhone { card_id, phone } => {
            let card = services.set_card_phone(&card_id, &phone, &actor, &origin).await?;
            println!("3-D Secure phone of card •••• {} changed to {}", card.last4, card.phone);
        }
        CardCommand::UnlockPortal { card_id } => {
            let card = services.unlock_card_data(&card_id, &actor, &origin).await?;
            println!("card •••• {}: portal registration and UserID recovery unlocked", card.last4);
        }
        CardCommand::Enrollment { card_id, state } => {
            let card = services.set_card_enrolled(&card_id, state == "on", &actor, &origin).await?;
            println!(
                "card •••• {} {}",
                card.last4,
                if card.enrolled { "enrolled in 3-D Secure" } else { "not enrolled" }
            );
        }
    }
    Ok(0)
}

fn print_created(card: &CardView, json: bool) {
    if json {
        println!("{}", serde_json::json!({ "card_id": card.card_id, "last4": card.last4 }));
    } else {
        println!("card {} issued: {} •••• {}", card.card_id, card.brand, card.last4);
    }
}

fn read_stdin_line() -> anyhow::Result<zeroize::Zeroizing<String>> {
    let mut text = zeroize::Zeroizing::new(String::new());
    std::io::stdin().read_to_string(&mut text)?;
    Ok(zeroize::Zeroizing::new(text.trim().to_owned()))
}

/// The header an import file must start with.
pub const IMPORT_HEADER: &str = "pan,brand,kind,holder,phone,corporate,expiry";

/// Issues every row, in order; the first bad row stops the import and names its line
/// (never its PAN). Rows before it stay issued, so a corrected file is re-run from that line.
async fn import(
    services: &Services,
    text: &str,
    actor: &Actor,
    origin: &Origin,
) -> anyhow::Result<Vec<serde_json::Value>> {
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, header)) if header.trim() == IMPORT_HEADER => {}
        _ => anyhow::bail!("the first line must be: {IMPORT_HEADER}"),
    }
    let mut created = Vec::new();
    for (index, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split(',').map(str::trim).collect();
        let [pan, brand, kind, holder, phone, corporate, expiry] = cols[..] else {
            anyhow::bail!("line {}: need 7 columns", index + 1);
        };
        let corporate = match corporate {
            "true" => true,
            "false" | "" => false,
            _ => anyhow::bail!("line {}: corporate must be true or false", index + 1),
        };
        let req = CardRequest {
            pan,
            brand,
            kind,
            holder_user_code: Some(holder).filter(|h| !h.is_empty()),
            phone,
            corporate,
            expiry: Some(expiry).filter(|e| !e.is_empty()),
        };
        let card = services
            .create_card(&req, actor, origin)
            .await
            .with_context(|| format!("line {} (after {} cards issued)", index + 1, created.len()))?;
        created.push(serde_json::json!({ "card_id": card.card_id, "last4": card.last4 }));
    }
    Ok(created)
}
