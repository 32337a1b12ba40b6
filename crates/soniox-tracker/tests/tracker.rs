//! The tracker against the emulator over real loopback HTTP, with a real SQLite file: webhooks
//! that never come, create requests that never arrive, and a webhook receiver in front.

mod common;

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use common::TestDatabase;
use futures_util::{StreamExt as _, TryStreamExt as _};
use soniox_client::{Client, Upload};
use soniox_emulator::{
    Emulator, FaultAction, FaultRule, JobClock, Quotas, WebhookFault, WebhookFaultRule,
};
use soniox_tracker::{
    FinishedJob, JobOutcome, JobState, Submission, Tracker, TrackerBuilder, TrackerError,
    reconcile::Policy,
};
use soniox_types::{CreateTranscription, ListParams, Secret};
use soniox_webhook::{Receiver, RunningReceiver, Verifier, WebhookService};

const API_KEY: &str = "tracker-key";
const HEADER: &str = "X-Soniox-Webhook-Secret";
const SECRET: &str = "tracker-secret-81c2";
const JOBS: usize = 20;
/// Bounds a failing run; a passing one takes a fraction of it.
const GIVE_UP_AFTER: Duration = Duration::from_secs(30);

/// How many times the handler saw each job, and how.
type Seen = Arc<Mutex<HashMap<String, Vec<bool>>>>;

/// Short graces, so that the reconciler looks at jobs within milliseconds (creates within
/// seconds).
fn quick_policy() -> Policy {
    let mut policy = Policy::default();
    // A create's answer is waited for half of this: long enough that a loaded machine does
    // not turn a create that succeeds into a pending one (tests count which creates were
    // pending), short enough that pending ones are reconciled within seconds.
    policy.create_grace = Duration::from_secs(5);
    policy.webhook_grace = Duration::from_millis(50);
    policy.max_poll_interval = Duration::from_millis(200);
    policy.retry_interval = Duration::from_millis(100);
    policy
}

/// What the handler does.
#[derive(Clone, Copy)]
enum Handling {
    /// Records the call and succeeds.
    Plain,
    /// Records the call; fails the first call of every third job; otherwise returns an
    /// effect that inserts the job into `soniox_test_effects`.
    Effects,
    /// Records the call and returns an effect for PostgreSQL, which a tracker on SQLite
    /// cannot run.
    #[cfg(feature = "postgres")]
    WrongDatabase,
}

struct Setup {
    emulator: Emulator,
    client: Client,
    database: TestDatabase,
    tracker: Tracker,
    receiver: RunningReceiver,
    seen: Seen,
    /// The reference each handled job came with, by id.
    references: Arc<Mutex<HashMap<String, Option<String>>>>,
}

/// A test of `$body` on SQLite, named `$sqlite` and documented by `$doc`, and the same on
/// PostgreSQL (with the `postgres` feature), named `$postgres`, which does nothing without a
/// server outside CI (see `TestDatabase::postgres`).
macro_rules! on_each_database {
    ($(#[doc = $doc:expr])* $sqlite:ident, $postgres:ident: $body:ident) => {
        $(#[doc = $doc])*
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $sqlite() {
            $body(TestDatabase::sqlite()).await;
        }

        #[doc = concat!("[`", stringify!($sqlite), "`] on PostgreSQL.")]
        #[cfg(feature = "postgres")]
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $postgres() {
            if let Some(database) = TestDatabase::postgres().await {
                $body(database).await;
            }
        }
    };
}

async fn setup(emulator: Emulator) -> Setup {
    setup_with(emulator, Handling::Plain).await
}

async fn setup_with(emulator: Emulator, handling: Handling) -> Setup {
    setup_configured(emulator, handling, |builder| builder.policy(quick_policy())).await
}

/// A setup whose tracker `configure` finishes building (the policy, say).
async fn setup_configured(
    emulator: Emulator,
    handling: Handling,
    configure: impl FnOnce(TrackerBuilder) -> TrackerBuilder,
) -> Setup {
    setup_on(TestDatabase::sqlite(), emulator, handling, configure).await
}

/// A setup on `database`.
async fn setup_on(
    database: TestDatabase,
    emulator: Emulator,
    handling: Handling,
    configure: impl FnOnce(TrackerBuilder) -> TrackerBuilder,
) -> Setup {
    let store = database.open().await;
    let client = client_of(&emulator);
    let seen = Seen::default();
    let record = Arc::clone(&seen);
    let references = Arc::<Mutex<HashMap<String, Option<String>>>>::default();
    let record_reference = Arc::clone(&references);
    // Records the call; the number of earlier calls for the same job.
    let note = move |job: &FinishedJob| {
        let completed = matches!(job.outcome, JobOutcome::Completed(_));
        record_reference
            .lock()
            .expect("references lock")
            .insert(job.id.as_str().to_owned(), job.reference.clone());
        let mut seen = record.lock().expect("seen lock");
        let calls = seen.entry(job.id.as_str().to_owned()).or_default();
        calls.push(completed);
        calls.len() - 1
    };
    // The receiver first, so that its address can go into the tracker's webhook URL.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "http://{}/hooks/soniox",
        listener.local_addr().expect("addr")
    );
    let builder = configure(
        Tracker::builder(client.clone(), store.clone())
            .webhook_url(url)
            .webhook_auth(HEADER, Secret::new(SECRET)),
    );
    let tracker = match handling {
        Handling::Plain => {
            builder
                .build(move |job: FinishedJob| {
                    note(&job);
                    async { Ok::<(), std::convert::Infallible>(()) }
                })
                .await
        }
        Handling::Effects => {
            let first_calls = AtomicUsize::new(0);
            let effects_in = store.clone();
            builder
                .build_with_effects(move |job: FinishedJob| {
                    let earlier = note(&job);
                    let nth = first_calls.fetch_add(usize::from(earlier == 0), Ordering::SeqCst);
                    let fail = earlier == 0 && nth.is_multiple_of(3);
                    let effect = common::record_effect(&effects_in, job.id.as_str().to_owned());
                    async move {
                        if fail {
                            return Err("a flaky dependency");
                        }
                        Ok(effect)
                    }
                })
                .await
        }
        #[cfg(feature = "postgres")]
        Handling::WrongDatabase => {
            builder
                .build_with_effects(move |job: FinishedJob| {
                    note(&job);
                    let effect = soniox_tracker::Effect::postgres(|_| Box::pin(async { Ok(()) }));
                    async { Ok::<_, std::convert::Infallible>(effect) }
                })
                .await
        }
    }
    .expect("a tracker");
    let receiver = Receiver::from_listener(listener, service_for(&tracker))
        .spawn()
        .expect("a receiver");
    Setup {
        emulator,
        client,
        database,
        tracker,
        receiver,
        seen,
        references,
    }
}

/// A client of `emulator`'s API.
fn client_of(emulator: &Emulator) -> Client {
    Client::builder()
        .api_key(API_KEY)
        .base_url(emulator.base_url())
        .build()
        .expect("a client")
}

fn emulator() -> soniox_emulator::EmulatorBuilder {
    Emulator::builder()
        .api_key(API_KEY)
        .job_clock(JobClock::Manual)
        .quotas(Quotas::unlimited())
        .webhook_retry_schedule([Duration::ZERO])
}

/// An emulator that withholds every webhook: the only deliveries are those a test sends.
async fn every_webhook_withheld() -> Emulator {
    emulator()
        .webhook_fault(WebhookFaultRule::new(WebhookFault::Withhold))
        .start()
        .await
        .expect("emulator")
}

/// An emulator that withholds every other webhook.
async fn every_other_webhook_withheld() -> Emulator {
    emulator()
        .webhook_fault(WebhookFaultRule::new(WebhookFault::Withhold).every_nth(2))
        .start()
        .await
        .expect("emulator")
}

impl Setup {
    async fn submit_all(&self) -> Vec<Submission> {
        self.submit(JOBS, 1).await
    }

    /// Submits `jobs` jobs from `tasks` tasks at a time.
    async fn submit(&self, jobs: usize, tasks: usize) -> Vec<Submission> {
        let audio = soniox_emulator::wav(Duration::from_millis(300));
        let file = self
            .client
            .files()
            .upload(Upload::bytes(audio, "a.wav"))
            .await
            .expect("upload");
        let submit = |_| {
            let request = CreateTranscription::new("stt-async-v5").file_id(file.id.clone());
            async { self.tracker.submit(request).await.expect("submit") }
        };
        let submissions = futures_util::stream::iter((0..jobs).map(submit))
            .buffered(tasks)
            .collect()
            .await;
        // The created jobs' ids are recorded in the background; the tests count on them.
        self.tracker.flush().await;
        submissions
    }

    /// Runs reconciler passes until every job was handled and the tracker has nothing left
    /// to do; returns the API requests made.
    async fn reconcile_until_handled(&self) -> (usize, usize) {
        let (mut pages, mut gets) = (0, 0);
        let run = async {
            loop {
                let pass = self.tracker.reconcile().await.expect("a pass");
                pages += pass.pages;
                gets += pass.gets;
                let metrics = self.tracker.metrics().await.expect("metrics");
                let open = metrics.submitting + metrics.awaiting + metrics.unhandled;
                if self.seen.lock().expect("seen").len() == JOBS && open == 0 {
                    return;
                }
                // Jobs come due on the wall clock; a short pause between passes.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        tokio::time::timeout(GIVE_UP_AFTER, run)
            .await
            .unwrap_or_else(|_| panic!("not every job was handled: {:?}", self.seen));
        (pages, gets)
    }

    /// Every file the API holds (one page holds every file there could be).
    async fn files(&self) -> Vec<soniox_types::File> {
        let page = self.client.files().list_page(&ListParams::new()).await;
        page.expect("list files").files
    }

    /// Every job the API holds, by reference: each must appear once.
    async fn jobs_by_reference(&self) -> HashMap<String, usize> {
        let jobs: Vec<_> = self
            .client
            .transcriptions()
            .list(ListParams::new())
            .try_collect()
            .await
            .expect("list");
        let mut by_reference = HashMap::new();
        for job in jobs {
            *by_reference
                .entry(job.client_reference_id.unwrap_or_default())
                .or_insert(0) += 1;
        }
        by_reference
    }

    /// How many effects each job's handler committed.
    async fn effects(&self) -> HashMap<String, usize> {
        common::progress(&self.database.locator()).await.effects
    }

    async fn stop(self) {
        self.receiver.shutdown().await.expect("stop");
        self.emulator.shutdown().await;
    }
}

/// A policy with a duration no date can be moved by (`Duration::MAX` meant as "never") is
/// refused when the tracker is built, not met as an overflow by a reconciler pass; so is a
/// create grace too short to send any create in, which would leave every job pending.
#[tokio::test]
async fn a_policy_over_ten_years_or_without_create_grace_is_refused() {
    let database = TestDatabase::sqlite();
    let client = Client::builder()
        .api_key(API_KEY)
        .base_url("http://127.0.0.1:9")
        .build()
        .expect("a client");
    let mut forever = Policy::default();
    forever.max_poll_interval = Duration::MAX;
    let mut hasty = Policy::default();
    hasty.create_grace = Duration::ZERO;
    for (policy, field) in [(forever, "max_poll_interval"), (hasty, "create_grace")] {
        let built = Tracker::builder(client.clone(), database.open().await)
            .policy(policy)
            .build(|_job: FinishedJob| async { Ok::<_, String>(()) })
            .await;
        let Err(TrackerError::InvalidPolicy(why)) = built else {
            panic!("expected an invalid policy, got {built:?}");
        };
        assert!(why.starts_with(&format!("{field} is ")), "{why}");
    }
}

/// Stopping the reconciler ends a pass under way once the job at hand is settled: a deploy
/// does not wait for a long pass, and the jobs left come due again after their hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_reconciler_ends_its_pass_after_the_job_at_hand() {
    use futures_util::FutureExt as _;

    const DUE: usize = 3;
    // No webhook: the jobs are found finished by the reconciler alone.
    let emulator = emulator().start().await.expect("emulator");
    let client = client_of(&emulator);
    let database = TestDatabase::sqlite();
    let calls = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let (entered, mut first_entered) = tokio::sync::mpsc::unbounded_channel();
    let handler = {
        let (calls, gate) = (Arc::clone(&calls), Arc::clone(&gate));
        move |_: FinishedJob| {
            calls.fetch_add(1, Ordering::SeqCst);
            let _ = entered.send(());
            let gate = Arc::clone(&gate);
            async move {
                let _held = gate.acquire().await.expect("the gate stays open");
                Ok::<(), std::convert::Infallible>(())
            }
        }
    };
    let tracker = Tracker::builder(client.clone(), database.open().await)
        .policy(quick_policy())
        .build(handler)
        .await
        .expect("a tracker");
    let audio = soniox_emulator::wav(Duration::from_millis(300));
    let file = client
        .files()
        .upload(Upload::bytes(audio, "a.wav"))
        .await
        .expect("upload");
    for _ in 0..DUE {
        let request = CreateTranscription::new("stt-async-v5").file_id(file.id.clone());
        tracker.submit(request).await.expect("submit");
    }
    emulator.finish_jobs().await;
    let overdue = async {
        while tracker.metrics().await.expect("metrics").overdue < DUE as u64 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(GIVE_UP_AFTER, overdue)
        .await
        .expect("every job comes due");

    let reconciler = tracker.spawn_reconciler(Duration::from_millis(20));
    tokio::time::timeout(GIVE_UP_AFTER, first_entered.recv())
        .await
        .expect("the pass reaches a job");
    // Asked to stop while the first job's handler runs; then the handler finishes.
    let mut stop = Box::pin(reconciler.stop());
    assert!(
        (&mut stop).now_or_never().is_none(),
        "waits for the job at hand"
    );
    gate.add_permits(DUE);
    tokio::time::timeout(GIVE_UP_AFTER, stop)
        .await
        .expect("the reconciler stops");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the pass ended after one job"
    );
    let metrics = tracker.metrics().await.expect("metrics");
    let left = metrics.awaiting + metrics.unhandled;
    assert_eq!((metrics.handled, left), (1, DUE as u64 - 1), "{metrics:?}");
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_that_never_come_are_recovered_by_polling_in_pages() {
    let emulator = every_other_webhook_withheld().await;
    let setup = setup(emulator).await;
    let submissions = setup.submit_all().await;
    assert!(
        submissions
            .iter()
            .all(|submission| matches!(submission, Submission::Created { .. }))
    );
    setup.emulator.finish_jobs().await;

    let (pages, gets) = setup.reconcile_until_handled().await;
    let seen = setup.seen.lock().expect("seen").clone();
    assert_eq!(seen.len(), JOBS);
    assert!(
        seen.values().all(|calls| calls == &[true]),
        "each job handled once, completed: {seen:?}"
    );
    let metrics = setup.tracker.metrics().await.expect("metrics");
    let withheld = setup
        .emulator
        .webhook_attempts()
        .iter()
        .filter(|attempt| attempt.outcome == soniox_emulator::DeliveryOutcome::Withheld)
        .count();
    assert_eq!(withheld, JOBS / 2);
    assert_eq!(metrics.handled, JOBS as u64);
    // A delivered webhook may lose the race to a poll now and then; a withheld one never
    // reaches the tracker, so the poll must have handled every one of those.
    assert!(
        metrics.recovered_by_polling >= withheld as u64,
        "{metrics:?}"
    );
    assert_eq!((metrics.awaiting, metrics.unhandled), (0, 0));
    // Pages, not a GET per job: one page holds every job here.
    assert_eq!(gets, 0);
    assert!(pages <= 10, "{pages} pages");
    setup.stop().await;
}

/// A pass over overdue jobs costs the list pages they fill, each read once, however many
/// batches the pass takes the jobs in (1,000 at a time); a job the pages do not hold costs one
/// GET. Counted by the emulator, request by request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_reads_each_page_the_overdue_jobs_fill_once() {
    // Two batches; after one is deleted, the API holds 1,001 jobs: two pages.
    const OVERDUE: usize = 1_002;
    let emulator = every_webhook_withheld().await;
    // Overdue as soon as submitted; each create is waited for, however loaded the machine.
    let mut policy = Policy::default();
    policy.webhook_grace = Duration::ZERO;
    let setup = setup_configured(emulator, Handling::Plain, |builder| builder.policy(policy)).await;
    let submissions = setup.submit(OVERDUE, 16).await;
    assert!(
        submissions
            .iter()
            .all(|submission| matches!(submission, Submission::Created { .. }))
    );
    setup.emulator.finish_jobs().await;
    let Submission::Created {
        id: deleted,
        reference: deleted_reference,
    } = &submissions[OVERDUE / 3]
    else {
        panic!("{:?}", submissions[OVERDUE / 3]);
    };
    setup
        .client
        .transcriptions()
        .delete(deleted)
        .await
        .expect("delete");

    let before = setup.emulator.request_counts();
    let pass = setup.tracker.reconcile().await.expect("a pass");
    let after = setup.emulator.request_counts();
    let made = |method, route| after.get(method, route) - before.get(method, route);
    assert_eq!(
        (pass.due, pass.pages, pass.gets, pass.handled),
        (OVERDUE, 2, 1, OVERDUE - 1),
        "{pass:?}"
    );
    assert_eq!(made("GET", "/v1/transcriptions"), 2, "list pages");
    assert_eq!(made("GET", "/v1/transcriptions/{id}"), 1, "the deleted job");
    let transcripts = made("GET", "/v1/transcriptions/{id}/transcript");
    assert_eq!(transcripts, OVERDUE as u64 - 1, "one per handled job");
    assert_eq!(after.total() - before.total(), 2 + 1 + transcripts);
    let metrics = setup.tracker.metrics().await.expect("metrics");
    assert_eq!((metrics.lost, metrics.overdue), (1, 0), "{metrics:?}");
    let state = setup.tracker.state_of(deleted_reference).await;
    assert_eq!(state.expect("state"), Some(JobState::Lost));
    assert_eq!(setup.seen.lock().expect("seen").len(), OVERDUE - 1);
    setup.stop().await;
}

on_each_database! {
    /// `prune` deletes the records of the jobs over for good longer ago than the age it is
    /// given: lost ones, and handled ones once their cleanup is done; none of a job still on
    /// its way or still owing its cleanup. A pruned reference is unknown again.
    prune_deletes_only_the_records_of_jobs_over_for_good, prune_deletes_only_the_records_of_jobs_over_for_good_on_postgres: pruned
}

async fn pruned(database: TestDatabase) {
    // Jobs are handled by the reconciler's passes only.
    let emulator = every_webhook_withheld().await;
    let configure = |builder: TrackerBuilder| builder.policy(quick_policy()).cleanup(true);
    let setup = setup_on(database, emulator, Handling::Plain, configure).await;
    let reference = |submission: &Submission| match submission {
        Submission::Created { reference, id } => (reference.clone(), id.clone()),
        other => panic!("{other:?}"),
    };
    // Lost: finished, then deleted from the API before any pass handled it.
    let (lost, lost_id) = reference(&setup.submit(1, 1).await[0]);
    setup.emulator.finish_jobs().await;
    let deleted = setup.client.transcriptions().delete(&lost_id).await;
    deleted.expect("delete");
    // Handled, with each cleanup refused (a 400, which the client does not retry): owed.
    for path in ["/v1/transcriptions/", "/v1/files/"] {
        let fault = FaultRule::new(FaultAction::Error { status: 400 });
        setup
            .emulator
            .add_fault(fault.method("DELETE").path_prefix(path));
    }
    let (handled, _) = reference(&setup.submit_all().await[0]);
    setup.emulator.finish_jobs().await;
    setup.reconcile_until_handled().await;
    let (running, _) = reference(&setup.submit(1, 1).await[0]);
    let state = async |reference: &str| setup.tracker.state_of(reference).await.expect("state");
    assert_eq!(state(&lost).await, Some(JobState::Lost));

    let prune = async |age| setup.tracker.prune(age).await.expect("prune");
    assert_eq!(
        prune(Duration::from_secs(3600)).await,
        0,
        "none is that old"
    );
    assert_eq!(prune(Duration::MAX).await, 0, "an age past any date");
    // Records are stamped in milliseconds: those written above are then strictly older.
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(
        prune(Duration::ZERO).await,
        1,
        "the lost job; the others owe a cleanup"
    );
    assert_eq!(state(&lost).await, None);
    assert_eq!(state(&handled).await, Some(JobState::Handled));

    // The cleanups go through at the passes after the retry interval.
    setup.emulator.clear_faults();
    let cleaned = async {
        while setup.jobs_by_reference().await.len() > 1 {
            setup.tracker.reconcile().await.expect("a pass");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(GIVE_UP_AFTER, cleaned)
        .await
        .expect("every cleanup done");
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(prune(Duration::ZERO).await, JOBS as u64);
    assert_eq!(state(&handled).await, None);
    assert_eq!(state(&running).await, Some(JobState::Submitted));
    setup.stop().await;
}

/// With cleanup, every handled job is deleted from the API, and its file with it, whether the
/// webhook or a poll handled it; each is still handled once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_deletes_each_handled_job_and_its_file() {
    let emulator = every_other_webhook_withheld().await;
    let setup = setup_configured(emulator, Handling::Plain, |builder| {
        builder.policy(quick_policy()).cleanup(true)
    })
    .await;
    setup.submit_all().await;
    setup.emulator.finish_jobs().await;
    setup.reconcile_until_handled().await;

    let seen = setup.seen.lock().expect("seen").clone();
    assert_eq!(seen.len(), JOBS);
    assert!(seen.values().all(|calls| calls == &[true]), "{seen:?}");
    let metrics = setup.tracker.metrics().await.expect("metrics");
    assert_eq!(
        (metrics.handled, metrics.lost),
        (JOBS as u64, 0),
        "{metrics:?}"
    );
    assert!(
        setup.jobs_by_reference().await.is_empty(),
        "every job deleted"
    );
    let files = setup.files().await;
    assert!(files.is_empty(), "the uploaded file deleted: {files:?}");
    setup.stop().await;
}

/// With cleanup, a job that ended in error is deleted with its uploaded file, as a completed
/// one is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_deletes_a_failed_job_and_its_file() {
    let emulator = every_webhook_withheld().await;
    // Due as soon as submitted: one pass handles the job.
    let mut policy = Policy::default();
    policy.webhook_grace = Duration::ZERO;
    let setup = setup_configured(emulator, Handling::Plain, |builder| {
        builder.policy(policy).cleanup(true)
    })
    .await;
    // Not audio: the job ends in error.
    let upload = Upload::bytes(b"not audio".to_vec(), "notes.txt");
    let file = setup.client.files().upload(upload).await.expect("upload");
    let request = CreateTranscription::new("stt-async-v5").file_id(file.id);
    let submitted = setup.tracker.submit(request).await.expect("submit");
    let Submission::Created { id, .. } = submitted else {
        panic!("{submitted:?}");
    };
    setup.tracker.flush().await;
    setup.emulator.finish_jobs().await;
    let pass = setup.tracker.reconcile().await.expect("a pass");
    assert_eq!(pass.handled, 1, "{pass:?}");

    let calls = setup.seen.lock().expect("seen")[id.as_str()].clone();
    assert_eq!(calls, [false], "handled once, as failed");
    assert!(
        setup.jobs_by_reference().await.is_empty(),
        "the job deleted"
    );
    let files = setup.files().await;
    assert!(files.is_empty(), "the uploaded file deleted: {files:?}");
    setup.stop().await;
}

on_each_database! {
    /// With cleanup, a handled job whose deletes fail through every retry of the client stays in
    /// the API only until a later pass: the cleanup is recorded as owed with the job done, and
    /// retried once due, until the job and its file are gone; then nothing is left to do.
    a_failed_cleanup_is_retried_by_a_later_pass, a_failed_cleanup_is_retried_by_a_later_pass_on_postgres: failed_cleanup
}

async fn failed_cleanup(database: TestDatabase) {
    let emulator = every_webhook_withheld().await;
    for path in ["/v1/transcriptions/", "/v1/files/"] {
        let fault = FaultRule::new(FaultAction::Error { status: 503 });
        emulator.add_fault(fault.method("DELETE").path_prefix(path));
    }
    // Due as soon as submitted, and the cleanup as soon as it failed. The client retries
    // each delete for seconds: the handling is given the time.
    let mut policy = Policy::default();
    policy.webhook_grace = Duration::ZERO;
    policy.retry_interval = Duration::ZERO;
    let configure = |builder: TrackerBuilder| {
        let builder = builder.policy(policy).cleanup(true);
        builder.handler_deadline(Duration::from_secs(60))
    };
    let setup = setup_on(database, emulator, Handling::Plain, configure).await;
    let submissions = setup.submit(1, 1).await;
    let Submission::Created { id, reference } = &submissions[0] else {
        panic!("{:?}", submissions[0]);
    };
    setup.emulator.finish_jobs().await;
    let files = async || setup.files().await.len();

    let pass = setup.tracker.reconcile().await.expect("a pass");
    assert_eq!((pass.due, pass.handled), (1, 1), "{pass:?}");
    let state = setup.tracker.state_of(reference).await.expect("state");
    assert_eq!(state, Some(JobState::Handled));
    assert_eq!(setup.jobs_by_reference().await.len(), 1, "the job left");
    assert_eq!(files().await, 1, "the file left");

    setup.emulator.clear_faults();
    let pass = setup.tracker.reconcile().await.expect("a pass");
    assert_eq!(
        (pass.due, pass.handled),
        (1, 0),
        "the cleanup owed: {pass:?}"
    );
    assert!(
        setup.jobs_by_reference().await.is_empty(),
        "the job deleted"
    );
    assert_eq!(files().await, 0, "the file deleted");
    let pass = setup.tracker.reconcile().await.expect("a pass");
    assert_eq!(pass.due, 0, "nothing left to do: {pass:?}");
    let calls = setup.seen.lock().expect("seen")[id.as_str()].clone();
    assert_eq!(calls, [true], "handled once");
    setup.stop().await;
}

on_each_database! {
    /// A job whose handling failed, deleted from the API before its retry, is marked lost by
    /// that retry, counted once, and never retried again.
    a_finished_job_deleted_before_its_retry_is_lost, a_finished_job_deleted_before_its_retry_is_lost_on_postgres: finished_job_deleted
}

async fn finished_job_deleted(database: TestDatabase) {
    // Every webhook withheld: the reconciler's passes are the only handlings.
    let emulator = every_webhook_withheld().await;
    // Due as soon as submitted, and again as soon as a handling fails.
    let mut policy = Policy::default();
    policy.webhook_grace = Duration::ZERO;
    policy.retry_interval = Duration::ZERO;
    let configure = |builder: TrackerBuilder| builder.policy(policy);
    // The first call for the only job fails.
    let setup = setup_on(database, emulator, Handling::Effects, configure).await;
    let submissions = setup.submit(1, 1).await;
    let Submission::Created { id, reference } = &submissions[0] else {
        panic!("{:?}", submissions[0]);
    };
    setup.emulator.finish_jobs().await;
    let pass = setup.tracker.reconcile().await.expect("a pass");
    assert_eq!((pass.due, pass.handled), (1, 0), "{pass:?}");
    let state = || setup.tracker.state_of(reference);
    assert_eq!(state().await.expect("state"), Some(JobState::Finished));

    let deleted = setup.client.transcriptions().delete(id).await;
    deleted.expect("delete");
    let pass = setup.tracker.reconcile().await.expect("a pass");
    assert_eq!((pass.due, pass.handled), (1, 0), "{pass:?}");
    assert_eq!(state().await.expect("state"), Some(JobState::Lost));
    let metrics = setup.tracker.metrics().await.expect("metrics");
    assert_eq!(
        (metrics.lost, metrics.unhandled, metrics.handled),
        (1, 0, 0),
        "{metrics:?}"
    );
    let pass = setup.tracker.reconcile().await.expect("a pass");
    assert_eq!(pass.due, 0, "nothing left to retry: {pass:?}");
    let calls = setup.seen.lock().expect("seen")[id.as_str()].len();
    assert_eq!(calls, 1, "the handler is not called without a result");
    assert!(setup.effects().await.is_empty());
    setup.stop().await;
}

/// A job handled from its webhook while a pass looks it up, and gone from the API by then
/// (deleted while its handler ran, as a cleanup would after it), stays handled: the pass
/// finds it missing, but neither counts nor reports it lost.
///
/// The pass settles its jobs in turn, oldest due first: the handler holds the first one's
/// handling, so that the second one's webhook is handled after the pass listed the jobs and
/// before it settles that one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_handled_while_a_pass_finds_it_missing_is_not_lost() {
    let setup = setup(every_webhook_withheld().await).await;
    // Each job's handling waits for its gate (a job without one goes on at once), and says
    // when it started.
    type Gates = Arc<Mutex<HashMap<String, tokio::sync::oneshot::Receiver<()>>>>;
    let gates = Gates::default();
    let (started, mut handling) = tokio::sync::mpsc::unbounded_channel();
    let gates_in = Arc::clone(&gates);
    let mut policy = Policy::default();
    policy.webhook_grace = Duration::ZERO;
    let tracker = Tracker::builder(setup.client.clone(), setup.database.open().await)
        .policy(policy)
        .build(move |job: FinishedJob| {
            let gate = gates_in.lock().expect("gates").remove(job.id.as_str());
            let _ = started.send(job.id);
            async move {
                if let Some(gate) = gate {
                    let _ = gate.await;
                }
                Ok::<(), std::convert::Infallible>(())
            }
        })
        .await
        .expect("a tracker");
    let receiver = receiver_for(&tracker).await;
    let audio = soniox_emulator::wav(Duration::from_millis(300));
    let files = setup.client.files();
    let file = files.upload(Upload::bytes(audio, "a.wav")).await;
    let file = file.expect("upload");
    let mut ids = Vec::new();
    for _ in 0..2 {
        let request = CreateTranscription::new("stt-async-v5").file_id(file.id.clone());
        let Submission::Created { id, .. } = tracker.submit(request).await.expect("submit") else {
            panic!("not created");
        };
        ids.push(id);
        tracker.flush().await;
        // Due a millisecond apart at least (the table keeps milliseconds): first, first.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let [first, second] = <[_; 2]>::try_from(ids).expect("two jobs");
    let gate = |id: &soniox_types::TranscriptionId| {
        let (open, gate) = tokio::sync::oneshot::channel();
        gates
            .lock()
            .expect("gates")
            .insert(id.as_str().to_owned(), gate);
        open
    };
    let (open_first, open_second) = (gate(&first), gate(&second));
    setup.emulator.finish_jobs().await;

    // The second job's webhook: its result fetched, its handler waits.
    let addr = receiver.local_addr();
    let answer = tokio::spawn(send_raw(addr, signed_completed(second.clone())));
    assert_eq!(handling.recv().await.as_ref(), Some(&second));
    let deleted = setup.client.transcriptions().delete(&second).await;
    deleted.expect("delete");
    // The pass lists the jobs (the second one is missing) and handles the first one.
    let pass = tokio::spawn({
        let tracker = tracker.clone();
        async move { tracker.reconcile().await }
    });
    assert_eq!(handling.recv().await.as_ref(), Some(&first));
    // The second one's handling ends before the pass settles it.
    open_second.send(()).expect("the second handler waits");
    let answer = answer.await.expect("the delivery");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    open_first.send(()).expect("the first handler waits");
    let pass = pass.await.expect("the pass").expect("a pass");
    assert_eq!((pass.due, pass.gets, pass.handled), (2, 1, 1), "{pass:?}");

    let metrics = tracker.metrics().await.expect("metrics");
    assert_eq!((metrics.handled, metrics.lost), (2, 0), "{metrics:?}");
    let progress = common::progress(&setup.database.locator()).await;
    assert_eq!((progress.open, progress.lost), (0, 0), "{progress:?}");
    receiver.shutdown().await.expect("stop");
    setup.stop().await;
}

on_each_database! {
    /// Jobs submitted under the caller's references, each twice at once and again once created:
    /// exactly one create per reference, the others find the recorded job; the handler gets the
    /// reference back. Empty and overlong references are refused before anything is recorded.
    a_reference_submitted_again_creates_nothing, a_reference_submitted_again_creates_nothing_on_postgres: references_submitted_again
}

async fn references_submitted_again(database: TestDatabase) {
    let emulator = emulator().start().await.expect("emulator");
    let configure = |builder: TrackerBuilder| builder.policy(quick_policy());
    let setup = setup_on(database, emulator, Handling::Plain, configure).await;
    let audio = soniox_emulator::wav(Duration::from_millis(300));
    let files = setup.client.files();
    let file = files.upload(Upload::bytes(audio, "a.wav")).await;
    let file = file.expect("upload");
    let request = || CreateTranscription::new("stt-async-v5").file_id(file.id.clone());
    let submit = |n: usize| {
        let reference = format!("input-{}", n % JOBS);
        let submitted = setup.tracker.submit_with_reference(reference, request());
        async { submitted.await.expect("submit") }
    };
    let submissions: Vec<Submission> = futures_util::stream::iter((0..2 * JOBS).map(submit))
        .buffer_unordered(8)
        .collect()
        .await;
    let created = submissions
        .iter()
        .filter(|submission| matches!(submission, Submission::Created { .. }))
        .count();
    assert_eq!(created, JOBS, "{submissions:?}");
    assert!(
        submissions.iter().all(|submission| matches!(
            submission,
            Submission::Created { .. } | Submission::Existing { .. }
        )),
        "{submissions:?}"
    );
    let again = setup.tracker.submit_with_reference("input-0", request());
    assert_eq!(
        again.await.expect("submit"),
        Submission::Existing {
            reference: "input-0".to_owned()
        }
    );
    setup.tracker.flush().await;
    assert!(setup.tracker.is_tracked("input-0").await.expect("lookup"));
    assert!(!setup.tracker.is_tracked("input-x").await.expect("lookup"));
    let state = |reference: &'static str| setup.tracker.state_of(reference);
    assert_eq!(
        state("input-0").await.expect("state"),
        Some(JobState::Submitted)
    );
    assert_eq!(state("input-x").await.expect("state"), None);
    for reference in [String::new(), "r".repeat(257)] {
        let refused = setup.tracker.submit_with_reference(reference, request());
        assert!(
            matches!(refused.await, Err(TrackerError::InvalidReference(_))),
            "refused"
        );
    }
    let creates = setup
        .emulator
        .request_counts()
        .get("POST", "/v1/transcriptions");
    assert_eq!(creates, JOBS as u64, "POST /v1/transcriptions");

    setup.emulator.finish_jobs().await;
    setup.reconcile_until_handled().await;
    let references = setup.references.lock().expect("references").clone();
    let mut handled: Vec<String> = references.into_values().flatten().collect();
    handled.sort();
    let mut expected: Vec<String> = (0..JOBS).map(|n| format!("input-{n}")).collect();
    expected.sort();
    assert_eq!(handled, expected, "the handler gets each job's reference");
    assert_eq!(
        state("input-0").await.expect("state"),
        Some(JobState::Handled)
    );
    setup.stop().await;
}

/// Every other create request fails on its way: dropped before the emulator handles it
/// (`DropConnection`), or handled with its answer lost (`DropResponse`). Either way each job
/// ends up created exactly once and handled exactly once, with `cleanup` or without.
async fn lost_creates(action: FaultAction, cleanup: bool) -> soniox_tracker::Metrics {
    let emulator = emulator()
        .fault(
            FaultRule::new(action)
                .method("POST")
                .path_prefix("/v1/transcriptions")
                .every_nth(2),
        )
        .start()
        .await
        .expect("emulator");
    let setup = if cleanup {
        setup_configured(emulator, Handling::Plain, |builder| {
            builder.policy(quick_policy()).cleanup(true)
        })
        .await
    } else {
        setup(emulator).await
    };
    let submissions = setup.submit_all().await;
    let pending = submissions
        .iter()
        .filter(|submission| matches!(submission, Submission::Pending { .. }))
        .count();
    assert_eq!(pending, JOBS / 2);
    // The faults stop; the reconciler adopts or resubmits the pending jobs.
    setup.emulator.clear_faults();
    let finishing = async {
        loop {
            setup.emulator.finish_jobs().await;
            if setup.seen.lock().expect("seen").len() == JOBS {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let reconciling = setup.reconcile_until_handled();
    tokio::join!(finishing, reconciling);

    let by_reference = setup.jobs_by_reference().await;
    if cleanup {
        // Those handled before their id was recorded too, once the reconciler found them.
        assert!(
            by_reference.is_empty(),
            "every job deleted: {by_reference:?}"
        );
    } else {
        assert_eq!(by_reference.len(), JOBS, "{by_reference:?}");
    }
    assert!(
        by_reference.values().all(|count| *count == 1),
        "no duplicate create: {by_reference:?}"
    );
    let seen = setup.seen.lock().expect("seen").clone();
    assert!(seen.values().all(|calls| calls.len() == 1), "{seen:?}");
    let metrics = setup.tracker.metrics().await.expect("metrics");
    setup.stop().await;
    metrics
}

/// A record write that takes longer than half the create grace leaves the create no time to
/// land before the reconciler may resend it: it is not sent, and the job is pending, for the
/// reconciler to create after the grace. (The write is held by a table lock: PostgreSQL.)
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_past_its_deadline_after_a_slow_record_is_not_sent() {
    use soniox_store::deadpool_postgres::tokio_postgres::{self, NoTls};

    let Some(database) = TestDatabase::postgres().await else {
        return;
    };
    let mut policy = quick_policy();
    policy.create_grace = Duration::from_millis(400);
    let emulator = emulator().start().await.expect("emulator");
    let configure = |builder: TrackerBuilder| builder.policy(policy);
    let setup = setup_on(database, emulator, Handling::Plain, configure).await;
    let (locker, connection) = tokio_postgres::connect(&setup.database.locator(), NoTls)
        .await
        .expect("connect");
    let connection = tokio::spawn(connection);
    let lock = "BEGIN; LOCK TABLE soniox_jobs IN EXCLUSIVE MODE";
    locker.batch_execute(lock).await.expect("lock the jobs");

    let request = CreateTranscription::new("stt-async-v5").audio_url("http://127.0.0.1:9/a.wav");
    let submit = tokio::spawn({
        let tracker = setup.tracker.clone();
        async move { tracker.submit(request).await }
    });
    // The record waits for the lock; the instant its create's deadline is counted from
    // was read before.
    let waiting = "SELECT COUNT(*) FROM pg_locks
                   WHERE NOT granted AND relation = 'soniox_jobs'::regclass";
    while locker
        .query_one(waiting, &[])
        .await
        .expect("locks")
        .get::<_, i64>(0)
        == 0
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(policy.create_grace / 2).await;
    locker.batch_execute("COMMIT").await.expect("unlock");

    let submission = submit.await.expect("the submit").expect("recorded");
    assert!(
        matches!(submission, Submission::Pending { .. }),
        "{submission:?}"
    );
    let creates = setup
        .emulator
        .request_counts()
        .get("POST", "/v1/transcriptions");
    assert_eq!(creates, 0, "POST /v1/transcriptions");
    drop(locker);
    let _ = connection.await;
    setup.stop().await;
}

/// A resubmission the API refuses for now (a key being rotated, an account out of balance)
/// created nothing: the job stays pending and is sent again, not marked lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resubmission_refused_for_now_is_sent_again_not_lost() {
    let creates = |action| {
        FaultRule::new(action)
            .method("POST")
            .path_prefix("/v1/transcriptions")
    };
    let emulator = emulator()
        .fault(creates(FaultAction::DropConnection))
        .start()
        .await
        .expect("emulator");
    let mut policy = quick_policy();
    policy.create_grace = Duration::from_millis(600);
    let setup = setup_configured(emulator, Handling::Plain, |builder| builder.policy(policy)).await;
    let Some(Submission::Pending { reference, .. }) = setup.submit(1, 1).await.pop() else {
        panic!("the create never arrived");
    };
    setup.emulator.clear_faults();
    setup
        .emulator
        .add_fault(creates(FaultAction::Error { status: 403 }));
    let sent = || {
        setup
            .emulator
            .request_counts()
            .get("POST", "/v1/transcriptions")
    };
    let first = sent();
    let refused = async {
        while sent() == first {
            setup.tracker.reconcile().await.expect("a pass");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(GIVE_UP_AFTER, refused)
        .await
        .expect("the job is resubmitted, and refused");
    let metrics = setup.tracker.metrics().await.expect("metrics");
    assert_eq!(metrics.lost, 0);
    let state = setup.tracker.state_of(&reference).await.expect("state");
    assert_eq!(state, Some(JobState::Submitting));
    // The refusal lifted, the next resubmission creates it.
    setup.emulator.clear_faults();
    let created = async {
        while setup.tracker.state_of(&reference).await.expect("state") == Some(JobState::Submitting)
        {
            setup.tracker.reconcile().await.expect("a pass");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(GIVE_UP_AFTER, created)
        .await
        .expect("the job is created");
    let state = setup.tracker.state_of(&reference).await.expect("state");
    assert_eq!(state, Some(JobState::Submitted));
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_that_never_arrived_is_resubmitted_once() {
    let metrics = lost_creates(FaultAction::DropConnection, false).await;
    assert_eq!((metrics.resubmitted, metrics.adopted), (JOBS as u64 / 2, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_whose_answer_was_lost_is_adopted_not_duplicated() {
    let metrics = lost_creates(FaultAction::DropResponse, false).await;
    assert_eq!((metrics.adopted, metrics.resubmitted), (JOBS as u64 / 2, 0));
}

/// The webhook of a job whose create answer was lost arrives while the job is known by its
/// reference only. With cleanup the job is handled but left in the API until the reconciler
/// has adopted it and recorded it done: deleted at once, it would be missing under its
/// reference, and created again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_cleanup_a_job_handled_before_its_id_is_recorded_is_adopted_not_created_again() {
    let metrics = lost_creates(FaultAction::DropResponse, true).await;
    assert_eq!((metrics.adopted, metrics.resubmitted), (JOBS as u64 / 2, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn effects_commit_exactly_once_through_duplicates_failures_and_lost_webhooks() {
    let emulator = emulator()
        .webhook_fault(WebhookFaultRule::new(WebhookFault::Duplicate))
        .webhook_fault(WebhookFaultRule::new(WebhookFault::Withhold).every_nth(5))
        .start()
        .await
        .expect("emulator");
    let setup = setup_with(emulator, Handling::Effects).await;
    setup.submit_all().await;
    setup.emulator.finish_jobs().await;
    setup.reconcile_until_handled().await;

    let effects = setup.effects().await;
    assert_eq!(effects.len(), JOBS, "{effects:?}");
    assert!(effects.values().all(|count| *count == 1), "{effects:?}");
    let seen = setup.seen.lock().expect("seen").clone();
    let retried = seen.values().filter(|calls| calls.len() > 1).count();
    assert!(
        retried >= JOBS / 3,
        "failed first calls are retried: {seen:?}"
    );
    setup.stop().await;
}

/// The webhook service of `tracker`, verifying deliveries signed with `HEADER` and `SECRET`.
fn service_for(tracker: &Tracker) -> WebhookService<soniox_tracker::WebhookHandler> {
    let verifier = Verifier::new(HEADER, Secret::new(SECRET)).expect("a verifier");
    WebhookService::new(tracker.inbox(verifier), tracker.webhook_handler())
}

/// [`service_for`] `tracker`, served on a port of its own.
async fn receiver_for(tracker: &Tracker) -> RunningReceiver {
    let receiver = Receiver::bind("127.0.0.1:0", service_for(tracker));
    receiver.await.expect("bind").spawn().expect("a receiver")
}

/// A signed delivery of job `id`'s `completed` webhook to the tracker's path.
fn signed_completed(id: soniox_types::TranscriptionId) -> http::Request<bytes::Bytes> {
    let event = soniox_types::WebhookEvent::new(id, soniox_types::WebhookStatus::Completed);
    soniox_webhook::testing::TestDelivery::new(event)
        .uri("/hooks/soniox")
        .auth(HEADER, SECRET)
        .into_request()
        .expect("a request")
}

/// Sends `request` to `addr` over a fresh connection; the whole answer.
async fn send_raw(addr: std::net::SocketAddr, request: http::Request<bytes::Bytes>) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut wire = format!(
        "POST {} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n",
        request.uri(),
        request.body().len()
    );
    for (name, value) in request.headers() {
        wire.push_str(&format!(
            "{name}: {}\r\n",
            value.to_str().expect("an ASCII header")
        ));
    }
    wire.push_str("\r\n");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(wire.as_bytes()).await.expect("write");
    stream.write_all(request.body()).await.expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("read");
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_and_unverified_deliveries_are_counted_and_never_handled() {
    let emulator = every_webhook_withheld().await;
    let setup = setup(emulator).await;
    let submissions = setup.submit_all().await;
    setup.emulator.finish_jobs().await;
    setup.reconcile_until_handled().await;
    let Submission::Created { id, .. } = &submissions[0] else {
        panic!("{:?}", submissions[0]);
    };
    let before = setup.tracker.metrics().await.expect("metrics");
    assert_eq!(
        (before.duplicate_deliveries, before.unverified_deliveries),
        (0, 0)
    );

    let event = soniox_types::WebhookEvent::new(id.clone(), soniox_types::WebhookStatus::Completed);
    let delivery = soniox_webhook::testing::TestDelivery::new(event).uri("/hooks/soniox");
    let addr = setup.receiver.local_addr();
    for _ in 0..2 {
        let signed = delivery.clone().auth(HEADER, SECRET);
        let answer = send_raw(addr, signed.into_request().expect("a request")).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("duplicate"), "{answer}");
    }
    let forged = delivery.clone().auth(HEADER, "not-the-secret");
    let answer = send_raw(addr, forged.into_request().expect("a request")).await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");

    let after = setup.tracker.metrics().await.expect("metrics");
    assert_eq!(
        (after.duplicate_deliveries, after.unverified_deliveries),
        (2, 1),
        "{after:?}"
    );
    assert_eq!(after.handled, before.handled);
    let calls = setup.seen.lock().expect("seen")[id.as_str()].len();
    assert_eq!(calls, 1, "the handler is not called for a duplicate");
    setup.stop().await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_effect_for_the_other_database_fails_the_handling_and_nothing_is_recorded() {
    let emulator = emulator().start().await.expect("emulator");
    let setup = setup_with(emulator, Handling::WrongDatabase).await;
    setup.submit_all().await;
    setup.emulator.finish_jobs().await;
    // Every webhook is delivered once (no retries) and its handling fails: 500.
    let answered = async {
        loop {
            let statuses: Vec<_> = setup
                .emulator
                .webhook_attempts()
                .iter()
                .filter_map(|attempt| match attempt.outcome {
                    soniox_emulator::DeliveryOutcome::Answered { status_code } => Some(status_code),
                    _ => None,
                })
                .collect();
            if statuses.len() == JOBS {
                return statuses;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let statuses = tokio::time::timeout(GIVE_UP_AFTER, answered)
        .await
        .expect("every webhook answered");
    assert!(statuses.iter().all(|status| *status == 500), "{statuses:?}");
    let metrics = setup.tracker.metrics().await.expect("metrics");
    assert_eq!(metrics.handled, 0, "{metrics:?}");
    assert_eq!(metrics.handler_failures, JOBS as u64, "{metrics:?}");
    assert_eq!(
        metrics.unhandled, JOBS as u64,
        "the jobs wait for a retry: {metrics:?}"
    );
    assert!(setup.effects().await.is_empty());
    setup.stop().await;
}

on_each_database! {
    /// A job submitted by one tracker and delivered to another on the same database (another
    /// replica, or this one after a restart) is handed its reference, read from the job table
    /// since only the submitting tracker holds it in memory.
    a_delivery_to_another_tracker_carries_the_reference, a_delivery_to_another_tracker_carries_the_reference_on_postgres: reference_read_by_another_tracker
}

async fn reference_read_by_another_tracker(database: TestDatabase) {
    let emulator = every_webhook_withheld().await;
    let setup = setup_on(database, emulator, Handling::Plain, |builder| builder).await;
    let audio = soniox_emulator::wav(Duration::from_millis(300));
    let file = setup
        .client
        .files()
        .upload(Upload::bytes(audio, "a.wav"))
        .await;
    let file = file.expect("upload").id;
    let request = CreateTranscription::new("stt-async-v5").file_id(file.clone());
    let submitted = setup.tracker.submit_with_reference("elsewhere-1", request);
    let Submission::Created { id, .. } = submitted.await.expect("submit") else {
        panic!("not created");
    };
    // The other tracker reads the reference from the job's row, written in the background.
    setup.tracker.flush().await;
    setup.emulator.finish_jobs().await;

    let references = Arc::<Mutex<Vec<Option<String>>>>::default();
    let record = Arc::clone(&references);
    let other = Tracker::builder(setup.client.clone(), setup.database.open().await)
        .build(move |job: FinishedJob| {
            record.lock().expect("references").push(job.reference);
            async { Ok::<(), std::convert::Infallible>(()) }
        })
        .await
        .expect("a second tracker");
    let receiver = receiver_for(&other).await;
    let first = id.clone();
    let answer = send_raw(receiver.local_addr(), signed_completed(id)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    // A job whose create's answer was lost: its id is recorded nowhere, and the reference is
    // read from the job the API holds (recorded under it, so one of the tracker's).
    let drop_answer = FaultRule::new(FaultAction::DropResponse).method("POST");
    setup
        .emulator
        .add_fault(drop_answer.path_prefix("/v1/transcriptions"));
    let request = CreateTranscription::new("stt-async-v5").file_id(file.clone());
    let submitted = setup.tracker.submit_with_reference("elsewhere-2", request);
    let submitted = submitted.await.expect("submit");
    assert!(
        matches!(submitted, Submission::Pending { .. }),
        "{submitted:?}"
    );
    // (The fault stays: clearing it would clear the one withholding the webhooks too.)
    setup.emulator.finish_jobs().await;
    let jobs = setup.jobs_by_reference().await;
    assert_eq!(jobs.get("elsewhere-2"), Some(&1), "created once: {jobs:?}");
    let listed = setup.client.transcriptions().list(ListParams::new());
    let lost_answer: Vec<_> = listed.try_collect().await.expect("list");
    let id = lost_answer
        .into_iter()
        .find(|job| job.client_reference_id.as_deref() == Some("elsewhere-2"))
        .expect("the job")
        .id;
    let answer = send_raw(receiver.local_addr(), signed_completed(id)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    // A job made elsewhere under a reference whose own job is known is not handed it. (Its
    // create's answer is dropped too: the job is found in the list.)
    let request = CreateTranscription::new("stt-async-v5")
        .file_id(file)
        .client_reference_id("elsewhere-1");
    let created = setup.client.transcriptions().create(&request).await;
    assert!(created.is_err(), "its answer dropped: {created:?}");
    let listed = setup.client.transcriptions().list(ListParams::new());
    let all: Vec<_> = listed.try_collect().await.expect("list");
    let stranger = all
        .into_iter()
        .find(|job| job.client_reference_id.as_deref() == Some("elsewhere-1") && job.id != first)
        .expect("the other job")
        .id;
    setup.emulator.finish_jobs().await;
    let answer = send_raw(receiver.local_addr(), signed_completed(stranger)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(
        *references.lock().expect("references"),
        [
            Some("elsewhere-1".to_owned()),
            Some("elsewhere-2".to_owned()),
            None
        ]
    );
    receiver.shutdown().await.expect("stop");
    setup.stop().await;
}
