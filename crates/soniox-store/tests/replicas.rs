//! Several receiver replicas — separate processes, each with its own pool — behind a
//! round-robin balancer, sharing one PostgreSQL database. The emulator delivers 500 events
//! twice each (its duplicate fault, some delayed), handlers fail now and then, one replica is
//! killed with SIGKILL mid-run, and every event is then replayed twice more.
//!
//! What must hold: no event is lost; apart from the crash window of the killed replica (its
//! handler's effect written, its completion not yet), every event's handler succeeded exactly
//! once; every delivery ended in a 2xx; every replay is answered as a duplicate.

#![cfg(feature = "postgres")]

mod common;

use std::{
    collections::{BTreeMap, BTreeSet},
    io::Write as _,
    net::SocketAddr,
    process::Stdio,
    sync::Arc,
    time::Duration,
};

use common::{
    TestDb, balancer,
    http::{HEADER, SECRET, deliver, verifier},
};
use soniox_client::{Client, Upload, Webhook};
use soniox_emulator::{Emulator, JobClock, Quotas, WebhookFault, WebhookFaultRule};
use soniox_store::PostgresStore;
use soniox_types::{CreateTranscription, Secret};
use soniox_webhook::{Inbox, ReceivedEvent, Receiver, WebhookService};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

const EVENTS: usize = 500;
const REPLICAS: usize = 3;
/// The replica that is killed.
const VICTIM: i32 = 0;
/// Set in a replica process's environment: the database URL and the replica's number.
const DB_VARIABLE: &str = "SONIOX_REPLICA_DB";
const INDEX_VARIABLE: &str = "SONIOX_REPLICA_INDEX";
/// The emulator's wait before each attempt, in milliseconds. Both copies of an event are
/// retried in step and race each other, so a round gives the event one run of its handler,
/// which fails one time in ten; and a round before the killed replica's lease (5 s) runs out
/// gives it none. Hence a retry every 800 ms for 10.4 s after the first few: an event the
/// victim held gets six rounds or more once its lease is gone. (9 attempts over 12.75 s and a
/// 3 s lease left it one to three, and one delivery in a few runs ran out of attempts.)
const RETRY_SCHEDULE_MS: [u64; 20] = [
    0, 50, 100, 200, 400, 800, 1600, 800, 800, 800, 800, 800, 800, 800, 800, 800, 800, 800, 800,
    800,
];
const EFFECTS_TABLE: &str =
    "CREATE TABLE replica_effects (transcription_id TEXT NOT NULL, replica INT NOT NULL)";

/// Not a test of its own: one replica process of the test below. Without its variables (a
/// plain `cargo test`) it returns at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::print_stdout)]
async fn child_replica_process() {
    let (Ok(url), Ok(index)) = (std::env::var(DB_VARIABLE), std::env::var(INDEX_VARIABLE)) else {
        return;
    };
    let replica: i32 = index.parse().expect("a replica number");
    let store = PostgresStore::builder(&url).pool_size(16).connect().await;
    let store = Arc::new(store.expect("connect"));
    let pool = store.pool().clone();
    let handler = move |event: ReceivedEvent| {
        let pool = pool.clone();
        async move {
            // A little work, so that duplicates on other replicas overlap with it.
            tokio::time::sleep(Duration::from_millis(fastrand::u64(0..15))).await;
            if fastrand::u8(0..10) == 0 {
                return Err("a flaky dependency".to_owned());
            }
            // The handler's effect, in the application's own table.
            let client = pool.get().await.map_err(|error| error.to_string())?;
            client
                .execute(
                    "INSERT INTO replica_effects (transcription_id, replica) VALUES ($1, $2)",
                    &[&event.id().as_str(), &replica],
                )
                .await
                .map_err(|error| error.to_string())?;
            Ok(())
        }
    };
    // A lease of 5 s instead of 40, so that the killed replica's claims come back within the
    // emulator's retry schedule. The deadline must exceed the handler's slowest run (a wait
    // for a pooled connection, an insert) and the margin the slowest claim-to-complete round
    // trip under this load (about 1 s at worst here): a handler cancelled after its insert,
    // or a lease that runs out before its completion is recorded, lets another replica handle
    // the event a second time.
    let inbox = Inbox::new(verifier())
        .shared_store(store)
        .handler_deadline(Duration::from_secs(3))
        .lease_margin(Duration::from_secs(2));
    let receiver = Receiver::bind("127.0.0.1:0", WebhookService::new(inbox, handler))
        .await
        .expect("bind");
    println!("listening {}", receiver.local_addr().expect("addr"));
    // Runs until the parent kills the process.
    receiver
        .run_until(std::future::pending())
        .await
        .expect("receiver");
}

async fn spawn_replica(url: &str, index: usize) -> (Child, SocketAddr) {
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "child_replica_process",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(DB_VARIABLE, url)
        .env(INDEX_VARIABLE, index.to_string())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("a replica starts");
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    loop {
        let line = lines
            .next_line()
            .await
            .expect("replica stdout")
            .expect("the replica prints its address");
        // libtest prints "test child_replica_process ... " before the first line.
        if let Some((_, addr)) = line.split_once("listening ") {
            return (child, addr.trim().parse().expect("an address"));
        }
    }
}

/// Each handled event's effects: the replicas that wrote one, in no particular order.
async fn effects(db: &TestDb) -> BTreeMap<String, Vec<i32>> {
    use soniox_store::deadpool_postgres::tokio_postgres;
    let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    let connection = tokio::spawn(connection);
    let rows = client
        .query("SELECT transcription_id, replica FROM replica_effects", &[])
        .await
        .expect("query");
    drop(client);
    let _ = connection.await;
    let mut effects = BTreeMap::<String, Vec<i32>>::new();
    for row in rows {
        effects.entry(row.get(0)).or_default().push(row.get(1));
    }
    effects
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_the_database_and_survive_one_being_killed() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    db.execute(EFFECTS_TABLE).await;
    let mut replicas = Vec::new();
    for index in 0..REPLICAS {
        replicas.push(spawn_replica(&db.url, index).await);
    }
    let balancer = balancer(replicas.iter().map(|(_, addr)| *addr).collect()).await;

    let emulator = Emulator::builder()
        .api_key("replicas-key")
        .job_clock(JobClock::Manual)
        .quotas(Quotas::unlimited())
        .webhook_fault(WebhookFaultRule::new(WebhookFault::Duplicate))
        .webhook_fault(WebhookFaultRule::new(WebhookFault::Delay { millis: 40 }).every_nth(3))
        .webhook_concurrency(64)
        .webhook_attempt_timeout(Duration::from_secs(5))
        .webhook_retry_schedule(RETRY_SCHEDULE_MS.map(Duration::from_millis))
        .start()
        .await
        .expect("the emulator starts");
    let client = Client::builder()
        .api_key("replicas-key")
        .base_url(emulator.base_url())
        .build()
        .expect("a client");
    let audio = soniox_emulator::wav(Duration::from_millis(200));
    let file = client
        .files()
        .upload(Upload::bytes(audio, "a.wav"))
        .await
        .expect("upload");
    let webhook =
        Webhook::new(format!("http://{balancer}/hooks/soniox")).auth(HEADER, Secret::new(SECRET));
    let mut ids = BTreeSet::new();
    for _ in 0..EVENTS {
        let request = webhook
            .apply(CreateTranscription::new("stt-async-v5").file_id(file.id.clone()))
            .expect("a webhook");
        let job = client
            .transcriptions()
            .create(&request)
            .await
            .expect("create");
        ids.insert(job.id.as_str().to_owned());
    }
    emulator.finish_jobs().await;

    // Kill a replica once a fifth of the events have been handled.
    let give_up = tokio::time::Instant::now() + Duration::from_secs(60);
    while effects(&db).await.len() < EVENTS / 5 {
        assert!(
            tokio::time::Instant::now() < give_up,
            "the replicas stalled"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let victim = &mut replicas[usize::try_from(VICTIM).expect("index")].0;
    victim.start_kill().expect("SIGKILL");
    victim.wait().await.expect("the victim exits");

    // Every delivery (two per event) ends in a 2xx, the killed replica's included.
    let delivered = |attempts: &[soniox_emulator::WebhookAttempt]| {
        attempts
            .iter()
            .filter(|attempt| attempt.succeeded())
            .map(|attempt| {
                (
                    attempt.transcription_id.as_str().to_owned(),
                    attempt.delivery,
                )
            })
            .collect::<BTreeSet<_>>()
            .len()
    };
    let attempts = loop {
        let attempts = emulator.webhook_attempts();
        if delivered(&attempts) == 2 * EVENTS {
            break attempts;
        }
        let last = u32::try_from(RETRY_SCHEDULE_MS.len()).expect("a short schedule");
        if let Some(exhausted) = attempts
            .iter()
            .find(|attempt| attempt.attempt == last && !attempt.succeeded())
        {
            let id = &exhausted.transcription_id;
            let history: Vec<_> = attempts
                .iter()
                .filter(|attempt| attempt.transcription_id == *id)
                .map(|a| (a.delivery, a.attempt, a.started_at, a.outcome.clone()))
                .collect();
            panic!("a delivery of {id} exhausted its retries: {history:#?}");
        }
        assert!(tokio::time::Instant::now() < give_up, "deliveries stalled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };

    let handled = effects(&db).await;
    let lost: Vec<_> = ids.iter().filter(|id| !handled.contains_key(*id)).collect();
    assert!(lost.is_empty(), "events never handled: {lost:?}");
    for (id, replicas) in &handled {
        let survivors = replicas
            .iter()
            .filter(|replica| **replica != VICTIM)
            .count();
        let victims = replicas.len() - survivors;
        // Twice only where the killed replica wrote its effect and died before recording
        // the event as done: the at-least-once window that a crash leaves.
        assert!(
            replicas.len() == 1 || (survivors <= 1 && victims == 1),
            "{id} handled by replicas {replicas:?}"
        );
    }

    // Replays of every event, twice more: all duplicates, through the surviving replicas.
    for id in &ids {
        for _ in 0..2 {
            assert_eq!(
                deliver(balancer, id).await,
                (200, "duplicate".into()),
                "{id}"
            );
        }
    }
    assert_eq!(effects(&db).await, handled, "replays ran no handler");
    let deliveries = attempts.len() + 2 * EVENTS;
    let mut by_answer = BTreeMap::<String, usize>::new();
    for attempt in &attempts {
        let answer = attempt
            .status_code()
            .map_or_else(|| "no answer".to_owned(), |code| code.to_string());
        *by_answer.entry(answer).or_default() += 1;
    }
    let twice = handled
        .values()
        .filter(|replicas| replicas.len() > 1)
        .count();
    // Seen with `--nocapture`: what the run went through.
    let slowest = attempts.iter().map(|a| a.duration_ms).max().unwrap_or(0);
    let _ = writeln!(
        std::io::stderr(),
        "{deliveries} deliveries; emulator attempts by answer {by_answer:?}; \
         {twice} events handled twice across the crash; slowest attempt {slowest} ms"
    );
    assert!(deliveries >= 2_000, "{deliveries} deliveries");
    emulator.shutdown().await;
}
