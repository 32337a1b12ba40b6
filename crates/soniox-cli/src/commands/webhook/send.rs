//! `soniox webhook send`: fire one delivery at your own endpoint.

use clap::{Args, ValueEnum};
use soniox_client::Webhook;
use soniox_types::{Secret, TranscriptionId, WEBHOOK_SECRET_ENV, WebhookEvent, WebhookStatus};

use super::HeaderArg;
use crate::{
    commands::transcribe::parse_pair,
    context::Context,
    deliver::{check, deliver, http_client},
    failure::{Failure, Kind},
};

/// Fire a delivery.
#[derive(Debug, Args)]
pub(crate) struct SendArgs {
    /// Your endpoint.
    #[arg(long, value_name = "URL")]
    url: String,

    /// The transcription id in the body.
    #[arg(long, value_name = "ID")]
    id: String,

    /// The status in the body.
    #[arg(long, value_enum)]
    status: Status,

    #[command(flatten)]
    header: HeaderArg,

    /// The secret sent in the header; without it, no auth header is sent.
    #[arg(long, value_name = "SECRET", env = WEBHOOK_SECRET_ENV, hide_env_values = true)]
    secret: Option<Secret>,

    /// Metadata added to the URL's query, as Soniox keeps it from the job (repeat for several).
    #[arg(long = "meta", value_name = "KEY=VALUE", value_parser = parse_pair)]
    meta: Vec<(String, String)>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Status {
    Completed,
    Error,
}

pub(crate) async fn run(context: &mut Context, args: SendArgs) -> Result<(), Failure> {
    let mut webhook = Webhook::new(args.url);
    for (key, value) in args.meta {
        webhook = webhook.metadata(key, value);
    }
    // The same URL rules as a job's `webhook_url`: http(s), at most 256 characters.
    let url = webhook.url()?;
    let status = match args.status {
        Status::Completed => WebhookStatus::Completed,
        Status::Error => WebhookStatus::Error,
    };
    let event = WebhookEvent::new(TranscriptionId::new(args.id), status);
    let auth = args.secret.map(|secret| (args.header.header, secret));
    check(&url, auth.as_ref(), context.allow_insecure_http())?;
    let http = http_client()?;
    let sent = deliver(&http, &url, event, auth.as_ref());
    let answer = context
        .interrupt
        .guard(sent)
        .await
        .ok_or_else(Failure::interrupted)??;
    let body = String::from_utf8_lossy(&answer.body);
    context.output.record(
        &serde_json::json!({ "status": answer.status.as_u16(), "body": body }),
        || format!("{}\n{}", answer.status, body.trim_end()),
    )?;
    if answer.status.is_success() {
        Ok(())
    } else {
        Err(Failure::new(
            Kind::Api,
            format!("{url} answered {}", answer.status),
        ))
    }
}
