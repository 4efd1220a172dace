//! `sigillo admin card …` as the real binary: issue (also from standard input and from a
//! CSV file), look up by id or PAN, change the 3-D Secure phone; the PAN is refused when it
//! fails Luhn or its brand's prefixes, shown only as its last four digits, and audited so.

use crate::operator::sigillo;
use serde_json::Value;
use sigillo_store::testing::{TestDb, backends};
use std::io::Write;
use std::process::{Command, Stdio};

const VISA: &str = "4111111111111111";
const MASTERCARD: &str = "5555555555554444";

/// Requirements: P10 (no full PAN shown), P11.
#[tokio::test]
async fn cards_are_issued_shown_by_last_four_and_audited() {
    for backend in backends() {
        let db = TestDb::new(backend).await;
        let dir = tempfile::tempdir().unwrap();
        let run = |args: &[&str]| sigillo(&db, dir.path(), args);
        let (code, out, err) = run(&["admin", "user", "create", "--phone", "+393331112222", "--json"]);
        assert_eq!(code, 0, "{err}");
        let user_code = serde_json::from_str::<Value>(&out).unwrap()["user_code"].as_str().unwrap().to_owned();

        let (code, out, err) = run(&[
            "admin",
            "card",
            "create",
            "--pan",
            VISA,
            "--brand",
            "visa",
            "--holder",
            &user_code,
            "--phone",
            "+39 333 999 8888",
            "--json",
        ]);
        assert_eq!(code, 0, "{err}");
        let created: Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(created["last4"], "1111");
        assert_eq!(created.as_object().unwrap().len(), 2, "{created}");
        let card_id = created["card_id"].as_str().unwrap().to_owned();

        // The same PAN again, a Luhn failure, a brand mismatch: refused.
        let (code, _, err) =
            run(&["admin", "card", "create", "--pan", VISA, "--brand", "visa", "--phone", "+393330000001"]);
        assert_ne!(code, 0);
        assert!(err.contains("card") && !err.contains(VISA), "{err}");
        let (code, _, err) = run(&[
            "admin",
            "card",
            "create",
            "--pan",
            "4111111111111112",
            "--brand",
            "visa",
            "--phone",
            "+393330000001",
        ]);
        assert!(code != 0 && err.contains("card_pan"), "{err}");
        let (code, _, err) =
            run(&["admin", "card", "create", "--pan", MASTERCARD, "--brand", "visa", "--phone", "+393330000001"]);
        assert!(code != 0 && err.contains("card_brand"), "{err}");

        // From standard input: the PAN stays out of the process list.
        let mut child = Command::new(env!("CARGO_BIN_EXE_sigillo"))
            .args([
                "admin",
                "card",
                "create",
                "--pan",
                "-",
                "--brand",
                "mastercard",
                "--phone",
                "+393330000002",
                "--json",
            ])
            .env("SIGILLO_DATABASE_URL", &db.url)
            .current_dir(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(format!("{MASTERCARD}\n").as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap()["last4"], "4444");

        let (code, out, _) = run(&["admin", "card", "show", "--pan", VISA, "--json"]);
        assert_eq!(code, 0);
        let shown: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            (shown["card_id"].as_str(), shown["holder"].as_str()),
            (Some(card_id.as_str()), Some(user_code.as_str()))
        );
        assert_eq!((shown["key6_set"].as_bool(), shown["phone"].as_str()), (Some(false), Some("+•••••••••888")));
        assert!(!out.contains(VISA));

        let (code, out, err) = run(&["admin", "card", "set-phone", &card_id, "+393337776666"]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("666") && !out.contains("+393337776666"), "masked: {out}");

        let (code, out, _) = run(&["admin", "card", "enrollment", &card_id, "off"]);
        assert!(code == 0 && out.contains("not enrolled"), "{out}");
        let (code, out, err) = run(&["admin", "card", "unlock-portal", &card_id]);
        assert!(code == 0 && out.contains("1111") && out.contains("unlocked"), "{out}{err}");

        // A CSV import stops at its first bad row and names the line, never the PAN.
        let csv = dir.path().join("cards.csv");
        std::fs::write(
            &csv,
            format!(
                "pan,brand,kind,holder,phone,corporate,expiry\n\
                 4000000000000002,visa,debit,{user_code},+393330000003,false,2812\n\
                 5105105105105100,mastercard,prepaid,,+393330000004,true,\n\
                 4000000000000003,visa,debit,,+393330000005,false,2812\n"
            ),
        )
        .unwrap();
        let (code, _, err) = run(&["admin", "card", "import", csv.to_str().unwrap(), "--json"]);
        assert_ne!(code, 0);
        assert!(
            err.contains("line 4") && err.contains("after 2 cards issued") && !err.contains("4000000000000003"),
            "{err}"
        );

        let (code, out, _) = run(&["admin", "audit", "tail", "-n", "50", "--json"]);
        assert!(out.contains("card_data.unlocked"), "{out}");
        assert_eq!(code, 0);
        assert!(
            out.contains("card.created")
                && out.contains("card.phone_changed")
                && out.contains("card.viewed")
                && out.contains("card.unenrolled")
        );
        for pan in [VISA, MASTERCARD, "4000000000000002", "5105105105105100"] {
            assert!(!out.contains(pan), "the audit trail holds a PAN");
        }
        db.cleanup().await;
    }
}
