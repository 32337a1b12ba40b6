//! The tracker end to end over real loopback HTTP against an in-process emulator, against a
//! plain receiver measured in the same run; then what the reconciler costs in API requests.
//!
//! # Jobs tracked end to end per second
//!
//! | Variant | One job | Target |
//! |---|---|---|
//! | plain `Client` + `Receiver` (baseline) | `POST /v1/transcriptions` with a `client_reference_id` and the webhook (URL and auth header), the emulator's webhook to a `soniox_webhook::Receiver` (default `MemoryStore`) whose handler fetches the transcript (`GET /v1/transcriptions/{id}/transcript`) | — |
//! | `Tracker` + `SqliteStore` | `Tracker::submit` (the job recorded, then the same create), the webhook to a `Receiver` over `Tracker::inbox` and `Tracker::webhook_handler` (the event claimed in SQLite, the same transcript fetch, a handler that only counts, the job and event recorded done in one transaction), `Durability::Full` (the default: a commit is flushed before it is answered) | ≥ 60% |
//! | the same, `Durability::Normal` | the same, commits not flushed: how much of the price is the disk's | ≥ 60% |
//! | `Tracker` + `PostgresStore` | the same, the jobs and events in a PostgreSQL database of the round's own (pool of 16) | ≥ 60% |
//!
//! Both make the same three API-side requests per job, on the same emulator configuration:
//! jobs finish as soon as they are created (`JobClock::Fixed(Duration::ZERO)`), no quotas.
//! `PIPELINE_TASKS` tasks (default [`TASKS`], 64) submit `PIPELINE_JOBS` jobs (default 4,000)
//! between them (`PIPELINE_VARIANTS` picks the trackers' stores, comma-separated among
//! `sqlite` and `postgres`, default both; the baseline always runs), and a
//! round lasts from the first submission until every job has been handled (for the tracker:
//! until `Tracker::metrics` counts them all handled, i.e. recorded done). Each round of each
//! variant gets a fresh emulator, receiver and SQLite file (a real file in a temporary
//! directory); the tracker's reconciler runs every second, as in a
//! deployment, and with the default policy never has a job due. Rounds (`PIPELINE_ROUNDS`,
//! default 5) alternate between the variants; the summary gives each variant's median and,
//! for the tracker, the median of the per-round ratios to the baseline with their range,
//! since the speed of a shared machine drifts between rounds. Under `cargo xtask bench
//! --quick` the defaults are 1,000 jobs and 2 rounds.
//!
//! Beside each figure, `cpu` is this process's CPU time per job: everything measured runs in
//! it (emulator, client, receiver, tracker, SQLite's writer thread), so it moves much less
//! than jobs/s when neighbours share the machine, and the CPU-per-job ratio is the steadier
//! price of the tracker. `other` is how many cores anything else kept busy during the round:
//! a round with a high `other` measured the neighbours as much as the variant. Both come
//! from `/proc` (Linux only). For PostgreSQL, `write transactions/job` is how many
//! transaction ids the server handed out during the round (`txid_current()` before and
//! after), per job: the commits that cost its CPU.
//!
//! # Reconciler cost
//!
//! `RECONCILE_JOBS` jobs (default 1,000) are submitted through a tracker and finish, but the
//! emulator withholds every webhook (`WebhookFault::Withhold`). With a zero webhook grace
//! they are all overdue at once; `Tracker::reconcile` passes run until every job is handled,
//! and the emulator's per-route request counts price them: list pages
//! (`GET /v1/transcriptions`), single jobs (`GET /v1/transcriptions/{id}`) and transcripts
//! (`GET /v1/transcriptions/{id}/transcript`, one per job, inherent), per 1,000 overdue jobs.
//! Target: polling requests (list pages and single GETs) ≤ 1.1 × the pages the jobs fill
//! (page size 1,000).
//!
//! # Failing
//!
//! The bench exits non-zero when a job is lost (not handled within [`GIVE_UP_AFTER`]),
//! handled more than once, handled without having been submitted, or did not complete, and
//! when a submission or a reconciler pass fails. A missed target is reported, not a failure.
//!
//! Run with `cargo bench -p soniox-tracker --bench pipeline`; the PostgreSQL variant needs the
//! `postgres` feature and a server at `SONIOX_TEST_POSTGRES_URL` (the tests' variable; each
//! round creates a database and drops it after):
//! `SONIOX_TEST_POSTGRES_URL=postgres://… cargo bench -p soniox-tracker --all-features --bench
//! pipeline`. `cargo xtask bench` runs it with every feature and the local server when there
//! is one.

#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]

/// The same `/proc` reading as soniox-store's benches.
#[path = "../../soniox-store/benches/support/cpu.rs"]
mod cpu;

#[path = "../../soniox-emulator/benches/support/bench_report.rs"]
mod bench_report;

/// soniox-store's PostgreSQL test databases: one per round, dropped after it.
#[cfg(feature = "postgres")]
#[path = "../../soniox-store/tests/common/mod.rs"]
mod store_common;

use std::{
    collections::HashMap,
    convert::Infallible,
    fmt,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use bench_report::{Ratios, median};
use cpu::CpuTimes;
use soniox_client::{Client, Upload, Webhook};
use soniox_emulator::{
    DeliveryOutcome, Emulator, EmulatorBuilder, JobClock, Quotas, RequestCounts, WebhookFault,
    WebhookFaultRule,
};
#[cfg(feature = "postgres")]
use soniox_store::PostgresStore;
use soniox_store::{Durability, SqliteStore};
use soniox_tracker::{
    Database, FinishedJob, JobOutcome, Pass, Submission, Tracker, reconcile::Policy,
};
use soniox_types::{CreateTranscription, FileId, Secret, TranscriptionId, WebhookStatus};
use soniox_webhook::{ReceivedEvent, Receiver, RunningReceiver, Verifier, WebhookService};
use tokio::{net::TcpListener, sync::Notify};

/// Concurrent submitting tasks by default, as in soniox-store's benches.
const TASKS: usize = 64;

/// How long a round may wait for its last job before calling the missing ones lost; a
/// passing round takes a fraction of it.
const GIVE_UP_AFTER: Duration = Duration::from_secs(120);

/// The API's largest list page, which the reconciler lists with.
const PAGE_SIZE: usize = 1000;

/// The tracker's share of the baseline's jobs/s to reach.
const TARGET_RATIO: f64 = 0.60;

/// The most polling requests (list pages and single GETs) per page the overdue jobs fill.
const TARGET_LIST_FACTOR: f64 = 1.1;

const API_KEY: &str = "pipeline-bench-key";
const HEADER: &str = "X-Soniox-Webhook-Secret";
const SECRET: &str = "pipeline-bench-secret-5e1d";
const MODEL: &str = "stt-async-v5";

#[tokio::main]
async fn main() {
    let jobs = from_env("PIPELINE_JOBS", bench_report::full_or_quick(4_000, 1_000));
    let rounds = from_env("PIPELINE_ROUNDS", bench_report::full_or_quick(5, 2));
    let tasks = from_env("PIPELINE_TASKS", TASKS);
    let overdue = from_env("RECONCILE_JOBS", 1_000);
    let mut failed = false;

    let picked = picked_stores();
    let mut variants = vec![Variant::new(
        "plain Client + Receiver (baseline)",
        Pipeline::Plain,
    )];
    if picked.contains(&"sqlite") {
        variants.push(Variant::new(
            "Tracker + SqliteStore, Durability::Full",
            Pipeline::TrackerSqlite(Durability::Full),
        ));
        variants.push(Variant::new(
            "Tracker + SqliteStore, Durability::Normal",
            Pipeline::TrackerSqlite(Durability::Normal),
        ));
    }
    #[cfg(feature = "postgres")]
    let postgres = std::env::var(store_common::URL_VARIABLE).is_ok();
    #[cfg(not(feature = "postgres"))]
    let postgres = false;
    if !picked.contains(&"postgres") {
        // Not picked: neither measured nor reported as skipped.
    } else if postgres {
        #[cfg(feature = "postgres")]
        variants.push(Variant::new(
            "Tracker + PostgresStore",
            Pipeline::TrackerPostgres,
        ));
    } else {
        println!(
            "PostgreSQL: not measured (needs the postgres feature and SONIOX_TEST_POSTGRES_URL)"
        );
        bench_report::skipped(
            "Tracker + PostgresStore",
            "needs the postgres feature and SONIOX_TEST_POSTGRES_URL",
        );
    }
    println!(
        "{rounds} rounds of {jobs} jobs per variant, alternating; {tasks} submitting tasks; \
         jobs finish at once"
    );
    for round in 1..=rounds {
        for variant in &mut variants {
            let result = variant.pipeline.round(jobs, tasks).await;
            match &result {
                Ok(figures) => println!("round {round} {:<40} {figures}", variant.name),
                Err(error) => println!("round {round} {:<40} FAILED: {error}", variant.name),
            }
            variant.rounds.push(result);
        }
    }
    println!("median of {rounds} rounds:");
    for variant in &variants {
        match variant.median() {
            Some(median) => println!("{:<48} {median}", variant.name),
            None => {
                println!("{:<48} a round failed", variant.name);
                failed = true;
            }
        }
    }
    let (baseline, trackers) = variants.split_first().expect("a baseline");
    for tracker in trackers {
        println!("{} / baseline:", tracker.name);
        if let Some(ratios) = tracker.ratios(baseline, |figures| Some(figures.per_second)) {
            let verdict = if ratios.median >= TARGET_RATIO {
                "met"
            } else {
                "MISSED"
            };
            println!(
                "  jobs/s {ratios}; target ≥ {:.0}%: {verdict}",
                100.0 * TARGET_RATIO
            );
        }
        if let Some(ratios) = tracker.ratios(baseline, |figures| figures.cpu) {
            println!("  CPU per job {ratios}");
        }
    }
    record(&variants);

    println!();
    if let Err(error) = reconciler_cost(overdue).await {
        println!("reconciler: FAILED: {error}");
        bench_report::failed("reconciler", &error);
        failed = true;
    }
    if failed {
        std::process::exit(1);
    }
}

/// Records each variant's median for `cargo xtask bench`: the baseline's alone, each
/// tracker's against it with the median of the per-round ratios.
fn record(variants: &[Variant]) {
    let (baseline, trackers) = variants.split_first().expect("a baseline");
    let base = baseline.median();
    match base {
        Some(base) => {
            let name = format!("{} (median)", baseline.name);
            bench_report::Figure::new(name, base.per_second, "jobs/s").report();
        }
        None => bench_report::failed(baseline.name, "a round failed"),
    }
    for tracker in trackers {
        let per_second = |figures: &Figures| Some(figures.per_second);
        let (Some(median), Some(base), Some(ratios)) =
            (tracker.median(), base, tracker.ratios(baseline, per_second))
        else {
            bench_report::failed(tracker.name, "a round of it or of the baseline failed");
            continue;
        };
        bench_report::Figure::new(
            format!("{} (median)", tracker.name),
            median.per_second,
            "jobs/s",
        )
        .baseline(baseline.name, base.per_second)
        .ratio(ratios.median)
        .at_least(TARGET_RATIO)
        .report();
        if let (Some(cpu), Some(base_cpu), Some(ratios)) = (
            median.cpu,
            base.cpu,
            tracker.ratios(baseline, |figures| figures.cpu),
        ) {
            let name = format!("{}: CPU per job (median)", tracker.name);
            bench_report::Figure::new(name, cpu, "µs")
                .baseline(baseline.name, base_cpu)
                .ratio(ratios.median)
                .report();
        }
    }
}

/// The stores `PIPELINE_VARIANTS` picks (comma-separated among `sqlite` and `postgres`),
/// every store when it is unset; exits on a name it does not know, so that a typo does not
/// measure nothing.
fn picked_stores() -> Vec<&'static str> {
    const STORES: [&str; 2] = ["sqlite", "postgres"];
    let Ok(list) = std::env::var("PIPELINE_VARIANTS") else {
        return STORES.to_vec();
    };
    let mut picked = Vec::new();
    for name in list
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
    {
        match STORES.iter().find(|store| **store == name) {
            Some(store) => picked.push(*store),
            None => {
                println!("PIPELINE_VARIANTS: unknown {name:?}; use sqlite, postgres");
                std::process::exit(2);
            }
        }
    }
    picked
}

/// `name`'s value, or `default` when it is unset or not a positive number.
fn from_env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .filter(|value| *value > 0)
        .unwrap_or(default)
}

struct Variant {
    name: &'static str,
    pipeline: Pipeline,
    rounds: Vec<Result<Figures, String>>,
}

impl Variant {
    fn new(name: &'static str, pipeline: Pipeline) -> Self {
        Self {
            name,
            pipeline,
            rounds: Vec::new(),
        }
    }

    /// Each figure's median over the rounds; `None` when a round failed.
    fn median(&self) -> Option<Figures> {
        let rounds = self
            .rounds
            .iter()
            .map(|round| round.as_ref().ok().copied())
            .collect::<Option<Vec<_>>>()?;
        let median = |figure: fn(&Figures) -> Option<f64>| {
            median(rounds.iter().filter_map(figure).collect())
        };
        Some(Figures {
            per_second: median(|figures| Some(figures.per_second))?,
            cpu: median(|figures| figures.cpu),
            other: median(|figures| figures.other),
            transactions: median(|figures| figures.transactions),
        })
    }

    /// Each round's `figure` over `base`'s in the same round; `None` when a round failed or
    /// the figure is missing.
    fn ratios(&self, base: &Self, figure: fn(&Figures) -> Option<f64>) -> Option<Ratios> {
        let ratios = self
            .rounds
            .iter()
            .zip(&base.rounds)
            .map(|(round, base)| Some(figure(round.as_ref().ok()?)? / figure(base.as_ref().ok()?)?))
            .collect::<Option<Vec<_>>>()?;
        Ratios::of(ratios)
    }
}

/// One round's jobs/s; this process's CPU time per job in microseconds (the emulator, the
/// client, the receiver, the tracker and SQLite's writer thread: everything but the
/// neighbours); and how many cores other processes kept busy meanwhile.
#[derive(Clone, Copy)]
struct Figures {
    per_second: f64,
    cpu: Option<f64>,
    other: Option<f64>,
    /// PostgreSQL write transactions per job: how many transaction ids the server handed
    /// out during the round (to anyone: the machine's other users of the server count too).
    transactions: Option<f64>,
}

impl fmt::Display for Figures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:>8.0} jobs/s", self.per_second)?;
        if let Some(cpu) = self.cpu {
            write!(f, "  cpu {cpu:>5.0}µs/job")?;
        }
        if let Some(other) = self.other {
            write!(f, "  other {other:.2} cores")?;
        }
        if let Some(transactions) = self.transactions {
            write!(f, "  {transactions:.2} write transactions/job")?;
        }
        Ok(())
    }
}

/// What submits the jobs and receives their webhooks.
#[derive(Clone, Copy)]
enum Pipeline {
    Plain,
    TrackerSqlite(Durability),
    #[cfg(feature = "postgres")]
    TrackerPostgres,
}

impl Pipeline {
    /// One round of `jobs` jobs on a fresh emulator, receiver and store.
    async fn round(self, jobs: usize, tasks: usize) -> Result<Figures, String> {
        let emulator = emulator().start().await.map_err(|e| e.to_string())?;
        let client = client(&emulator);
        let file = upload(&client).await?;
        let tally = Tally::new(jobs);
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let url = webhook_url(&listener)?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        // Dropped (the database with it) once the round is over.
        #[cfg(feature = "postgres")]
        let mut _round_db = None;
        // The round's pool, to count its write transactions.
        #[cfg(feature = "postgres")]
        let mut pool = None;
        let (sender, receiver) = match self {
            Self::Plain => {
                let handler = plain_handler(client.clone(), Arc::clone(&tally));
                let service = WebhookService::new(verifier(), handler);
                let webhook = Webhook::new(url).auth(HEADER, Secret::new(SECRET));
                (Sender::Plain(client, webhook), serve(listener, service)?)
            }
            Self::TrackerSqlite(durability) => {
                let store = SqliteStore::builder(dir.path().join("tracker.db"))
                    .durability(durability)
                    .open()
                    .await
                    .map_err(|e| e.to_string())?;
                tracking(client, store.into(), url, &tally, listener).await?
            }
            #[cfg(feature = "postgres")]
            Self::TrackerPostgres => {
                let db = store_common::TestDb::create()
                    .await
                    .ok_or("no PostgreSQL server")?;
                let store = PostgresStore::builder(&db.url)
                    .pool_size(16)
                    .connect()
                    .await
                    .map_err(|e| e.to_string())?;
                _round_db = Some(db);
                pool = Some(store.pool().clone());
                tracking(client, store.into(), url, &tally, listener).await?
            }
        };

        #[cfg(feature = "postgres")]
        let first_xid = match &pool {
            Some(pool) => Some(transaction_id(pool).await?),
            None => None,
        };
        let (start, cpu_before) = (Instant::now(), CpuTimes::now());
        let submitted = submit_all(&sender, &file, jobs, tasks).await;
        let handled = match &submitted {
            Ok(_) => tokio::time::timeout(GIVE_UP_AFTER, async {
                tally.all.notified().await;
                sender.settled(jobs).await
            })
            .await
            .unwrap_or_else(|_| Err(tally.missing())),
            Err(_) => Ok(()),
        };
        let elapsed = start.elapsed().as_secs_f64();
        // Minus the first reading's own transaction.
        #[cfg(feature = "postgres")]
        let transactions = match (&pool, first_xid) {
            (Some(pool), Some(first)) => {
                Some((transaction_id(pool).await? - first - 1) as f64 / jobs as f64)
            }
            _ => None,
        };
        #[cfg(not(feature = "postgres"))]
        let transactions = None;
        let cpu = CpuTimes::now()
            .zip(cpu_before)
            .map(|(after, before)| after.since(before, elapsed));

        // Every delivery and handling still running finishes before the tally is checked, so
        // that a job handled twice late in the round counts.
        emulator.shutdown().await;
        receiver.shutdown().await.map_err(|e| e.to_string())?;
        sender.stop().await;
        let submitted = submitted?;
        handled?;
        tally.check(&submitted)?;
        Ok(Figures {
            per_second: jobs as f64 / elapsed,
            cpu: cpu.map(|(own, _)| 1e6 * own / jobs as f64),
            other: cpu.map(|(_, other)| other.max(0.0)),
            transactions,
        })
    }
}

/// The PostgreSQL server's next transaction id (this query takes one).
#[cfg(feature = "postgres")]
async fn transaction_id(pool: &soniox_store::deadpool_postgres::Pool) -> Result<i64, String> {
    let client = pool.get().await.map_err(|e| e.to_string())?;
    let row = client
        .query_one("SELECT txid_current()", &[])
        .await
        .map_err(|e| e.to_string())?;
    row.try_get(0).map_err(|e| e.to_string())
}

/// A tracker on `database` whose webhooks come to `listener`, with its reconciler running
/// every second as in a deployment.
async fn tracking(
    client: Client,
    database: Database,
    url: String,
    tally: &Arc<Tally>,
    listener: TcpListener,
) -> Result<(Sender, RunningReceiver), String> {
    let tracker = Tracker::builder(client, database)
        .webhook_url(url)
        .webhook_auth(HEADER, Secret::new(SECRET))
        .build(counting_handler(Arc::clone(tally)))
        .await
        .map_err(|e| e.to_string())?;
    let service = WebhookService::new(tracker.inbox(verifier()), tracker.webhook_handler());
    let receiver = serve(listener, service)?;
    let reconciler = tracker.spawn_reconciler(Duration::from_secs(1));
    Ok((Sender::Tracker(tracker, Some(reconciler)), receiver))
}

/// How one variant submits a job and knows it is done.
enum Sender {
    Plain(Client, Webhook),
    Tracker(Tracker, Option<soniox_tracker::Reconciler>),
}

impl Sender {
    /// Creates the job; its id.
    async fn submit(&self, request: CreateTranscription) -> Result<TranscriptionId, String> {
        match self {
            Self::Plain(client, webhook) => {
                let reference = format!("plain-{:016x}", fastrand::u64(..));
                let request = webhook
                    .apply(request.client_reference_id(reference))
                    .map_err(|e| e.to_string())?;
                let job = client.transcriptions().create(&request).await;
                Ok(job.map_err(|e| e.to_string())?.id)
            }
            Self::Tracker(tracker, _) => match tracker.submit(request).await {
                Ok(Submission::Created { id, .. }) => Ok(id),
                Ok(pending) => Err(format!("a create answer was lost: {pending:?}")),
                Err(error) => Err(error.to_string()),
            },
        }
    }

    /// Once the handler has seen every job: waits until the variant has recorded them all
    /// as done.
    async fn settled(&self, jobs: usize) -> Result<(), String> {
        let Self::Tracker(tracker, _) = self else {
            return Ok(());
        };
        loop {
            let metrics = tracker.metrics().await.map_err(|e| e.to_string())?;
            if metrics.handled >= jobs as u64 {
                // The round includes the ids `submit` records in the background.
                tracker.flush().await;
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    async fn stop(self) {
        if let Self::Tracker(_, Some(reconciler)) = self {
            reconciler.stop().await;
        }
    }
}

/// Submits `jobs` jobs on `file` from `tasks` tasks; their ids.
async fn submit_all(
    sender: &Sender,
    file: &FileId,
    jobs: usize,
    tasks: usize,
) -> Result<Vec<TranscriptionId>, String> {
    let tasks = (0..tasks).map(|task| async move {
        let mut ids = Vec::new();
        for _ in (task..jobs).step_by(tasks) {
            let request = CreateTranscription::new(MODEL).file_id(file.clone());
            ids.push(sender.submit(request).await?);
        }
        Ok::<_, String>(ids)
    });
    let ids = futures_util::future::try_join_all(tasks).await?;
    Ok(ids.into_iter().flatten().collect())
}

/// How many times a handler saw each job, and whether all have been seen.
struct Tally {
    calls: Mutex<HashMap<TranscriptionId, Calls>>,
    seen: AtomicUsize,
    expected: usize,
    /// Notified when the last expected job is first seen.
    all: Notify,
}

#[derive(Default)]
struct Calls {
    count: u32,
    completed: bool,
}

impl Tally {
    fn new(expected: usize) -> Arc<Self> {
        Arc::new(Self {
            calls: Mutex::default(),
            seen: AtomicUsize::new(0),
            expected,
            all: Notify::new(),
        })
    }

    fn note(&self, id: &TranscriptionId, completed: bool) {
        let first = {
            let mut calls = self.calls.lock().expect("the tally");
            let calls = calls.entry(id.clone()).or_default();
            calls.count += 1;
            calls.completed = completed;
            calls.count == 1
        };
        if first && self.seen.fetch_add(1, Ordering::SeqCst) + 1 == self.expected {
            self.all.notify_one();
        }
    }

    fn missing(&self) -> String {
        let seen = self.seen.load(Ordering::SeqCst);
        format!(
            "{} of {} jobs lost: not handled within {GIVE_UP_AFTER:?}",
            self.expected - seen.min(self.expected),
            self.expected
        )
    }

    /// Every job in `submitted` was handled exactly once and completed, and no other was.
    fn check(&self, submitted: &[TranscriptionId]) -> Result<(), String> {
        let calls = self.calls.lock().expect("the tally");
        let twice = calls.values().filter(|calls| calls.count > 1).count();
        let failed = calls.values().filter(|calls| !calls.completed).count();
        let lost = submitted
            .iter()
            .filter(|id| !calls.contains_key(*id))
            .count();
        let strangers = calls.len() + lost - submitted.len();
        match (twice, lost, strangers, failed) {
            (0, 0, 0, 0) => Ok(()),
            (0, 0, 0, failed) => Err(format!("{failed} jobs did not complete")),
            _ => Err(format!(
                "{twice} jobs handled more than once, {lost} lost, {strangers} handled but \
                 never submitted"
            )),
        }
    }
}

/// The tracker's job handler: counts the job, nothing else.
fn counting_handler(
    tally: Arc<Tally>,
) -> impl Fn(FinishedJob) -> std::future::Ready<Result<(), Infallible>> + Send + Sync + 'static {
    move |job: FinishedJob| {
        tally.note(&job.id, matches!(job.outcome, JobOutcome::Completed(_)));
        std::future::ready(Ok(()))
    }
}

/// The baseline's webhook handler: fetches the transcript, as the tracker does before calling
/// its job handler, then counts the job.
fn plain_handler(
    client: Client,
    tally: Arc<Tally>,
) -> impl soniox_webhook::Handler<Error = String> {
    move |event: ReceivedEvent| {
        let (client, tally) = (client.clone(), Arc::clone(&tally));
        async move {
            let completed = *event.status() == WebhookStatus::Completed;
            if completed {
                let transcript = client.transcriptions().transcript(event.id()).await;
                transcript.map_err(|e| e.to_string())?;
            }
            tally.note(event.id(), completed);
            Ok(())
        }
    }
}

fn emulator() -> EmulatorBuilder {
    Emulator::builder()
        .api_key(API_KEY)
        .job_clock(JobClock::Fixed(Duration::ZERO))
        .quotas(Quotas::unlimited())
        // A failed delivery is retried soon, so a round survives it rather than waiting
        // minutes for the default schedule.
        .webhook_retry_schedule([0, 1, 2, 5].map(Duration::from_secs))
}

fn client(emulator: &Emulator) -> Client {
    Client::builder()
        .api_key(API_KEY)
        .base_url(emulator.base_url())
        .build()
        .expect("a client")
}

fn verifier() -> Verifier {
    Verifier::new(HEADER, Secret::new(SECRET)).expect("a verifier")
}

/// One short file every job of a round transcribes.
async fn upload(client: &Client) -> Result<FileId, String> {
    let audio = soniox_emulator::wav(Duration::from_millis(300));
    let file = client.files().upload(Upload::bytes(audio, "a.wav")).await;
    Ok(file.map_err(|e| e.to_string())?.id)
}

fn webhook_url(listener: &TcpListener) -> Result<String, String> {
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    Ok(format!("http://{addr}/hooks/soniox"))
}

fn serve<H: soniox_webhook::Handler>(
    listener: TcpListener,
    service: WebhookService<H>,
) -> Result<RunningReceiver, String> {
    Receiver::from_listener(listener, service)
        .spawn()
        .map_err(|e| e.to_string())
}

/// Submits `jobs` jobs whose webhooks are withheld, runs reconciler passes until all are
/// handled, and prints the requests they made.
async fn reconciler_cost(jobs: usize) -> Result<(), String> {
    let emulator = emulator()
        .webhook_fault(WebhookFaultRule::new(WebhookFault::Withhold))
        .start()
        .await
        .map_err(|e| e.to_string())?;
    let client = client(&emulator);
    let file = upload(&client).await?;
    let tally = Tally::new(jobs);
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let store = SqliteStore::open(dir.path().join("tracker.db"))
        .await
        .map_err(|e| e.to_string())?;
    let mut policy = Policy::default();
    // Overdue as soon as submitted.
    policy.webhook_grace = Duration::ZERO;
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let tracker = Tracker::builder(client, Arc::new(store))
        .webhook_url(webhook_url(&listener)?)
        .webhook_auth(HEADER, Secret::new(SECRET))
        .policy(policy)
        .build(counting_handler(Arc::clone(&tally)))
        .await
        .map_err(|e| e.to_string())?;
    let sender = Sender::Tracker(tracker.clone(), None);
    let submitted = submit_all(&sender, &file, jobs, TASKS).await?;
    // Every job's id recorded, so that the passes poll them by id.
    tracker.flush().await;
    // Every job finished and its webhook withheld before the first pass.
    tokio::time::timeout(GIVE_UP_AFTER, async {
        while withheld(&emulator) < jobs {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .map_err(|_| format!("{} of {jobs} webhooks withheld", withheld(&emulator)))?;

    let before = emulator.request_counts();
    let start = Instant::now();
    let mut passes = Vec::new();
    let reconciling = async {
        loop {
            let started = Instant::now();
            let pass = tracker.reconcile().await.map_err(|e| e.to_string())?;
            passes.push((pass, started.elapsed()));
            let metrics = tracker.metrics().await.map_err(|e| e.to_string())?;
            let open = metrics.submitting + metrics.awaiting + metrics.unhandled;
            if metrics.handled >= jobs as u64 && open == 0 {
                return Ok::<_, String>(metrics);
            }
            if pass.due == 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };
    let metrics = tokio::time::timeout(GIVE_UP_AFTER, reconciling)
        .await
        .unwrap_or_else(|_| Err(tally.missing()))?;
    let elapsed = start.elapsed();
    let requests = since(&before, &emulator.request_counts());
    emulator.shutdown().await;
    drop(listener);
    tally.check(&submitted)?;

    println!(
        "reconciler: {jobs} overdue jobs (webhooks withheld) handled in {} passes, {:.2} s \
         ({:.0} jobs/s); {} recovered by polling",
        passes.len(),
        elapsed.as_secs_f64(),
        jobs as f64 / elapsed.as_secs_f64(),
        metrics.recovered_by_polling
    );
    for (index, (pass, took)) in passes.iter().enumerate() {
        let Pass {
            due,
            pages,
            gets,
            handled,
            ..
        } = *pass;
        println!(
            "  pass {}: due {due}, pages {pages}, gets {gets}, handled {handled}, {:.2} s",
            index + 1,
            took.as_secs_f64()
        );
    }
    let per_thousand = |count: u64| count as f64 * 1000.0 / jobs as f64;
    println!("  API requests per 1,000 overdue jobs:");
    for (route, count) in &requests {
        println!("    {route:<44} {:>8.1}", per_thousand(*count));
    }
    let count = |route: &str| {
        requests
            .iter()
            .find_map(|(listed, count)| (listed == route).then_some(*count))
            .unwrap_or(0)
    };
    let polls = count("GET /v1/transcriptions") + count("GET /v1/transcriptions/{id}");
    let pages_needed = jobs.div_ceil(PAGE_SIZE);
    let verdict = if polls as f64 <= TARGET_LIST_FACTOR * pages_needed as f64 {
        "met"
    } else {
        "MISSED"
    };
    println!(
        "  polling requests (list pages and single GETs): {polls} for {pages_needed} page(s) \
         of {PAGE_SIZE} ({:.2}×; target ≤ {TARGET_LIST_FACTOR}×: {verdict})",
        polls as f64 / pages_needed as f64
    );
    bench_report::Figure::new(
        format!("reconciler: polling requests per page of {jobs} overdue jobs"),
        polls as f64 / pages_needed as f64,
        "",
    )
    .at_most(TARGET_LIST_FACTOR)
    .report();
    Ok(())
}

/// How many webhooks the emulator has withheld.
fn withheld(emulator: &Emulator) -> usize {
    emulator
        .webhook_attempts()
        .iter()
        .filter(|attempt| attempt.outcome == DeliveryOutcome::Withheld)
        .count()
}

/// The requests `after` counts beyond `before`, by route.
fn since(before: &RequestCounts, after: &RequestCounts) -> Vec<(String, u64)> {
    after
        .iter()
        .filter_map(|(route, count)| {
            let (method, path) = route.split_once(' ')?;
            let added = count - before.get(method, path);
            (added > 0).then(|| (route.to_owned(), added))
        })
        .collect()
}
