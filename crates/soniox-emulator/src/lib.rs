//! A local, stateful stand-in for the [Soniox](https://soniox.com) Speech-to-Text async API
//! that really runs jobs and **delivers webhooks**.
//!
//! Start it in-process on a free port, point any Soniox client at [`Emulator::base_url`], and
//! the same paths, status codes, error bodies, pagination, limits and quotas as
//! `api.soniox.com` answer. Jobs move `queued` → `processing` → `completed` | `error` on a
//! clock you choose, produce deterministic transcripts, and POST their webhooks with retries,
//! every attempt recorded.
//!
//! # Quick start
//!
//! ```no_run
//! use soniox_emulator::{Emulator, JobClock};
//! use std::time::Duration;
//!
//! # async fn example() -> Result<(), soniox_emulator::StartError> {
//! let emulator = Emulator::builder()
//!     .api_key("test-key")
//!     .job_clock(JobClock::Fixed(Duration::ZERO))
//!     .webhook_retry_schedule([Duration::ZERO, Duration::from_millis(50)])
//!     .start()
//!     .await?;
//! // Send requests to format!("{}/v1/transcriptions", emulator.base_url()) with
//! // `Authorization: Bearer test-key`; inspect deliveries with `emulator.webhook_attempts()`.
//! emulator.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Tasks
//!
//! - **Step jobs by hand**: [`JobClock::Manual`] and [`Emulator::advance_jobs`] (or
//!   `POST /_emulator/jobs/advance`).
//! - **Script a transcript**: [`Emulator::script_transcript_for`] with the audio's bytes, or
//!   `PUT /_emulator/scripts/{sha256}` with `{"text": "..."}`.
//! - **Make test audio**: [`wav`] builds a WAV of a given length, which jobs report as their
//!   `audio_duration_ms`.
//! - **Inspect webhooks**: [`Emulator::webhook_attempts`] or `GET /_emulator/webhooks`;
//!   [`Emulator::wait_for_attempts`] waits until a number of deliveries were attempted.
//! - **Count requests**: [`Emulator::request_counts`] or `GET /_emulator/requests`, per route
//!   (`POST /v1/transcriptions`, `GET /v1/transcriptions/{id}`, ...).
//! - **Inject faults**: [`FaultRule`] and [`WebhookFaultRule`], at start or at run time
//!   (`POST /_emulator/faults`, `POST /_emulator/webhook-faults`, `DELETE /_emulator/faults`).
//!
//! The crate's README lists every option of the `soniox-emulator` binary and the admin API.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod admin;
mod api;
mod attempts;
mod audio;
mod config;
mod faults;
mod files_dir;
mod idle_connections;
mod issued;
mod jobs;
#[cfg(feature = "cli")]
#[cfg_attr(docsrs, doc(cfg(feature = "cli")))]
pub mod options;
mod request_body;
mod requests;
mod respond;
mod server;
mod shared;
mod store;
mod synth;
mod test_audio;
mod webhooks;

pub use crate::{
    attempts::{DeliveryOutcome, REDACTED, WebhookAttempt},
    config::{HostPolicy, JobClock, Quotas, WebhookConfig},
    faults::{FaultAction, FaultRule, Trigger, WebhookFault, WebhookFaultRule},
    requests::RequestCounts,
    server::{Emulator, EmulatorBuilder, InvalidSha256, REQUEST_ID_HEADER, StartError},
    test_audio::wav,
};
/// The wire types (`soniox-types`) that appear in this crate's API, such as the ids and
/// statuses of [`WebhookAttempt`].
pub use soniox_types as types;

// The README's code runs as a doctest, so what a user copies from it compiles and works.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
