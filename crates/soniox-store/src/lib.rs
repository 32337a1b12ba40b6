//! Durable [`EventStore`]s for `soniox-webhook`: remember which Soniox webhook events are
//! being handled and which are done, across restarts (SQLite) and across replicas
//! (PostgreSQL).
//!
//! Soniox retries a webhook delivery until it is answered with a 2xx, and a retried delivery
//! is byte for byte the same as the first. `soniox-webhook` claims each event in an
//! [`EventStore`] before running your handler, so that an event is handled to success once;
//! its [`MemoryStore`](soniox_webhook::store::MemoryStore) forgets everything when the
//! process exits. The stores here do not.
//!
//! # Quick start
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use soniox_store::SqliteStore;
//! use soniox_types::{TranscriptionId, WebhookEvent, WebhookStatus};
//! use soniox_webhook::store::{Claim, EventStore};
//!
//! # let dir = tempfile::tempdir()?;
//! # let path = dir.path().join("webhooks.db");
//! // Once, at startup: creates the file and its tables, or picks up where the last run left.
//! let store = SqliteStore::open(&path).await?;
//!
//! // What the receiver does for every delivery.
//! let event = WebhookEvent::new(TranscriptionId::new("tr-1"), WebhookStatus::Completed);
//! match store.claim(&event, Duration::from_secs(60)).await? {
//!     Claim::Claimed(token) => {
//!         // Handle the event; then record the success (or `release` it on failure).
//!         store.complete(&event, token).await?;
//!     }
//!     Claim::InProgress { retry_after } => { /* answer 503 with Retry-After */ }
//!     Claim::Done => { /* answer 200: already handled */ }
//! }
//! assert_eq!(store.claim(&event, Duration::from_secs(60)).await?, Claim::Done);
//! # Ok(())
//! # }
//! ```
//!
//! Hand the store to the receiver as any other [`EventStore`] (they are `Send + Sync`; wrap
//! them in an `Arc` to share them).
//!
//! # Choosing a store
//!
//! | Store | For | Clock for leases | Survives |
//! |---|---|---|---|
//! | [`MemoryStore`](soniox_webhook::store::MemoryStore) | tests, one process that may forget | the process's monotonic clock | nothing |
//! | [`SqliteStore`] | one process (or a few on one machine) | the machine's wall clock | restarts, crashes, power loss (see below) |
//! | [`PostgresStore`] | several replicas behind one webhook URL | the database's clock | whatever the server is configured to survive |
//!
//! Both durable stores batch: operations queue to a writer (a thread for SQLite, a few tasks
//! for PostgreSQL) that runs every operation queued at that moment in one transaction (on
//! PostgreSQL, usually one statement) and answers each caller only once that transaction has
//! committed. Under load many claims
//! share one commit, which makes a claim and a completion together faster than a bare loop
//! committing one `INSERT` at a time (`benches/throughput.rs` measures both).
//!
//! # Durability
//!
//! A caller that got `Ok` from [`claim`](EventStore::claim) or
//! [`complete`](EventStore::complete) has its write committed. What a commit survives:
//!
//! - [`Durability::Full`] (SQLite's default, `synchronous=FULL` in WAL mode): every commit is
//!   on the disk before its caller hears `Ok`. A completion survives power loss.
//! - [`Durability::Normal`] (`synchronous=NORMAL` in WAL mode): a commit survives the process
//!   crashing, but power loss or an operating-system crash may roll back the latest commits.
//!   The file is never corrupted. A rolled-back completion means the event is handled again
//!   on the next delivery; a rolled-back claim, that the next delivery claims it at once.
//! - PostgreSQL: as durable as the server's `synchronous_commit` (and replication) make it;
//!   the store does not change them.
//!
//! Whatever the setting, losing a write never loses an event: Soniox redelivers until it
//! gets a 2xx, and the receiver answers 2xx only after `complete` returned `Ok`.
//!
//! # Leases and failures
//!
//! A claim holds its event until `complete`, `release` or the lease's end; a replica that
//! crashes mid-handling leaves a claim that the next delivery after its lease takes over.
//! A store that cannot answer returns [`StoreError`]: `Unavailable` for I/O, lost
//! connections and timeouts, `Corrupt` for a damaged file or tables of another shape,
//! `SchemaTooNew` when a newer version of this crate migrated the database, `Closed` after
//! `close`. A receiver answers 503 to all of them, so the event comes back later. No error
//! message contains a connection URL or password.
//!
//! # Pruning
//!
//! Done events are kept until [`SqliteStore::prune`] or [`PostgresStore::prune`] deletes
//! those completed longer ago than a given age. A pruned event is new again: if Soniox
//! delivers it once more, it is handled again. Prune with an age well past Soniox's retry
//! window (days, not minutes), for example once a day.
//!
//! # Schema
//!
//! The tables are made to share a database with other soniox components: every name starts
//! with `soniox_`, and `soniox_schema (component, version)` holds one schema version per
//! component. This crate's component is `webhook_events` (table `soniox_webhook_events`,
//! version [`SCHEMA_VERSION`]). Migrations are part of the code and run when a store opens;
//! on PostgreSQL under an advisory lock, so replicas starting together take turns. A
//! database migrated by a newer version of this crate is refused with
//! [`StoreError::SchemaTooNew`] rather than misread. Other components version their own
//! tables the same way through `migrate_component` (see the next section).
//!
//! # Your own statements in the store's transaction
//!
//! Another component can keep its tables in the same database and write them atomically
//! with its own bookkeeping, a handler's writes included (the job tracker does, so that a
//! handler's effect and the record that it ran commit together or not at all):
//!
//! - [`SqliteStore::migrate_component`] and [`PostgresStore::migrate_component`] bring a
//!   component's tables up to date with its own list of migrations, versioned in
//!   `soniox_schema` beside this crate's, and refuse a database that a newer version of the
//!   component migrated with [`StoreError::SchemaTooNew`].
//! - [`SqliteStore::transact`] runs a closure on the writer thread, inside the transaction of
//!   the batch it joins, in a savepoint of its own: the closure's `Err` (or panic) rolls back
//!   only its own writes, and its `Ok` is answered once the batch has committed. Write it
//!   against the [`rusqlite`] this crate re-exports.
//! - [`PostgresStore::transact`] runs an async closure in a transaction of its own on a
//!   pooled connection, committed on `Ok` and rolled back on `Err`.
//!
//! Either way the caller gets `Ok(Ok(t))` only for a committed transaction, `Ok(Err(e))`
//! when the closure returned `Err(e)` (nothing of it was written), and `Err(StoreError)`
//! when the store failed or the closure panicked.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use soniox_store::{SqliteStore, rusqlite};
//!
//! const MIGRATIONS: &[&str] = &["CREATE TABLE soniox_notes (id TEXT PRIMARY KEY NOT NULL)"];
//!
//! # let dir = tempfile::tempdir()?;
//! let store = SqliteStore::open(dir.path().join("webhooks.db")).await?;
//! store.migrate_component("notes", MIGRATIONS).await?;
//! let outcome = store
//!     .transact(|transaction| {
//!         transaction.execute("INSERT INTO soniox_notes (id) VALUES ('n-1')", [])?;
//!         // Refuse after writing: the insert above is rolled back, nothing else is.
//!         Err::<(), _>(rusqlite::Error::QueryReturnedNoRows)
//!     })
//!     .await?;
//! assert!(outcome.is_err());
//! # Ok(())
//! # }
//! ```
//!
//! # Feature flags
//!
//! | Feature | Enables | Dependencies |
//! |---|---|---|
//! | `sqlite` (default) | [`SqliteStore`], [`Durability`], re-exports [`rusqlite`] | `rusqlite` with a bundled SQLite (built from C) |
//! | `postgres` | [`PostgresStore`], re-exports [`deadpool_postgres`] | `deadpool-postgres`, `tokio-postgres` |
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "postgres")]
mod postgres;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod queue;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod schema;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use crate::postgres::{PostgresStore, PostgresStoreBuilder, server_said};
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use crate::sqlite::{Durability, SqliteStore, SqliteStoreBuilder};
/// The pool and driver [`PostgresStore`] uses, to build a pool for
/// [`PostgresStore::from_pool`] (with TLS, say) without a second copy of the crates.
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use deadpool_postgres;
/// The SQLite driver [`SqliteStore`] uses, for [`SqliteStore::transact`] closures: the
/// [`Transaction`](rusqlite::Transaction) they are given is this crate's.
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use rusqlite;
pub use soniox_webhook::store::{Claim, ClaimToken, EventStore, StoreError};

/// The version of the `webhook_events` schema this code creates and can use.
pub const SCHEMA_VERSION: i64 = 1;

// The README's code runs as a doctest, so what a user copies from it compiles and works.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
