//! The demo banking area and the payment authorization page (DESIGN flow 4 on the web):
//! an invalid payment comes back with the error next to its field and nothing stored, a
//! valid one leads to its page, a payment is its customer's only, and the forms need
//! their CSRF token. The phone's side is in e2e/tests/payments.test.js.

use crate::each_backend;
use crate::support::TestApp;
use crate::web_devices::{page, signed_in};
use reqwest::{Client, StatusCode};

const PHONE: &str = "+393331234567";
const IBAN: &str = "IT60X0542811101000000123456";

async fn user_id(app: &TestApp, phone: &str) -> String {
    let mut conn = app.services.store.conn().await.unwrap();
    let row: (String,) =
        sqlx::query_as("SELECT id FROM users WHERE phone = $1").bind(phone).fetch_one(&mut *conn).await.unwrap();
    row.0
}

async fn pay(app: &TestApp, b: &Client, form: &[(&str, &str)]) -> reqwest::Response {
    b.post(app.url("/banking/payments")).form(form).send().await.unwrap()
}

/// One digit off in the IBAN: the form again (400), the error next to the IBAN, every
/// value kept, nothing stored. Then the right IBAN: the authorization page.
/// Requirements: flow 4.
#[tokio::test]
async fn an_invalid_iban_is_shown_next_to_its_field_and_nothing_is_stored() {
    each_backend!(|app| {
        let (b, csrf) = signed_in(&app, PHONE).await;
        let home = page(&app, &b, "/").await;
        assert!(home.contains(r#"href="/banking""#), "home links to the banking area");
        let html = page(&app, &b, "/banking").await;
        assert!(html.contains("Conto dimostrativo") && html.contains(r#"id="no-operations""#));

        let bad = "IT60X0542811101000000123457";
        let mut form = vec![
            ("csrf", csrf.as_str()),
            ("kind", "credit_transfer"),
            ("payee", "Luca Neri"),
            ("iban", bad),
            ("amount", "15,00"),
            ("currency", "EUR"),
            ("description", "Cena"),
        ];
        let resp = pay(&app, &b, &form).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        let html = resp.text().await.unwrap();
        assert!(html.contains(r#"id="transfer-iban-error""#) && html.contains("IBAN non valido"), "{html}");
        assert_eq!(html.matches("field-error").count(), 1, "one error, next to the IBAN");
        for kept in [bad, "Luca Neri", "15,00", "Cena"] {
            assert!(html.contains(&format!(r#"value="{kept}""#)), "{kept} is kept");
        }
        assert!(html.contains(r#"id="no-operations""#));
        let uid = user_id(&app, PHONE).await;
        assert!(app.services.list_payments(&uid).await.unwrap().is_empty(), "nothing stored");

        form[3] = ("iban", IBAN);
        let resp = pay(&app, &b, &form).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        let location = resp.headers()["location"].to_str().unwrap().to_owned();
        let list = app.services.list_payments(&uid).await.unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(location, format!("/payments/{}", list[0].id));
        assert_eq!(list[0].field("amount"), Some("15.00"), "the decimal comma was read");

        // No phone: the SMS code is the way, open at once; no QR, no waiting.
        let html = page(&app, &b, &location).await;
        assert!(html.contains("Autorizza il pagamento") && html.contains(IBAN) && html.contains("Luca Neri"));
        assert!(html.contains(&format!(r#"action="/payments/{}/sms""#, list[0].id)));
        assert!(!html.contains(r#"id="payment-qr""#) && !html.contains(r#"id="wait""#));
        assert!(html.contains(&format!(r#"action="/payments/{}/cancel""#, list[0].id)));
        let banking = page(&app, &b, "/banking").await;
        assert!(banking.contains(&format!(r#"id="op-{}" data-status="pending""#, list[0].id)));
    });
}

/// Another customer's payment reads as no payment, on the page and on its stream; the
/// payment form needs the browser's CSRF token.
/// Requirements: flow 4, P10.
#[tokio::test]
async fn payments_are_their_customers_own_and_forms_need_csrf() {
    each_backend!(|app| {
        let (b, csrf) = signed_in(&app, PHONE).await;
        let form = [
            ("csrf", csrf.as_str()),
            ("kind", "bill"),
            ("payee", "Acqua Spa"),
            ("bill_code", "0012 3456"),
            ("amount", "42.10"),
            ("currency", "EUR"),
        ];
        let resp = pay(&app, &b, &form).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        let location = resp.headers()["location"].to_str().unwrap().to_owned();
        let html = page(&app, &b, &location).await;
        assert!(html.contains("00123456"), "the bill code without its spaces");

        let (other, other_csrf) = signed_in(&app, "+393339876543").await;
        let resp = other.get(app.url(&location)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        let resp = other.get(app.url(&format!("{location}/events"))).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        let resp = other
            .post(app.url(&format!("{location}/cancel")))
            .form(&[("csrf", other_csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        let uid = user_id(&app, PHONE).await;
        assert_eq!(app.services.list_payments(&uid).await.unwrap()[0].status, "pending", "not cancelled by another");

        // A foreign CSRF token: refused, nothing stored.
        let mut forged = form;
        forged[0] = ("csrf", other_csrf.as_str());
        let resp = pay(&app, &b, &forged).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        assert_eq!(app.services.list_payments(&uid).await.unwrap().len(), 1);

        // Not signed in: the login page.
        let resp = app.client.get(app.url("/banking")).send().await.unwrap();
        assert_eq!(resp.headers()["location"], "/login");
    });
}
