//! Issue 5, the card holders' portal ("Area Riservata", DESIGN flow 9) through its forms:
//! registration with the card data and an SMS code to the card's phone, login with the
//! UserID, the forgotten UserID, Key6 management there, and the walls between the portal
//! and web banking.

use crate::support::TestApp;
use crate::web_devices::{PASSWORD, browser, csrf_of, page, signed_in};
use reqwest::{Client, StatusCode};
use sigillo_server::service::cards::CardRequest;
use sigillo_server::service::{Actor, Origin};
use sigillo_store::testing::backends;

const PAN: &str = "4111111111111111";
const CARD_PHONE: &str = "+393339876543";
const PORTAL_PASSWORD: &str = "73920518";
const KEY6: &str = "583920";

/// A card nobody holds yet (its holder will register in the portal): its id.
async fn unheld_card(app: &TestApp, pan: &str) -> String {
    card_for(app, pan, None).await
}

async fn card_for(app: &TestApp, pan: &str, holder: Option<&str>) -> String {
    let req = CardRequest {
        pan,
        brand: if pan.starts_with('4') { "visa" } else { "mastercard" },
        kind: "prepaid",
        holder_user_code: holder,
        phone: CARD_PHONE,
        corporate: false,
        expiry: Some("3012"),
    };
    app.services.create_card(&req, &Actor::Operator("test".into()), &Origin::cli()).await.unwrap().card_id
}

/// The SMS messages sent to the card's phone so far.
async fn card_sms(app: &TestApp) -> Vec<String> {
    app.outbox().await.into_iter().filter(|m| m.channel == "sms" && m.recipient == CARD_PHONE).map(|m| m.body).collect()
}

fn six_digits(sms: &str) -> String {
    regex::Regex::new(r"\b(\d{6})\b").unwrap().captures(sms).unwrap()[1].to_owned()
}

/// Posts a form and returns status, location and body.
async fn post(app: &TestApp, b: &Client, path: &str, form: &[(&str, &str)]) -> (StatusCode, String, String) {
    let resp = b.post(app.url(path)).form(form).send().await.unwrap();
    let status = resp.status();
    let location = resp.headers().get("location").map(|l| l.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, location, resp.text().await.unwrap())
}

/// A browser on the registration page: the browser and its CSRF token.
async fn at_registration(app: &TestApp) -> (Client, String) {
    let b = browser();
    let csrf = csrf_of(&page(app, &b, "/portal/register").await);
    (b, csrf)
}

/// Registers with the card data and the code the card's phone got: the UserID.
async fn register(app: &TestApp, pan: &str, expiry: &str, password: &str) -> String {
    let (b, csrf) = at_registration(app).await;
    let before = card_sms(app).await.len();
    let (status, location, _) =
        post(app, &b, "/portal/register", &[("csrf", &csrf), ("pan", pan), ("expiry", expiry)]).await;
    assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, "/portal/register/complete"));
    let sms = card_sms(app).await;
    assert_eq!(sms.len(), before + 1, "one code to the card's phone");
    let code = six_digits(&sms[before]);
    let form = [("csrf", csrf.as_str()), ("code", &code), ("new_password", password), ("confirm_password", password)];
    let (status, _, body) = post(app, &b, "/portal/register/complete", &form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    user_id_of(&body)
}

/// The UserID a registration's last page shows.
fn user_id_of(body: &str) -> String {
    regex::Regex::new(r#"id="user-id">(\d{10})<"#).unwrap().captures(body).expect("the UserID on the page")[1]
        .to_owned()
}

/// Logs in to the portal: the browser and its CSRF token, on the card list.
async fn portal_login(app: &TestApp, user_id: &str, password: &str) -> (Client, String) {
    let b = browser();
    let csrf = csrf_of(&page(app, &b, "/portal/login").await);
    let before = card_sms(app).await.len();
    let (status, location, _) =
        post(app, &b, "/portal/login", &[("csrf", &csrf), ("user_id", user_id), ("password", password)]).await;
    assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, "/portal/login/otp"));
    let sms = card_sms(app).await;
    assert_eq!(sms.len(), before + 1);
    assert!(sms[before].contains("Area Riservata"), "{}", sms[before]);
    let code = six_digits(&sms[before]);
    let (status, location, _) = post(app, &b, "/portal/login/otp", &[("csrf", &csrf), ("code", &code)]).await;
    assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, "/portal/cards"));
    (b, csrf)
}

/// The whole path of the seed guide: "Iscriviti" with the card data and an SMS code → a
/// UserID; login with UserID + password + SMS code; the card list; Key6 set, then viewed
/// after an SMS-confirmed SCA. Every link stays in the portal.
/// Requirements: R20 (card payments' SCA elements managed by the holder), R22, R23, P10.
#[tokio::test]
async fn a_holder_without_web_banking_registers_logs_in_and_manages_key6() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let card = unheld_card(&app, PAN).await;
        let user_id = register(&app, "4111 1111 1111 1111", "12/30", PORTAL_PASSWORD).await;
        let sms = card_sms(&app).await;
        assert!(sms[0].contains("1111") && sms[0].contains("iscriverti"), "{}", sms[0]);
        assert!(sms.last().unwrap().contains(&user_id), "the UserID goes to the card's phone too");

        let (b, csrf) = portal_login(&app, &user_id, PORTAL_PASSWORD).await;
        let list = page(&app, &b, "/portal/cards").await;
        assert!(list.contains("•••• 1111") && !list.contains(PAN), "{list}");
        assert!(list.contains(&format!(r#"href="/portal/cards/{card}/key6""#)), "{list}");
        assert!(list.contains(r#"action="/portal/logout""#), "{list}");

        let key6_page = format!("/portal/cards/{card}/key6");
        let form = [("csrf", csrf.as_str()), ("key6", KEY6), ("key6_confirm", KEY6)];
        let (status, location, _) = post(&app, &b, &key6_page, &form).await;
        assert_eq!((status, location), (StatusCode::SEE_OTHER, format!("{key6_page}?saved=1")));

        let (status, sca, _) = post(&app, &b, &format!("{key6_page}/view"), &[("csrf", &csrf)]).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert!(sca.starts_with(&format!("{key6_page}/view/")), "{sca}");
        let before = card_sms(&app).await.len();
        let (status, _, _) = post(&app, &b, &format!("{sca}/sms"), &[("csrf", &csrf)]).await;
        assert!(status.is_success() || status.is_redirection(), "{status}");
        let code = six_digits(&card_sms(&app).await[before]);
        let (status, _, _) = post(&app, &b, &format!("{sca}/otp"), &[("csrf", &csrf), ("code", &code)]).await;
        assert!(status.is_success() || status.is_redirection(), "{status}");
        let (status, _, shown) = post(&app, &b, &format!("{sca}/done"), &[("csrf", &csrf)]).await;
        assert_eq!(status, StatusCode::OK, "{shown}");
        // The way back stays in the portal (minijinja escapes the slashes of an href).
        assert!(shown.contains(KEY6) && shown.contains(&key6_page.replace('/', "&#x2f;")), "{shown}");

        let (status, location, _) = post(&app, &b, "/portal/logout", &[("csrf", &csrf)]).await;
        assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, "/portal/login?bye=1"));
        let after = b.get(app.url("/portal/cards")).send().await.unwrap();
        assert_eq!(after.headers()["location"], "/portal/login");
        let audit = app.audit_actions().await;
        for action in ["portal.registration_started", "portal.registered", "login.succeeded", "key6.viewed"] {
            assert!(audit.iter().any(|a| a == action), "{action} in {audit:?}");
        }
        app.stop().await;
    }
}

/// The card data never tell a stranger anything: an unknown card, a wrong expiry, a web
/// banking customer's card and the right data all lead to the same page, and a code for
/// a registration without a card fails like a wrong one. Only the card's phone hears.
/// Malformed data are said next to their field (nothing is looked up for them).
/// Requirements: R9 (no hint which element was wrong), P9.
#[tokio::test]
async fn card_data_answers_are_the_same_whatever_they_match() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        unheld_card(&app, PAN).await;
        let env = app.user().await;
        card_for(&app, "5555555555554444", Some(&env.user_code)).await;
        let mut pages = Vec::new();
        for (pan, expiry) in
            [("4000000000000002", "12/30"), (PAN, "11/30"), ("5555555555554444", "12/30"), (PAN, "12/30")]
        {
            let (b, csrf) = at_registration(&app).await;
            let (status, location, _) =
                post(&app, &b, "/portal/register", &[("csrf", &csrf), ("pan", pan), ("expiry", expiry)]).await;
            assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, "/portal/register/complete"));
            let next = page(&app, &b, "/portal/register/complete").await;
            pages.push(next.replace(&csrf, ""));
            if pan == "4000000000000002" {
                let form = [
                    ("csrf", csrf.as_str()),
                    ("code", "123456"),
                    ("new_password", PORTAL_PASSWORD),
                    ("confirm_password", PORTAL_PASSWORD),
                ];
                let (status, _, body) = post(&app, &b, "/portal/register/complete", &form).await;
                assert_eq!(status, StatusCode::UNAUTHORIZED);
                assert!(body.contains("id=\"error\""), "{body}");
            }
        }
        assert!(pages.windows(2).all(|w| w[0] == w[1]), "one page for every outcome");
        let sms = card_sms(&app).await;
        assert_eq!(sms.len(), 2, "{sms:?}");
        assert!(sms[0].contains("web banking") && sms[0].contains("4444"), "{}", sms[0]);
        assert!(sms[1].contains("iscriverti") && sms[1].contains("1111"), "{}", sms[1]);

        let (b, csrf) = at_registration(&app).await;
        let (status, _, body) =
            post(&app, &b, "/portal/register", &[("csrf", &csrf), ("pan", "41111"), ("expiry", "12/30")]).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(body.contains("id=\"pan-error\""), "{body}");
        let (status, _, body) =
            post(&app, &b, "/portal/register", &[("csrf", &csrf), ("pan", "4111 1111 1111 1112"), ("expiry", "12/30")])
                .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a mistyped digit (Luhn) is said at once");
        assert!(body.contains("id=\"pan-error\""), "{body}");
        let (status, _, body) =
            post(&app, &b, "/portal/register", &[("csrf", &csrf), ("pan", PAN), ("expiry", "13/30")]).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(body.contains("id=\"expiry-error\""), "{body}");
        let (status, _, _) =
            post(&app, &b, "/portal/register", &[("csrf", "forged"), ("pan", PAN), ("expiry", "12/30")]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "a foreign CSRF token, no look-up");
        assert_eq!(card_sms(&app).await.len(), 2);
        app.stop().await;
    }
}

/// Wrong card data and wrong registration codes count together per card; right data give
/// their attempt back. The fifth failure locks the card's data, and the card's phone hears
/// of it at once; while locked, even the right data and code do nothing.
/// Requirements: R10 (five failures), R11 (the alert), P2.
#[tokio::test]
async fn wrong_card_data_and_codes_lock_the_card_after_five_with_an_alert() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let card = unheld_card(&app, PAN).await;
        for _ in 0..4 {
            let (b, csrf) = at_registration(&app).await;
            post(&app, &b, "/portal/register", &[("csrf", &csrf), ("pan", PAN), ("expiry", "01/29")]).await;
        }
        assert!(card_sms(&app).await.is_empty(), "wrong data send nothing");
        // Right data: a code, and no count of their own.
        let (b, csrf) = at_registration(&app).await;
        post(&app, &b, "/portal/register", &[("csrf", &csrf), ("pan", PAN), ("expiry", "12/30")]).await;
        assert_eq!(card_sms(&app).await.len(), 1);
        // A wrong code is the fifth failure: locked, and alerted.
        let form = [
            ("csrf", csrf.as_str()),
            ("code", "000000"),
            ("new_password", PORTAL_PASSWORD),
            ("confirm_password", PORTAL_PASSWORD),
        ];
        let (status, _, _) = post(&app, &b, "/portal/register/complete", &form).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let sms = card_sms(&app).await;
        assert_eq!(sms.len(), 2, "{sms:?}");
        assert!(sms[1].contains("troppi tentativi") && sms[1].contains("1111"), "{}", sms[1]);
        // Locked: the right data open a registration that sends nothing and cannot complete.
        let (b, csrf) = at_registration(&app).await;
        post(&app, &b, "/portal/register", &[("csrf", &csrf), ("pan", PAN), ("expiry", "12/30")]).await;
        assert_eq!(card_sms(&app).await.len(), 2);
        let audit = app.audit_actions().await;
        assert_eq!(audit.iter().filter(|a| *a == "card_data.failed").count(), 5, "{audit:?}");
        assert!(audit.iter().any(|a| a == "card_data.locked"));
        // The operator lifts the lock (`sigillo admin card unlock-portal`): the right data work again.
        assert!(app.services.card_view(&card).await.unwrap().portal_locked);
        let operator = Actor::Operator("branch".into());
        assert!(!app.services.unlock_card_data(&card, &operator, &Origin::cli()).await.unwrap().portal_locked);
        let (b, csrf) = at_registration(&app).await;
        post(&app, &b, "/portal/register", &[("csrf", &csrf), ("pan", PAN), ("expiry", "12/30")]).await;
        assert_eq!(card_sms(&app).await.len(), 3);
        app.stop().await;
    }
}

/// A forgotten UserID comes by SMS to the card's phone; a forgotten password (or a locked
/// portal user) comes back by registering again: same UserID, new password, the old one
/// and the lock gone. Two registrations racing for one card make one user.
/// Requirements: R12 (regaining access with SCA), R10, P8.
#[tokio::test]
async fn the_user_id_and_the_password_come_back_through_the_card() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let card = unheld_card(&app, PAN).await;
        // Two registrations, each with its code, completed at once.
        let mut pending = Vec::new();
        for _ in 0..2 {
            let (b, csrf) = at_registration(&app).await;
            post(&app, &b, "/portal/register", &[("csrf", &csrf), ("pan", PAN), ("expiry", "12/30")]).await;
            let code = six_digits(card_sms(&app).await.last().unwrap());
            pending.push((b, csrf, code));
        }
        let results = futures::future::join_all(pending.iter().map(|(b, csrf, code)| {
            let form = [
                ("csrf", csrf.as_str()),
                ("code", code.as_str()),
                ("new_password", PORTAL_PASSWORD),
                ("confirm_password", PORTAL_PASSWORD),
            ];
            let app = &app;
            async move { post(app, b, "/portal/register/complete", &form).await }
        }))
        .await;
        let ids: Vec<String> =
            results.iter().filter(|(s, _, _)| *s == StatusCode::OK).map(|(_, _, body)| user_id_of(body)).collect();
        assert!(!ids.is_empty() && ids.iter().all(|id| *id == ids[0]), "{ids:?}");
        let user_id = ids[0].clone();
        let view = app.services.card_view(&card).await.unwrap();
        assert_eq!(view.holder.as_deref(), Some(user_id.as_str()));

        // Forgotten UserID: by SMS to the card's phone, the page the same as for wrong data.
        let b = browser();
        let csrf = csrf_of(&page(&app, &b, "/portal/user-id").await);
        let before = card_sms(&app).await.len();
        let (status, _, right) =
            post(&app, &b, "/portal/user-id", &[("csrf", &csrf), ("pan", PAN), ("expiry", "12/30")]).await;
        assert_eq!(status, StatusCode::OK);
        assert!(card_sms(&app).await[before].contains(&user_id));
        assert!(!right.contains(&user_id), "the UserID is never on the page");
        let (_, _, wrong) =
            post(&app, &b, "/portal/user-id", &[("csrf", &csrf), ("pan", PAN), ("expiry", "11/30")]).await;
        assert_eq!(right, wrong);
        assert_eq!(card_sms(&app).await.len(), before + 1);

        // Five wrong passwords lock the portal user; registering again unlocks it.
        let b = browser();
        let csrf = csrf_of(&page(&app, &b, "/portal/login").await);
        for _ in 0..5 {
            let (status, _, body) =
                post(&app, &b, "/portal/login", &[("csrf", &csrf), ("user_id", &user_id), ("password", "11223344")])
                    .await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        }
        let (status, _, _) =
            post(&app, &b, "/portal/login", &[("csrf", &csrf), ("user_id", &user_id), ("password", PORTAL_PASSWORD)])
                .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "locked");
        assert!(card_sms(&app).await.iter().any(|s| s.contains("troppi tentativi")), "alerted on the card's phone");
        let again = register(&app, PAN, "12/30", "60418273").await;
        assert_eq!(again, user_id, "the same UserID");
        let (status, _, _) =
            post(&app, &b, "/portal/login", &[("csrf", &csrf), ("user_id", &user_id), ("password", PORTAL_PASSWORD)])
                .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "the old password is gone");
        portal_login(&app, &user_id, "60418273").await;
        app.stop().await;
    }
}

/// Web banking and the portal are two worlds: a user code does not open the portal, a
/// UserID does not open web banking, and neither session opens the other's pages.
/// Requirements: P9, P10.
#[tokio::test]
async fn web_banking_and_the_portal_share_no_users_and_no_sessions() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        unheld_card(&app, PAN).await;
        let user_id = register(&app, PAN, "12/30", PORTAL_PASSWORD).await;
        let (banking, banking_csrf) = signed_in(&app, "+393331234567").await;
        let home = page(&app, &banking, "/").await;
        let user_code = crate::cards::user_code_of(&home);

        let (status, _, refused) = post(
            &app,
            &banking,
            "/portal/login",
            &[("csrf", &banking_csrf), ("user_id", &user_code), ("password", PASSWORD)],
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (_, _, wrong) = post(
            &app,
            &banking,
            "/portal/login",
            &[("csrf", &banking_csrf), ("user_id", &user_id), ("password", "11223344")],
        )
        .await;
        assert_eq!(refused.replace(&user_code, ""), wrong.replace(&user_id, ""), "one answer for both (P9)");
        let other = browser();
        let csrf = csrf_of(&page(&app, &other, "/login").await);
        let (status, _, _) =
            post(&app, &other, "/login", &[("csrf", &csrf), ("username", &user_id), ("password", PORTAL_PASSWORD)])
                .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "a UserID is no web banking login");

        let resp = banking.get(app.url("/portal/cards")).send().await.unwrap();
        assert_eq!(resp.headers()["location"], "/portal/login");
        let (portal, _) = portal_login(&app, &user_id, PORTAL_PASSWORD).await;
        for path in ["/", "/cards", "/banking", "/devices"] {
            let resp = portal.get(app.url(path)).send().await.unwrap();
            assert_eq!(resp.headers()["location"], "/login", "{path}");
        }
        // The token itself is no web banking session either, as a cookie or a bearer.
        let origin = Origin::cli();
        let flow = app.services.start_portal_login(&user_id, PORTAL_PASSWORD, &origin).await.unwrap();
        let code = six_digits(card_sms(&app).await.last().unwrap());
        let grant = app.services.submit_portal_otp(&flow, &code, &origin).await.unwrap();
        assert!(app.services.authenticate(&grant.token).await.is_err());
        assert!(app.services.authenticate_portal(&grant.token).await.is_ok());
        let resp = app.get("/api/v1/cards", Some(&grant.token)).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        let resp = banking
            .get(app.url("/cards"))
            .header("cookie", format!("sg_session={}", grant.token))
            .send()
            .await
            .unwrap();
        assert_ne!(resp.status(), StatusCode::OK);
        app.stop().await;
    }
}

/// Knowing a card's data cannot flood its holder's phone: the SMS they make the portal
/// send (codes, UserIDs) stop after five per card for an hour, silently (the page stays
/// the same), and a completed registration gives the budget back.
/// Requirements: P9.
#[tokio::test]
async fn card_data_cannot_flood_the_cards_phone() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        unheld_card(&app, PAN).await;
        let b = browser();
        let csrf = csrf_of(&page(&app, &b, "/portal/user-id").await);
        let mut pages = Vec::new();
        for _ in 0..12 {
            let (status, _, body) =
                post(&app, &b, "/portal/user-id", &[("csrf", &csrf), ("pan", PAN), ("expiry", "12/30")]).await;
            assert_eq!(status, StatusCode::OK);
            pages.push(body);
        }
        assert!(pages.windows(2).all(|w| w[0] == w[1]));
        assert_eq!(card_sms(&app).await.len(), 5, "five, then a pause");
        let (b, csrf) = at_registration(&app).await;
        post(&app, &b, "/portal/register", &[("csrf", &csrf), ("pan", PAN), ("expiry", "12/30")]).await;
        assert_eq!(card_sms(&app).await.len(), 5, "no registration code either while paused");
        assert!(app.audit_actions().await.iter().any(|a| a == "card_sms.paused"));
        // An hour later the card's phone hears again, and registering resets the budget.
        app.advance(std::time::Duration::from_secs(3601));
        let user_id = register(&app, PAN, "12/30", PORTAL_PASSWORD).await;
        assert_eq!(user_id.len(), 10);
        for _ in 0..5 {
            post(&app, &b, "/portal/user-id", &[("csrf", &csrf), ("pan", PAN), ("expiry", "12/30")]).await;
        }
        let sms = card_sms(&app).await;
        assert_eq!(sms.len(), 5 + 2 + 5, "{sms:?}");
        assert!(sms.last().unwrap().contains(&user_id));
        app.stop().await;
    }
}
