//! Customers of acquired banks (DESIGN flow 10, issue 6): the import of their legacy
//! credentials (`sigillo admin legacy import --bank ID FILE`) and what an operator sees
//! of one (`sigillo admin legacy show`).
//!
//! The import streams: one thread reads and checks rows (CSV or JSON Lines), seals each
//! password hash under the key-encryption key and hands batches to the writer, which
//! stores each batch in one transaction; memory stays bounded whatever the file's size
//! (bench/legacy). Re-importing is idempotent: a keyed digest of each row tells new,
//! changed and unchanged rows apart, and an activated credential is never touched again.
//! No hash, phone number, email or name reaches a log line or the report: a rejected
//! row is named by its line number and a reason code.

use super::{Actor, Origin, ServiceError, ServiceResult, Services, audit};
use crate::config::LegacyBank;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::Sha256;
use sigillo_core::attempts::Secret;
use sigillo_core::identity;
use sigillo_core::kek::Kek;
use sigillo_core::legacy::LegacyHash;
use sigillo_store::repo::attempts;
use sigillo_store::repo::legacy::{self, NewLegacy};
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::io::Read;
use tokio::sync::mpsc;
use zeroize::Zeroizing;

/// Rows stored per transaction.
const BATCH: usize = 2_000;

/// The file's columns (CSV header) or keys (JSON Lines), DESIGN.md "Interfaces".
pub const COLUMNS: [&str; 6] = ["legacy_code", "password_hash", "phone", "email", "name", "token"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportFormat {
    Csv,
    JsonLines,
}

impl ImportFormat {
    /// From the file name: `.jsonl`/`.ndjson` are JSON Lines, anything else CSV.
    pub fn from_path(path: &std::path::Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some("jsonl" | "ndjson") => Self::JsonLines,
            _ => Self::Csv,
        }
    }
}

/// A row the import refused: where, and why (never what it held).
#[derive(Clone, Debug, Serialize)]
pub struct Rejected {
    pub line: u64,
    pub reason: &'static str,
}

/// What an import did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ImportReport {
    pub imported: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Rows for credentials already activated: left as they are.
    pub already_activated: u64,
    pub rejected: Vec<Rejected>,
}

/// One row of the file, as read.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRow {
    legacy_code: String,
    password_hash: Zeroizing<String>,
    phone: String,
    #[serde(default)]
    email: Option<String>,
    name: String,
    token: String,
}

/// A checked row, its hash sealed, ready to store.
struct Prepared {
    code: String,
    sealed: Vec<u8>,
    scheme: &'static str,
    phone: String,
    email: Option<String>,
    name: String,
    token: &'static str,
    digest: [u8; 32],
}

impl Prepared {
    fn as_new(&self) -> NewLegacy<'_> {
        NewLegacy {
            legacy_code: &self.code,
            hash_sealed: &self.sealed,
            hash_scheme: self.scheme,
            phone: &self.phone,
            email: self.email.as_deref(),
            name: &self.name,
            token: self.token,
            row_digest: &self.digest,
        }
    }
}

/// What the reader hands the writer.
enum Batch {
    Rows(Vec<Prepared>),
    Rejected(Rejected),
}

/// The attempt counters' subject of a legacy credential.
pub(crate) fn legacy_subject(bank_id: &str, code: &str) -> String {
    format!("legacy:{bank_id}:{code}")
}

/// The associated data of a sealed legacy hash: it opens only for its bank and code.
pub(crate) fn hash_aad(bank_id: &str, code: &str) -> String {
    format!("sigillo/legacy-hash/v1:{bank_id}:{code}")
}

/// Checks one row and seals its hash.
struct RowChecker {
    bank_id: String,
    kek: Kek,
    digest_key: Zeroizing<[u8; 32]>,
}

impl RowChecker {
    fn check(&self, raw: RawRow) -> Result<Prepared, &'static str> {
        let code = raw.legacy_code.trim();
        let code_ok = (1..=32).contains(&code.len())
            && code.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !code_ok {
            return Err("legacy_code_invalid");
        }
        let hash = LegacyHash::parse(&raw.password_hash).map_err(|e| e.code())?;
        let phone = identity::normalize_phone(&raw.phone).map_err(|_| "phone_invalid")?;
        let email = match raw.email.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
            Some(e) => Some(identity::normalize_email(e).map_err(|_| "email_invalid")?),
            None => None,
        };
        let name = raw.name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err("name_invalid");
        }
        let token = match raw.token.trim() {
            "app" => "app",
            "hardware" => "hardware",
            "none" | "" => "none",
            _ => return Err("token_invalid"),
        };
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.digest_key.as_slice())
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        for part in [&self.bank_id, code, hash.as_str(), &phone, email.as_deref().unwrap_or(""), name, token] {
            mac.update(part.as_bytes());
            mac.update(&[0]);
        }
        let sealed =
            self.kek.seal(hash_aad(&self.bank_id, code).as_bytes(), hash.as_str().as_bytes(), &mut rand::rngs::OsRng);
        Ok(Prepared {
            code: code.to_owned(),
            sealed,
            scheme: hash.scheme().as_str(),
            phone,
            email,
            name: name.to_owned(),
            token,
            digest: mac.finalize().into_bytes().into(),
        })
    }
}

/// Reads `input` on the current (blocking) thread and sends batches; stops early if the
/// writer has gone. Duplicate codes within the file are refused after their first line
/// (a 64-bit digest per code keeps this bounded: 1,000,000 codes take about 19 MB).
fn read_rows(
    input: impl Read,
    format: ImportFormat,
    checker: &RowChecker,
    tx: &mpsc::Sender<Batch>,
) -> anyhow::Result<()> {
    let seen_hasher = std::collections::hash_map::RandomState::new();
    let mut seen: std::collections::HashSet<u64> = std::collections::HashSet::new();
    let mut batch = Vec::with_capacity(BATCH);
    let mut handle = |line: u64, row: Result<RawRow, &'static str>, batch: &mut Vec<Prepared>| -> bool {
        let checked = row.and_then(|raw| checker.check(raw));
        let outcome = match checked {
            Ok(p) => match seen.insert(seen_hasher.hash_one(&p.code)) {
                true => {
                    batch.push(p);
                    if batch.len() < BATCH {
                        return true;
                    }
                    Batch::Rows(std::mem::replace(batch, Vec::with_capacity(BATCH)))
                }
                false => Batch::Rejected(Rejected { line, reason: "duplicate_in_file" }),
            },
            Err(reason) => Batch::Rejected(Rejected { line, reason }),
        };
        tx.blocking_send(outcome).is_ok()
    };
    match format {
        ImportFormat::Csv => {
            let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(input);
            let headers = reader.headers()?.clone();
            let mut names: Vec<&str> = headers.iter().collect();
            names.sort_unstable();
            let mut expected = COLUMNS.to_vec();
            expected.sort_unstable();
            anyhow::ensure!(names == expected, "the CSV header must name the columns {}", COLUMNS.join(","));
            let mut record = csv::StringRecord::new();
            loop {
                // Where the next record starts (its line, counting the header as line 1).
                let line = reader.position().line();
                match reader.read_record(&mut record) {
                    Ok(false) => break,
                    Ok(true) => {
                        let row = record.deserialize::<RawRow>(Some(&headers)).map_err(|_| "malformed_row");
                        if !handle(record.position().map_or(line, |p| p.line()), row, &mut batch) {
                            return Ok(());
                        }
                    }
                    Err(e) if e.is_io_error() => return Err(e.into()),
                    Err(e) => {
                        let line = e.position().map_or(line, csv::Position::line);
                        if !handle(line, Err("malformed_row"), &mut batch) {
                            return Ok(());
                        }
                    }
                }
            }
        }
        ImportFormat::JsonLines => {
            let mut reader = std::io::BufReader::new(input);
            let mut text = String::new();
            let mut line = 0u64;
            loop {
                text.clear();
                if std::io::BufRead::read_line(&mut reader, &mut text)? == 0 {
                    break;
                }
                line += 1;
                if text.trim().is_empty() {
                    continue;
                }
                let row = serde_json::from_str::<RawRow>(&text).map_err(|_| "malformed_json");
                if !handle(line, row, &mut batch) {
                    return Ok(());
                }
            }
        }
    }
    if !batch.is_empty() {
        let _ = tx.blocking_send(Batch::Rows(batch));
    }
    Ok(())
}

impl Services {
    /// The configured acquired bank `id`.
    pub fn legacy_bank(&self, id: &str) -> ServiceResult<&LegacyBank> {
        self.cfg.legacy.banks.iter().find(|b| b.id == id).ok_or(ServiceError::Invalid("legacy_bank"))
    }

    /// Imports a bank's legacy credentials from `input` (CSV with the header
    /// [`COLUMNS`], or JSON Lines with those keys). Rows that fail a check are reported
    /// and skipped; the rest are stored batch by batch.
    pub async fn import_legacy(
        &self,
        bank_id: &str,
        input: impl Read + Send + 'static,
        format: ImportFormat,
        actor: &Actor,
        origin: &Origin,
    ) -> ServiceResult<ImportReport> {
        self.legacy_bank(bank_id)?;
        let checker = RowChecker {
            bank_id: bank_id.to_owned(),
            kek: self.kek.clone(),
            digest_key: self.kek.derive("sigillo/legacy-row/v1"),
        };
        let (tx, mut rx) = mpsc::channel::<Batch>(4);
        let reader = tokio::task::spawn_blocking(move || read_rows(input, format, &checker, &tx));
        let mut report = ImportReport::default();
        let mut failure = None;
        // PostgreSQL: analyse whenever the rows written since the last analysis double
        // (about 20 times for a million rows), so no look-up keeps a plan for a smaller table.
        let postgres = self.store.backend() == sigillo_store::Backend::Postgres;
        let (mut written, mut analysed_at) = (0usize, 0usize);
        while let Some(batch) = rx.recv().await {
            match batch {
                Batch::Rejected(r) => report.rejected.push(r),
                Batch::Rows(rows) => {
                    if let Err(e) = self.store_legacy_batch(bank_id, &rows, &mut report).await {
                        failure = Some(e);
                        break;
                    }
                    written += rows.len();
                    if postgres && written >= 2 * analysed_at.max(BATCH / 2) {
                        let mut conn = self.store.conn().await?;
                        legacy::analyze(&mut conn).await?;
                        analysed_at = written;
                    }
                }
            }
        }
        drop(rx);
        let read = reader.await.map_err(|e| ServiceError::Internal(anyhow::anyhow!("import reader: {e}")))?;
        if let Some(e) = failure {
            return Err(e);
        }
        read.map_err(|e| ServiceError::Internal(e.context("reading the import file")))?;
        report.rejected.sort_by_key(|r| r.line);
        let mut db = self.store.begin().await?;
        audit(
            &mut db,
            self.now(),
            actor,
            "legacy.imported",
            bank_id,
            origin,
            json!({
                "imported": report.imported, "updated": report.updated, "unchanged": report.unchanged,
                "already_activated": report.already_activated, "rejected": report.rejected.len(),
            }),
        )
        .await?;
        sigillo_store::commit(db).await?;
        Ok(report)
    }

    /// Stores one batch in one transaction: new codes inserted, changed pending ones
    /// updated, the rest counted.
    async fn store_legacy_batch(
        &self,
        bank_id: &str,
        rows: &[Prepared],
        report: &mut ImportReport,
    ) -> ServiceResult<()> {
        let now = self.now().0;
        let mut db = self.store.begin().await?;
        let mut on_file = HashMap::new();
        for chunk in rows.chunks(legacy::ROWS_PER_INSERT) {
            let codes: Vec<&str> = chunk.iter().map(|r| r.code.as_str()).collect();
            on_file.extend(legacy::existing(&mut db, bank_id, &codes).await?);
        }
        let mut fresh = Vec::new();
        for row in rows {
            match on_file.get(&row.code) {
                None => fresh.push(row.as_new()),
                Some((_, status)) if status == "activated" => report.already_activated += 1,
                Some((digest, _)) if digest.as_slice() == row.digest.as_slice() => report.unchanged += 1,
                Some(_) => {
                    if legacy::update_pending(&mut db, bank_id, &row.as_new(), now).await? {
                        report.updated += 1;
                    } else {
                        report.already_activated += 1;
                    }
                }
            }
        }
        legacy::insert_many(&mut db, bank_id, &fresh, now).await?;
        sigillo_store::commit(db).await?;
        report.imported += fresh.len() as u64;
        Ok(())
    }
}

/// What an operator sees of a legacy customer (`sigillo admin legacy show`).
#[derive(Clone, Debug, Serialize)]
pub struct LegacyView {
    pub bank: String,
    pub legacy_code: String,
    /// `pending` (not activated yet) or `activated`.
    pub status: String,
    pub hash_scheme: String,
    pub token: String,
    /// The certified phone and the email, masked.
    pub phone: String,
    pub email: Option<String>,
    pub name: String,
    /// The new user code, once activated.
    pub user_code: Option<String>,
    /// Wrong old passwords or SMS codes locked the activation (`legacy unlock` lifts it).
    pub locked: bool,
    pub imported_at: i64,
    pub updated_at: i64,
    pub activated_at: Option<i64>,
}

/// A bank's migration counts.
#[derive(Clone, Debug, Serialize)]
pub struct LegacyCounts {
    pub bank: String,
    pub pending: i64,
    pub activated: i64,
}

impl Services {
    /// One legacy customer's migration state; the look is audited.
    pub async fn legacy_view(&self, bank_id: &str, code: &str, operator: &str) -> ServiceResult<LegacyView> {
        self.legacy_bank(bank_id)?;
        let mut conn = self.store.conn().await?;
        let c = legacy::get(&mut conn, bank_id, code.trim()).await?.ok_or(ServiceError::NotFound)?;
        let user_code = match &c.user_id {
            Some(id) => sigillo_store::repo::users::by_id(&mut conn, id).await?.map(|u| u.user_code),
            None => None,
        };
        let who = legacy_subject(bank_id, &c.legacy_code);
        let now = self.now().0;
        let mut locked = false;
        for secret in [Secret::Password, Secret::SmsOtp] {
            locked |= attempts::get(&mut conn, &who, secret).await?.is_locked(now);
        }
        drop(conn);
        let mut db = self.store.begin().await?;
        let subject = format!("{bank_id}:{}", c.legacy_code);
        audit(
            &mut db,
            self.now(),
            &Actor::Operator(operator.into()),
            "legacy.viewed",
            &subject,
            &Origin::cli(),
            json!({}),
        )
        .await?;
        sigillo_store::commit(db).await?;
        Ok(LegacyView {
            bank: c.bank_id,
            legacy_code: c.legacy_code,
            status: c.status,
            hash_scheme: c.hash_scheme,
            token: c.token,
            phone: identity::mask_phone(&c.phone),
            email: c.email.as_deref().map(identity::mask_email),
            name: c.name,
            user_code,
            locked,
            imported_at: c.imported_at,
            updated_at: c.updated_at,
            activated_at: c.activated_at,
        })
    }

    /// An operator lifts the lock that wrong old passwords or SMS codes put on a legacy
    /// customer's activation (after checking who is asking, at the branch).
    pub async fn unlock_legacy(&self, bank_id: &str, code: &str, operator: &str) -> ServiceResult<()> {
        self.legacy_bank(bank_id)?;
        let mut db = self.store.begin().await?;
        legacy::get(&mut db, bank_id, code.trim()).await?.ok_or(ServiceError::NotFound)?;
        let who = legacy_subject(bank_id, code.trim());
        attempts::reset_all(&mut db, &who).await?;
        audit(
            &mut db,
            self.now(),
            &Actor::Operator(operator.into()),
            "activation.unlocked",
            &who,
            &Origin::cli(),
            json!({}),
        )
        .await?;
        sigillo_store::commit(db).await?;
        Ok(())
    }

    /// How many of a bank's customers are still to activate, and how many have.
    pub async fn legacy_counts(&self, bank_id: &str) -> ServiceResult<LegacyCounts> {
        self.legacy_bank(bank_id)?;
        let mut conn = self.store.conn().await?;
        let (pending, activated) = legacy::counts(&mut conn, bank_id).await?;
        Ok(LegacyCounts { bank: bank_id.to_owned(), pending, activated })
    }
}
