//! The job table in PostgreSQL, shared by every replica. Single statements run on a pooled
//! connection of their own; a handler's effect runs in [`PostgresStore::transact`].

use std::sync::{Arc, LazyLock};

use soniox_store::{
    PostgresStore, StoreError,
    deadpool_postgres::{
        Client,
        tokio_postgres::{Error as PostgresError, types::ToSql},
    },
};
use soniox_types::WebhookEvent;

use super::{COLUMNS, COMPONENT, DONE, DueJob, MIGRATIONS, PENDING, Params, Row, bind, read_row};
use crate::handler::PostgresEffect;

#[derive(Debug, Clone)]
pub(crate) struct PostgresJobs {
    db: Arc<PostgresStore>,
}

impl PostgresJobs {
    pub(super) async fn open(db: &Arc<PostgresStore>) -> Result<Self, StoreError> {
        db.migrate_component(COMPONENT, MIGRATIONS).await?;
        Ok(Self { db: Arc::clone(db) })
    }

    async fn client(&self) -> Result<Client, StoreError> {
        self.db.pool().get().await.map_err(StoreError::unavailable)
    }

    /// Runs one statement; how many rows it changed.
    pub(super) async fn execute(
        &self,
        sql: &'static str,
        params: Params,
    ) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(sql)
            .await
            .map_err(StoreError::unavailable)?;
        client
            .execute(&statement, &values(&params))
            .await
            .map_err(StoreError::unavailable)
    }

    pub(super) async fn done_with(
        &self,
        event: WebhookEvent,
        now: i64,
        effect: Option<PostgresEffect>,
    ) -> Result<(), StoreError> {
        let done = Params::TextAt(event.id.as_str().to_owned(), now);
        self.db
            .transact(move |tx| {
                Box::pin(async move {
                    if let Some(effect) = effect {
                        effect(tx).await?;
                    }
                    tx.execute(DONE, &values(&done)).await?;
                    PostgresStore::complete_in(tx, &event).await
                })
            })
            .await?
            .map_err(StoreError::unavailable)
    }

    pub(super) async fn claim_due(
        &self,
        now: i64,
        held_until: i64,
        limit: i64,
        claim: i64,
    ) -> Result<Vec<DueJob>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(CLAIM_DUE.as_str(), &[&now, &limit, &held_until, &claim])
            .await
            .map_err(StoreError::unavailable)?;
        rows.iter()
            .map(|row| Ok(read_row!(row, try_get).into_due()))
            .collect::<Result<_, PostgresError>>()
            .map_err(StoreError::unavailable)
    }

    pub(super) async fn pending(&self, now: i64) -> Result<[i64; 4], StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one(PENDING, &[&now])
            .await
            .map_err(StoreError::unavailable)?;
        let mut counts = [0; 4];
        for (index, count) in counts.iter_mut().enumerate() {
            *count = row.try_get(index).map_err(StoreError::unavailable)?;
        }
        Ok(counts)
    }
}

/// Takes the due jobs: rows another replica is claiming are skipped, not waited for; each
/// comes back as it was before the update (`due`'s columns, not the updated row's).
static CLAIM_DUE: LazyLock<String> = LazyLock::new(|| {
    let returning = COLUMNS
        .split(", ")
        .map(|column| format!("due.{column}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "WITH due AS (
             SELECT {COLUMNS} FROM soniox_jobs
             WHERE next_check_at IS NOT NULL AND next_check_at <= $1
             ORDER BY next_check_at LIMIT $2
             FOR UPDATE SKIP LOCKED)
         UPDATE soniox_jobs AS j SET next_check_at = $3, claim = $4
         FROM due WHERE j.reference = due.reference
         RETURNING {returning}"
    )
});

fn values(params: &Params) -> Vec<&(dyn ToSql + Sync)> {
    bind!(params => &(dyn ToSql + Sync))
}
