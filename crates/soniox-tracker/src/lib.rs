//! Never lose a Soniox transcript: track the jobs you submit, and reconcile their webhooks with
//! polling.
//!
//! Soniox's own advice is to keep the ids of the jobs you submit and fetch results yourself
//! when a webhook never comes. A [`Tracker`] does it for you: every job submitted through it is
//! handed to your handler, whether its webhook arrives, arrives twice, arrives while another
//! replica is handling it, or never arrives, across crashes and restarts.
//!
//! # Quick start
//!
//! ```no_run
//! # #[cfg(feature = "sqlite")]
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::{convert::Infallible, time::Duration};
//!
//! use soniox_client::Client;
//! use soniox_store::SqliteStore;
//! use soniox_tracker::{FinishedJob, JobOutcome, Tracker};
//! use soniox_types::{CreateTranscription, Secret};
//! use soniox_webhook::{Receiver, Verifier, WebhookService};
//!
//! const HEADER: &str = "X-Webhook-Secret";
//! let client = Client::builder().api_key(std::env::var("SONIOX_API_KEY")?).build()?;
//! let secret = Secret::new(std::env::var("WEBHOOK_SECRET")?);
//! // The jobs and the webhook events in one file.
//! let store = SqliteStore::open("tracker.db").await?;
//! let tracker = Tracker::builder(client, store)
//!     .webhook_url("https://example.com/hooks/soniox")
//!     .webhook_auth(HEADER, secret.clone())
//!     .build(|job: FinishedJob| async move {
//!         match job.outcome {
//!             JobOutcome::Completed(transcript) => println!("{}: {}", job.id, transcript.text),
//!             other => eprintln!("{} failed: {other:?}", job.id),
//!         }
//!         Ok::<(), Infallible>(())
//!     })
//!     .await?;
//!
//! // Webhooks in, through the tracker's inbox; overdue jobs polled in the background.
//! let inbox = tracker.inbox(Verifier::new(HEADER, secret)?);
//! let service = WebhookService::new(inbox, tracker.webhook_handler());
//! let receiver = Receiver::bind("0.0.0.0:8080", service).await?.spawn()?;
//! let reconciler = tracker.spawn_reconciler(Duration::from_secs(30));
//!
//! let request = CreateTranscription::new("stt-async-v5").audio_url("https://example.com/a.mp3");
//! tracker.submit(request).await?;
//! # let _ = (receiver, reconciler);
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "sqlite"))]
//! # fn main() {}
//! ```
//!
//! The `tracker_pipeline` example in the repository runs a whole pipeline against the
//! emulator, with an [`Effect`] writing each result exactly once.
//!
//! # How it works
//!
//! Each job is a row in the tracker's database (table `soniox_jobs`, beside the webhook events
//! of `soniox_store`), and moves through the stages of [`reconcile::Stage`]:
//!
//! 1. **Submitting.** [`Tracker::submit`] records the job under a fresh `client_reference_id`
//!    *before* sending the create request. If the answer is lost (a timeout, a 5xx, a crash),
//!    the job stays submitting; after the create grace the reconciler lists the API and
//!    *adopts* the job it finds under that reference, or sends the recorded request again
//!    (under the same reference) if none is there. [`Tracker::submit_with_reference`] takes
//!    the caller's own reference instead, derived from what identifies the work: submitting
//!    it again (a retry, a process resuming after a crash) creates nothing and returns
//!    [`Submission::Existing`], since the record is made only when none is under it. The
//!    handler receives the reference in [`FinishedJob::reference`], and
//!    [`Tracker::state_of`] says where the job under a reference is.
//! 2. **Submitted.** The API accepted the job; its webhook is awaited. (`submit` returns as
//!    soon as the API answers, and records the job's id in the background: until that
//!    commits the job counts as submitting, and a job whose id never got recorded is adopted
//!    as above. [`Tracker::flush`] waits for these writes.) The webhook, received
//!    by a `soniox_webhook` receiver over [`Tracker::inbox`] and [`Tracker::webhook_handler`],
//!    is claimed in the store's webhook events, the transcript fetched (or the error details),
//!    and your handler called. Its success completes the event and records the job done in
//!    one step.
//! 3. **Overdue.** A job whose webhook has not come within the webhook grace is polled by the
//!    reconciler, at doubling intervals. A finished one is handled from the poll, through the
//!    same claim as a webhook would be, so the webhook path and the poll path never handle a
//!    job at the same time, and a handled job is never handled again.
//! 4. **Finished, not handled.** A handling that failed is tried again after the retry
//!    interval; meanwhile Soniox's own webhook retries may handle it first. A job the API
//!    answers 404 for while it is handled (deleted meanwhile) is marked lost instead.
//!
//! **The reconciler's passes.** [`Tracker::reconcile`] (one pass; [`Tracker::spawn_reconciler`]
//! runs them in the background, backing off after a failed one) takes every job due when the
//! pass starts, a list page's worth (1,000) at a time, holding each batch for the retry
//! interval so that other replicas leave it alone. It asks the API about them with the job
//! list, newest first, reading pages only until every job of the batch is found or passed, and
//! keeps what it read for the pass's next batches: a pass over N overdue jobs costs the
//! ⌈N / 1,000⌉ pages they fill, plus one `GET` per job the list no longer holds. The decisions
//! themselves are pure functions in [`reconcile`], tested on plain values.
//!
//! # Guarantees
//!
//! - Every job submitted is handled at least once, whether its webhook arrives, arrives twice,
//!   arrives while it is being handled, or never arrives, across restarts of the process (and,
//!   on PostgreSQL, crashes of replicas: their claims run out and others take over).
//! - No job is created twice by the tracker: a create is sent again only when the API has no
//!   job under its reference, and only by the one reconciler pass still holding the job.
//! - A [`JobHandler`] is called again after it fails, panics, times out, or the process dies
//!   before recording its success: make its effect idempotent (an upsert keyed on the job id).
//! - An [`EffectHandler`] ([`TrackerBuilder::build_with_effects`]) returns its writes as an
//!   [`Effect`], committed in the transaction that records the job as handled: exactly once,
//!   whatever fails or crashes around it. That transaction records the event done only while
//!   the handling still holds its claim: a handling that outlived its lease (a clock step, a
//!   writer far behind), whose event another handling took, rolls back instead.
//! - With [`TrackerBuilder::cleanup`], a job recorded handled under its id is deleted from the
//!   API in the end, with its uploaded file (when the API told which): the transaction that
//!   records it handled also records the cleanup as owed, and the reconciler's passes retry
//!   it until both deletes have succeeded.
//!
//! # Failure modes
//!
//! - **The receiver is down, or answers 5xx**, through Soniox's whole retry schedule: the job
//!   is found by its poll and handled from it ([`Metrics::recovered_by_polling`]).
//! - **A wrong secret or path**: the job's `webhook_status_code` shows our receiver refused
//!   the webhook. It is handled from the poll, and reported loudly
//!   ([`Metrics::rejected_deliveries`], an `error` event); forged or misconfigured requests
//!   that reach the receiver count in [`Metrics::unverified_deliveries`].
//! - **A lost create answer** is adopted from the API by its reference
//!   ([`Metrics::adopted`]); **a create that never arrived** is sent again, once
//!   ([`Metrics::resubmitted`]). The create grace ([`reconcile::Policy::create_grace`]) must
//!   cover how long a create can take to land; the tracker gives up waiting for an answer
//!   half of it after recording the job.
//! - **The API is down or rate-limits**: the pass fails, its jobs come back after the retry
//!   interval, and the next pass waits twice as long (up to ten times the period).
//! - **A job deleted before it was handled** (by hand, or by another system) is reported and
//!   marked lost ([`Metrics::lost`]); nothing can be fetched any more.
//! - **A cleanup that fails** (the deletes refused, cut short by the handler deadline or a
//!   crash) is retried by the reconciler's passes after the retry interval; until then the
//!   job and its file count towards the API's quotas.
//! - **A job stuck** in queued or processing past [`reconcile::Policy::stuck_after`] is
//!   reported ([`Metrics::stuck`]) and still polled.
//! - **A webhook for a job the tracker has not recorded** (submitted elsewhere, or before its
//!   record landed) is still handed to the handler; the job's later poll finds its event done.
//!   With cleanup, such a job is not deleted from the API, where its poll needs it.
//!
//! # Choosing a database
//!
//! [`Tracker::builder`] takes a [`Database`], made from either store of `soniox_store`:
//!
//! - `SqliteStore` (feature `sqlite`, default): one file, one process. Every write goes
//!   through the store's writer thread with group commit; a job costs four of its operations
//!   (record, accepted, claimed, done). `Durability::Full` (the default) flushes each commit
//!   to the disk; `Durability::Normal` survives a process crash, but power loss may take the
//!   latest commits with it: a job handled just before is handled again, and one recorded
//!   just before is left to its webhook alone. In the `pipeline` bench the
//!   tracker on SQLite keeps above 60% of the jobs per second of a plain client and receiver.
//! - `PostgresStore` (feature `postgres`): one database, any number of replicas. Each due
//!   job is taken by one replica (`FOR UPDATE SKIP LOCKED`) and held for the policy's retry
//!   interval; a pass still busy with it after that may find another replica taking it too,
//!   which costs API calls and at most a second run of the handler, never a second commit of
//!   an [`Effect`] (the event's claim decides), and a killed replica's claims come back when
//!   their leases run out. The writes of concurrent jobs are batched into one statement,
//!   sharing the server's commits; still, each is a round trip, so a single process does
//!   fewer jobs per second than on SQLite, and replicas add capacity.
//!
//! An [`Effect`] is made for the tracker's database (`Effect::sqlite`, `Effect::postgres`);
//! one for the other database fails the handling, every time, with an error saying so.
//!
//! # Housekeeping
//!
//! The tracker keeps every job's record, with its create request, until [`Tracker::prune`]
//! deletes those over for good (handled with no cleanup owed, or lost) longer ago than a
//! given age; the store's own `prune` does the same for the webhook events. Run both, with
//! an age of days, for example once a day. A pruned reference can be submitted anew.
//!
//! # Observability
//!
//! [`Tracker::metrics`] returns the [`Metrics`]: jobs still submitting, awaiting their
//! outcome, finished but unhandled and overdue, and counters of what the tracker did. The same
//! happenings are `tracing` events: `warn` for a lost create answer, a stuck job or a failed
//! pass, `error` for a rejected delivery or a lost job.
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
compile_error!("soniox-tracker needs a database: enable the `sqlite` or the `postgres` feature");

mod background;
mod database;
mod events;
mod handler;
mod jobs;
mod listing;
mod metrics;
pub mod reconcile;
mod references;
mod tracker;

pub use crate::{
    database::Database,
    handler::{Effect, EffectHandler, FinishedJob, JobHandler, JobOutcome},
    metrics::Metrics,
    tracker::{
        JobState, Pass, Reconciler, Submission, Tracker, TrackerBuilder, TrackerError,
        WebhookHandler,
    },
};

// The README's code runs as a doctest, so what a user copies from it compiles and works.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
