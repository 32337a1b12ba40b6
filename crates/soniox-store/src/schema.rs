//! The schema bookkeeping both databases share: one version per component in
//! `soniox_schema`, and each component's migrations applied in order up to the newest.
//!
//! The statements are written in the SQL both databases accept (`$n` parameters included).

use soniox_webhook::store::StoreError;

/// This crate's component in the `soniox_schema` table.
pub(crate) const COMPONENT: &str = "webhook_events";

/// Creates the version table, shared with the other soniox components, if it is missing.
pub(crate) const CREATE_VERSIONS: &str = "
    CREATE TABLE IF NOT EXISTS soniox_schema (
        component TEXT PRIMARY KEY NOT NULL,
        version BIGINT NOT NULL
    )";

/// The version of component `$1`, when it has one.
pub(crate) const READ_VERSION: &str = "SELECT version FROM soniox_schema WHERE component = $1";

/// Sets component `$1`'s version to `$2`.
pub(crate) const WRITE_VERSION: &str = "
    INSERT INTO soniox_schema (component, version) VALUES ($1, $2)
    ON CONFLICT (component) DO UPDATE SET version = excluded.version";

/// Version 1: the events table, in a database's dialect: `$time` is its type for instants,
/// `$options` what follows the table's definition.
macro_rules! create_events_table {
    ($time:literal, $options:literal) => {
        concat!(
            "CREATE TABLE soniox_webhook_events (
                transcription_id TEXT NOT NULL,
                status TEXT NOT NULL,
                state TEXT NOT NULL CHECK (state IN ('in_progress', 'done')),
                token BIGINT,
                lease_until ",
            $time,
            ",
                updated_at ",
            $time,
            " NOT NULL,
                PRIMARY KEY (transcription_id, status)
            )",
            $options,
            ";
            CREATE INDEX soniox_webhook_events_done ON soniox_webhook_events (updated_at)
                WHERE state = 'done';"
        )
    };
}

pub(crate) use create_events_table;

/// The version `migrations` bring a component to: one per migration.
pub(crate) fn newest(migrations: &[&str]) -> i64 {
    i64::try_from(migrations.len()).unwrap_or(i64::MAX)
}

/// The migrations still to apply to a component at version `found` (0: none yet), where
/// `migrations[n]` takes version `n` to `n + 1`; an error for a version newer than
/// `migrations` reach, which this code would misread.
pub(crate) fn pending<'m>(
    found: i64,
    migrations: &'m [&'m str],
) -> Result<&'m [&'m str], StoreError> {
    let supported = newest(migrations);
    if found > supported {
        return Err(StoreError::SchemaTooNew { found, supported });
    }
    let applied = usize::try_from(found).unwrap_or(0).min(migrations.len());
    Ok(&migrations[applied..])
}
