//! A reliable pipeline: submit a folder of audio files through the tracker and write each
//! transcript exactly once, even when webhooks never arrive.
//!
//! ```sh
//! cargo run -p soniox-examples --example tracker_pipeline [DIR]
//! ```
//!
//! Without `DIR` it makes a few WAV files of its own. Against a local emulator that withholds
//! every third webhook, the tracker receives the rest, finds the missing ones by polling, and
//! commits each transcript into a results table in the same transaction that marks the job
//! handled: one row per job, however often its webhook comes. The results live in
//! `pipeline.db` (in the current directory), beside the tracker's own tables.

#![allow(clippy::print_stdout, reason = "an example shows its results")]

use std::{path::PathBuf, sync::Arc, time::Duration};

use soniox_client::{Client, Upload};
use soniox_emulator::{Emulator, JobClock, WebhookFault, WebhookFaultRule};
use soniox_store::SqliteStore;
use soniox_tracker::{Effect, FinishedJob, JobOutcome, Tracker, reconcile::Policy};
use soniox_types::{CreateTranscription, Secret};
use soniox_webhook::{Receiver, Verifier, WebhookService};

const HEADER: &str = "X-Soniox-Webhook-Secret";

/// Writes a finished job's text into `results`, once: the effect commits with the tracker's
/// own record of the job.
async fn write_result(job: FinishedJob) -> Result<Effect, std::convert::Infallible> {
    let id = job.id.as_str().to_owned();
    let text = match job.outcome {
        JobOutcome::Completed(transcript) => transcript.text,
        JobOutcome::Failed { error_message, .. } => {
            format!("failed: {}", error_message.unwrap_or_default())
        }
        _ => "unknown outcome".to_owned(),
    };
    Ok(Effect::sqlite(move |tx| {
        tx.execute(
            "INSERT INTO soniox_pipeline_results (transcription_id, text) VALUES (?1, ?2)",
            [id, text],
        )
        .map(drop)
    }))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().init();
    let emulator = Emulator::builder()
        .api_key("pipeline-key")
        .job_clock(JobClock::Fixed(Duration::from_millis(300)))
        .webhook_fault(WebhookFaultRule::new(WebhookFault::Withhold).every_nth(3))
        .start()
        .await?;
    let client = Client::builder()
        .api_key("pipeline-key")
        .base_url(emulator.base_url())
        .build()?;

    // One database for the webhook events, the tracker's jobs and the application's results.
    let store = Arc::new(SqliteStore::open("pipeline.db").await?);
    store
        .migrate_component(
            "pipeline_results",
            &["CREATE TABLE soniox_pipeline_results (
                   transcription_id TEXT PRIMARY KEY NOT NULL, text TEXT NOT NULL)"],
        )
        .await?;

    let secret = Secret::new("change-me-to-a-long-random-value");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let mut policy = Policy::default();
    // Seconds instead of minutes, so that the recovery shows within the example's run.
    policy.webhook_grace = Duration::from_secs(1);
    policy.max_poll_interval = Duration::from_secs(2);
    let tracker = Tracker::builder(client.clone(), Arc::clone(&store))
        .webhook_url(format!("http://{}/hooks/soniox", listener.local_addr()?))
        .webhook_auth(HEADER, secret.clone())
        .policy(policy)
        .build_with_effects(write_result)
        .await?;
    let service = WebhookService::new(
        tracker.inbox(Verifier::new(HEADER, secret)?),
        tracker.webhook_handler(),
    );
    let receiver = Receiver::from_listener(listener, service).spawn()?;
    let reconciler = tracker.spawn_reconciler(Duration::from_millis(200));

    let files: Vec<(String, Vec<u8>)> = match std::env::args_os().nth(1).map(PathBuf::from) {
        Some(dir) => std::fs::read_dir(dir)?
            .filter_map(Result::ok)
            .filter(|entry| entry.path().is_file())
            .map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                std::fs::read(entry.path()).map(|bytes| (name, bytes))
            })
            .collect::<Result<_, _>>()?,
        None => (1..=6)
            .map(|n| {
                let ms = 500 * n;
                (
                    format!("sample-{n}.wav"),
                    soniox_emulator::wav(Duration::from_millis(ms)),
                )
            })
            .collect(),
    };
    for (name, bytes) in files {
        let file = client.files().upload(Upload::bytes(bytes, &name)).await?;
        let request = CreateTranscription::new("stt-async-v5").file_id(file.id);
        println!("{name}: {:?}", tracker.submit(request).await?);
    }

    // Wait until the tracker has nothing left to do.
    loop {
        let metrics = tracker.metrics().await?;
        if metrics.submitting + metrics.awaiting + metrics.unhandled == 0 {
            println!("{metrics:#?}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let results = store
        .transact(|tx| {
            let mut select =
                tx.prepare("SELECT transcription_id, text FROM soniox_pipeline_results")?;
            select
                .query_map([], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                })?
                .collect::<Result<Vec<_>, _>>()
        })
        .await??;
    for (id, text) in results {
        println!("{id}: {text}");
    }
    reconciler.stop().await;
    receiver.shutdown().await?;
    emulator.shutdown().await;
    Ok(())
}
