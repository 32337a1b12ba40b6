//! What the tests of both backends check of the job table.

use super::*;

/// The jobs a database at schema version 3 holds before it migrates: `ref-1` (`tr-1`) done,
/// `ref-2` (`tr-2`) accepted and due at 2.
pub(super) const VERSION_3_JOBS: &str = "
    INSERT INTO soniox_jobs (reference, transcription_id, request, stage, recorded_at,
        next_check_at, updated_at)
    VALUES ('ref-1', 'tr-1', '{}', 'done', 1, NULL, 1),
           ('ref-2', 'tr-2', '{}', 'submitted', 1, 2, 1)";

/// The references of `due`, each with the cleanup it owes.
fn owed(due: Vec<DueJob>) -> Vec<(String, Option<OwedCleanup>)> {
    due.into_iter()
        .map(|due| (due.job.reference, due.cleanup))
        .collect()
}

/// `jobs`, migrated from [`VERSION_3_JOBS`], are as they were, and a job recorded done
/// owing its cleanup (twice, the second time without its file) is due with its file from
/// the cleanup's due time until it is cleaned.
pub(super) async fn check_migrated(jobs: &Jobs) {
    let claim_at = async |ms: i64| {
        let due = jobs.claim_due(instant(ms), instant(ms + 1), 10, ms).await;
        owed(due.expect("claimed"))
    };
    assert_eq!(claim_at(2).await, [("ref-2".to_owned(), None)]);

    let id = TranscriptionId::new("tr-2");
    let file = FileId::new("file-2");
    let cleanup = Cleanup {
        due: instant(5),
        file: Some(file.clone()),
    };
    let done = jobs.done_owing_cleanup(&id, instant(4), cleanup).await;
    done.expect("done, owing its cleanup");
    // Recorded done again by a handling that could no longer learn the file (its cleanup had
    // deleted the job): the file recorded first is still owed.
    let again = Cleanup {
        due: instant(5),
        file: None,
    };
    let done = jobs.done_owing_cleanup(&id, instant(4), again).await;
    done.expect("done again, owing its cleanup");
    let owed_file = jobs.owed_file(&id).await.expect("read");
    assert_eq!(owed_file, Some(file.clone()), "what that handling deletes");
    assert_eq!(claim_at(4).await, [], "not due before the cleanup is");
    let owing = Some((id.clone(), Some(file)));
    assert_eq!(claim_at(5).await, [("ref-2".to_owned(), owing)]);
    jobs.cleaned(&id, instant(6)).await.expect("cleaned");
    assert_eq!(jobs.owed_file(&id).await.expect("read"), None);
    assert_eq!(claim_at(100).await, [], "nothing more to do");
    for reference in ["ref-1", "ref-2"] {
        let stage = jobs.stage_of(reference).await.expect("read");
        assert_eq!(stage.as_deref(), Some("done"), "{reference}");
    }
}

/// A handling that outlived its lease, whose event another handling took, cannot record the
/// job done: its transaction rolls back. The handling holding the claim records it.
pub(super) async fn check_fenced_completion(jobs: &Jobs, events: &dyn soniox_store::EventStore) {
    use soniox_store::Claim;
    use soniox_types::WebhookStatus;

    let id = TranscriptionId::new("tr-9");
    let recorded = jobs.record("ref-9", "{}".to_owned(), instant(1), instant(2));
    recorded.await.expect("recorded");
    let accepted = jobs.submitted("ref-9", &id, instant(1), instant(2));
    accepted.await.expect("accepted");
    let event = WebhookEvent::new(id, WebhookStatus::Completed);
    let claimed = |claim| match claim {
        Ok(Claim::Claimed(token)) => token,
        other => panic!("a claim, not {other:?}"),
    };
    // The first lease runs out at once, and another handling takes the event.
    let first = claimed(events.claim(&event, std::time::Duration::ZERO).await);
    let second = claimed(
        events
            .claim(&event, std::time::Duration::from_secs(60))
            .await,
    );
    let stale = jobs.done_with(event.clone(), Some(first), instant(3), None, None);
    match stale.await {
        Err(StoreError::ClaimLost) => {}
        other => panic!("the stale handling fails, not {other:?}"),
    }
    let stage = jobs.stage_of("ref-9").await.expect("read");
    assert_eq!(
        stage.as_deref(),
        Some("submitted"),
        "its writes rolled back"
    );
    let held = jobs.done_with(event.clone(), Some(second), instant(3), None, None);
    assert!(
        held.await.expect("the holder records it"),
        "found under its id"
    );
    let stage = jobs.stage_of("ref-9").await.expect("read");
    assert_eq!(stage.as_deref(), Some("done"));
    let again = events
        .claim(&event, std::time::Duration::from_secs(60))
        .await;
    assert!(matches!(again, Ok(Claim::Done)), "{again:?}");
}
