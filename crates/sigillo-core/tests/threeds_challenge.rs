//! Issue 5: the end of a challenge against the EMVCo test platform's cardholder-cancel flow
//! (`tests/fixtures/3ds/flow/testplatform/challenge/happycase/cardholder-cancel`, see the
//! README there): the DS's RRes parses, and the RReq sigillo builds from that flow's AReq and
//! ARes speaks the fixture RReq's wire names.

use serde_json::{Map, Value, json};
use sigillo_core::threeds::authval::{AUTH_VALUE_LEN, Brand};
use sigillo_core::threeds::challenge::{
    AcsInterface, AcsRenderingType, AcsUiTemplate, AuthenticationMethod, ChallengeCancel, ChallengeOutcome,
    FailureStatus, RReq, RReqFacts, RResOrErro, ResultsStatus, parse_rres, parse_rres_or_erro, rreq,
};
use sigillo_core::threeds::messages::{ARes, MessageVersion};
use sigillo_core::threeds::validate::parse_areq;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn flow() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/3ds/flow/testplatform/challenge/happycase/cardholder-cancel")
}

fn read(name: &str) -> Vec<u8> {
    let path = flow().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn object(name: &str) -> Map<String, Value> {
    match serde_json::from_slice(&read(name)) {
        Ok(Value::Object(map)) => map,
        other => panic!("{name}: {other:?}"),
    }
}

fn keys(map: &Map<String, Value>) -> BTreeSet<String> {
    map.keys().cloned().collect()
}

fn wire(r: &RReq) -> Map<String, Value> {
    match serde_json::to_value(r) {
        Ok(Value::Object(map)) => map,
        other => panic!("{other:?}"),
    }
}

/// The facts of the flow as sigillo's ACS would have stored them: ids and version from the
/// AReq (as the DS forwards it) and the ARes, the cardholder's cancel, the app UI it used.
fn facts(outcome: ChallengeOutcome) -> RReqFacts {
    let ares: ARes = serde_json::from_slice(&read("ares.json")).unwrap_or_else(|e| panic!("ares.json: {e}"));
    let mut areq = object("areq.json");
    areq.insert("dsTransID".into(), json!(ares.ds_trans_id));
    areq.insert("dsReferenceNumber".into(), json!(ares.ds_reference_number));
    let areq = serde_json::to_vec(&areq).unwrap_or_else(|e| panic!("{e}"));
    let areq = parse_areq(&areq).unwrap_or_else(|e| panic!("areq.json: {e:?}"));
    RReqFacts {
        message_version: areq.message_version,
        three_ds_server_trans_id: areq.three_ds_server_trans_id.clone(),
        ds_trans_id: areq.ds_trans_id.clone(),
        acs_trans_id: ares.acs_trans_id.clone(),
        // The fixture RReq has no sdkTransID although this is an app-channel flow (Table A.1
        // lists it for the app RReq); kept out here so the names can be compared.
        sdk_trans_id: None,
        category: areq.message_category,
        brand: Brand::Mastercard,
        authentication_type: ares.authentication_type.unwrap_or_else(|| panic!("ares.json: authenticationType")),
        authentication_method: AuthenticationMethod::Other,
        interaction_counter: 0,
        outcome,
        acs_rendering_type: Some(AcsRenderingType {
            acs_interface: AcsInterface::Native,
            acs_ui_template: AcsUiTemplate::Text,
        }),
    }
}

const CANCEL: ChallengeOutcome =
    ChallengeOutcome::Cancelled { cancel: ChallengeCancel::CardholderCancelled, status: FailureStatus::Unavailable };

#[test]
fn the_fixture_rres_parses() {
    let rres = parse_rres(&read("rres.json")).unwrap();
    assert_eq!(rres.results_status, ResultsStatus::Received);
    assert_eq!(rres.message_version, MessageVersion::V2_1_0);
    let fixture = object("rres.json");
    assert_eq!(Some(rres.ds_trans_id.as_str()), fixture["dsTransID"].as_str());
    assert_eq!(Some(rres.acs_trans_id.as_str()), fixture["acsTransID"].as_str());
    assert_eq!(serde_json::to_value(&rres).unwrap(), Value::Object(fixture));
    assert!(matches!(parse_rres_or_erro(&read("rres.json")), Ok(RResOrErro::RRes(r)) if r == rres));
}

#[test]
fn the_cancel_rreq_matches_the_fixture_s_names_and_values() {
    let fixture = object("rreq.json");
    let ours = wire(&rreq(&facts(CANCEL)));

    // Every name we send is one the fixture uses; the fixture's others are named here.
    let missing: BTreeSet<String> = keys(&fixture).difference(&keys(&ours)).cloned().collect();
    assert!(keys(&ours).is_subset(&keys(&fixture)), "{:?}", keys(&ours));
    assert_eq!(
        missing,
        // authenticationValue, eci: Y and A only (Table A.1; ECI left to DS rules, see RReq).
        // authenticationMethod: a 2.2.0 element in a 2.1.0 message.
        ["authenticationMethod", "authenticationValue", "eci"].map(String::from).into(),
    );
    // Same values for all the names both carry.
    for (name, value) in &ours {
        assert_eq!(Some(value), fixture.get(name), "{name}");
    }
}

#[test]
fn an_authenticated_2_2_0_rreq_covers_the_rest() {
    let fixture = object("rreq.json");
    let y = ChallengeOutcome::Authenticated { authentication_value: [0x5a; AUTH_VALUE_LEN] };
    let ours = wire(&rreq(&RReqFacts { message_version: MessageVersion::V2_2_0, ..facts(y) }));
    assert!(keys(&ours).is_subset(&keys(&fixture)), "{:?}", keys(&ours));
    // Cancel (2.1.0) and success (2.2.0) together use every name of the fixture.
    let cancel = wire(&rreq(&facts(CANCEL)));
    let union: BTreeSet<String> = keys(&ours).union(&keys(&cancel)).cloned().collect();
    assert_eq!(union, keys(&fixture));
    assert_eq!(ours["eci"], "02", "Mastercard, authenticated");
    assert_eq!(ours["authenticationValue"].as_str().map(str::len), Some(28));
    assert_eq!(ours["authenticationMethod"], "10");
    // A built RReq reads back as itself.
    let r = rreq(&facts(CANCEL));
    assert_eq!(serde_json::from_value::<RReq>(Value::Object(wire(&r))).unwrap(), r);
}
