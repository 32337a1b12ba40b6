//! Never lose a Soniox transcript: track the jobs you submit, and reconcile their webhooks with
//! polling.
//!
//! Soniox's own advice is to keep the ids of the jobs you submit and fetch results yourself
//! when a webhook never comes. This crate is being built to do that for you; today it holds
//! the part everything else rests on, the reconciler's decisions
//! ([`reconcile::decide`]): given a tracked job, the time and what the API says about it,
//! whether to wait, adopt a job whose create answer was lost, resubmit one that never
//! reached the API, hand a finished job to the handler (and say what became of its
//! webhook), or report it lost. They are pure functions, so every rule is tested with plain
//! values.
//!
//! The tracker that stores jobs (SQLite or PostgreSQL, through `soniox-store`), submits them
//! under a `client_reference_id` recorded before the create, marks them from webhooks and
//! polls the overdue ones in list pages is the next step; see `ARCHITECTURE.md`.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod reconcile;
