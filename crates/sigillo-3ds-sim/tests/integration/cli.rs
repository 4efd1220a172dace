//! The `sigillo-3ds-sim` binary: `serve` for harnesses, `purchase` for demos.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::challenge::run_challenge;
use crate::support::{self, CHALLENGE_PAN, FRICTIONLESS_PAN, TestAcs};

const BIN: &str = env!("CARGO_BIN_EXE_sigillo-3ds-sim");

#[tokio::test]
async fn serve_prints_where_it_listens_first_and_answers_there() {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(10), lines.next_line()).await.unwrap().unwrap().unwrap();
    let base = first.strip_prefix("listening on ").unwrap();
    assert!(base.starts_with("http://127.0.0.1:"), "{first}");
    let (status, body) = support::get(&format!("{base}/sim/rreqs")).await;
    assert_eq!((status, body.as_str()), (200, "[]"));
    child.kill().await.unwrap();
}

#[tokio::test]
async fn purchase_prints_a_frictionless_ares() {
    let acs = TestAcs::start().await;
    let output = Command::new(BIN)
        .args(["purchase", "--acs", &acs.base_url, "--pan", FRICTIONLESS_PAN, "--amount", "12.5"])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.starts_with("HTTP 200\n") && stdout.contains(r#""transStatus": "Y""#), "{stdout}");
    assert_eq!(acs.areqs()[0].1["purchaseAmount"], "1250");
}

#[tokio::test]
async fn purchase_waits_for_the_challenge_and_prints_cres_and_rreq() {
    let acs = TestAcs::start().await;
    let mut child = Command::new(BIN)
        .args(["purchase", "--acs", &acs.base_url, "--pan", CHALLENGE_PAN, "--amount", "3", "--wait-secs", "20"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    let checkout_url = loop {
        let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line()).await.unwrap().unwrap().unwrap();
        if let Some(url) = line.strip_prefix("challenge: open ").and_then(|rest| rest.strip_suffix(" in a browser")) {
            break url.to_owned();
        }
        printed.push(line);
    };
    assert!(printed.join("\n").contains(r#""transStatus": "C""#));
    run_challenge(&checkout_url).await;
    while let Some(line) = lines.next_line().await.unwrap() {
        printed.push(line);
    }
    let printed = printed.join("\n");
    assert!(printed.contains("CRes:") && printed.contains(r#""challengeCompletionInd": "Y""#), "{printed}");
    assert!(printed.contains("RReq:") && printed.contains(r#""messageType": "RReq""#), "{printed}");
    assert!(child.wait().await.unwrap().success());
}
