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
//! # Status
//!
//! SQLite only, one process. PostgreSQL (several replicas) and the chaos tests are the next
//! steps; see `ARCHITECTURE.md`.
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
compile_error!("soniox-tracker needs a database: enable the `sqlite` or the `postgres` feature");

mod database;
mod handler;
mod jobs;
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
