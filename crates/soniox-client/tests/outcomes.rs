//! Requests that fail in a way that leaves open whether the server carried them out (no
//! answer, or a 500, 502, 503 or 504, which may come after the request was forwarded): a
//! create is looked up only under the client's own reference (and sent again only after a
//! 503), the others are neither replayed nor guessed, and a delete whose answer was lost
//! succeeds.

mod common;

use std::time::Duration;

use soniox_client::{Audio, CleanUp, Client, Error, TranscribeOptions, Upload};
use soniox_emulator::{FaultAction, JobClock};
use soniox_types::{
    CreateTemporaryApiKey, CreateTranscription, TemporaryKeyUsage, TranscriptionId,
};

use common::{
    MISSING, client, counts, emulator, job_for, on, on_create, quick_wait, requests, start,
    url_request, wav,
};

/// Sends `request` under the faults in force, expecting an unknown outcome (`what` says
/// which); returns the reference the error names, and the error.
async fn unknown_create(
    client: &Client,
    request: &CreateTranscription,
    what: &dyn std::fmt::Debug,
) -> (Option<String>, Error) {
    let error = client
        .transcriptions()
        .create(request)
        .await
        .expect_err("the outcome is unknown");
    let Error::OutcomeUnknown {
        client_reference_id,
        ..
    } = &error
    else {
        panic!("{what:?}: expected an unknown outcome, got {error:?}");
    };
    (client_reference_id.clone(), error)
}

/// The faults that let a request through to the server, or may seem to: its answer lost, or
/// a 503.
fn ambiguous_faults() -> [FaultAction; 2] {
    [
        FaultAction::DropResponse,
        FaultAction::Error { status: 503 },
    ]
}

#[tokio::test]
async fn a_rate_limited_create_under_a_reused_reference_makes_a_new_job() {
    let emulator = start(emulator()).await;
    let client = client(&emulator);
    // The second create's first attempt is refused: a 429 proves it was not carried out.
    emulator.add_fault(
        on_create(FaultAction::RateLimited {
            retry_after_seconds: 0,
        })
        .every_nth(2),
    );
    let request = url_request("stt-async-v5").client_reference_id("order-1");
    let older = client
        .transcriptions()
        .create(&request)
        .await
        .expect("create");
    let newer = client
        .transcriptions()
        .create(&request)
        .await
        .expect("created after the 429");
    assert_ne!(newer.id, older.id, "the older job under the same reference");
    assert_eq!(newer.client_reference_id.as_deref(), Some("order-1"));
    assert_eq!(counts(&client).await.0, 2);
    assert_eq!(requests(&emulator, "POST", "/v1/transcriptions"), 3);
}

#[tokio::test]
async fn an_ambiguous_create_under_the_callers_reference_is_neither_replayed_nor_guessed() {
    let emulator = start(emulator()).await;
    let client = client(&emulator);
    let request = url_request("stt-async-v5").client_reference_id("order-2");
    // An older job under the same reference, which a lookup would take for this one.
    client
        .transcriptions()
        .create(&request)
        .await
        .expect("create");
    for (sent, fault) in (2..).zip(ambiguous_faults()) {
        emulator.add_fault(on_create(fault.clone()));
        let (reference, error) = unknown_create(&client, &request, &fault).await;
        emulator.clear_faults();
        let Error::OutcomeUnknown {
            kept_file: None,
            source,
            ..
        } = &error
        else {
            panic!("{fault:?}: a kept file, in {error:?}");
        };
        assert_eq!(reference.as_deref(), Some("order-2"));
        assert!(!error.is_retryable(), "{fault:?}");
        if fault == (FaultAction::Error { status: 503 }) {
            assert_eq!(error.status().map(|s| s.as_u16()), Some(503));
        } else {
            assert!(matches!(**source, Error::Transport(_)), "{source:?}");
        }
        assert_eq!(requests(&emulator, "POST", "/v1/transcriptions"), sent);
    }
    // The dropped answer's job exists; the 503's does not.
    assert_eq!(counts(&client).await.0, 2);
    assert_eq!(
        requests(&emulator, "GET", "/v1/transcriptions"),
        0,
        "no lookup"
    );
}

#[tokio::test]
async fn an_ambiguous_create_under_the_clients_own_reference_is_looked_up() {
    let emulator = start(emulator()).await;
    let client = client(&emulator);
    let request = url_request("stt-async-v5");
    // Every second attempt is carried out and its answer lost: the lookup finds the job.
    // Then every second attempt is refused with a 503: the lookup finds nothing, and the
    // create is sent again.
    let mut jobs = std::collections::HashSet::new();
    for fault in [
        FaultAction::DropResponse,
        FaultAction::Error { status: 503 },
    ] {
        emulator.add_fault(on_create(fault.clone()).every_nth(2));
        for _ in 0..4 {
            let job = client
                .transcriptions()
                .create(&request)
                .await
                .unwrap_or_else(|error| panic!("{fault:?}: {error:?}"));
            assert!(jobs.insert(job.id), "{fault:?}: a job returned twice");
        }
        emulator.clear_faults();
    }
    assert_eq!(counts(&client).await.0, 8, "one job per create");
    // One attempt each under the first fault; under the second, the first create gets through
    // and each of the others is refused once (its own second attempt is the rule's next).
    assert_eq!(requests(&emulator, "POST", "/v1/transcriptions"), 4 + 7);

    // No answer at all, or a gateway's 504, and no job found: the request may still be
    // running on the server, so it is not sent again and its outcome is unknown.
    for (sent, fault) in (12..).zip([
        FaultAction::DropConnection,
        FaultAction::Error { status: 504 },
    ]) {
        emulator.add_fault(on_create(fault.clone()));
        let (reference, _) = unknown_create(&client, &request, &fault).await;
        emulator.clear_faults();
        assert!(reference.is_some_and(|id| id.starts_with("sxc-")));
        assert_eq!(requests(&emulator, "POST", "/v1/transcriptions"), sent);
    }
    assert_eq!(counts(&client).await.0, 8, "nothing created meanwhile");

    // When the lookup itself fails, nothing is replayed or guessed.
    emulator.add_fault(on_create(FaultAction::Error { status: 503 }));
    emulator.add_fault(on(
        "GET",
        "/v1/transcriptions",
        FaultAction::Error { status: 500 },
    ));
    let (reference, _) = unknown_create(&client, &request, &"a failed lookup").await;
    assert!(reference.is_some_and(|id| id.starts_with("sxc-")));
    assert_eq!(requests(&emulator, "POST", "/v1/transcriptions"), 14);
}

/// A later attempt's plain failure does not undo an earlier one that may have been carried
/// out: a 503 whose job the lookup did not find (yet), then 429s until the attempts run out.
#[tokio::test]
async fn a_create_that_may_have_acted_earlier_ends_as_an_unknown_outcome() {
    let emulator = start(emulator()).await;
    let client = client(&emulator);
    // The first rule that fires wins: attempts 1, 2 and 4 are refused with a 429, attempt 3
    // with a 503.
    emulator.add_fault(on_create(FaultAction::Error { status: 503 }).every_nth(3));
    emulator.add_fault(on_create(FaultAction::RateLimited {
        retry_after_seconds: 0,
    }));
    let request = url_request("stt-async-v5");
    let (reference, error) = unknown_create(&client, &request, &"503 then 429").await;
    assert!(reference.is_some_and(|id| id.starts_with("sxc-")));
    assert_eq!(error.status().map(|s| s.as_u16()), Some(429), "{error:?}");
    assert_eq!(requests(&emulator, "POST", "/v1/transcriptions"), 4);
}

#[tokio::test]
async fn an_upload_that_may_have_been_stored_is_not_replayed() {
    let emulator = start(emulator()).await;
    let client = client(&emulator);
    for (sent, fault) in (1..).zip(ambiguous_faults()) {
        emulator.add_fault(on("POST", "/v1/files", fault.clone()));
        let upload = Upload::bytes(wav(100), "a.wav").client_reference_id("upload-1");
        let error = client
            .files()
            .upload(upload)
            .await
            .expect_err("the outcome is unknown");
        emulator.clear_faults();
        assert!(
            matches!(
                &error,
                Error::OutcomeUnknown { client_reference_id: Some(reference), .. }
                    if reference == "upload-1"
            ),
            "{fault:?}: {error:?}"
        );
        assert_eq!(requests(&emulator, "POST", "/v1/files"), sent, "{fault:?}");
    }
    // The dropped answer's file was stored; the 503's was not.
    assert_eq!(counts(&client).await.1, 1);
}

/// A temporary key may have been minted: it is not minted again, and the caller is told.
#[tokio::test]
async fn a_temporary_key_that_may_have_been_minted_is_not_replayed() {
    let emulator = start(emulator()).await;
    let client = client(&emulator);
    let route = "/v1/auth/temporary-api-key";
    let request = CreateTemporaryApiKey::new(TemporaryKeyUsage::TranscribeWebsocket, 300)
        .client_reference_id("browser-1");
    for (sent, fault) in (1..).zip(ambiguous_faults()) {
        emulator.add_fault(on("POST", route, fault.clone()));
        let error = client
            .auth()
            .create_temporary_api_key(&request)
            .await
            .expect_err("the outcome is unknown");
        emulator.clear_faults();
        assert!(
            matches!(&error, Error::OutcomeUnknown { .. }),
            "{fault:?}: {error:?}"
        );
        assert_eq!(requests(&emulator, "POST", route), sent, "{fault:?}");
    }
}

#[tokio::test]
async fn a_delete_whose_answer_was_lost_succeeds_when_retried() {
    let emulator = start(emulator().job_clock(JobClock::Fixed(Duration::ZERO))).await;
    let client = client(&emulator);
    let job = job_for(&client, wav(100)).await;
    client
        .transcriptions()
        .wait(&job.id, quick_wait())
        .await
        .expect("done");
    // Every second job delete is carried out and its answer lost.
    emulator.add_fault(on("DELETE", "/v1/transcriptions/", FaultAction::DropResponse).every_nth(2));
    // A first attempt's 404 stays an error.
    let error = client
        .transcriptions()
        .delete(&TranscriptionId::new(MISSING))
        .await
        .expect_err("no such job");
    assert!(error.is_not_found(), "{error:?}");
    // The job's delete is retried and finds it gone: the file is deleted next.
    client
        .transcriptions()
        .destroy(&job.id)
        .await
        .expect("destroyed");
    assert_eq!(counts(&client).await, (0, 0));

    let job = client
        .transcriptions()
        .create(&url_request("stt-async-v5"))
        .await
        .expect("create");
    // Its audio cannot be downloaded: it ends in error, which is finished too.
    let _ = client.transcriptions().wait(&job.id, quick_wait()).await;
    let report = client
        .clean_up(CleanUp::older_than(Duration::ZERO))
        .await
        .expect("clean up");
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(report.transcriptions, vec![job.id]);
    assert_eq!(counts(&client).await, (0, 0));
}

#[tokio::test]
async fn transcribe_cleans_up_a_job_its_create_lost_or_keeps_the_file() {
    let emulator = start(emulator().job_clock(JobClock::Fixed(Duration::ZERO))).await;
    let client = client(&emulator);
    let options = || TranscribeOptions::new().wait(quick_wait()).cleanup(true);
    let audio = || Audio::Upload(Upload::bytes(wav(500), "a.wav"));
    emulator.add_fault(on_create(FaultAction::DropResponse));

    // Under the client's own reference, the lookup finds the job: the flow goes on, and
    // cleans up both.
    client
        .transcribe(audio(), options())
        .await
        .expect("the job is found");
    assert_eq!(counts(&client).await, (0, 0));

    // Under the caller's, it cannot tell: the job may read the file, which is kept.
    let error = client
        .transcribe(
            audio(),
            options().configure(|request| request.client_reference_id("order-3")),
        )
        .await
        .expect_err("the outcome is unknown");
    let Error::OutcomeUnknown {
        kept_file: Some(file),
        ..
    } = &error
    else {
        panic!("expected an unknown outcome with the file kept, got {error:?}");
    };
    assert!(error.to_string().contains(file.as_str()), "{error}");
    emulator.clear_faults();
    client.files().get(file).await.expect("the file is kept");
    assert_eq!(counts(&client).await, (1, 1));
}
