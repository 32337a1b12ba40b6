//! An async client for the [Soniox](https://soniox.com) Speech-to-Text **async** REST API.
//!
//! Pleasant on the common path — upload, transcribe with a webhook, get the result — and
//! robust on the hard ones: uploads stream from disk whatever their size, lists are streams
//! that follow cursors, transient failures are retried without ever creating a job twice, and
//! every error keeps the API's own explanation.
//!
//! # Quick start
//!
//! ```no_run
//! use soniox_client::{Audio, Client, TranscribeOptions};
//!
//! # async fn run() -> Result<(), soniox_client::Error> {
//! // SONIOX_API_KEY (and optionally SONIOX_API_BASE_URL) from the environment.
//! let client = Client::from_env()?;
//! let done = client
//!     .transcribe(Audio::path("meeting.mp3"), TranscribeOptions::new().cleanup(true))
//!     .await?;
//! println!("{}", done.transcript.text);
//! # Ok(()) }
//! ```
//!
//! # With a webhook
//!
//! Create the job and return; Soniox POSTs to your URL when it is done (receive it with the
//! `soniox-webhook` crate). Metadata rides in the URL's query string:
//!
//! ```no_run
//! use soniox_client::{Client, Webhook};
//! use soniox_client::types::CreateTranscription;
//!
//! # async fn run(client: Client) -> Result<(), soniox_client::Error> {
//! let webhook = Webhook::new("https://example.com/hooks/soniox")
//!     .metadata("order", "1234")
//!     .auth_from_env()?; // SONIOX_API_WEBHOOK_SECRET, as the official SDKs
//! let request = webhook
//!     .apply(CreateTranscription::new("stt-async-v5").audio_url("https://example.com/a.mp3"))?;
//! let job = client.transcriptions().create(&request).await?;
//! // Log job.id: if every delivery fails, fetch the result with it later.
//! # Ok(()) }
//! ```
//!
//! # Tasks
//!
//! | To | Call |
//! |---|---|
//! | upload a path, bytes or a reader, with progress | [`Files::upload`] with [`Upload`] |
//! | start a job | [`Transcriptions::create`] |
//! | poll until it is done | [`Transcriptions::wait`] with [`WaitOptions`] |
//! | fetch the transcript | [`Transcriptions::transcript`] |
//! | everything above in one call | [`Client::transcribe`] |
//! | from a webhook delivery to the job and transcript | [`FetchOnDelivery::fetch`] |
//! | delete a job and its file | [`Transcriptions::destroy`] |
//! | delete old jobs and files, with a filter and a dry run | [`Client::clean_up`] with [`CleanUp`] |
//! | walk every file or job | [`Files::list`], [`Transcriptions::list`] (streams) |
//! | list models | [`Models::list`] |
//! | mint a temporary key | [`Auth::create_temporary_api_key`] |
//!
//! # Errors and retries
//!
//! Every call returns [`Error`]. Its message says what went wrong and its
//! [`source`](std::error::Error::source) why, each once, so printing the chain (anyhow's
//! `{:#}`) reads as one sentence. A job that ends in `error` is always an error,
//! [`Error::TranscriptionFailed`], whether you [`wait`](Transcriptions::wait),
//! [`transcribe`](Client::transcribe) or [`fetch`](FetchOnDelivery::fetch) it. API errors keep the HTTP status and the parsed body
//! ([`types::ApiError`]: error type, message, validation errors, request id); bodies that
//! are not JSON (a proxy's HTML page) keep a short snippet.
//!
//! Failed calls are retried by a [`RetryPolicy`] on 408, 429, 500, 502, 503, 504 and connection
//! failures, with exponential backoff, full jitter and `Retry-After`. GET and DELETE retry
//! freely; a retried DELETE answered 404 after an attempt that may have done it succeeds.
//! `POST` requests (creating a job, uploading a file, minting a key) retry where the server
//! certainly did not act: the connection never opened, or it answered 408 or 429. After a
//! failure that may have been carried out (sent with no answer, or a 500, 502, 503 or 504,
//! which may come after the request was forwarded), a job created under the client's own
//! reference is looked up: found, it is returned; not found after a 503, the create is sent
//! again. Every other such failure ends with [`Error::OutcomeUnknown`].
//!
//! # Observability
//!
//! Each request runs in a `tracing` span `soniox.request` with `method`, `path`, `attempt`,
//! `status` and `request_id`. The API key and webhook secrets are never recorded.
//!
//! # Features
//!
//! | Feature | Default | Effect |
//! |---|---|---|
//! | `rustls` | yes | TLS through rustls with the webpki roots |
//! | `native-tls` | no | TLS through the platform's library |
//!
//! Without either, only `http://` base URLs work (an emulator, a local proxy), and
//! [`ClientBuilder::build`] refuses an `https://` one with an error naming both features.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod auth;
mod call;
mod cleanup;
mod client;
mod config;
mod delivery;
mod error;
mod file_chunks;
mod files;
mod models;
mod pagination;
pub mod retry;
mod stall;
mod transcribe;
mod transcriptions;
mod upload;
mod wait;
mod webhook;

pub use crate::{
    auth::Auth,
    cleanup::{CleanUp, CleanUpReport, Deletion},
    client::{Client, sends_in_cleartext},
    config::{
        API_KEY_ENV, BASE_URL_ENV, ClientBuilder, DEFAULT_BASE_URL, DEFAULT_MAX_RESPONSE_BYTES,
    },
    delivery::FetchOnDelivery,
    error::Error,
    files::Files,
    models::Models,
    retry::RetryPolicy,
    transcribe::{Audio, TranscribeOptions, Transcribed},
    transcriptions::Transcriptions,
    upload::Upload,
    wait::{MIN_POLL_INTERVAL, WaitOptions},
    webhook::Webhook,
};
pub use soniox_types as types;

// The README's code runs as a doctest, so what a user copies from it compiles and works.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
