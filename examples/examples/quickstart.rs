//! Quick start: build a validated transcription request with a webhook and show its JSON.
//!
//! Run with `cargo run -p soniox-examples --example quickstart`.

use soniox_types::CreateTranscription;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let request = CreateTranscription::builder(soniox_types::DEFAULT_ASYNC_MODEL)
        .audio_url("https://soniox.com/media/examples/coffee_shop.mp3")
        .speaker_diarization(true)
        .webhook_url("https://example.com/hooks/soniox?order=1234")
        .webhook_auth("X-Soniox-Webhook-Secret", "change-me")
        .build()?;
    #[allow(clippy::print_stdout, reason = "an example shows its result")]
    {
        println!("POST /v1/transcriptions");
        println!("{}", serde_json::to_string_pretty(&request)?);
        println!(
            "\nDebug never shows the secret: {:?}",
            request.webhook_auth_header_value
        );
    }
    Ok(())
}
