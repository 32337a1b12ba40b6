//! Receive Soniox Speech-to-Text webhooks safely, with or without a web framework.
//!
//! When a transcription created with a `webhook_url` finishes, Soniox `POST`s
//! `{"id": "...", "status": "completed" | "error"}` to that URL, with one static header
//! (`webhook_auth_header_name: webhook_auth_header_value`) when you configured one, and retries
//! failed deliveries. This crate authenticates and parses those deliveries, hands each event to
//! your handler until it succeeds once, and plugs into hyper, tower and axum.
//!
//! # Quick start
//!
//! ```
//! use soniox_webhook::{Secret, Verifier, WebhookStatus, testing::TestDelivery};
//! # use soniox_webhook::{TranscriptionId, WebhookEvent};
//!
//! // Once, at startup (or `Verifier::from_env()`, like the official SDKs).
//! let verifier = Verifier::new("X-Soniox-Webhook-Secret", Secret::new("s3cr3t"))?;
//!
//! // For every request: method, URI, headers and body bytes in, a typed event out.
//! # let request = TestDelivery::new(WebhookEvent::new(TranscriptionId::new("tr-1"), WebhookStatus::Completed))
//! #     .uri("/hook?order=42").auth("X-Soniox-Webhook-Secret", "s3cr3t").into_request()?;
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
//! - **Depend on this crate alone:** the `soniox-types` names a receiver uses ([`Secret`],
//!   [`TranscriptionId`], [`WebhookEvent`], [`WebhookStatus`]), the whole crate as [`types`],
//!   and [`http`] are re-exported.
//! - **Verify in any framework:** [`Verifier::verify`] takes `&Method`, `&Uri`, `&HeaderMap`
//!   and `&[u8]`; [`Verifier::verify_request`] takes an `http::Request<impl AsRef<[u8]>>`.
//!   Read the body with a limit of [`Verifier::get_body_limit`] bytes; call
//!   [`Verifier::verify_head`] first to refuse unauthenticated callers before reading it.
//! - **Rotate the secret:** [`Verifier::with_secrets`] accepts several values. Jobs created
//!   before the rotation still carry the old one, so keep it until they have been delivered.
//!   Only the value rotates: a verifier reads one header, so jobs created before a change of
//!   the header's *name* are refused (401) until they have all been delivered.
//! - **Handle each event once, to success:** an [`Inbox`] (verifier + [`store::EventStore`] +
//!   handler deadline) runs your handler under the guarantees below. Every adapter uses it.
//! - **Run a receiver:** [`serve`] (feature `hyper`), or [`Receiver`] for a path, limits and a
//!   drain deadline ([`Receiver::spawn`] runs it in the background, as tests and the quick
//!   start do); [`WebhookService`] as a `tower` or `hyper` service inside your own server.
//! - **Use axum:** the [`axum::SonioxWebhook`] extractor (feature `axum`), with the [`Inbox`]
//!   in the router state.
//! - **Survive restarts, share between replicas:** the `soniox-store` crate's SQLite and
//!   PostgreSQL stores.
//! - **Test your handlers:** [`testing::TestDelivery`] builds deliveries exactly as Soniox
//!   sends them.
//!
//! # Delivery guarantees
//!
//! Soniox retries a delivery until it gets a 2xx, so the receiver's answer decides whether an
//! event can be lost. An event (transcription id, status) is *new*, *in progress* (claimed by
//! one delivery, with a lease), or *done*:
//!
//! | Delivery of an event that is … | What happens | Answer |
//! |---|---|---|
//! | new | claimed; the handler runs | 200 on `Ok` (recorded as done first), 500 on `Err` or panic, 503 past the handler deadline |
//! | in progress | nothing | 503 with `Retry-After`, so it comes back |
//! | done | nothing | 200 |
//! | any, with the store unreachable | nothing | 503 |
//!
//! **Guaranteed:**
//! - No answer is 2xx before the handler returned `Ok` and the store recorded the event as
//!   done. Every other ending releases the event, so Soniox's next retry runs the handler
//!   again; when the store fails to record the event as done or to release it, the claim
//!   holds until its lease expires, and deliveries meanwhile get 503.
//! - A sender that hangs up (or a proxy timeout) does not cancel the handler: its handling
//!   moves into a task of its own. A handler past its deadline, or still running at the end
//!   of a shutdown's drain, is cancelled and its event released. A crash leaves the claim
//!   until its lease ([`Inbox::lease`]) expires; then the next delivery takes it over.
//! - Of concurrent deliveries of one event, on one process or on replicas sharing a
//!   PostgreSQL store, exactly one runs the handler.
//!
//! **Not guaranteed:**
//! - *Exactly once.* The handler runs at least once per event that is delivered: a crash after
//!   the handler's effect but before the store records *done*, or a lost store, runs it again.
//!   Make its effect idempotent (fetching a transcript twice is harmless; an upsert keyed on the
//!   transcription id is too).
//! - *A delivery at all.* If Soniox's retries all fail, or a webhook never arrives, nothing
//!   here can notice; poll for jobs you submitted and did not hear about.
//! - *Memory across restarts* with [`MemoryStore`](store::MemoryStore), the default: after a
//!   restart, a replayed delivery is handled again.
//!
//! **Choosing a store:** [`MemoryStore`](store::MemoryStore) for one process where handling a
//! replay after a restart is acceptable; `soniox_store::SqliteStore` for one process that must
//! remember across restarts (one file, nothing to run); `soniox_store::PostgresStore` for
//! several replicas behind a load balancer.
//!
//! # Feature flags
//!
//! | Feature | Enables | Dependencies |
//! |---|---|---|
//! | (none) | [`Verifier`], [`Rejection`], [`store`], [`testing`] | `http`, `serde_json`, `subtle` |
//! | `tower` | [`Inbox`], [`WebhookService`] as a `tower_service::Service` | `tower-service`, `http-body-util`, `tokio`, `tokio-util` |
//! | `hyper` | [`WebhookService`] as a `hyper` service, [`Receiver`], [`serve`] | `hyper`, `hyper-util`, `tokio` |
//! | `axum` | [`Inbox`], [`axum::SonioxWebhook`], `IntoResponse` for [`Rejection`] and [`Outcome`] | `axum-core`, `tokio`, `tokio-util` |
//!
//! (`service` and `inbox` are internal features that the others turn on.)
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
//! - **No replay protection beyond the store.** Soniox signs nothing and sends no timestamp or
//!   delivery id, so whoever learns the header value can forge deliveries, and a captured
//!   delivery can be replayed. Serve the webhook over HTTPS only, treat the event as a hint
//!   ("go and fetch transcription `id`") rather than as data, and keep handlers idempotent.
//! - **Bounded work.** Bodies are limited ([`DEFAULT_BODY_LIMIT`], 64 KiB) before any parsing,
//!   and the adapters check method and authentication before reading the body.
//!
//! # Stability
//!
//! [`Rejection`] and [`ConfigError`] are `#[non_exhaustive]`: new checks may add variants.
//! Unknown `status` values are accepted as [`WebhookStatus::Unknown`] so a new
//! Soniox status does not turn into failed deliveries.
#![cfg_attr(docsrs, feature(doc_cfg))]
// The guide above links the adapters, which exist only with their features: a build of the
// docs without them (docs.rs builds with all) would warn about every such link.
#![cfg_attr(
    not(all(feature = "tower", feature = "hyper", feature = "axum")),
    allow(rustdoc::broken_intra_doc_links)
)]

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
#[cfg(feature = "inbox")]
mod body;
mod config_error;
#[cfg(feature = "inbox")]
mod deadline;
mod event;
#[cfg(feature = "inbox")]
mod inbox;
mod parse;
#[cfg(feature = "hyper")]
mod receiver;
mod rejection;
#[cfg(feature = "service")]
mod service;
pub mod store;
#[cfg(any(feature = "hyper", feature = "axum"))]
mod termination;
pub mod testing;
mod verifier;

#[cfg(feature = "inbox")]
#[cfg_attr(
    docsrs,
    doc(cfg(any(feature = "tower", feature = "hyper", feature = "axum")))
)]
pub use crate::inbox::{
    DEFAULT_BODY_TIMEOUT, DEFAULT_HANDLER_DEADLINE, DEFAULT_LEASE_MARGIN, DeliveryCounts, Inbox,
    Outcome,
};
#[cfg(feature = "hyper")]
#[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
pub use crate::receiver::{
    DEFAULT_DRAIN_DEADLINE, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_MAX_CONNECTIONS, Receiver,
    RunningReceiver, serve,
};
#[cfg(feature = "service")]
#[cfg_attr(docsrs, doc(cfg(any(feature = "tower", feature = "hyper"))))]
pub use crate::service::{Handler, WebhookService};
#[cfg(any(feature = "hyper", feature = "axum"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "hyper", feature = "axum"))))]
pub use crate::termination::termination;
/// The `http` crate, whose request, header and status types this crate's API takes and
/// returns; re-exported so that `soniox-webhook` is the only dependency a receiver needs.
pub use http;
/// The wire types (`soniox-types`) that appear in this crate's API.
pub use soniox_types as types;
/// The names of `soniox-types` a receiver uses most, so that `soniox-webhook` alone is enough.
pub use soniox_types::{Secret, TranscriptionId, WebhookEvent, WebhookStatus};

pub use crate::{
    config_error::ConfigError,
    event::{Metadata, ReceivedEvent},
    rejection::Rejection,
    verifier::{DEFAULT_BODY_LIMIT, Verifier},
};

/// The longest transcription id accepted, in bytes. Soniox ids are 36-character UUIDs; the
/// bound keeps a hostile body from producing an arbitrarily large id.
pub const MAX_ID_LEN: usize = 256;

/// The longest webhook `status` accepted, in bytes. Soniox sends `completed` or `error`; the
/// bound leaves room for statuses added later while keeping a hostile body from producing an
/// arbitrarily large one (a dedupe store keeps it with each event).
pub const MAX_STATUS_LEN: usize = 64;

// The README's code runs as a doctest, so what a user copies from it compiles and works; its
// axum receiver needs the `axum` feature.
#[cfg(all(doctest, feature = "axum"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
