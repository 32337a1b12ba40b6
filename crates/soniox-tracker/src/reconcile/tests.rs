use std::time::Duration;

use soniox_types::{OffsetDateTime, Transcription, TranscriptionId, TranscriptionStatus};

use super::*;

const MIN: Duration = Duration::from_secs(60);

fn t0() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("a valid instant")
}

fn at(minutes: u64) -> OffsetDateTime {
    t0() + MIN * u32::try_from(minutes).expect("small")
}

fn id() -> TranscriptionId {
    TranscriptionId::new("548d023b-2b3d-4dc2-a3ef-cca26d05fd9a")
}

fn job(stage: Stage) -> TrackedJob {
    TrackedJob {
        reference: "sxt-1".to_owned(),
        recorded_at: t0(),
        stage,
    }
}

fn submitted(polls: u32, next_poll_minutes: u64) -> TrackedJob {
    job(Stage::Submitted {
        id: id(),
        at: t0(),
        polls,
        next_poll: at(next_poll_minutes),
    })
}

fn api(status: TranscriptionStatus, webhook_status_code: Option<u16>) -> Transcription {
    let mut transcription = Transcription::new(id(), status, t0(), "stt-async-v5", "a.wav");
    transcription.webhook_status_code = webhook_status_code;
    transcription.client_reference_id = Some("sxt-1".to_owned());
    transcription
}

#[track_caller]
fn check(job: &TrackedJob, now_minutes: u64, observation: Observation<'_>, expect: &Decision) {
    let decided = decide(job, at(now_minutes), observation, &Policy::default());
    assert_eq!(&decided, expect, "{job:?} at +{now_minutes} min");
}

#[test]
fn a_submitting_job_is_left_alone_through_the_create_grace() {
    let submitting = job(Stage::Submitting);
    // Whatever the API says: a create may still be in flight.
    let found = api(TranscriptionStatus::Queued, None);
    check(
        &submitting,
        0,
        Observation::Found(&found),
        &Decision::Wait { until: at(2) },
    );
    check(
        &submitting,
        1,
        Observation::Missing,
        &Decision::Wait { until: at(2) },
    );
}

#[test]
fn a_submitting_job_is_adopted_when_the_api_has_its_reference_else_resubmitted() {
    let submitting = job(Stage::Submitting);
    let found = api(TranscriptionStatus::Processing, None);
    check(
        &submitting,
        2,
        Observation::Found(&found),
        &Decision::Adopt { id: id() },
    );
    check(&submitting, 3, Observation::Missing, &Decision::Resubmit);
    check(
        &submitting,
        3,
        Observation::NotAsked,
        &Decision::Wait { until: at(3) },
    );
}

#[test]
fn a_submitted_job_is_polled_after_the_webhook_grace_with_growing_intervals() {
    let fresh = job(Stage::submitted(id(), t0(), &Policy::default()));
    check(
        &fresh,
        4,
        Observation::NotAsked,
        &Decision::Wait { until: at(5) },
    );
    let processing = api(TranscriptionStatus::Processing, None);
    // First poll at +5: next after 10 minutes; then 20; capped at 30.
    check(
        &fresh,
        5,
        Observation::Found(&processing),
        &Decision::Polled {
            until: at(15),
            stuck: false,
        },
    );
    check(
        &submitted(1, 15),
        15,
        Observation::Found(&processing),
        &Decision::Polled {
            until: at(35),
            stuck: false,
        },
    );
    check(
        &submitted(2, 35),
        35,
        Observation::Found(&processing),
        &Decision::Polled {
            until: at(65),
            stuck: false,
        },
    );
    check(
        &submitted(40, 65),
        65,
        Observation::Found(&processing),
        &Decision::Polled {
            until: at(95),
            stuck: false,
        },
    );
}

#[test]
fn a_job_queued_past_stuck_after_is_reported_and_still_polled() {
    let queued = api(TranscriptionStatus::Queued, None);
    let late = 6 * 60 + 1;
    check(
        &submitted(9, late),
        late,
        Observation::Found(&queued),
        &Decision::Polled {
            until: at(late + 30),
            stuck: true,
        },
    );
    check(
        &submitted(9, 360),
        360,
        Observation::Found(&queued),
        &Decision::Polled {
            until: at(390),
            stuck: false,
        },
    );
}

#[test]
fn a_finished_job_is_handled_with_what_became_of_its_webhook() {
    let due = submitted(0, 5);
    for (status, code, delivery) in [
        (
            TranscriptionStatus::Completed,
            None,
            Delivery::NeverDelivered,
        ),
        (
            TranscriptionStatus::Completed,
            Some(401),
            Delivery::Rejected { status_code: 401 },
        ),
        (
            TranscriptionStatus::Error,
            Some(404),
            Delivery::Rejected { status_code: 404 },
        ),
        (
            TranscriptionStatus::Completed,
            Some(503),
            Delivery::Rejected { status_code: 503 },
        ),
        (
            TranscriptionStatus::Completed,
            Some(204),
            Delivery::AcceptedElsewhere { status_code: 204 },
        ),
    ] {
        let finished = api(status.clone(), code);
        check(
            &due,
            5,
            Observation::Found(&finished),
            &Decision::Handle { status, delivery },
        );
    }
}

#[test]
fn an_unknown_status_counts_as_not_finished() {
    let unknown = api(TranscriptionStatus::Unknown("archived".to_owned()), None);
    check(
        &submitted(0, 5),
        5,
        Observation::Found(&unknown),
        &Decision::Polled {
            until: at(15),
            stuck: false,
        },
    );
}

#[test]
fn a_submitted_job_the_api_no_longer_has_is_lost() {
    check(&submitted(0, 5), 5, Observation::Missing, &Decision::Lost);
    check(
        &submitted(0, 5),
        4,
        Observation::Missing,
        &Decision::Wait { until: at(5) },
    );
}

#[test]
fn a_finished_job_whose_handling_failed_is_retried_when_due() {
    let finished = job(Stage::Finished {
        id: id(),
        status: TranscriptionStatus::Error,
        retry_at: at(11),
    });
    check(
        &finished,
        10,
        Observation::NotAsked,
        &Decision::Wait { until: at(11) },
    );
    let handle = Decision::Handle {
        status: TranscriptionStatus::Error,
        delivery: Delivery::Received,
    };
    check(&finished, 11, Observation::NotAsked, &handle);
}

#[test]
fn a_done_job_is_settled() {
    let done = job(Stage::Done);
    assert_eq!(next_check(&done, &Policy::default()), None);
    check(&done, 1_000, Observation::Missing, &Decision::Settled);
}

#[test]
fn poll_intervals_saturate_instead_of_overflowing() {
    let policy = Policy {
        webhook_grace: Duration::MAX,
        max_poll_interval: Duration::MAX,
        ..Policy::default()
    };
    assert_eq!(poll_interval(u32::MAX, &policy), Duration::MAX);
    assert_eq!(poll_interval(u32::MAX, &Policy::default()), 30 * MIN);
    assert_eq!(poll_interval(0, &Policy::default()), 5 * MIN);
}
