//! A tracker process killed with SIGKILL in the middle of submitting and handling jobs, then
//! started again on the same SQLite file, against an emulator that fails requests, loses
//! create answers, and withholds, duplicates and delays webhooks.
//!
//! What must hold: every job the tracker recorded is created exactly once and its effect is
//! committed exactly once; the API holds no job the tracker did not record.

mod common;

use std::{collections::HashMap, path::Path, process::Stdio, sync::Arc, time::Duration};

use futures_util::TryStreamExt as _;
use soniox_client::{Client, Upload};
use soniox_emulator::{
    Emulator, FaultAction, FaultRule, JobClock, Quotas, WebhookFault, WebhookFaultRule,
};
use soniox_store::{SqliteStore, rusqlite};
use soniox_tracker::{FinishedJob, Tracker, reconcile::Policy};
use soniox_types::{CreateTranscription, ListParams, Secret};
use soniox_webhook::{Receiver, Verifier, WebhookService};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

const API_KEY: &str = "restart-key";
const HEADER: &str = "X-Soniox-Webhook-Secret";
const SECRET: &str = "restart-secret-3f9a";
const JOBS: usize = 200;
/// The first process is killed once it has submitted this many.
const KILL_AFTER: usize = 80;
const GIVE_UP_AFTER: Duration = Duration::from_secs(90);

/// The child's settings: emulator URL, database path, webhook port, jobs to submit.
const CHILD: &str = "SONIOX_TRACKER_RESTART_CHILD";

/// Not a test of its own: the tracker process the test below kills and restarts. Without its
/// variable (a plain `cargo test`) it returns at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::print_stdout)]
async fn child_tracker_process() {
    let Ok(settings) = std::env::var(CHILD) else {
        return;
    };
    let [base_url, db, port, jobs]: [&str; 4] = settings
        .split('|')
        .collect::<Vec<_>>()
        .try_into()
        .expect("four settings");
    let store = Arc::new(SqliteStore::open(db).await.expect("open"));
    let client = Client::builder()
        .api_key(API_KEY)
        .base_url(base_url)
        .build()
        .expect("a client");
    let mut policy = Policy::default();
    policy.create_grace = Duration::from_millis(300);
    policy.webhook_grace = Duration::from_millis(300);
    policy.max_poll_interval = Duration::from_millis(600);
    policy.retry_interval = Duration::from_millis(300);
    let handler = |job: FinishedJob| async move {
        // A flaky dependency on the first try of about one job in ten.
        if fastrand::u8(0..10) == 0 {
            return Err("a flaky dependency");
        }
        let id = job.id.as_str().to_owned();
        Ok(common::record_effect(id))
    };
    let tracker = Tracker::builder(client.clone(), store)
        .webhook_url(format!("http://127.0.0.1:{port}/hooks/soniox"))
        .webhook_auth(HEADER, Secret::new(SECRET))
        .policy(policy)
        // Claims the killed process held come back after 2 s, not 40.
        .handler_deadline(Duration::from_secs(1))
        .lease_margin(Duration::from_secs(1))
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
    let _reconciler = tracker.spawn_reconciler(Duration::from_millis(50));
    println!("ready");
    let jobs: usize = jobs.parse().expect("a count");
    if jobs > 0 {
        let audio = soniox_emulator::wav(Duration::from_millis(200));
        let file = client
            .files()
            .upload(Upload::bytes(audio, "a.wav"))
            .await
            .expect("upload");
        for n in 1..=jobs {
            let request = CreateTranscription::builder("stt-async-v5").file_id(file.id.clone());
            tracker.submit(request).await.expect("submit");
            println!("submitted {n}");
        }
    }
    // Runs until killed.
    std::future::pending::<()>().await;
    drop(receiver);
}

async fn spawn_child(
    settings: String,
) -> (
    Child,
    tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
) {
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
    (child, lines)
}

/// Reads the child's output until a line containing `text`.
async fn wait_for(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    text: &str,
) {
    while let Some(line) = lines.next_line().await.expect("child stdout") {
        if line.contains(text) {
            return;
        }
    }
    panic!("the tracker process ended before printing {text:?}");
}

/// (recorded jobs not yet done, effects per job) as the database holds them now.
fn progress(db: &Path) -> (usize, HashMap<String, usize>, Vec<String>) {
    let connection = rusqlite::Connection::open(db).expect("open the database");
    let open: i64 = connection
        .query_row(
            "SELECT COUNT(*) FROM soniox_jobs WHERE stage <> 'done'",
            [],
            |row| row.get(0),
        )
        .expect("count");
    let mut effects = HashMap::new();
    let mut select = connection
        .prepare(
            "SELECT transcription_id, COUNT(*) FROM soniox_test_effects GROUP BY transcription_id",
        )
        .expect("prepare");
    let rows = select
        .query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
        })
        .expect("query");
    for row in rows {
        let (id, count) = row.expect("a row");
        effects.insert(id, usize::try_from(count).unwrap_or(0));
    }
    let mut references = connection
        .prepare("SELECT reference FROM soniox_jobs")
        .expect("prepare");
    let references = references
        .query_map([], |row| row.get::<_, String>(0))
        .expect("query")
        .collect::<Result<Vec<_>, _>>()
        .expect("references");
    (
        usize::try_from(open).unwrap_or(usize::MAX),
        effects,
        references,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tracker_killed_and_restarted_loses_nothing_and_doubles_nothing() {
    let emulator = Emulator::builder()
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
        .webhook_fault(WebhookFaultRule::new(WebhookFault::Delay { millis: 50 }).probability(0.1))
        .webhook_retry_schedule([0, 100, 200, 400].map(Duration::from_millis))
        .start()
        .await
        .expect("emulator");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = dir.path().join("tracker.db");
    // The effects table, before either process opens the database.
    let store = SqliteStore::open(&db).await.expect("open");
    common::create_effects_table(&store)
        .await
        .expect("the effects table");
    store.close().await;
    drop(store);
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        listener.local_addr().expect("addr").port()
    };
    let settings = |jobs: usize| format!("{}|{}|{port}|{jobs}", emulator.base_url(), db.display());

    // The first process submits, while jobs finish and webhooks flow; it is killed midway.
    let (mut first, mut lines) = spawn_child(settings(JOBS)).await;
    wait_for(&mut lines, "ready").await;
    let finishing = async {
        loop {
            emulator.finish_jobs().await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let kill_at = format!("submitted {KILL_AFTER}");
    tokio::select! {
        () = wait_for(&mut lines, &kill_at) => {}
        () = finishing => {}
    }
    first.start_kill().expect("SIGKILL");
    first.wait().await.expect("the first process exits");

    // The second process only receives and reconciles.
    let (_second, mut lines) = spawn_child(settings(0)).await;
    wait_for(&mut lines, "ready").await;
    let settled = async {
        loop {
            emulator.finish_jobs().await;
            let (open, _, references) = progress(&db);
            if open == 0 && !references.is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(GIVE_UP_AFTER, settled)
        .await
        .unwrap_or_else(|_| panic!("jobs left unhandled: {:?}", progress(&db).0));

    let (_, effects, references) = progress(&db);
    assert!(
        references.len() >= KILL_AFTER,
        "{} recorded",
        references.len()
    );
    let client = Client::builder()
        .api_key(API_KEY)
        .base_url(emulator.base_url())
        .build()
        .expect("a client");
    emulator.clear_faults();
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
    // Every recorded job exists exactly once; nothing exists that was not recorded.
    let mut recorded = references.clone();
    recorded.sort();
    let mut in_api: Vec<_> = created.keys().cloned().collect();
    in_api.sort();
    assert_eq!(recorded, in_api);
    assert!(
        created.values().all(|ids| ids.len() == 1),
        "a duplicate create: {created:?}"
    );
    // Every job's effect, exactly once.
    assert_eq!(effects.len(), references.len(), "{effects:?}");
    assert!(effects.values().all(|count| *count == 1), "{effects:?}");
    for ids in created.values() {
        assert_eq!(effects.get(&ids[0]), Some(&1), "{ids:?}");
    }
    emulator.shutdown().await;
}
