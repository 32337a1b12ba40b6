//! Never lose a Soniox transcript: track the jobs you submit, and reconcile their webhooks with
//! polling.
//!
//! Soniox's own advice is to keep the ids of the jobs you submit and fetch results yourself
//! when a webhook never comes. A [`Tracker`] does it for you:
//!
//! 1. [`Tracker::submit`] records the job under a fresh `client_reference_id` *before* sending
//!    the create request, so a crash or a lost answer in between loses nothing;
//! 2. the job's webhook, received by a `soniox_webhook` receiver over [`Tracker::inbox`] and
//!    [`Tracker::webhook_handler`], hands the finished job to your [`JobHandler`];
//! 3. the reconciler ([`Tracker::spawn_reconciler`], or [`Tracker::reconcile`] for one pass)
//!    looks at jobs whose webhook is overdue, in list pages rather than one request per job,
//!    and handles the finished ones itself. It adopts jobs whose create answer was lost and
//!    resubmits those whose request never arrived.
//!
//! Webhook and reconciler claim a finished job the same way (in the store's webhook events),
//! so it is handled by one of them at a time and, once handled, never again.
//!
//! The decisions the reconciler makes are pure functions in [`reconcile`], tested on plain
//! values.
//!
//! # Guarantees
//!
//! - Every job submitted is handled at least once, whether its webhook arrives, arrives twice,
//!   arrives while it is being handled, or never arrives, across restarts of the process.
//! - A [`JobHandler`] is called again after it fails, panics, times out, or the process dies
//!   before recording its success: make its effect idempotent.
//! - An [`EffectHandler`] ([`TrackerBuilder::build_with_effects`]) returns its writes as an
//!   [`Effect`], committed in the transaction that records the job as handled: exactly once,
//!   whatever fails or crashes around it.
//!
//! # Choosing a database
//!
//! [`Tracker::builder`] takes a [`Database`]: a `soniox_store::SqliteStore` (feature `sqlite`,
//! default) for one process, or a `soniox_store::PostgresStore` (feature `postgres`) for
//! several replicas sharing one database, where each due job is taken by one replica
//! (`SKIP LOCKED`) and a killed replica's claims come back when their leases run out. An
//! [`Effect`] is made for the tracker's database (`Effect::sqlite`, `Effect::postgres`).
//!
//! # Failure modes
//!
//! - A create whose answer is lost is adopted from the API by its reference; one that never
//!   arrived is sent again, once, by the one reconciler pass that holds the job. The create
//!   grace ([`reconcile::Policy::create_grace`]) must cover how long a create can take to land.
//! - A webhook answered non-2xx by a receiver (a wrong secret or path) is reported loudly
//!   ([`Metrics::rejected_deliveries`]); the job is handled from the poll.
//! - A valid webhook for a job the tracker has not recorded (yet) is still handed to the
//!   handler; the job's later poll finds its event done.
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
compile_error!("soniox-tracker needs a database: enable the `sqlite` or the `postgres` feature");

mod database;
mod events;
mod handler;
mod jobs;
mod listing;
mod metrics;
pub mod reconcile;
mod tracker;

pub use crate::{
    database::Database,
    handler::{Effect, EffectHandler, FinishedJob, JobHandler, JobOutcome},
    metrics::Metrics,
    tracker::{
        Pass, Reconciler, Submission, Tracker, TrackerBuilder, TrackerError, WebhookHandler,
    },
};

// The README's code runs as a doctest, so what a user copies from it compiles and works.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
