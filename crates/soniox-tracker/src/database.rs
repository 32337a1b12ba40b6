//! Where the tracker keeps its jobs: the database of the webhook events it receives.

use std::sync::Arc;

use soniox_store::EventStore;

#[cfg(feature = "postgres")]
use soniox_store::PostgresStore;
#[cfg(feature = "sqlite")]
use soniox_store::SqliteStore;

/// The store a [`Tracker`](crate::Tracker) keeps its job records in, beside the webhook
/// events: SQLite for one process, PostgreSQL for several replicas. Made from the store with
/// `into()`.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Database {
    /// One file, one process.
    #[cfg(feature = "sqlite")]
    #[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
    Sqlite(Arc<SqliteStore>),
    /// One database, any number of replicas.
    #[cfg(feature = "postgres")]
    #[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
    Postgres(Arc<PostgresStore>),
}

#[cfg(feature = "sqlite")]
impl From<Arc<SqliteStore>> for Database {
    fn from(store: Arc<SqliteStore>) -> Self {
        Self::Sqlite(store)
    }
}

#[cfg(feature = "sqlite")]
impl From<SqliteStore> for Database {
    fn from(store: SqliteStore) -> Self {
        Self::Sqlite(Arc::new(store))
    }
}

#[cfg(feature = "postgres")]
impl From<Arc<PostgresStore>> for Database {
    fn from(store: Arc<PostgresStore>) -> Self {
        Self::Postgres(store)
    }
}

#[cfg(feature = "postgres")]
impl From<PostgresStore> for Database {
    fn from(store: PostgresStore) -> Self {
        Self::Postgres(Arc::new(store))
    }
}

impl Database {
    /// The store of the webhook events, in the same database.
    pub(crate) fn event_store(&self) -> Arc<dyn EventStore> {
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite(store) => store.clone(),
            #[cfg(feature = "postgres")]
            Self::Postgres(store) => store.clone(),
        }
    }
}
