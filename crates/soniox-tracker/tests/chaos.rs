//! The tracker through chaos, in real child processes over real sockets: the emulator fails
//! 20% of GETs with 503 and 10% with 429, loses the answer to every seventh create, withholds
//! 10% of webhooks, duplicates 10% and delays 10% past the handler deadline; the handler
//! fails the first call of 10% of jobs (the receiver answers 500) and runs past its deadline
//! on the first call of another 10% (503).
//!
//! - SQLite, one process: killed with SIGKILL midway through submitting, its receiver down
//!   until the emulator has seen deliveries fail against it, then started again on the same
//!   file, where it submits the rest.
//! - PostgreSQL, three replicas behind a round-robin balancer, each submitting its share;
//!   one is killed with SIGKILL midway and never comes back.
//!
//! What must hold, counted through the emulator's own records: every job recorded is created
//! exactly once (one `POST /v1/transcriptions` per job: no duplicate create), none is lost,
//! and every job's effect is committed exactly once.

mod common;

use std::{
    collections::{HashMap, HashSet},
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use common::TestDatabase;
use futures_util::{StreamExt as _, TryStreamExt as _};
use soniox_client::{Client, Upload};
use soniox_emulator::{
    DeliveryOutcome, Emulator, FaultAction, FaultRule, JobClock, Quotas, WebhookFault,
    WebhookFaultRule,
};
use soniox_tracker::{FinishedJob, Tracker, reconcile::Policy};
use soniox_types::{CreateTranscription, ListParams, Secret};
use soniox_webhook::{Receiver, Verifier, WebhookService};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, ChildStdout, Command},
};

const API_KEY: &str = "chaos-key";
const HEADER: &str = "X-Soniox-Webhook-Secret";
const SECRET: &str = "chaos-secret-3f9a";
const JOBS: usize = 1000;
const HANDLER_DEADLINE: Duration = Duration::from_secs(1);
/// How long a claim outlives its handler's deadline. Past it, another delivery may handle the
/// event a second time, so it must exceed the slowest claim-to-complete round trip: three
/// processes, the database and the emulator share two cores, and a SQLite batch's commit
/// with its fsync has taken over a second here.
const LEASE_MARGIN_MS: u64 = 4000;
/// Bounds a failing run; a passing one takes a fraction of it.
const GIVE_UP_AFTER: Duration = Duration::from_secs(150);

/// The child's settings, `|`-separated: emulator URL, database locator, webhook port, webhook
/// URL, jobs to submit, lease margin in milliseconds.
const CHILD: &str = "SONIOX_TRACKER_CHAOS_CHILD";

/// Which tenth of the jobs `id` belongs to: 0 fails its first call, 1 overruns it.
fn tenth(id: &str) -> u32 {
    id.bytes().fold(0_u32, |hash, byte| {
        hash.wrapping_mul(31).wrapping_add(u32::from(byte))
    }) % 10
}

/// Not a test of its own: a tracker process of the tests below, which kill it. Without its
/// variable (a plain `cargo test`) it returns at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::print_stdout)]
async fn child_tracker_process() {
    let Ok(settings) = std::env::var(CHILD) else {
        return;
    };
    let [base_url, locator, port, webhook_url, jobs, margin]: [&str; 6] = settings
        .split('|')
        .collect::<Vec<_>>()
        .try_into()
        .expect("six settings");
    let database = common::open(locator).await;
    let client = Client::builder()
        .api_key(API_KEY)
        .base_url(base_url)
        .build()
        .expect("a client");
    let mut policy = Policy::default();
    // Long enough for an abandoned create (given up after half of it) to land at the
    // emulator before the reconciler lists: three processes, PostgreSQL and the emulator
    // share two cores, and a create queued behind them has landed a second late: three
    // seconds leaves room for a worse stall.
    policy.create_grace = Duration::from_secs(6);
    policy.webhook_grace = Duration::from_millis(500);
    policy.max_poll_interval = Duration::from_millis(1000);
    policy.retry_interval = Duration::from_millis(500);
    let tried = Arc::new(Mutex::new(HashSet::new()));
    let effects_in = database.clone();
    let handler = move |job: FinishedJob| {
        let id = job.id.as_str().to_owned();
        let first = tried.lock().expect("tried").insert(id.clone());
        let effect = common::record_effect(&effects_in, id.clone());
        async move {
            match tenth(&id) {
                0 if first => return Err("a flaky dependency"),
                1 if first => tokio::time::sleep(HANDLER_DEADLINE * 2).await,
                _ => {}
            }
            Ok(effect)
        }
    };
    let margin = Duration::from_millis(margin.parse().expect("a margin"));
    let tracker = Tracker::builder(client.clone(), database)
        .webhook_url(webhook_url)
        .webhook_auth(HEADER, Secret::new(SECRET))
        .policy(policy)
        // Claims a killed process held come back after seconds, not 40.
        .handler_deadline(HANDLER_DEADLINE)
        .lease_margin(margin)
        .build_with_effects(handler)
        .await
        .expect("a tracker");
    let verifier = Verifier::new(HEADER, Secret::new(SECRET)).expect("a verifier");
    let service = WebhookService::new(tracker.inbox(verifier), tracker.webhook_handler());
    let receiver = Receiver::bind(format!("127.0.0.1:{port}"), service)
        .await
        .expect("the webhook port")
        .spawn()
        .expect("a receiver");
    let _reconciler = tracker.spawn_reconciler(Duration::from_millis(100));
    println!("ready");
    let audio = soniox_emulator::wav(Duration::from_millis(200));
    let file = client
        .files()
        .upload(Upload::bytes(audio, "a.wav"))
        .await
        .expect("upload");
    let jobs: usize = jobs.parse().expect("a count");
    let mut submitted = futures_util::stream::iter(0..jobs)
        .map(|_| {
            let request = CreateTranscription::new("stt-async-v5").file_id(file.id.clone());
            tracker.submit(request)
        })
        .buffer_unordered(8);
    let mut count = 0;
    while let Some(submission) = submitted.next().await {
        submission.expect("submit");
        count += 1;
        println!("submitted {count}");
    }
    // Runs until killed.
    std::future::pending::<()>().await;
    drop(receiver);
}

/// A tracker process, with its output.
struct Process {
    child: Child,
    lines: tokio::io::Lines<BufReader<ChildStdout>>,
    /// Jobs it said it submitted.
    submitted: usize,
}

impl Process {
    async fn spawn(settings: String) -> Self {
        let mut child = Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "child_tracker_process",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, settings)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the tracker process starts");
        let lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        let mut process = Self {
            child,
            lines,
            submitted: 0,
        };
        process.wait_for(|line| line.contains("ready")).await;
        process
    }

    /// Reads the output until a line for which `done` holds, counting submissions.
    async fn wait_for(&mut self, done: impl Fn(&str) -> bool) {
        while let Some(line) = self.lines.next_line().await.expect("child stdout") {
            if line.contains("submitted ") {
                self.submitted += 1;
            }
            if done(&line) {
                return;
            }
        }
        panic!("the tracker process ended early");
    }

    /// Waits until it has submitted `n` jobs.
    async fn wait_for_submitted(&mut self, n: usize) {
        if self.submitted < n {
            let wanted = format!("submitted {n}");
            self.wait_for(|line| line.ends_with(&wanted)).await;
        }
    }

    async fn kill(mut self) -> usize {
        self.child.start_kill().expect("SIGKILL");
        self.child.wait().await.expect("the process exits");
        self.submitted
    }
}

fn emulator() -> soniox_emulator::EmulatorBuilder {
    Emulator::builder()
        .api_key(API_KEY)
        .job_clock(JobClock::Manual)
        .quotas(Quotas::unlimited())
        .fault(
            FaultRule::new(FaultAction::Error { status: 503 })
                .method("GET")
                .probability(0.2),
        )
        .fault(
            FaultRule::new(FaultAction::RateLimited {
                retry_after_seconds: 0,
            })
            .method("GET")
            .probability(0.1),
        )
        .fault(
            FaultRule::new(FaultAction::DropResponse)
                .method("POST")
                .path_prefix("/v1/transcriptions")
                .every_nth(7),
        )
        .webhook_fault(WebhookFaultRule::new(WebhookFault::Withhold).probability(0.1))
        .webhook_fault(WebhookFaultRule::new(WebhookFault::Duplicate).probability(0.1))
        .webhook_fault(
            WebhookFaultRule::new(WebhookFault::Delay {
                millis: u64::try_from(HANDLER_DEADLINE.as_millis() * 3 / 2).unwrap_or(u64::MAX),
            })
            .probability(0.1),
        )
        .webhook_concurrency(64)
        .webhook_retry_schedule([0, 200, 400, 800, 1600].map(Duration::from_millis))
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("addr").port()
}

/// Moves the emulator's jobs on until `until` is done.
async fn finishing<T>(emulator: &Emulator, until: impl Future<Output = T>) -> T {
    let finishing = async {
        loop {
            emulator.finish_jobs().await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    // A backstop for the waits with no bound of their own, past the bound of those that
    // have one (and say what was left when it passed).
    let until = tokio::time::timeout(2 * GIVE_UP_AFTER, until);
    tokio::select! {
        done = until => done.expect("what the test waits for happens in time"),
        () = finishing => unreachable!("finishing never ends"),
    }
}

/// Waits (finishing jobs) until every recorded job is done, then checks what must hold.
async fn assert_every_job_once(emulator: &Emulator, database: &TestDatabase, at_least: usize) {
    let locator = database.locator();
    let settled = finishing(emulator, async {
        loop {
            let progress = common::progress(&locator).await;
            if progress.open == 0 && progress.references.len() >= at_least {
                return progress;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let Ok(progress) = tokio::time::timeout(GIVE_UP_AFTER, settled).await else {
        let progress = common::progress(&locator).await;
        panic!(
            "{} of {} jobs left unhandled",
            progress.open,
            progress.references.len()
        );
    };
    assert_eq!(progress.lost, 0, "jobs lost");

    emulator.clear_faults();
    let client = Client::builder()
        .api_key(API_KEY)
        .base_url(emulator.base_url())
        .build()
        .expect("a client");
    let jobs: Vec<_> = client
        .transcriptions()
        .list(ListParams::new())
        .try_collect()
        .await
        .expect("list");
    let mut created: HashMap<String, Vec<String>> = HashMap::new();
    for job in jobs {
        created
            .entry(job.client_reference_id.unwrap_or_default())
            .or_default()
            .push(job.id.as_str().to_owned());
    }
    let mut recorded = progress.references.clone();
    recorded.sort();
    let mut in_api: Vec<_> = created.keys().cloned().collect();
    in_api.sort();
    assert_eq!(recorded, in_api);
    let twice: Vec<_> = created.iter().filter(|(_, ids)| ids.len() > 1).collect();
    assert!(twice.is_empty(), "created more than once: {twice:?}");
    // One create per recorded job: no job was created twice, none created unrecorded.
    let creates = emulator.request_counts().get("POST", "/v1/transcriptions");
    assert_eq!(
        creates,
        u64::try_from(progress.references.len()).expect("a count"),
        "POST /v1/transcriptions"
    );
    // Every job's effect, exactly once.
    for ids in created.values() {
        assert_eq!(progress.effects.get(&ids[0]), Some(&1), "{ids:?}");
    }
    assert_eq!(progress.effects.len(), created.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_process_killed_and_restarted_loses_nothing_and_doubles_nothing() {
    let emulator = emulator().start().await.expect("emulator");
    let database = TestDatabase::sqlite();
    drop(database.open().await);
    let port = free_port();
    let settings = |jobs: usize| {
        format!(
            "{}|{}|{port}|http://127.0.0.1:{port}/hooks/soniox|{jobs}|{LEASE_MARGIN_MS}",
            emulator.base_url(),
            database.locator()
        )
    };

    let mut first = Process::spawn(settings(JOBS)).await;
    finishing(&emulator, first.wait_for_submitted(JOBS * 2 / 5)).await;
    let submitted = first.kill().await;

    // The receiver is down until deliveries have failed against it.
    let refused = |emulator: &Emulator| {
        emulator
            .webhook_attempts()
            .iter()
            .filter(|attempt| matches!(attempt.outcome, DeliveryOutcome::Failed { .. }))
            .count()
    };
    let before = refused(&emulator);
    finishing(&emulator, async {
        while refused(&emulator) < before + 10 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;

    let mut second = Process::spawn(settings(JOBS - submitted)).await;
    finishing(&emulator, second.wait_for_submitted(JOBS - submitted)).await;
    assert_every_job_once(&emulator, &database, JOBS).await;
    second.kill().await;
    emulator.shutdown().await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_three_replicas_one_killed_lose_nothing_and_double_nothing() {
    const REPLICAS: usize = 3;
    let Some(database) = TestDatabase::postgres().await else {
        return;
    };
    drop(database.open().await);
    let emulator = emulator().start().await.expect("emulator");
    let ports: Vec<u16> = (0..REPLICAS).map(|_| free_port()).collect();
    let backends: Vec<std::net::SocketAddr> = ports
        .iter()
        .map(|port| std::net::SocketAddr::from(([127, 0, 0, 1], *port)))
        .collect();
    let balancer = common::balancer(backends).await;
    let share = JOBS / REPLICAS;
    let mut replicas = Vec::new();
    for port in &ports {
        replicas.push(
            Process::spawn(format!(
                "{}|{}|{port}|http://{balancer}/hooks/soniox|{share}|{LEASE_MARGIN_MS}",
                emulator.base_url(),
                database.locator()
            ))
            .await,
        );
    }
    let mut victim = replicas.remove(0);
    finishing(&emulator, victim.wait_for_submitted(share / 2)).await;
    victim.kill().await;

    for replica in &mut replicas {
        finishing(&emulator, replica.wait_for_submitted(share)).await;
    }
    let everyone = share * 2 + share / 2;
    assert_every_job_once(&emulator, &database, everyone).await;
    for replica in replicas {
        replica.kill().await;
    }
    emulator.shutdown().await;
}
