//! JSON control endpoints (`/sim/...`) for the browser tests and demos, which drive the
//! simulator over HTTP instead of through [`crate::Sim`].

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::purchase::Purchase;
use crate::sim::{AreqBody, Shared, json_response};

#[derive(Deserialize)]
pub(crate) struct PurchaseRequest {
    /// The ACS base URL; the AReq goes to `{acs}/3ds/v2/areq`.
    acs: String,
    #[serde(flatten)]
    purchase: Purchase,
}

/// `POST /sim/purchase`: the [`Purchase`] fields plus `acs` → `{areq, response, http_status,
/// checkout_url, problems}`; 502 `{"error"}` when the ACS cannot be reached.
pub(crate) async fn purchase(State(shared): State<Arc<Shared>>, Json(request): Json<PurchaseRequest>) -> Response {
    let areq = shared.build_areq(&request.purchase);
    match shared.send_areq(&request.acs, AreqBody::Json(areq)).await {
        Ok(outcome) => json_response(
            StatusCode::OK,
            &json!({
                "areq": outcome.areq,
                "response": outcome.response,
                "http_status": outcome.http_status,
                "checkout_url": outcome.checkout_url,
                "problems": outcome.problems,
            }),
        ),
        Err(error) => json_response(StatusCode::BAD_GATEWAY, &json!({"error": format!("{error:#}")})),
    }
}

/// `GET /sim/rreqs`: the RReqs the DS processed, oldest first.
pub(crate) async fn rreqs(State(shared): State<Arc<Shared>>) -> Json<Vec<Value>> {
    Json(shared.read(|r| r.rreqs()))
}

/// `GET /sim/notifications`: the merchant's notifications, oldest first.
pub(crate) async fn notifications(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(shared.read(|r| json!(r.notifications)))
}

#[derive(Deserialize)]
pub(crate) struct FailNext {
    n: u32,
}

/// `POST /sim/fail-next-rreqs {"n"}`: the next `n` RReqs get HTTP 500.
pub(crate) async fn fail_next_rreqs(State(shared): State<Arc<Shared>>, Json(body): Json<FailNext>) -> Json<Value> {
    let pending = shared.update(|r| {
        r.fail_next_rreqs = r.fail_next_rreqs.saturating_add(body.n);
        r.fail_next_rreqs
    });
    Json(json!({"pending_failures": pending}))
}
