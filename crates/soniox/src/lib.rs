//! The Rust SDK for the [Soniox](https://soniox.com) Speech-to-Text **async** API, as one
//! dependency: pick what you need with features, import everything from `soniox::`.
//!
//! | Module | Feature | What it is |
//! |---|---|---|
//! | [`types`] | always | wire types: validated requests, tolerant responses, the webhook event, transcript rendering |
//! | `client` | `client` (rustls) or `client-native-tls` | the async REST client: uploads, jobs, `wait`, `transcribe`, retries |
//! | `webhook` | `webhook`, plus `axum`, `hyper` or `tower` for an adapter | receiving deliveries: verification, parsing, handled-once guarantees |
//! | `store` | `store` (SQLite), plus `postgres` | durable event stores for the webhook receiver |
//! | `tracker` | `tracker` (SQLite), plus `postgres` | submit jobs and never lose a result: webhooks reconciled with polling |
//! | `emulator` | `emulator` | a local Soniox API that runs jobs and delivers webhooks, for tests |
//!
//! Each module is the crate of the same name (`soniox-client`, `soniox-webhook`, ...),
//! re-exported whole: its documentation is the guide, and the split crates stay usable on
//! their own. Nothing is on by default but [`types`]: a webhook receiver does not build an
//! HTTP client, and a client does not build a server.
//!
//! ```toml
//! [dependencies]
//! soniox = { version = "0.1", features = ["webhook", "axum"] }   # an axum receiver
//! # soniox = { version = "0.1", features = ["client"] }          # submit jobs, fetch results
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use soniox_types as types;

#[cfg(any(feature = "client", feature = "client-native-tls"))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(feature = "client", feature = "client-native-tls")))
)]
pub use soniox_client as client;

#[cfg(feature = "webhook")]
#[cfg_attr(docsrs, doc(cfg(feature = "webhook")))]
pub use soniox_webhook as webhook;

#[cfg(feature = "store")]
#[cfg_attr(docsrs, doc(cfg(feature = "store")))]
pub use soniox_store as store;

#[cfg(feature = "tracker")]
#[cfg_attr(docsrs, doc(cfg(feature = "tracker")))]
pub use soniox_tracker as tracker;

#[cfg(feature = "emulator")]
#[cfg_attr(docsrs, doc(cfg(feature = "emulator")))]
pub use soniox_emulator as emulator;

// The README's code runs as a doctest, so what a user copies from it compiles and works; it
// uses the client, the webhook receiver with axum, and the emulator.
#[cfg(all(doctest, feature = "client", feature = "axum", feature = "emulator"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
