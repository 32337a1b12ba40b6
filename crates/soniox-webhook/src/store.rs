//! Where received events are recorded, so that each is handled to success once.
//!
//! Soniox sends no delivery id and no timestamp, so a retried delivery is byte for byte the
//! same as the first one; the only key is the event itself, (transcription id, status). For
//! every key a store keeps one of three states:
//!
//! - **new** (no record): the next delivery [claims](EventStore::claim) it;
//! - **in progress**: a claim holds a lease until an expiry. A delivery arriving meanwhile is
//!   told [`Claim::InProgress`] and answered "try later". If the claimant crashes, the lease
//!   runs out and the next delivery takes the event over;
//! - **done**: the handler returned `Ok` and [`EventStore::complete`] recorded it. Later
//!   deliveries are acknowledged without running the handler.
//!
//! A failed, panicked, timed-out or cancelled handling calls [`EventStore::release`], which
//! returns the event to *new* so Soniox's retry runs it again.
//!
//! Every method returns a `Result`: a store that cannot be reached must make the receiver
//! answer 503, never 200, so the event comes back.

mod memory;

use std::{error::Error as StdError, future::Future, pin::Pin, time::Duration};

use soniox_types::WebhookEvent;

pub use self::memory::MemoryStore;

/// The future an [`EventStore`] method returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Records which events are being handled and which are done; see the [module
/// docs](crate::store) for the states.
///
/// [`MemoryStore`] serves one process. The `soniox-store` crate has SQLite (one process, survives
/// restarts) and PostgreSQL (several replicas share it) implementations. The methods return
/// boxed futures so that stores can do I/O and the trait stays usable as `dyn EventStore`.
///
/// An implementation must make `claim` atomic: of any number of concurrent claims of one new
/// event, exactly one gets [`Claim::Claimed`].
pub trait EventStore: Send + Sync {
    /// Takes `event` for handling, for `lease` at most, if it is new or its previous lease has
    /// expired.
    fn claim<'a>(&'a self, event: &'a WebhookEvent, lease: Duration) -> StoreFuture<'a, Claim>;

    /// Records that the handler of the claim `token` returned `Ok`: the event is done. Done is
    /// final; completing an event someone else already completed is not an error.
    fn complete<'a>(&'a self, event: &'a WebhookEvent, token: ClaimToken) -> StoreFuture<'a, ()>;

    /// Returns `event` to new, if the claim `token` still holds it, so that the next delivery
    /// handles it again. A claim that has expired and been taken over, or an event that is done,
    /// is left alone.
    fn release<'a>(&'a self, event: &'a WebhookEvent, token: ClaimToken) -> StoreFuture<'a, ()>;
}

/// What [`EventStore::claim`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum Claim {
    /// The caller now holds the event; handle it, then complete or release it with the token.
    Claimed(ClaimToken),
    /// Another claim holds the event and its lease has not expired.
    InProgress {
        /// How long until that lease expires (zero when the store cannot tell).
        retry_after: Duration,
    },
    /// The event has been handled successfully.
    Done,
}

/// Identifies one claim, so that a claimant whose lease expired cannot release the claim that
/// took over from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClaimToken(u64);

impl ClaimToken {
    /// A token with the given value; a store makes values unique per event at least.
    pub const fn new(value: u64) -> Self {
        Self(value)
    }

    /// A random token, for stores shared by several processes.
    pub fn random() -> Self {
        Self(fastrand::u64(..))
    }

    /// The token's value, as a store records it.
    pub const fn get(self) -> u64 {
        self.0
    }
}

/// Why an [`EventStore`] could not answer. A receiver answers 503 to any of them.
///
/// The message never contains connection strings or credentials; the source, when there is
/// one, is the driver's error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store could not be reached or failed to carry out the operation (a lost connection,
    /// a full disk, a timed-out pool).
    #[error("the event store is unavailable")]
    Unavailable(#[source] Box<dyn StdError + Send + Sync>),
    /// The store's data is not what this code wrote (a damaged file, a foreign table).
    #[error("the event store holds corrupt or foreign data")]
    Corrupt(#[source] Box<dyn StdError + Send + Sync>),
    /// The store's schema was written by a newer version of this code.
    #[error("the event store's schema is version {found}; this code knows up to {supported}")]
    SchemaTooNew {
        /// The version found in the store.
        found: i64,
        /// The newest version this code can use.
        supported: i64,
    },
    /// The store has been closed.
    #[error("the event store is closed")]
    Closed,
    /// A handling's writes were rolled back because its claim on the event had run out and
    /// another handling had taken the event (a writes-with-completion transaction fenced by
    /// [`ReceivedEvent::claim_token`](crate::ReceivedEvent::claim_token)): the other
    /// handling's commit is the one that counts. The store itself is fine.
    #[error(
        "the handling's claim on the event ran out and another handling took the event: its \
         writes rolled back, so that they happen once"
    )]
    ClaimLost,
}

impl StoreError {
    /// [`StoreError::Unavailable`] from any error.
    pub fn unavailable(error: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self::Unavailable(error.into())
    }
}
