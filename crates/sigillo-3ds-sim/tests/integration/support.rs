//! A minimal test ACS and a few helpers that play the browser's part (read a form, post it).
//!
//! The test ACS answers ARes Y for PANs ending in 1111 and C otherwise; for a posted creq it
//! posts an RReq to the AReq's dsURL (retrying on non-200, up to four attempts), then
//! answers the auto-posting CRes page a real ACS would send into the iframe.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::post;
use axum::{Form, Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sigillo_3ds_sim::{Sim, SimConfig};

pub const CHALLENGE_PAN: &str = "4000000000001000";
pub const FRICTIONLESS_PAN: &str = "4000000000001111";

/// One attempt of the test ACS to deliver an RReq.
#[derive(Clone, Debug)]
pub struct RreqAttempt {
    pub status: u16,
    pub body: String,
}

#[derive(Default)]
pub struct AcsState {
    pub areqs: Mutex<Vec<(Option<String>, Value)>>,
    /// By acsTransID: the AReq of a challenge in progress.
    challenges: Mutex<HashMap<String, Value>>,
    pub rreq_attempts: Mutex<Vec<RreqAttempt>>,
    /// When set, the CRes page posts this instead of the merchant's threeDSSessionData.
    pub tamper_session_data: Mutex<Option<String>>,
    base_url: Mutex<String>,
}

pub struct TestAcs {
    pub base_url: String,
    pub state: Arc<AcsState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestAcs {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestAcs {
    pub async fn start() -> TestAcs {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(AcsState::default());
        *state.base_url.lock().unwrap() = base_url.clone();
        let app = Router::new()
            .route("/3ds/v2/areq", post(areq))
            .route("/3ds/v2/challenge", post(challenge))
            .with_state(state.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        TestAcs { base_url, state, task }
    }

    /// The AReqs received, with their Content-Type.
    pub fn areqs(&self) -> Vec<(Option<String>, Value)> {
        self.state.areqs.lock().unwrap().clone()
    }

    pub fn rreq_attempts(&self) -> Vec<RreqAttempt> {
        self.state.rreq_attempts.lock().unwrap().clone()
    }
}

/// A simulator and a test ACS, both on free ports.
pub async fn start() -> (Sim, TestAcs) {
    (Sim::start(SimConfig::default()).await.unwrap(), TestAcs::start().await)
}

fn acs_erro(code: &str, detail: &str) -> Value {
    json!({"messageType": "Erro", "messageVersion": "2.2.0", "errorCode": code, "errorComponent": "A",
           "errorDescription": "test ACS", "errorDetail": detail})
}

async fn areq(State(state): State<Arc<AcsState>>, headers: HeaderMap, body: Bytes) -> Response {
    let content_type = headers.get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_owned());
    let Ok(areq) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, Json(acs_erro("101", "not JSON"))).into_response();
    };
    state.areqs.lock().unwrap().push((content_type, areq.clone()));
    let Some(pan) = areq["acctNumber"].as_str() else {
        return Json(acs_erro("201", "acctNumber")).into_response();
    };
    let acs_id = uuid::Uuid::new_v4().to_string();
    let mut ares = json!({
        "messageType": "ARes", "messageVersion": areq["messageVersion"],
        "threeDSServerTransID": areq["threeDSServerTransID"], "dsTransID": areq["dsTransID"],
        "acsTransID": acs_id, "acsReferenceNumber": "TEST-ACS", "dsReferenceNumber": areq["dsReferenceNumber"],
    });
    if pan.ends_with("1111") {
        ares["transStatus"] = json!("Y");
        ares["eci"] = json!("05");
        ares["authenticationValue"] = json!("AAABBZEEBgAAAAAAAAQGAAAAAAA=");
    } else {
        ares["transStatus"] = json!("C");
        ares["acsChallengeMandated"] = json!("Y");
        ares["authenticationType"] = json!("01");
        ares["acsURL"] = json!(format!("{}/3ds/v2/challenge", state.base_url.lock().unwrap()));
        state.challenges.lock().unwrap().insert(acs_id, areq);
    }
    Json(ares).into_response()
}

async fn challenge(State(state): State<Arc<AcsState>>, Form(form): Form<HashMap<String, String>>) -> Response {
    let creq: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&form["creq"]).unwrap()).unwrap();
    let acs_id = creq["acsTransID"].as_str().unwrap();
    let areq = state.challenges.lock().unwrap().remove(acs_id).unwrap();
    let rreq = json!({
        "threeDSServerTransID": creq["threeDSServerTransID"], "acsTransID": acs_id,
        "dsTransID": areq["dsTransID"], "messageType": "RReq", "messageVersion": creq["messageVersion"],
        "messageCategory": areq["messageCategory"], "transStatus": "Y", "interactionCounter": "01",
        "authenticationType": "01", "authenticationValue": "AAABBZEEBgAAAAAAAAQGAAAAAAA=", "eci": "05",
    });
    post_rreq(&state, areq["dsURL"].as_str().unwrap(), &rreq).await;
    let cres = json!({
        "threeDSServerTransID": creq["threeDSServerTransID"], "acsTransID": acs_id, "messageType": "CRes",
        "messageVersion": creq["messageVersion"], "transStatus": "Y", "challengeCompletionInd": "Y",
    });
    let session =
        state.tamper_session_data.lock().unwrap().clone().unwrap_or_else(|| form["threeDSSessionData"].clone());
    Html(format!(
        r#"<form method="post" action="{}"><input type="hidden" name="cres" value="{}"><input type="hidden" name="threeDSSessionData" value="{session}"></form><script>document.forms[0].submit()</script>"#,
        areq["notificationURL"].as_str().unwrap(),
        URL_SAFE_NO_PAD.encode(cres.to_string()),
    ))
    .into_response()
}

async fn post_rreq(state: &AcsState, ds_url: &str, rreq: &Value) {
    let client = reqwest::Client::new();
    for _ in 0..4 {
        let response = client.post(ds_url).json(rreq).send().await.unwrap();
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        state.rreq_attempts.lock().unwrap().push(RreqAttempt { status, body });
        if status == 200 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A form as the browser would submit it: its action and its named inputs.
#[derive(Debug)]
pub struct PageForm {
    pub action: String,
    pub target: Option<String>,
    pub fields: HashMap<String, String>,
}

/// The value of attribute `name` inside one tag's text (double-quoted attributes only).
pub fn attribute(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let len = tag[start..].find('"')?;
    Some(tag[start..start + len].replace("&amp;", "&"))
}

/// The opening tags named `element` in `html`, in order.
pub fn tags<'a>(html: &'a str, element: &str) -> Vec<&'a str> {
    let open = format!("<{element}");
    html.match_indices(&open).map(|(at, _)| &html[at..at + html[at..].find('>').unwrap()]).collect()
}

/// The first form of a page.
pub fn first_form(html: &str) -> PageForm {
    let form = tags(html, "form")[0];
    let fields = tags(html, "input")
        .into_iter()
        .filter_map(|input| Some((attribute(input, "name")?, attribute(input, "value").unwrap_or_default())))
        .collect();
    PageForm { action: attribute(form, "action").unwrap(), target: attribute(form, "target"), fields }
}

/// Submits a form the way the browser does (application/x-www-form-urlencoded).
pub async fn submit(form: &PageForm) -> (u16, String) {
    let response = reqwest::Client::new().post(&form.action).form(&form.fields).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

pub async fn get(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

pub fn decode_b64url_json(text: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(text).unwrap()).unwrap()
}
