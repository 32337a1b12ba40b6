//! The effects table the tests' handlers write to, shared by the test binaries.

use soniox_store::{SqliteStore, StoreError};
use soniox_tracker::Effect;

/// Creates `soniox_test_effects` (one row per committed effect).
pub(crate) async fn create_effects_table(store: &SqliteStore) -> Result<(), StoreError> {
    store
        .migrate_component(
            "test_effects",
            &["CREATE TABLE soniox_test_effects (transcription_id TEXT NOT NULL)"],
        )
        .await
}

/// The effect that records one handling of transcription `id`.
pub(crate) fn record_effect(id: String) -> Effect {
    Box::new(move |tx| {
        tx.execute(
            "INSERT INTO soniox_test_effects (transcription_id) VALUES (?1)",
            [id],
        )
        .map(drop)
    })
}
