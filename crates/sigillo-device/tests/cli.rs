//! The `sigillo-device` command without a server: what it refuses before any call.
//! (Binding against a real server is tested in sigillo-server's integration tests and
//! in the browser tests, which drive this binary.)
#![expect(clippy::unwrap_used, reason = "a failed step should fail the test loudly")]

use std::process::Command;

fn device(dir: &std::path::Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sigillo-device"))
        .args(["--state", dir.join("phone.json").to_str().unwrap(), "--json"])
        .args(args)
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A trivial PIN and a mistyped code are refused on the phone: nothing is sent (the
/// server address is a closed port, so a call would fail differently).
#[test]
fn trivial_pins_and_mistyped_codes_never_reach_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = "http://127.0.0.1:9";
    let (ok, out) = device(dir.path(), &["activate", "--server", server, "7JFJM-YR1TK-M5Z49-61Z2B", "--pin", "12345"]);
    assert!(!ok);
    let err: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(err["error"], "invalid_input");
    assert!(err["message"].as_str().unwrap().contains("too easy"));

    let (ok, out) = device(dir.path(), &["activate", "--server", server, "7JFJM-YR1TK-M5Z49-61Z2C", "--pin", "24680"]);
    assert!(!ok);
    let err: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(err["error"], "invalid_input");
    assert!(err["message"].as_str().unwrap().contains("typo"));

    // The well-formed code does try the server (and cannot reach it).
    let (ok, out) = device(dir.path(), &["activate", "--server", server, "7JFJM-YR1TK-M5Z49-61Z2B", "--pin", "24680"]);
    assert!(!ok);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&out).unwrap()["error"], "error");

    // No users yet; the state file was written with mode 0600.
    let (ok, out) = device(dir.path(), &["users"]);
    assert!(ok);
    assert_eq!(out.trim(), "[]");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("phone.json")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
