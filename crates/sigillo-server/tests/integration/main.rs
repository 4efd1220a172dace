//! The server's integration tests: one binary, each test on a fresh database (SQLite
//! always, PostgreSQL too when `SIGILLO_TEST_POSTGRES_URL` is set).
#![expect(clippy::unwrap_used, clippy::expect_used, reason = "a failed step should fail the test loudly")]

mod support;

mod account;
mod acs;
mod cards;
mod devices;
mod integration_api;
mod legacy;
mod lockout;
mod login;
mod logs;
mod operations;
mod operator;
mod operator_cards;
mod outbox;
mod portal;
mod push;
mod recovery;
mod session;
mod web;
mod web_banking;
mod web_devices;
mod web_push;
