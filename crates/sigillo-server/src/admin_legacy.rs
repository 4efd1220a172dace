//! `sigillo admin legacy …`: importing an acquired bank's customers and looking at one's
//! migration (DESIGN flow 10, issue 6).

use crate::admin::LegacyCommand;
use crate::service::legacy::ImportFormat;
use crate::service::{Actor, Origin, Services};
use anyhow::Context;

pub async fn run(services: &Services, operator: &str, cmd: LegacyCommand) -> anyhow::Result<i32> {
    match cmd {
        LegacyCommand::Import { bank, file, json } => {
            let input = std::fs::File::open(&file).with_context(|| format!("opening {}", file.display()))?;
            let format = ImportFormat::from_path(&file);
            let actor = Actor::Operator(operator.into());
            let report = services.import_legacy(&bank, input, format, &actor, &Origin::cli()).await?;
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                for r in &report.rejected {
                    eprintln!("line {}: rejected: {}", r.line, r.reason);
                }
                println!(
                    "bank {bank}: {} imported, {} updated, {} unchanged, {} already activated, {} rejected",
                    report.imported,
                    report.updated,
                    report.unchanged,
                    report.already_activated,
                    report.rejected.len()
                );
            }
            Ok(if report.rejected.is_empty() { 0 } else { 2 })
        }
        LegacyCommand::Show { bank, legacy_code: Some(code), json } => {
            let v = services.legacy_view(&bank, &code, operator).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!(
                    "{}:{}  {}{}  token {}  phone {}  email {}  hash {}  new user code {}",
                    v.bank,
                    v.legacy_code,
                    v.status,
                    if v.locked { " (locked)" } else { "" },
                    v.token,
                    v.phone,
                    v.email.as_deref().unwrap_or("-"),
                    v.hash_scheme,
                    v.user_code.as_deref().unwrap_or("-"),
                );
            }
            Ok(0)
        }
        LegacyCommand::Unlock { bank, legacy_code } => {
            services.unlock_legacy(&bank, &legacy_code, operator).await?;
            println!("{bank}:{legacy_code}: activation unlocked");
            Ok(0)
        }
        LegacyCommand::Show { bank, legacy_code: None, json } => {
            let c = services.legacy_counts(&bank).await?;
            if json {
                println!("{}", serde_json::to_string(&c)?);
            } else {
                println!("bank {}: {} to activate, {} activated", c.bank, c.pending, c.activated);
            }
            Ok(0)
        }
    }
}
