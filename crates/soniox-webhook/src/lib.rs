//! Receive Soniox Speech-to-Text webhooks safely, with or without a web framework.
//!
//! When a transcription created with a `webhook_url` finishes, Soniox `POST`s
//! `{"id": "...", "status": "completed" | "error"}` to that URL, with one static header
//! (`webhook_auth_header_name: webhook_auth_header_value`) when you configured one, and retries
//! failed deliveries. This crate authenticates and parses those deliveries, drops duplicates,
//! and plugs into hyper, tower and axum.
//!
//! # Quick start
//!
//! ```
//! use soniox_types::{Secret, WebhookStatus};
//! use soniox_webhook::{Verifier, testing::TestDelivery};
//! # use soniox_types::{TranscriptionId, WebhookEvent};
//!
//! // Once, at startup (or `Verifier::from_env()`, like the official SDKs).
//! let verifier = Verifier::new("X-Soniox-Webhook-Secret", Secret::new("s3cr3t"))?;
//!
//! // For every request: method, URI, headers and body bytes in, a typed event out.
//! # let request = TestDelivery::new(WebhookEvent::new(TranscriptionId::new("tr-1"), WebhookStatus::Completed))
//! #     .uri("/hook?order=42").auth("X-Soniox-Webhook-Secret", &Secret::new("s3cr3t")).into_request()?;
//! match verifier.verify_request(&request) {
//!     Ok(event) => {
//!         assert_eq!(event.status(), &WebhookStatus::Completed);
//!         assert_eq!(event.metadata().get("order"), Some("42"));
//!         // Answer 200, then fetch the transcript for `event.id()`.
//!     }
//!     // Answer `rejection.status()`; the message is safe to send and to log.
//!     Err(rejection) => println!("{}: {rejection}", rejection.status()),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Tasks
//!
//! - **Verify in any framework:** [`Verifier::verify`] takes `&Method`, `&Uri`, `&HeaderMap`
//!   and `&[u8]`; [`Verifier::verify_request`] takes an `http::Request<impl AsRef<[u8]>>`.
//!   Read the body with a limit of [`Verifier::body_limit`] bytes; call
//!   [`Verifier::verify_head`] first to refuse unauthenticated callers before reading it.
//! - **Rotate the secret:** [`Verifier::with_secrets`] accepts several values. Jobs created
//!   before the rotation still carry the old one, so keep it until they have been delivered.
//! - **Drop duplicates:** retries deliver the same event again. [`MemoryDedupe`] remembers
//!   events for a while; implement [`Dedupe`] over a shared store for several processes.
//! - **Run a receiver:** [`serve`] (feature `hyper`), or [`Receiver`] for more control
//!   ([`Receiver::spawn`] runs it in the background, as tests and the quick start do);
//!   [`WebhookService`] as a `tower` or `hyper` service inside your own server.
//! - **Use axum:** the [`axum::SonioxWebhook`] extractor (feature `axum`).
//! - **Test your handlers:** [`testing::TestDelivery`] builds deliveries exactly as Soniox
//!   sends them.
//!
//! # Feature flags
//!
//! | Feature | Enables | Dependencies |
//! |---|---|---|
//! | (none) | [`Verifier`], [`Rejection`], [`Dedupe`], [`testing`] | `http`, `serde_json`, `subtle` |
//! | `tower` | [`WebhookService`] as a `tower_service::Service` | `tower-service`, `http-body-util` |
//! | `hyper` | [`WebhookService`] as a `hyper` service, [`Receiver`], [`serve`] | `hyper`, `hyper-util`, `tokio` |
//! | `axum` | [`axum::SonioxWebhook`], `IntoResponse` for [`Rejection`] | `axum-core` |
//!
//! (`service` is an internal feature that `tower` and `hyper` turn on.)
//!
//! # Security notes
//!
//! - **Fail closed.** A [`Verifier`] cannot be built without a secret, and
//!   [`Verifier::from_env`] fails when `SONIOX_API_WEBHOOK_SECRET` is unset. (The official
//!   Node SDK accepts every request in that case, and both official SDKs compare with plain
//!   equality.) Skipping authentication takes the explicitly named
//!   [`Verifier::dangerous_accept_unauthenticated`].
//! - **Constant-time comparison** against every accepted secret, so timing reveals neither the
//!   secret nor which one matched. The secret's length is not hidden.
//! - **Strict header handling.** The header name is case-insensitive; a header sent twice, or
//!   with bytes outside visible ASCII, is refused.
//! - **Nothing echoes secrets.** [`Rejection`] and [`ConfigError`] messages never contain the
//!   configured secret, the received header value or the body; `Debug` of a [`Verifier`]
//!   redacts its secrets.
//! - **No replay protection beyond dedupe.** Soniox signs nothing and sends no timestamp or
//!   delivery id, so whoever learns the header value can forge deliveries, and a captured
//!   delivery can be replayed. Serve the webhook over HTTPS only, treat the event as a hint
//!   ("go and fetch transcription `id`") rather than as data, and keep handlers idempotent.
//! - **Bounded work.** Bodies are limited ([`DEFAULT_BODY_LIMIT`], 64 KiB) before any parsing,
//!   and the adapters check method and authentication before reading the body.
//!
//! # Stability
//!
//! [`Rejection`] and [`ConfigError`] are `#[non_exhaustive]`: new checks may add variants.
//! Unknown `status` values are accepted as [`soniox_types::WebhookStatus::Unknown`] so a new
//! Soniox status does not turn into failed deliveries.
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
#[cfg(any(feature = "service", feature = "axum"))]
mod body;
mod config_error;
mod dedupe;
mod event;
mod parse;
#[cfg(feature = "hyper")]
mod receiver;
mod rejection;
#[cfg(feature = "service")]
mod service;
pub mod testing;
mod verifier;

#[cfg(feature = "hyper")]
#[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
pub use crate::receiver::{DEFAULT_HEADER_READ_TIMEOUT, Receiver, RunningReceiver, serve};
#[cfg(feature = "service")]
#[cfg_attr(docsrs, doc(cfg(any(feature = "tower", feature = "hyper"))))]
pub use crate::service::{Handler, WebhookService};
pub use crate::{
    config_error::ConfigError,
    dedupe::{Dedupe, DedupeFuture, MemoryDedupe},
    event::{Metadata, ReceivedEvent},
    rejection::Rejection,
    verifier::{DEFAULT_BODY_LIMIT, Verifier},
};

/// The longest transcription id accepted, in bytes. Soniox ids are 36-character UUIDs; the
/// bound keeps a hostile body from producing an arbitrarily large id.
pub const MAX_ID_LEN: usize = 256;
