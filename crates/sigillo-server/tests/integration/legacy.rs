//! Issue 6, the import of acquired banks' customers (DESIGN flow 10):
//! `sigillo admin legacy import --bank ID FILE` with CSV and JSON Lines, every hash format,
//! bad rows reported by line and reason (never by content), idempotent re-imports, the
//! hash sealed at rest, and `sigillo admin legacy show`.

use crate::operator::sigillo;
use crate::support::TestApp;
use serde_json::Value;
use sigillo_server::config::LegacyBank;
use sigillo_server::service::legacy::ImportFormat;
use sigillo_server::service::{Actor, Origin};
use sigillo_store::testing::{TestDb, backends};

const HEADER: &str = "legacy_code,password_hash,phone,email,name,token";

fn bank() -> LegacyBank {
    LegacyBank {
        id: "carige".into(),
        name: "Banca Carige".into(),
        credentials_label: "Codice Cliente Carige Online e password".into(),
        opens_at: "2026-11-28T00:00:00+01:00".into(),
        closes_at: None,
        hardware_token_sms: true,
    }
}

/// One hash per format, made by independent tools (tests/vectors/legacy_hashes.json).
fn sample_hashes() -> Vec<(String, String)> {
    let file: Value =
        serde_json::from_str(include_str!("../../../sigillo-core/tests/vectors/legacy_hashes.json")).unwrap();
    let mut picked = Vec::new();
    for prefix in
        ["$2b$", "$2y$", "$pbkdf2-sha256$i=", "$pbkdf2-sha256$1", "$argon2id$", "$argon2i$", "$sha256-salted$"]
    {
        let v = file["vectors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["hash"].as_str().unwrap().starts_with(prefix))
            .unwrap();
        picked.push((v["hash"].as_str().unwrap().to_owned(), v["password"].as_str().unwrap().to_owned()));
    }
    picked
}

async fn import(app: &TestApp, text: String, format: ImportFormat) -> sigillo_server::service::legacy::ImportReport {
    let actor = Actor::Operator("migration-team".into());
    let input = std::io::Cursor::new(text.into_bytes());
    app.services.import_legacy("carige", input, format, &actor, &Origin::cli()).await.unwrap()
}

/// Every format imports; bad rows are named by line and reason and skipped; a second run
/// changes nothing, a changed row is updated, an activated one is left alone; the hash
/// is sealed at rest and opens only for its bank and code.
/// Requirements: P7 (legacy hashes sealed), R22 (no credential in the report).
#[tokio::test]
async fn imports_every_format_reports_bad_rows_and_is_idempotent() {
    for backend in backends() {
        let app = TestApp::spawn_with(backend, |c| c.legacy.banks = vec![bank()]).await;
        let hashes = sample_hashes();
        let mut csv = format!("{HEADER}\n");
        for (i, (hash, _)) in hashes.iter().enumerate() {
            let token = ["app", "hardware", "none"][i % 3];
            // PHC strings hold commas: quoted, as any CSV writer does.
            csv.push_str(&format!("C{i:05},\"{hash}\",+39 333 100 00{i:02},c{i}@example.it,Cliente {i},{token}\n"));
        }
        let good = hashes.len();
        // Line numbers: the header is line 1, the good rows 2..=good+1.
        let bad = [
            ("C90001,5f4dcc3b5aa765d61d8327deb882cf99,+393331000090,,Mario Rossi,app", "hash_format_unknown"),
            (&*format!("C90002,{},not-a-phone,,Mario Rossi,app", hashes[0].0), "phone_invalid"),
            (&*format!("C90003,{},+393331000091,,Mario Rossi,token", hashes[0].0), "token_invalid"),
            (&*format!("C00000,{},+393331000092,,Mario Rossi,app", hashes[1].0), "duplicate_in_file"),
            ("C90004,too,few", "malformed_row"),
            (&*format!("C90005,{},+393331000093,mario@,Mario Rossi,none", hashes[0].0), "email_invalid"),
            (&*format!("C 90006,{},+393331000094,,Mario Rossi,none", hashes[0].0), "legacy_code_invalid"),
            (&*format!("C90007,{},+393331000095,,,none", hashes[0].0), "name_invalid"),
        ]
        .map(|(row, reason)| (row.to_owned(), reason));
        for (row, _) in &bad {
            csv.push_str(row);
            csv.push('\n');
        }
        let report = import(&app, csv.clone(), ImportFormat::Csv).await;
        assert_eq!((report.imported, report.updated, report.unchanged), (good as u64, 0, 0));
        let got: Vec<(u64, &str)> = report.rejected.iter().map(|r| (r.line, r.reason)).collect();
        let want: Vec<(u64, &str)> =
            bad.iter().enumerate().map(|(i, (_, reason))| ((good + 2 + i) as u64, *reason)).collect();
        assert_eq!(got, want);
        let report_text = serde_json::to_string(&report).unwrap();
        assert!(!report_text.contains("+39") && !report_text.contains('$'), "no content in the report: {report_text}");

        // Again: nothing new. One phone changed: one update.
        let again = import(&app, csv.clone(), ImportFormat::Csv).await;
        assert_eq!((again.imported, again.updated, again.unchanged), (0, 0, good as u64));
        let changed = csv.replace("+39 333 100 0001", "+39 333 999 0001");
        let third = import(&app, changed.clone(), ImportFormat::Csv).await;
        assert_eq!((third.imported, third.updated, third.unchanged), (0, 1, good as u64 - 1));

        // An activated credential is consumed: a re-import leaves it as it is.
        let mut conn = app.services.store.conn().await.unwrap();
        sqlx::query("UPDATE legacy_credentials SET status = 'activated' WHERE legacy_code = 'C00002'")
            .execute(&mut *conn)
            .await
            .unwrap();
        let stored = sigillo_store::repo::legacy::get(&mut conn, "carige", "C00003").await.unwrap().unwrap();
        drop(conn);
        let fourth = import(&app, csv.replace("Cliente 2,", "Cliente Due,"), ImportFormat::Csv).await;
        assert_eq!((fourth.already_activated, fourth.updated), (1, 1), "C00001 back to its phone; C00002 left alone");

        // P7: sealed, and bound to its bank and code.
        let plain = hashes[3].0.as_bytes();
        assert!(!stored.hash_sealed.windows(plain.len()).any(|w| w == plain));
        assert_eq!(stored.hash_scheme, "pbkdf2-sha256");
        assert_eq!(stored.phone, "+393331000003");

        // JSON Lines with the same keys.
        let jsonl = format!(
            "{}\n\n{{\"legacy_code\":\"J1\",\"password_hash\":\"{}\",\"phone\":\"+393331000099\",\"name\":\"Anna\",\"token\":\"none\"}}\nnot json\n",
            serde_json::json!({"legacy_code": "J0", "password_hash": hashes[6].0, "phone": "+393331000098", "email": "anna@example.it", "name": "Anna Bianchi", "token": "app"}),
            hashes[4].0,
        );
        let report = import(&app, jsonl, ImportFormat::JsonLines).await;
        assert_eq!(report.imported, 2);
        assert_eq!(report.rejected.iter().map(|r| (r.line, r.reason)).collect::<Vec<_>>(), vec![(4, "malformed_json")]);
        let counts = app.services.legacy_counts("carige").await.unwrap();
        assert_eq!((counts.pending, counts.activated), (good as i64 + 1, 1));
        app.stop().await;
    }
}

/// The command as an operator runs it: a file, a summary, exit status 2 with rejected rows,
/// `legacy show` with the phone masked; nothing of a hash or a phone number on the console
/// beyond the mask; an unknown bank is refused.
/// Requirements: P11 (the import and each look are audited).
#[tokio::test]
async fn the_import_command_summarises_and_show_masks() {
    for backend in backends() {
        let db = TestDb::new(backend).await;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("sigillo.toml"),
            "[[legacy.banks]]\nid = \"carige\"\nname = \"Banca Carige\"\ncredentials_label = \"Codice Cliente e password\"\nopens_at = \"2026-11-28T00:00:00+01:00\"\n",
        )
        .unwrap();
        let hashes = sample_hashes();
        let file = dir.path().join("carige.csv");
        std::fs::write(
            &file,
            format!("{HEADER}\nA1,{},+393331112233,anna@example.it,Anna Bianchi,hardware\nA2,nohash,+393331112234,,Bruno,app\n", hashes[0].0),
        )
        .unwrap();
        let run = |args: &[&str]| sigillo(&db, dir.path(), &[&["--config", "sigillo.toml"], args].concat());
        let (code, out, err) = run(&["admin", "legacy", "import", "--bank", "carige", file.to_str().unwrap()]);
        assert_eq!(code, 2, "{out}{err}");
        assert!(out.contains("1 imported") && out.contains("1 rejected"), "{out}");
        assert!(err.contains("line 3: rejected: hash_format_unknown"), "{err}");
        for secret in [hashes[0].0.as_str(), "+393331112233", "+393331112234", "nohash"] {
            assert!(!out.contains(secret) && !err.contains(secret), "{secret} on the console");
        }
        let (code, out, err) = run(&["admin", "legacy", "show", "--bank", "carige", "A1", "--json"]);
        assert_eq!(code, 0, "{err}");
        let shown: Value = serde_json::from_str(&out).unwrap();
        assert_eq!((shown["status"].as_str(), shown["token"].as_str()), (Some("pending"), Some("hardware")));
        assert!(!out.contains("+393331112233") && out.contains("233"), "{out}");
        let (code, out, _) = run(&["admin", "legacy", "show", "--bank", "carige"]);
        assert!(code == 0 && out.contains("1 to activate, 0 activated"), "{out}");
        let (code, _, err) = run(&["admin", "legacy", "import", "--bank", "ubi", file.to_str().unwrap()]);
        assert_ne!(code, 0);
        assert!(err.contains("legacy_bank") || err.contains("bank"), "{err}");
        let (_, out, _) = run(&["admin", "audit", "tail", "-n", "10", "--json"]);
        assert!(out.contains("legacy.imported") && out.contains("legacy.viewed"), "{out}");
        db.cleanup().await;
    }
}

/// A bank already open (the test clock starts in November 2026, before `bank()`'s date).
fn open_bank() -> LegacyBank {
    LegacyBank { opens_at: "2025-12-01T00:00:00+01:00".into(), ..bank() }
}

/// Imports one customer whose old password is `old` (bcrypt, made by Python's bcrypt).
async fn one_customer(app: &TestApp, code: &str, token: &str) -> String {
    let (hash, old) = sample_hashes().into_iter().next().unwrap();
    let csv = format!("{HEADER}\n{code},\"{hash}\",+393337001122,mario.rossi@example.it,Mario Rossi,{token}\n");
    let report = import(app, csv, ImportFormat::Csv).await;
    assert_eq!(report.imported, 1, "{report:?}");
    old
}

/// The newest SMS code to the customer's certified phone.
async fn code_for(app: &TestApp) -> String {
    app.last_otp("+393337001122").await
}

/// The link's token in the newest email to `to`.
async fn link_token(app: &TestApp, to: &str) -> String {
    let mail = app.outbox().await.into_iter().rev().find(|m| m.channel == "email" && m.recipient == to).unwrap();
    regex::Regex::new(r"/activation/email\?token=([A-Za-z0-9_-]+)").unwrap().captures(&mail.body).unwrap()[1].to_owned()
}

/// The seed guide's path through the web pages: the bank → old code and password → SMS
/// code → phone confirmed and email chosen → the email's link → new password and alias →
/// the new user code; then the new credentials log in (SMS code: no phone bound yet) and
/// the old ones are spent.
/// Requirements: R12 (new credentials only after SCA with the old ones and the phone), R23, P8.
#[tokio::test]
async fn a_customer_activates_new_credentials_with_the_old_ones() {
    for backend in backends() {
        let app = TestApp::spawn_with(backend, |c| c.legacy.banks = vec![open_bank()]).await;
        let old = one_customer(&app, "CG123456", "app").await;
        let b = crate::web_devices::browser();
        let list = crate::web_devices::page(&app, &b, "/activation").await;
        assert!(list.contains(r#"id="choose-carige""#) && list.contains("Banca Carige"), "{list}");
        let form = crate::web_devices::page(&app, &b, "/activation/carige").await;
        assert!(form.contains("Codice Cliente Carige Online e password"), "{form}");
        let csrf = crate::web_devices::csrf_of(&form);
        let post = |path: &'static str, fields: Vec<(&'static str, String)>| {
            let b = b.clone();
            let url = app.url(path);
            let csrf = csrf.clone();
            async move {
                let mut form = vec![("csrf", csrf)];
                form.extend(fields);
                let resp = b.post(url).form(&form).send().await.unwrap();
                let location =
                    resp.headers().get("location").map(|l| l.to_str().unwrap().to_owned()).unwrap_or_default();
                (resp.status(), location, resp.text().await.unwrap())
            }
        };
        // A form without this browser's CSRF token is refused before anything is looked at (P10).
        let forged = b
            .post(app.url("/activation/carige"))
            .form(&[("csrf", "forged"), ("legacy_code", "CG123456"), ("password", old.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), reqwest::StatusCode::FORBIDDEN);
        // A wrong password, then the right one.
        let (status, _, _) =
            post("/activation/carige", vec![("legacy_code", "CG123456".into()), ("password", "nope".into())]).await;
        assert_eq!(status, reqwest::StatusCode::UNAUTHORIZED);
        let (_, location, _) =
            post("/activation/carige", vec![("legacy_code", "CG123456".into()), ("password", old.clone())]).await;
        assert_eq!(location, "/activation/otp");
        let (_, location, _) = post("/activation/otp", vec![("code", code_for(&app).await)]).await;
        assert_eq!(location, "/activation/confirm");
        let confirm = crate::web_devices::page(&app, &b, "/activation/confirm").await;
        assert!(confirm.contains("122") && !confirm.contains("+393337001122"), "the phone, masked: {confirm}");
        assert!(confirm.contains("mario.rossi@example.it"), "the imported email, to confirm or change");
        let (_, location, _) = post("/activation/confirm", vec![("email", "mario.rossi@example.it".into())]).await;
        assert_eq!(location, "/activation/email");
        // The password step waits for the link.
        let early = b.get(app.url("/activation/password")).send().await.unwrap();
        assert_eq!(early.headers()["location"], "/activation/email");
        let token = link_token(&app, "mario.rossi@example.it").await;
        let (_, location, _) = post("/activation/email/verify", vec![("token", token.clone())]).await;
        assert_eq!(location, "/activation/password");
        let (status, _, _) = post("/activation/email/verify", vec![("token", token)]).await;
        assert_eq!(status, reqwest::StatusCode::GONE, "a link works once");
        let (status, _, done) = post(
            "/activation/password",
            vec![
                ("new_password", "58301649".into()),
                ("confirm_password", "58301649".into()),
                ("alias", "mario.r".into()),
            ],
        )
        .await;
        assert_eq!(status, reqwest::StatusCode::OK, "{done}");
        let user_code = crate::cards::user_code_of(&done);
        assert!(done.contains(r#"id="security-code""#) && done.contains(r#"id="next-app""#), "{done}");
        let mails = app.outbox().await;
        assert!(mails.iter().any(|m| m.channel == "email" && m.body.contains(&user_code)), "the confirmation email");

        // The new credentials work (SMS code: no phone bound yet); the alias too.
        let (token, must_change) = app.login("mario.r", "58301649", "+393337001122").await;
        assert!(!must_change && !token.is_empty());
        // The old credentials are spent.
        let b2 = crate::web_devices::browser();
        let csrf2 = crate::web_devices::csrf_of(&crate::web_devices::page(&app, &b2, "/activation/carige").await);
        let again = b2
            .post(app.url("/activation/carige"))
            .form(&[("csrf", csrf2.as_str()), ("legacy_code", "CG123456"), ("password", old.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), reqwest::StatusCode::UNAUTHORIZED);
        let view = app.services.legacy_view("carige", "CG123456", "test").await.unwrap();
        assert_eq!((view.status.as_str(), view.user_code.as_deref()), ("activated", Some(user_code.as_str())));
        let audit = app.audit_actions().await;
        for action in
            ["activation.started", "activation.phone_confirmed", "activation.email_verified", "activation.completed"]
        {
            assert!(audit.iter().any(|a| a == action), "{action} in {audit:?}");
        }
        app.stop().await;
    }
}

/// Two activations of one credential race to the end: exactly one makes a user, a former
/// hardware-token customer whose every web login then recommends the app. Before
/// the bank's date the page says the date and looks at nothing; five wrong old passwords
/// lock the credential, with an SMS to the certified phone; unknown codes fail alike.
/// Requirements: R9, R10, R11, P8.
#[tokio::test]
async fn the_old_credentials_are_used_once_and_attempt_limited() {
    for backend in backends() {
        let app = TestApp::spawn_with(backend, |c| {
            c.legacy.banks = vec![open_bank(), LegacyBank { id: "ubi".into(), name: "UBI Banca".into(), ..bank() }]
        })
        .await;
        let old = one_customer(&app, "CG1", "hardware").await;
        let origin = Origin::cli();
        let mut handles = Vec::new();
        for _ in 0..2 {
            let h = app.services.start_activation("carige", "CG1", &old, &origin).await.unwrap();
            app.services.submit_activation_otp(&h, &code_for(&app).await, &origin).await.unwrap();
            app.services.confirm_activation(&h, None, &origin).await.unwrap();
            let token = link_token(&app, "mario.rossi@example.it").await;
            app.services.verify_activation_email(&token, &origin).await.unwrap();
            handles.push(h);
        }
        let (a, b) = tokio::join!(
            app.services.complete_activation(&handles[0], "58301649", None, &origin),
            app.services.complete_activation(&handles[1], "58301649", None, &origin),
        );
        assert_eq!(u8::from(a.is_ok()) + u8::from(b.is_ok()), 1, "{a:?} {b:?}");
        let done = a.or(b).unwrap();
        assert!(done.hardware_token, "a hardware-token customer keeps SMS codes");
        let mut conn = app.services.store.conn().await.unwrap();
        let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&mut *conn).await.unwrap();
        assert_eq!(users, 1);
        let id: String = sqlx::query_scalar("SELECT id FROM users WHERE user_code = $1")
            .bind(&done.user_code)
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert!(sigillo_store::repo::users::by_id(&mut conn, &id).await.unwrap().unwrap().recommend_app);
        drop(conn);
        // Each web login recommends the app, until a phone is bound.
        for _ in 0..2 {
            let b = crate::web_devices::browser();
            let csrf = crate::web_devices::csrf_of(&crate::web_devices::page(&app, &b, "/login").await);
            let resp = b
                .post(app.url("/login"))
                .form(&[("csrf", csrf.as_str()), ("username", done.user_code.as_str()), ("password", "58301649")])
                .send()
                .await
                .unwrap();
            assert_eq!(resp.headers()["location"], "/login/otp", "SMS code: no phone yet");
            let code = app.last_otp("+393337001122").await;
            let resp = b
                .post(app.url("/login/otp"))
                .form(&[("csrf", csrf.as_str()), ("code", code.as_str())])
                .send()
                .await
                .unwrap();
            assert_eq!(resp.headers()["location"], "/app-recommended");
            let page = crate::web_devices::page(&app, &b, "/app-recommended").await;
            assert!(page.contains(r#"id="app-steps""#) && page.contains(r#"href="/devices""#), "{page}");
        }

        // Before the date: the date, and nothing looked at.
        let err = app.services.start_activation("ubi", "X", "y", &origin).await.unwrap_err();
        assert!(
            matches!(err, sigillo_server::service::ServiceError::NotYetOpen(ref d) if d == "2026-11-28"),
            "{err:?}"
        );
        let page = reqwest::get(app.url("/activation/ubi")).await.unwrap().text().await.unwrap();
        assert!(page.contains(r#"id="opens-on">2026-11-28<"#) && !page.contains("activation-login-form"), "{page}");

        // Five wrong passwords lock a pending credential; the phone hears of it.
        one_customer(&app, "CG2", "app").await;
        for _ in 0..5 {
            let e = app.services.start_activation("carige", "CG2", "wrong", &origin).await.unwrap_err();
            assert!(matches!(e, sigillo_server::service::ServiceError::AuthFailed));
        }
        let right = sample_hashes()[0].1.clone();
        let locked = app.services.start_activation("carige", "CG2", &right, &origin).await.unwrap_err();
        assert!(matches!(locked, sigillo_server::service::ServiceError::AuthFailed), "locked: {locked:?}");
        let sms: Vec<String> = app.outbox().await.into_iter().filter(|m| m.channel == "sms").map(|m| m.body).collect();
        assert!(sms.iter().any(|s| s.contains("troppi tentativi")), "{sms:?}");
        // The branch lifts the lock (`sigillo admin legacy unlock`); the right password works again.
        assert!(app.services.legacy_view("carige", "CG2", "branch").await.unwrap().locked);
        app.services.unlock_legacy("carige", "CG2", "branch").await.unwrap();
        assert!(!app.services.legacy_view("carige", "CG2", "branch").await.unwrap().locked);
        app.services.start_activation("carige", "CG2", &right, &origin).await.unwrap();
        let unknown = app.services.start_activation("carige", "NOPE", &right, &origin).await.unwrap_err();
        assert!(matches!(unknown, sigillo_server::service::ServiceError::AuthFailed));
        app.stop().await;
    }
}

/// The same activation over the JSON API, for a customer who had the app and one who had a
/// hardware token: banks, old credentials, SMS code, confirm, the
/// email's token, the new password; the same 401 body for a wrong password and an unknown
/// code; 403 `not_yet_open` with the date; the end refused before the email is validated.
/// Requirements: R9, R12.
#[tokio::test]
async fn the_activation_works_over_the_json_api() {
    for backend in backends() {
        let app = TestApp::spawn_with(backend, |c| {
            c.legacy.banks = vec![open_bank(), LegacyBank { id: "ubi".into(), name: "UBI Banca".into(), ..bank() }]
        })
        .await;
        let old = one_customer(&app, "API1", "none").await;
        let banks: Value = app.get("/api/v1/activation/banks", None).await.json().await.unwrap();
        assert_eq!(banks.as_array().unwrap().len(), 2);
        assert_eq!((banks[1]["open"].as_bool(), banks[1]["opens_on"].as_str()), (Some(false), Some("2026-11-28")));

        let closed = app
            .post("/api/v1/activation", serde_json::json!({"bank": "ubi", "legacy_code": "X", "password": "y"}), None)
            .await;
        assert_eq!(closed.status(), reqwest::StatusCode::FORBIDDEN);
        let body: Value = closed.json().await.unwrap();
        assert!(body["error"] == "not_yet_open" && body["message"].as_str().unwrap().contains("2026-11-28"), "{body}");

        let wrong = app
            .post(
                "/api/v1/activation",
                serde_json::json!({"bank": "carige", "legacy_code": "API1", "password": "nope"}),
                None,
            )
            .await;
        let unknown = app
            .post(
                "/api/v1/activation",
                serde_json::json!({"bank": "carige", "legacy_code": "NOPE", "password": old}),
                None,
            )
            .await;
        assert_eq!(
            (wrong.status(), unknown.status()),
            (reqwest::StatusCode::UNAUTHORIZED, reqwest::StatusCode::UNAUTHORIZED)
        );
        assert_eq!(wrong.text().await.unwrap(), unknown.text().await.unwrap());

        // Both seed guides' customers: one who had the app, one who had a hardware token.
        for (code, kind, email) in [("API1", "none", "nuova@example.it"), ("API2", "hardware", "token@example.it")] {
            if code == "API2" {
                one_customer(&app, code, kind).await;
            }
            let body = serde_json::json!({"bank": "carige", "legacy_code": code, "password": old});
            let started = app.post("/api/v1/activation", body, None).await;
            assert_eq!(started.status(), reqwest::StatusCode::CREATED);
            let started: Value = started.json().await.unwrap();
            let id = started["activation"].as_str().unwrap().to_owned();
            assert!(started["phone"].as_str().unwrap().ends_with("122"));
            let body = serde_json::json!({"code": code_for(&app).await});
            let otp = app.post(&format!("/api/v1/activation/{id}/otp"), body.clone(), None).await;
            assert_eq!(otp.status(), reqwest::StatusCode::NO_CONTENT);
            let replay = app.post(&format!("/api/v1/activation/{id}/otp"), body, None).await;
            assert_eq!(replay.status(), reqwest::StatusCode::UNAUTHORIZED, "a code is accepted once (P8)");
            let confirm =
                app.post(&format!("/api/v1/activation/{id}/confirm"), serde_json::json!({"email": email}), None).await;
            assert_eq!(confirm.status(), reqwest::StatusCode::ACCEPTED);
            let body = serde_json::json!({"new_password": "58301649"});
            let early = app.post(&format!("/api/v1/activation/{id}/complete"), body, None).await;
            assert_eq!(early.status(), reqwest::StatusCode::GONE, "not before the email is validated");
            let token = link_token(&app, email).await;
            let verified = app.post("/api/v1/activation/email", serde_json::json!({"token": token}), None).await;
            assert_eq!(verified.status(), reqwest::StatusCode::NO_CONTENT);
            let state: Value = app.get(&format!("/api/v1/activation/{id}"), None).await.json().await.unwrap();
            assert_eq!((state["step"].as_str(), state["email_verified"].as_bool()), (Some("password"), Some(true)));
            assert_eq!(state["hardware_token"].as_bool(), Some(kind == "hardware"));
            let alias = format!("cliente.{}", code.to_lowercase());
            let body = serde_json::json!({"new_password": "58301649", "alias": alias});
            let done = app.post(&format!("/api/v1/activation/{id}/complete"), body, None).await;
            assert_eq!(done.status(), reqwest::StatusCode::CREATED);
            let done: Value = done.json().await.unwrap();
            assert_eq!(done["alias"].as_str(), Some(alias.as_str()));
            assert_eq!(done["hardware_token"].as_bool(), Some(kind == "hardware"));
            assert_eq!(done["security_code"].as_str().unwrap().len(), 20);
            let (session, _) = app.login(&alias, "58301649", "+393337001122").await;
            let me: Value = app.get("/api/v1/me", Some(&session)).await.json().await.unwrap();
            assert_eq!(me["email"], email, "{me}");
        }
        app.stop().await;
    }
}
