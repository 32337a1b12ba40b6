//! Quick start: the whole webhook loop, offline.
//!
//! ```sh
//! cargo run -p soniox-examples --example quickstart
//! ```
//!
//! 1. starts the Soniox emulator on a free local port (instead of `api.soniox.com`);
//! 2. starts a webhook receiver that verifies the shared-secret header;
//! 3. uploads a short WAV and creates a job whose webhook URL carries metadata;
//! 4. waits for the emulator's delivery, then fetches the transcript and prints it as text
//!    and as SRT subtitles.
//!
//! Against the real API, drop the emulator, set `SONIOX_API_KEY`, and give Soniox a public
//! HTTPS webhook URL.

#![allow(clippy::print_stdout, reason = "an example shows its results")]

use std::time::Duration;

use soniox_client::{Client, Upload, Webhook};
use soniox_emulator::{Emulator, JobClock};
use soniox_types::{CreateTranscription, Secret, WebhookStatus, render::SubtitleOptions};
use soniox_webhook::{ReceivedEvent, Receiver, Verifier, WebhookService};
use tokio::sync::mpsc;

const WEBHOOK_HEADER: &str = "X-Soniox-Webhook-Secret";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. A local Soniox API. Jobs take half a second, so the webhook arrives after `create`.
    let emulator = Emulator::builder()
        .api_key("quickstart-key")
        .job_clock(JobClock::Fixed(Duration::from_millis(500)))
        .start()
        .await?;
    println!("emulator:  {}", emulator.base_url());

    // 2. A webhook receiver. It refuses any request without the secret, and drops the
    //    duplicates that Soniox's retries can produce.
    let secret = Secret::new("change-me-to-a-long-random-value");
    let verifier = Verifier::new(WEBHOOK_HEADER, secret.clone())?;
    let (deliveries, mut delivered) = mpsc::channel::<ReceivedEvent>(8);
    let service = WebhookService::new(verifier, move |event: ReceivedEvent| {
        let deliveries = deliveries.clone();
        // Acknowledge fast; the real work happens outside the request. Only once the event
        // is queued is it safe to answer 200, so a closed queue answers 500 and Soniox retries.
        async move {
            deliveries
                .send(event)
                .await
                .map_err(|_| "the app stopped listening")
        }
    });
    let receiver = Receiver::bind("127.0.0.1:0", service).await?.spawn()?;
    let hook_url = format!("http://{}/hooks/soniox", receiver.local_addr());
    println!("receiver:  {hook_url}");

    // 3. Upload audio and create a job with a webhook. The emulator transcribes
    //    deterministically; here we script the words it "hears" in this audio.
    let client = Client::builder()
        .api_key("quickstart-key")
        .base_url(emulator.base_url())
        .build()?;
    let audio = soniox_emulator::wav(Duration::from_secs(3));
    emulator.script_transcript_for(
        &audio,
        "Hello from soniox-rs. Webhooks arrive, verified and deduplicated.",
    );
    let file = client
        .files()
        .upload(Upload::bytes(audio, "hello.wav"))
        .await?;
    let webhook = Webhook::new(&hook_url)
        .metadata("order", "1234")
        .auth(WEBHOOK_HEADER, secret);
    let request = webhook
        .apply(CreateTranscription::new("stt-async-v5").file_id(file.id.clone()))?
        .speaker_diarization(true);
    let job = client.transcriptions().create(&request).await?;
    println!("created:   transcription {} ({})", job.id, job.status);

    // 4. The delivery arrives: `{"id", "status"}` plus our metadata from the URL.
    let event = tokio::time::timeout(Duration::from_secs(30), delivered.recv())
        .await?
        .ok_or("the receiver stopped")?;
    println!(
        "webhook:   {} is {} (order {})",
        event.id(),
        event.status(),
        event.metadata().get("order").unwrap_or("?")
    );
    if event.status() == &WebhookStatus::Completed {
        let transcript = client.transcriptions().transcript(event.id()).await?;
        println!("\ntext:\n{}\n", transcript.text);
        println!(
            "subtitles (SRT):\n{}",
            transcript.to_srt(&SubtitleOptions::default())
        );
    }

    // Clean up, as a real application would once the result is stored.
    client.transcriptions().delete(event.id()).await?;
    client.files().delete(&file.id).await?;
    receiver.shutdown().await?;
    emulator.shutdown().await;
    Ok(())
}
