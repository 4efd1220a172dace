//! The store's contract: the same tests on SQLite always and on PostgreSQL whenever
//! `SIGILLO_TEST_POSTGRES_URL` is set.
#![expect(clippy::unwrap_used, reason = "a failed step should fail the test loudly")]

use sigillo_core::attempts::{Lock, Secret};
use sigillo_core::time::UnixMillis;
use sigillo_store::repo::{attempts, audit, cards, email_verifications, flows, outbox, sessions, threeds, users};
use sigillo_store::testing::{TestDb, backends};
use sigillo_store::{Backend, StoreError};
use std::collections::BTreeSet;

const NOW: i64 = 1_800_000_000_000;

/// Runs `body` once per backend, each on a fresh database.
macro_rules! on_each_backend {
    (|$db:ident| $body:block) => {
        for backend in backends() {
            let $db = TestDb::new(backend).await;
            $body
            $db.cleanup().await;
        }
    };
}

async fn new_user(db: &TestDb, code: &str) -> users::User {
    let mut c = db.store.conn().await.unwrap();
    users::insert(
        &mut c,
        &users::NewUser {
            user_code: code,
            password_hash: "$argon2id$stub",
            security_code_hash: "$argon2id$stub2",
            phone: "+393331234567",
            email: Some("mario@example.it"),
            status: users::UserStatus::MustChangePassword,
        },
        NOW,
    )
    .await
    .unwrap()
}

#[test]
fn migration_trees_are_in_lockstep() {
    let names = |backend: &str| -> BTreeSet<String> {
        std::fs::read_dir(format!("{}/migrations/{backend}", env!("CARGO_MANIFEST_DIR")))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    };
    let sqlite = names("sqlite");
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, names("postgres"), "every migration needs its twin, with the same number and name");
}

#[tokio::test]
async fn users_are_found_by_code_and_case_insensitive_alias() {
    on_each_backend!(|db| {
        let u = new_user(&db, "48151623").await;
        assert_eq!(u.status, users::UserStatus::MustChangePassword);
        assert!(!u.phone_certified && !u.email_verified);
        let mut c = db.store.conn().await.unwrap();
        let dup = users::insert(
            &mut c,
            &users::NewUser {
                user_code: "48151623",
                password_hash: "h",
                security_code_hash: "s",
                phone: "+39333",
                email: None,
                status: users::UserStatus::Active,
            },
            NOW,
        )
        .await;
        assert!(matches!(dup, Err(StoreError::Conflict("user_code"))), "{dup:?}");

        users::set_alias(&mut c, &u.id, Some(("Mario.Rossi", "mario.rossi")), NOW).await.unwrap();
        let found = users::by_username(&mut c, "MARIO.rossi").await.unwrap().unwrap();
        assert_eq!(found.id, u.id);
        assert_eq!(found.alias.as_deref(), Some("Mario.Rossi"));
        assert_eq!(users::by_username(&mut c, "48151623").await.unwrap().unwrap().id, u.id);
        assert!(users::by_username(&mut c, "48151624").await.unwrap().is_none());

        let other = new_user(&db, "27182818").await;
        let taken = users::set_alias(&mut c, &other.id, Some(("mario.ROSSI", "mario.rossi")), NOW).await;
        assert!(matches!(taken, Err(StoreError::Conflict("alias"))), "{taken:?}");

        assert!(users::certify_phone(&mut c, &u.id, "+393331234567", NOW).await.unwrap());
        assert!(!users::certify_phone(&mut c, &u.id, "+393331234567", NOW).await.unwrap(), "once");
        assert!(
            !users::verify_email(&mut c, &u.id, "other@example.it", NOW).await.unwrap(),
            "only the current address"
        );
        assert!(users::verify_email(&mut c, &u.id, "mario@example.it", NOW).await.unwrap());
        let u = users::by_id(&mut c, &u.id).await.unwrap().unwrap();
        assert!(u.phone_certified && u.email_verified);
        assert_eq!(users::count(&mut c).await.unwrap(), 2);
    });
}

/// R10, P2: 50 parallel attempts reserve at most five; success resets the count.
#[tokio::test]
async fn fifty_parallel_attempts_reserve_at_most_five() {
    on_each_backend!(|db| {
        let u = new_user(&db, "11235813").await;
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let store = db.store.clone();
            let id = u.id.clone();
            tasks.push(tokio::spawn(async move {
                let mut tx = store.begin().await.unwrap();
                let r = attempts::reserve(&mut tx, &id, Secret::Password, 5, NOW).await.unwrap();
                tx.commit().await.unwrap();
                r
            }));
        }
        let mut granted = Vec::new();
        for t in tasks {
            if let Some(r) = t.await.unwrap() {
                granted.push(r.failures);
            }
        }
        granted.sort_unstable();
        assert_eq!(granted, vec![1, 2, 3, 4, 5], "{:?}", db.store.backend());

        let mut c = db.store.conn().await.unwrap();
        let lock = Lock::Temporary { until: UnixMillis(NOW + 60_000), permanent_after_next: true };
        assert!(attempts::lock(&mut c, &u.id, Secret::Password, 5, lock, NOW).await.unwrap());
        assert!(
            !attempts::lock(&mut c, &u.id, Secret::Password, 5, lock, NOW).await.unwrap(),
            "a lock is applied once"
        );
        let counter = attempts::get(&mut c, &u.id, Secret::Password).await.unwrap();
        assert!(counter.is_locked(NOW) && !counter.is_locked(NOW + 60_000));
        assert!(attempts::reserve(&mut c, &u.id, Secret::Password, 5, NOW + 1).await.unwrap().is_none(), "locked");
        let after = attempts::reserve(&mut c, &u.id, Secret::Password, 5, NOW + 60_000).await.unwrap().unwrap();
        assert_eq!((after.failures, after.lock_count), (1, 1), "a new series after the lock, remembering it");
        attempts::succeed(&mut c, &u.id, Secret::Password, NOW).await.unwrap();
        assert_eq!(attempts::get(&mut c, &u.id, Secret::Password).await.unwrap(), attempts::Counter::default());
        // Counters are per secret.
        assert!(attempts::get(&mut c, &u.id, Secret::SmsOtp).await.unwrap().failures == 0);
        for _ in 0..5 {
            attempts::reserve(&mut c, &u.id, Secret::SecurityCode, 5, NOW).await.unwrap().unwrap();
        }
        assert!(attempts::lock(&mut c, &u.id, Secret::SecurityCode, 5, Lock::Permanent, NOW).await.unwrap());
        assert!(attempts::get(&mut c, &u.id, Secret::SecurityCode).await.unwrap().is_locked(i64::MAX));
        attempts::succeed(&mut c, &u.id, Secret::SecurityCode, NOW).await.unwrap();
        assert!(
            attempts::get(&mut c, &u.id, Secret::SecurityCode).await.unwrap().permanent,
            "success does not lift a permanent lock"
        );
        attempts::reset_all(&mut c, &u.id).await.unwrap();
        assert!(!attempts::get(&mut c, &u.id, Secret::SecurityCode).await.unwrap().permanent);
    });
}

/// R5, P8: one approval among 20 concurrent submissions of the right code.
#[tokio::test]
async fn an_otp_approves_its_flow_once_even_under_concurrency() {
    on_each_backend!(|db| {
        let u = new_user(&db, "31415926").await;
        let mut c = db.store.conn().await.unwrap();
        flows::create(&mut c, "flow-1", &u.id, "login", NOW, NOW + 600_000).await.unwrap();
        assert!(flows::set_otp(&mut c, "flow-1", b"digest-1", NOW + 300_000, 3, NOW).await.unwrap());
        assert!(flows::set_otp(&mut c, "flow-1", b"digest-2", NOW + 300_000, 3, NOW).await.unwrap());
        assert!(flows::set_otp(&mut c, "flow-1", b"digest-3", NOW + 300_000, 3, NOW).await.unwrap());
        assert!(
            !flows::set_otp(&mut c, "flow-1", b"digest-4", NOW + 300_000, 3, NOW).await.unwrap(),
            "three sends at most"
        );
        assert!(!flows::approve_with_otp(&mut c, "flow-1", b"digest-2", NOW).await.unwrap(), "a replaced code is dead");
        assert!(!flows::approve_with_otp(&mut c, "flow-1", b"digest-3", NOW + 300_000).await.unwrap(), "expired");
        drop(c);
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let store = db.store.clone();
            tasks.push(tokio::spawn(async move {
                let mut tx = store.begin().await.unwrap();
                let ok = flows::approve_with_otp(&mut tx, "flow-1", b"digest-3", NOW + 1).await.unwrap();
                tx.commit().await.unwrap();
                ok
            }));
        }
        let mut wins = 0;
        for t in tasks {
            wins += usize::from(t.await.unwrap());
        }
        assert_eq!(wins, 1);
        let mut c = db.store.conn().await.unwrap();
        let f = flows::get(&mut c, "flow-1").await.unwrap().unwrap();
        assert_eq!((f.status.as_str(), f.otp_digest), ("approved", None));
        assert!(flows::transition(&mut c, "flow-1", "approved", "consumed", NOW).await.unwrap());
        assert!(!flows::transition(&mut c, "flow-1", "approved", "consumed", NOW).await.unwrap(), "claimed once");
    });
}

/// R14, P10: five idle minutes end the session in the store (RTS art. 4(3)(d)).
#[tokio::test]
async fn sessions_die_after_five_idle_minutes() {
    on_each_backend!(|db| {
        let u = new_user(&db, "14142135").await;
        let mut c = db.store.conn().await.unwrap();
        let idle = 300_000;
        let id = sessions::create(&mut c, b"tok", &u.id, "full", "web", NOW).await.unwrap();
        let sessions::Touched::Live(s) = sessions::touch(&mut c, b"tok", NOW + idle - 1, idle).await.unwrap() else {
            panic!("live")
        };
        assert_eq!((s.id.as_str(), s.scope.as_str()), (id.as_str(), "full"));
        // Activity moved the deadline: 4:59 after the last touch it still lives.
        assert!(matches!(
            sessions::touch(&mut c, b"tok", NOW + 2 * idle - 2, idle).await.unwrap(),
            sessions::Touched::Live(_)
        ));
        let expired = sessions::touch(&mut c, b"tok", NOW + 3 * idle, idle).await.unwrap();
        assert!(matches!(expired, sessions::Touched::Expired { id: ref e, .. } if *e == id), "{expired:?}");
        let again = sessions::touch(&mut c, b"tok", NOW + 3 * idle + 1, idle).await.unwrap();
        assert!(matches!(again, sessions::Touched::Dead), "stays dead, reported once");
        // Activity is written to 15 s: a burst costs one write, and the limit runs from at
        // most 15 s before the last request (never longer than the configured idle time).
        let g = sessions::TOUCH_GRANULARITY_MS;
        sessions::create(&mut c, b"t4", &u.id, "full", "api", NOW).await.unwrap();
        assert!(matches!(sessions::touch(&mut c, b"t4", NOW + g - 1, idle).await.unwrap(), sessions::Touched::Live(_)));
        assert!(matches!(
            sessions::touch(&mut c, b"t4", NOW + idle + 1, idle).await.unwrap(),
            sessions::Touched::Expired { .. }
        ));
        sessions::create(&mut c, b"t5", &u.id, "full", "api", NOW).await.unwrap();
        assert!(matches!(sessions::touch(&mut c, b"t5", NOW + g + 1, idle).await.unwrap(), sessions::Touched::Live(_)));
        assert!(matches!(
            sessions::touch(&mut c, b"t5", NOW + g + idle, idle).await.unwrap(),
            sessions::Touched::Live(_)
        ));
        sessions::create(&mut c, b"t2", &u.id, "full", "api", NOW).await.unwrap();
        sessions::create(&mut c, b"t3", &u.id, "full", "web", NOW).await.unwrap();
        assert_eq!(sessions::end_all_for_user(&mut c, &u.id, "password_changed", NOW).await.unwrap(), 3, "t2, t3, t5");
        assert!(matches!(sessions::touch(&mut c, b"t2", NOW + 1, idle).await.unwrap(), sessions::Touched::Dead));
    });
}

/// P8: a link works once, and not after it expires.
#[tokio::test]
async fn email_links_work_once_and_expire() {
    on_each_backend!(|db| {
        let u = new_user(&db, "16180339").await;
        let mut c = db.store.conn().await.unwrap();
        email_verifications::create(&mut c, b"link", &u.id, "mario@example.it", NOW, NOW + 1000).await.unwrap();
        email_verifications::create(&mut c, b"old", &u.id, "mario@example.it", NOW, NOW + 1000).await.unwrap();
        let got = email_verifications::consume(&mut c, b"link", NOW).await.unwrap();
        assert_eq!(got, Some((u.id.clone(), "mario@example.it".to_owned())));
        assert_eq!(email_verifications::consume(&mut c, b"link", NOW).await.unwrap(), None);
        assert_eq!(email_verifications::consume(&mut c, b"old", NOW + 1000).await.unwrap(), None);
    });
}

#[tokio::test]
async fn outbox_messages_are_claimed_once_and_retried() {
    on_each_backend!(|db| {
        let mut c = db.store.conn().await.unwrap();
        for i in 0..3 {
            outbox::enqueue(
                &mut c,
                outbox::Channel::Sms,
                "+393331234567",
                None,
                format!("msg {i}").as_bytes(),
                NOW + i,
            )
            .await
            .unwrap();
        }
        outbox::enqueue(&mut c, outbox::Channel::Email, "m@example.it", Some("Hi"), b"body", NOW + 10).await.unwrap();
        assert_eq!(outbox::backlog(&mut c).await.unwrap(), 4);
        let first = outbox::claim_due(&mut c, NOW + 10, 2, 30_000).await.unwrap();
        assert_eq!(first.iter().map(|m| m.body.as_slice()).collect::<Vec<_>>(), [b"msg 0", b"msg 1"]);
        let second = outbox::claim_due(&mut c, NOW + 10, 10, 30_000).await.unwrap();
        assert_eq!(second.len(), 2, "claimed messages are not handed out again");
        assert!(outbox::claim_due(&mut c, NOW + 10, 10, 30_000).await.unwrap().is_empty());
        outbox::mark_delivered(&mut c, &first[0].id, NOW + 11, true).await.unwrap();
        outbox::mark_failed(&mut c, &first[1].id, "gateway 503", NOW + 1_000).await.unwrap();
        assert!(outbox::claim_due(&mut c, NOW + 999, 10, 30_000).await.unwrap().is_empty(), "backoff");
        let retry = outbox::claim_due(&mut c, NOW + 1_000, 10, 30_000).await.unwrap();
        assert_eq!((retry.len(), retry[0].attempts), (1, 2));
        // A lease that ran out (the worker died) makes the message due again.
        let expired = outbox::claim_due(&mut c, NOW + 40_011, 10, 30_000).await.unwrap();
        assert_eq!(expired.len(), 3);
        assert_eq!(outbox::backlog(&mut c).await.unwrap(), 3);
        let recent = outbox::recent(&mut c, 2).await.unwrap();
        assert_eq!(
            recent.iter().map(|m| m.body.as_slice()).collect::<Vec<_>>(),
            [&b"msg 2"[..], b"body"],
            "newest last"
        );
        let all = outbox::recent(&mut c, 10).await.unwrap();
        assert!(all.iter().find(|m| m.id == first[0].id).unwrap().body.is_empty(), "wiped once delivered");
    });
}

/// P11: concurrent appends keep the chain; edits are refused or detected.
#[tokio::test]
async fn audit_chain_survives_concurrency_and_reveals_tampering() {
    on_each_backend!(|db| {
        let mut tasks = Vec::new();
        for i in 0..20 {
            let store = db.store.clone();
            tasks.push(tokio::spawn(async move {
                let mut tx = store.begin().await.unwrap();
                audit::append(&mut tx, NOW + i, "system", "test.event", "u1", &format!("{{\"i\":{i}}}")).await.unwrap();
                tx.commit().await.unwrap();
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let mut c = db.store.conn().await.unwrap();
        let verify = |records: Vec<sigillo_core::audit::Record>, head: (i64, Vec<u8>)| {
            let mut v = sigillo_core::audit::Verifier::default();
            for r in &records {
                v.push(r)?;
            }
            v.finish(head.0, &head.1)
        };
        let records = audit::page(&mut c, 0, 100).await.unwrap();
        assert_eq!(verify(records, audit::head(&mut c).await.unwrap()), Ok(20));
        assert_eq!(audit::tail(&mut c, 2).await.unwrap().iter().map(|r| r.seq).collect::<Vec<_>>(), [19, 20]);

        // The table refuses edits...
        let edit = sqlx::query("UPDATE audit_log SET detail = '{}' WHERE seq = 7").execute(&mut *c).await;
        assert!(edit.is_err(), "append-only trigger");
        // ...and someone who removes that guard is still caught by the chain.
        let drop = match db.store.backend() {
            Backend::Sqlite => "DROP TRIGGER audit_log_no_update",
            Backend::Postgres => "DROP TRIGGER audit_log_no_change ON audit_log",
        };
        sqlx::query(drop).execute(&mut *c).await.unwrap();
        sqlx::query("UPDATE audit_log SET detail = '{\"i\":99}' WHERE seq = 7").execute(&mut *c).await.unwrap();
        let records = audit::page(&mut c, 0, 100).await.unwrap();
        assert_eq!(
            verify(records, audit::head(&mut c).await.unwrap()),
            Err(sigillo_core::audit::Break::Content { seq: 7 })
        );
    });
}

/// SQLite runs in WAL mode (readers never wait for the writer) with a busy timeout, and
/// write transactions take the write lock at once, so concurrent writers queue instead
/// of failing.
#[tokio::test]
async fn sqlite_uses_wal_and_a_busy_timeout() {
    use sqlx::Row;
    let db = TestDb::new(Backend::Sqlite).await;
    let mut c = db.store.conn().await.unwrap();
    let mode: String = sqlx::query("PRAGMA journal_mode").fetch_one(&mut *c).await.unwrap().get(0);
    assert_eq!(mode, "wal");
    let timeout: i64 = sqlx::query("PRAGMA busy_timeout").fetch_one(&mut *c).await.unwrap().get(0);
    assert_eq!(timeout, 5000);
    drop(c);
    // Twenty writers that each read, then write: none fails to upgrade its lock.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let store = db.store.clone();
        tasks.push(tokio::spawn(async move {
            let mut tx = store.begin().await.unwrap();
            let n = users::count(&mut tx).await.unwrap();
            users::insert(
                &mut tx,
                &users::NewUser {
                    user_code: &format!("{:08}", 20_000_000 + i),
                    password_hash: "h",
                    security_code_hash: "s",
                    phone: "+393331234567",
                    email: None,
                    status: users::UserStatus::Active,
                },
                NOW + n,
            )
            .await
            .unwrap();
            sigillo_store::commit(tx).await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(users::count(&mut db.store.conn().await.unwrap()).await.unwrap(), 20);
    db.cleanup().await;
}

/// Begins cancelled at any point never leave a pooled connection inside a transaction.
#[tokio::test]
async fn cancelled_begins_leave_the_pool_clean() {
    for backend in backends() {
        let db = TestDb::new(backend).await;
        for i in 0..200u64 {
            let _ = tokio::time::timeout(std::time::Duration::from_micros(i % 50), db.store.begin()).await;
        }
        for _ in 0..8 {
            let tx = db.store.begin().await.unwrap();
            sigillo_store::commit(tx).await.unwrap();
        }
        db.cleanup().await;
    }
}

/// `Store::begin_writing`: parallel transactions whose first statement writes all commit
/// (on SQLite the first write waits for the write lock, as `BEGIN IMMEDIATE` would), and
/// one cancelled at any point leaves the pool clean.
#[tokio::test]
async fn write_first_transactions_wait_their_turn() {
    on_each_backend!(|db| {
        let u = new_user(&db, "31415926").await;
        // The counter exists, so PostgreSQL's first UPDATE locks its row too.
        attempts::reserve(&mut db.store.conn().await.unwrap(), &u.id, Secret::Password, 5, NOW).await.unwrap();
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let store = db.store.clone();
            let id = u.id.clone();
            tasks.push(tokio::spawn(async move {
                let mut tx = store.begin_writing().await.unwrap();
                attempts::succeed(&mut tx, &id, Secret::Password, NOW).await.unwrap();
                // Reads, then writes again, inside the same transaction.
                let r = attempts::reserve(&mut tx, &id, Secret::Password, 5, NOW).await.unwrap();
                tx.commit().await.unwrap();
                r
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap().map(|r| r.failures), Some(1), "{:?}", db.store.backend());
        }
        for i in 0..200u64 {
            let _ = tokio::time::timeout(std::time::Duration::from_micros(i % 50), db.store.begin_writing()).await;
        }
        for _ in 0..8 {
            let tx = db.store.begin().await.unwrap();
            sigillo_store::commit(tx).await.unwrap();
        }
    });
}

/// Issue 4: push rows share the outbox (migration 0004), a user's push targets are their
/// active, primary bindings with a token, and a dead token is cleared only if it is still the one
/// registered.
#[tokio::test]
async fn push_rows_and_push_targets() {
    use sigillo_store::repo::bindings::{self, BindingStatus, NewBinding};
    on_each_backend!(|db| {
        let u = new_user(&db, "48151624").await;
        let mut c = db.store.conn().await.unwrap();
        outbox::enqueue(&mut c, outbox::Channel::Push, "b1", None, b"sealed", NOW).await.unwrap();
        assert_eq!(outbox::recent(&mut c, 1).await.unwrap()[0].channel, "push");
        for id in ["b1", "b2", "b3", "b4"] {
            let nb = NewBinding {
                id,
                user_id: &u.id,
                status: BindingStatus::Active,
                device_name: "phone",
                platform: "ios",
                possession_key: b"p",
                knowledge_key: b"k",
                biometry_key: None,
                server_key: b"s",
                otp_keys: b"o",
                fingerprint: "f",
            };
            bindings::create(&mut c, &nb, NOW).await.unwrap();
        }
        assert!(bindings::set_push_token(&mut c, "b1", "apns", "tok-1").await.unwrap());
        assert!(bindings::set_push_token(&mut c, "b3", "fcm", "tok-3").await.unwrap());
        assert!(bindings::transition(&mut c, "b3", BindingStatus::Active, BindingStatus::Blocked, NOW).await.unwrap());
        assert!(bindings::set_push_token(&mut c, "b4", "apns", "tok-4").await.unwrap());
        assert!(bindings::set_primary(&mut c, "b4", false).await.unwrap());
        let targets = bindings::push_targets(&mut c, &u.id).await.unwrap();
        assert_eq!(targets.len(), 1, "b2 has no token, b3 is blocked, b4 is not its phone's primary user");
        assert_eq!((targets[0].binding_id.as_str(), targets[0].token.as_str()), ("b1", "tok-1"));
        assert_eq!(bindings::active_push_token(&mut c, "b3").await.unwrap(), None);

        assert!(!bindings::clear_push_token(&mut c, "b1", "apns", "tok-old").await.unwrap(), "a newer token stays");
        assert!(bindings::clear_push_token(&mut c, "b1", "apns", "tok-1").await.unwrap());
        assert_eq!(bindings::active_push_token(&mut c, "b1").await.unwrap(), None);
        assert!(bindings::push_targets(&mut c, &u.id).await.unwrap().is_empty());
        drop(c);
    });
}

/// ADR 0011: every pooled SQLite connection gets the configured durability; FULL unless
/// NORMAL is chosen.
#[tokio::test]
async fn sqlite_durability_is_applied_to_every_connection() {
    use sigillo_store::{SqliteSynchronous, Store, StoreOptions};
    use sqlx::Row;
    let dir = tempfile::tempdir().unwrap();
    for (choice, expected) in [(SqliteSynchronous::Full, 2i64), (SqliteSynchronous::Normal, 1)] {
        let url = format!("sqlite:{}", dir.path().join(format!("{expected}.db")).display());
        let store = Store::connect_with(&url, &StoreOptions { sqlite_synchronous: choice }).await.unwrap();
        let mut conns = Vec::new();
        for _ in 0..3 {
            let mut c = store.conn().await.unwrap();
            let row = sqlx::query("PRAGMA synchronous").fetch_one(&mut *c).await.unwrap();
            assert_eq!(row.try_get::<i64, _>(0).unwrap(), expected, "{choice:?}");
            conns.push(c);
        }
    }
}

fn new_card<'a>(id: &'a str, lookup: &'a [u8], holder: Option<&'a str>) -> cards::NewCard<'a> {
    cards::NewCard {
        id,
        pan_lookup: lookup,
        pan_sealed: b"sealed",
        last4: "0004",
        brand: "visa",
        kind: "debit",
        corporate: false,
        holder_user_id: holder,
        phone: "+393330000001",
        expiry: Some("2812"),
    }
}

#[tokio::test]
async fn cards_are_found_by_pan_digest_and_holder_and_count_low_value_once() {
    on_each_backend!(|db| {
        let u = new_user(&db, "11223344").await;
        let mut c = db.store.conn().await.unwrap();
        cards::insert(&mut c, &new_card("card-1", b"digest-1", Some(&u.id)), NOW).await.unwrap();
        let dup = cards::insert(&mut c, &new_card("card-2", b"digest-1", None), NOW).await;
        assert!(matches!(dup, Err(StoreError::Conflict("card"))), "{dup:?}");
        let card = cards::by_pan_lookup(&mut c, b"digest-1").await.unwrap().unwrap();
        assert_eq!((card.id.as_str(), card.last4.as_str(), card.enrolled), ("card-1", "0004", true));
        assert!(cards::by_pan_lookup(&mut c, b"other").await.unwrap().is_none());
        assert_eq!(cards::for_holder(&mut c, &u.id).await.unwrap().len(), 1);

        // Two AReqs that read the same counters: only the first counts (optimistic check).
        assert!(cards::count_low_value(&mut c, "card-1", (0, 0), 1_500, NOW).await.unwrap());
        assert!(!cards::count_low_value(&mut c, "card-1", (0, 0), 1_500, NOW).await.unwrap());
        let card = cards::get(&mut c, "card-1").await.unwrap().unwrap();
        assert_eq!((card.lv_count, card.lv_eur_cents), (1, 1_500));
        cards::reset_low_value(&mut c, "card-1", NOW).await.unwrap();
        assert!(cards::set_key6(&mut c, "card-1", b"k6", NOW).await.unwrap());
        let card = cards::get(&mut c, "card-1").await.unwrap().unwrap();
        assert_eq!((card.lv_count, card.key6_sealed.as_deref()), (0, Some(&b"k6"[..])));
        let acs = cards::for_acs(&mut c, b"digest-1").await.unwrap().unwrap();
        assert_eq!((acs.card.id.as_str(), acs.app_bindings, acs.key6_locked(NOW)), ("card-1", 0, false));
        attempts::reserve(&mut c, "card-1", Secret::Key6, 1, NOW).await.unwrap().unwrap();
        assert!(attempts::lock(&mut c, "card-1", Secret::Key6, 1, Lock::Permanent, NOW).await.unwrap());
        assert!(cards::for_acs(&mut c, b"digest-1").await.unwrap().unwrap().key6_locked(NOW));
        assert!(cards::for_acs(&mut c, b"nope").await.unwrap().is_none());
    });
}

#[tokio::test]
async fn a_challenge_opens_once_and_ends_once() {
    on_each_backend!(|db| {
        let mut c = db.store.conn().await.unwrap();
        cards::insert(&mut c, &new_card("card-1", b"digest-1", None), NOW).await.unwrap();
        let t = threeds::NewTransaction {
            acs_trans_id: "acs-1",
            server_trans_id: "srv-1",
            ds_trans_id: "ds-1",
            card_id: "card-1",
            message_version: "2.2.0",
            message_category: "01",
            amount_minor: Some(4_999),
            currency: Some(978),
            exponent: Some(2),
            merchant_name: "Negozio",
            purchase_date: Some("20261123120000"),
            ds_url: "http://ds.invalid/rreq",
            notification_url: Some("http://merchant.invalid/notify"),
            status: "C",
            status_reason: None,
            exemption: None,
            challenge: Some("awaiting"),
            auth_value: None,
            eci: None,
            expires_at: NOW + 600_000,
        };
        assert!(threeds::insert(&mut c, &t, NOW).await.unwrap());
        let again = threeds::NewTransaction { acs_trans_id: "acs-2", ..t };
        assert!(!threeds::insert(&mut c, &again, NOW).await.unwrap(), "the same dsTransID: nothing written");
        assert!(threeds::get(&mut c, "acs-2").await.unwrap().is_none());
        // A batch in one statement: the row with a dsTransID on file is skipped, the others written.
        let batch = [
            threeds::NewTransaction { acs_trans_id: "acs-3", ds_trans_id: "ds-3", challenge: None, ..again },
            threeds::NewTransaction { acs_trans_id: "acs-4", ds_trans_id: "ds-1", ..again },
            threeds::NewTransaction { acs_trans_id: "acs-5", ds_trans_id: "ds-5", challenge: None, ..again },
        ];
        let mut written = threeds::insert_many(&mut c, &batch, NOW).await.unwrap();
        written.sort();
        assert_eq!(written, ["acs-3", "acs-5"]);
        let frictionless = threeds::get(&mut c, "acs-5").await.unwrap().unwrap();
        assert_eq!(frictionless.finished_at, Some(NOW), "no challenge: finished at once");
        let got = threeds::get(&mut c, "acs-1").await.unwrap().unwrap();
        assert_eq!((got.challenge.as_deref(), got.finished_at), (Some("awaiting"), None));

        // A CReq after the first-CReq deadline is refused; the first in time opens; a second is refused.
        assert!(!threeds::open_challenge(&mut c, "acs-1", "02", Some("sd"), b"tok", NOW, NOW + 1).await.unwrap());
        assert!(threeds::open_challenge(&mut c, "acs-1", "02", Some("sd"), b"tok", NOW - 1, NOW + 1).await.unwrap());
        assert!(!threeds::open_challenge(&mut c, "acs-1", "02", Some("sd"), b"tok", NOW - 1, NOW + 1).await.unwrap());

        assert!(threeds::set_otp(&mut c, "acs-1", b"d1", NOW + 1, 2).await.unwrap());
        assert!(threeds::set_otp(&mut c, "acs-1", b"d2", NOW + 1, 2).await.unwrap());
        assert!(!threeds::set_otp(&mut c, "acs-1", b"d3", NOW + 1, 2).await.unwrap(), "at most max_sends");

        let outcome = threeds::Outcome {
            status: "Y",
            status_reason: None,
            challenge_cancel: None,
            auth_value: Some("AAAA"),
            eci: Some("05"),
        };
        assert!(threeds::finish(&mut c, "acs-1", &outcome, NOW + 2).await.unwrap());
        assert!(!threeds::finish(&mut c, "acs-1", &outcome, NOW + 3).await.unwrap(), "one outcome");
        let due = threeds::rreqs_due(&mut c, NOW + 2, 10).await.unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!((due[0].status.as_str(), due[0].otp_digest.as_deref()), ("Y", None));

        // Two senders saw the same attempt count: one claims it.
        assert!(threeds::claim_rreq(&mut c, "acs-1", 0, NOW + 30_000).await.unwrap());
        assert!(!threeds::claim_rreq(&mut c, "acs-1", 0, NOW + 30_000).await.unwrap());
        assert!(threeds::rreqs_due(&mut c, NOW + 2, 10).await.unwrap().is_empty(), "leased");
        threeds::rreq_failed(&mut c, "acs-1", "HTTP 500", Some(NOW + 5)).await.unwrap();
        assert_eq!(threeds::rreqs_due(&mut c, NOW + 5, 10).await.unwrap().len(), 1);
        threeds::rreq_delivered(&mut c, "acs-1").await.unwrap();
        assert!(threeds::rreqs_due(&mut c, NOW + 1_000_000, 10).await.unwrap().is_empty());
        assert!(threeds::timed_out(&mut c, NOW + 1_000_000, NOW + 1_000_000, 10).await.unwrap().is_empty());
    });
}
