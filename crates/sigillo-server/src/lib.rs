//! The sigillo server: strong customer authentication for banks.
//!
//! Data flows one way: a surface (web page, JSON API, operator command) calls a
//! service, the service asks `sigillo-core` to decide, persists through
//! `sigillo-store`, audits, and queues notifications in the outbox, which a worker
//! delivers.
//!
//! # Layout
//! - [`config`]: layered configuration.
//! - [`app`]: building the app, the demo user, serving with graceful shutdown.
//! - [`router`]: routes, layers, `/healthz`, `/metrics`, `/openapi.json`, `/dev/outbox`, `/dev/push`.
//! - [`service`]: the use cases.
//! - [`api`]: the JSON API. [`web`]: the web pages. [`device_api`]: the app's signed API.
//! - [`middleware`]: client address, rate limit, security headers.
//! - [`notify`]: SMS/email texts, senders and the outbox worker.
//! - [`push`]: push notifications to bound phones (APNs, FCM, dev recorder).
//! - [`admin`]: `sigillo admin …`.
//! - [`hasher`]: Argon2 on a fixed pool of threads.
//! - [`clock`], [`metrics`], [`telemetry`].
#![forbid(unsafe_code)]

pub mod acs;
pub mod admin;
pub mod admin_cards;
pub mod admin_legacy;
pub mod api;
pub mod app;
pub mod clock;
pub mod config;
pub mod device_api;
pub mod events;
pub mod hasher;
pub mod metrics;
pub mod middleware;
pub mod notify;
pub mod push;
pub mod router;
pub mod service;
pub mod telemetry;
pub mod web;
