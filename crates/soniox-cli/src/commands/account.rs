//! `soniox models` and `soniox temp-key`.

use clap::Args;
use soniox_types::{CreateTemporaryApiKey, Model, TemporaryKeyUsage};

use crate::{context::Context, failure::Failure, listing::timestamp};

fn model_line(model: &Model) -> String {
    match &model.aliased_model_id {
        Some(target) => format!("{}\t{}\t(alias of {target})", model.id, model.name),
        None => format!("{}\t{}", model.id, model.name),
    }
}

/// Lists the models: id and name (aliases say what they point at).
pub(crate) async fn models(context: &mut Context) -> Result<(), Failure> {
    let client = context.client().await?;
    let list = client.models().list().await?;
    for model in &list.models {
        context.output.record(model, || model_line(model))?;
    }
    Ok(())
}

/// Mint a temporary API key for a browser or another untrusted client.
// Reads as `Command`'s doc in main.rs, which this replaces once the subcommand is built.
#[derive(Debug, Args)]
pub(crate) struct TempKeyArgs {
    /// What the key may be used for: `transcribe_websocket` or `tts_rt`.
    #[arg(long, value_name = "USAGE", default_value = "transcribe_websocket")]
    usage: String,
    /// Seconds until the key expires (1 to 3600).
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    expires_in: u32,
    /// A reference of your own, recorded with the key.
    #[arg(long, value_name = "ID")]
    client_reference_id: Option<String>,
    /// The key can open one session only.
    #[arg(long)]
    single_use: bool,
    /// The longest a session opened with the key may last, in seconds.
    #[arg(long, value_name = "SECONDS")]
    max_session_duration: Option<u32>,
}

/// Prints the new key (text) or `{api_key, expires_at}` (JSON).
pub(crate) async fn temp_key(context: &mut Context, args: TempKeyArgs) -> Result<(), Failure> {
    let client = context.client().await?;
    let usage: TemporaryKeyUsage = args.usage.parse().unwrap_or_else(|never| match never {});
    let mut request = CreateTemporaryApiKey::new(usage, args.expires_in);
    if let Some(reference) = args.client_reference_id {
        request = request.client_reference_id(reference);
    }
    if args.single_use {
        request = request.single_use(true);
    }
    if let Some(seconds) = args.max_session_duration {
        request = request.max_session_duration_seconds(seconds);
    }
    let key = client.auth().create_temporary_api_key(&request).await?;
    // Printing the key is the point of this command; it goes to stdout only.
    context.output.record(
        &serde_json::json!({
            "api_key": key.api_key.expose_secret(),
            "expires_at": timestamp(key.expires_at),
        }),
        || key.api_key.expose_secret().to_owned(),
    )
}
