//! The operator commands, run as the real binary against the test database.

use serde_json::Value;
use sigillo_store::Backend;
use sigillo_store::testing::{TestDb, backends};
use std::process::Command;

pub fn sigillo(db: &TestDb, dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sigillo"))
        .args(args)
        .env("SIGILLO_DATABASE_URL", &db.url)
        .env("SIGILLO_SECURITY__HASHING__MEMORY_KIB", "256")
        .env("SIGILLO_SECURITY__HASHING__ITERATIONS", "1")
        .env("USER", "branch-007")
        .current_dir(dir)
        .output()
        .expect("run sigillo");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `sigillo admin …` end to end: envelope JSON, show, unlock, reissue, phone, email,
/// and the audit trail that names the operator and verifies, until someone edits it.
/// Requirements: R22, R46, P11.
#[tokio::test]
async fn admin_commands_work_and_are_audited() {
    for backend in backends() {
        let db = TestDb::new(backend).await;
        let dir = tempfile::tempdir().unwrap();
        let (code, out, err) = sigillo(
            &db,
            dir.path(),
            &["admin", "user", "create", "--phone", "+39 333 765 4321", "--email", "anna@example.it", "--json"],
        );
        assert_eq!(code, 0, "{err}");
        let env: Value = serde_json::from_str(out.trim()).unwrap();
        let user_code = env["user_code"].as_str().unwrap().to_owned();
        assert_eq!(user_code.len(), 8);
        assert_eq!(env["initial_password"].as_str().unwrap().len(), 8);
        assert_eq!(env["security_code"].as_str().unwrap().len(), 20);
        assert_eq!(env.as_object().unwrap().len(), 3, "exactly the envelope: {env}");

        let (code, _, err) = sigillo(&db, dir.path(), &["admin", "user", "create", "--phone", "3337654321", "--json"]);
        assert_ne!(code, 0);
        assert!(err.contains("invalid input: phone"), "{err}");

        let (code, out, _) = sigillo(&db, dir.path(), &["admin", "user", "show", &user_code, "--json"]);
        assert_eq!(code, 0);
        let shown: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(shown["user"]["phone"], "+393337654321");
        assert_eq!(shown["user"]["status"], "must_change_password");
        assert!(!out.contains("argon2"), "no hashes in operator output");
        assert!(!out.contains(env["initial_password"].as_str().unwrap()));

        for args in [
            vec!["admin", "user", "set-phone", &user_code, "+393330001111"],
            vec!["admin", "user", "set-email", &user_code, "anna.new@example.it"],
            vec!["admin", "user", "unlock", &user_code],
        ] {
            let (code, _, err) = sigillo(&db, dir.path(), &args);
            assert_eq!(code, 0, "{args:?}: {err}");
        }
        let (code, out, _) = sigillo(&db, dir.path(), &["admin", "user", "reissue-envelope", &user_code, "--json"]);
        assert_eq!(code, 0);
        let env2: Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(env2["user_code"], user_code.as_str());
        assert_ne!(env2["security_code"], env["security_code"]);

        let (code, out, _) = sigillo(&db, dir.path(), &["admin", "audit", "tail", "-n", "50", "--json"]);
        assert_eq!(code, 0);
        let records: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        for action in [
            "user.created",
            "user.viewed",
            "user.phone_changed",
            "user.email_changed",
            "user.unlocked",
            "user.envelope_reissued",
        ] {
            let r = records.iter().find(|r| r["action"] == action).unwrap_or_else(|| panic!("no {action}"));
            assert_eq!(r["actor"], "operator:branch-007");
        }
        let serialized = out.to_lowercase();
        for secret in [
            env["initial_password"].as_str().unwrap(),
            env["security_code"].as_str().unwrap(),
            env2["initial_password"].as_str().unwrap(),
        ] {
            assert!(!serialized.contains(&secret.to_lowercase()), "a secret reached the audit trail");
        }

        let (code, out, _) = sigillo(&db, dir.path(), &["admin", "audit", "verify"]);
        assert_eq!(code, 0);
        assert!(out.starts_with("audit trail intact"), "{out}");

        // Someone with database access removes the guard and edits a record.
        let mut conn = db.store.conn().await.unwrap();
        let drop_trigger = match backend {
            Backend::Sqlite => "DROP TRIGGER audit_log_no_update",
            Backend::Postgres => "DROP TRIGGER audit_log_no_change ON audit_log",
        };
        sqlx_exec(&mut conn, drop_trigger).await;
        sqlx_exec(&mut conn, "UPDATE audit_log SET actor = 'operator:nobody' WHERE seq = 2").await;
        drop(conn);
        let (code, out, err) = sigillo(&db, dir.path(), &["admin", "audit", "verify"]);
        assert_eq!(code, 1, "{backend:?} {out} {err}");
        assert!(err.contains("record 2 was altered"), "{err}");

        db.cleanup().await;
    }
}

async fn sqlx_exec(conn: &mut sigillo_store::Conn, sql: &str) {
    sigillo_store::raw_execute(conn, sql).await.expect(sql);
}

/// `sigillo config example` prints the reference file; `config check` validates files.
#[test]
fn config_commands() {
    let out = Command::new(env!("CARGO_BIN_EXE_sigillo")).args(["config", "example"]).output().unwrap();
    assert!(out.status.success());
    let repo_example =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../sigillo.example.toml")).unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), repo_example);

    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(&good, "listen = \"127.0.0.1:9999\"\n[security]\nsession_idle_secs = 120\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sigillo")).args(["config", "check"]).arg(&good).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[security]\nsesion_idle_secs = 120\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sigillo")).args(["config", "check"]).arg(&bad).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("sesion_idle_secs"), "names the unknown key");
}
