//! `soniox webhook listen`: a verifying receiver that prints what it accepts.

use std::{net::SocketAddr, sync::Arc};

use clap::Args;
use serde::Serialize;
use serde_json::{Map, Value};
use soniox_client::Client;
use soniox_types::{Secret, WEBHOOK_SECRET_ENV, WebhookStatus};
use soniox_webhook::{ReceivedEvent, Receiver, Verifier, WebhookService};

use super::HeaderArg;
use crate::{context::Context, failure::Failure, grouped_lines::GroupedLines};

/// Where `soniox-webhook` logs a rejected delivery (at debug level, with its status and
/// reason, never the secret); shown on stderr while listening.
pub(crate) const REJECTIONS_TARGET: &str = "soniox_webhook::service";

/// Receive webhook deliveries.
#[derive(Debug, Args)]
pub(crate) struct ListenArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,

    /// Accept deliveries on this path only; other paths get 404 [default: every path].
    #[arg(long, value_name = "PATH")]
    path: Option<String>,

    #[command(flatten)]
    header: HeaderArg,

    /// An accepted secret (repeat for several, while rotating).
    #[arg(long = "secret", value_name = "SECRET", env = WEBHOOK_SECRET_ENV, hide_env_values = true, required = true)]
    secrets: Vec<Secret>,

    /// Fetch each completed transcript and add its text to the line (needs an API key).
    #[arg(long)]
    fetch: bool,
}

pub(crate) async fn run(context: &mut Context, args: ListenArgs) -> Result<(), Failure> {
    if let Some(path) = &args.path
        && !path.starts_with('/')
    {
        return Err(Failure::usage(format!(
            "--path must start with `/`: {path}"
        )));
    }
    let verifier = Verifier::with_secrets(&args.header.header, args.secrets)
        .map_err(|error| Failure::usage(format!("cannot verify deliveries: {error}")))?;
    let client = if args.fetch {
        Some(context.client().await?)
    } else {
        None
    };
    let output = context.output;
    let lines = Arc::new(GroupedLines::stdout());
    let handler = {
        let lines = Arc::clone(&lines);
        move |event: ReceivedEvent| {
            let client = client.clone();
            let lines = Arc::clone(&lines);
            async move { print_event(&lines, client.as_ref(), &event).await }
        }
    };
    let mut receiver = Receiver::bind(args.addr, WebhookService::new(verifier, handler))
        .await
        .map_err(|error| Failure::io(format!("cannot listen on {}", args.addr), &error))?;
    if let Some(path) = &args.path {
        receiver = receiver.path(path.clone());
    }
    let addr = receiver
        .local_addr()
        .map_err(|error| Failure::io("the listening address", &error))?;
    output.note(&format!(
        "listening on http://{addr}{}",
        args.path.as_deref().unwrap_or("/")
    ));
    // Ends on Ctrl-C, or once stdout's reader is gone (as a writer into `head` does): no
    // delivery could be printed, and each would be answered 500.
    let stop = async {
        tokio::select! {
            () = context.interrupt.wait() => {}
            () = lines.reader_gone() => {}
        }
    };
    receiver
        .run_until(stop)
        .await
        .map_err(|error| Failure::io("the receiver", &error))
}

/// Prints one accepted event; with a client, fetches the transcript first. Failing to fetch
/// or to print fails the handler, so the delivery is answered 500 and Soniox sends it again.
async fn print_event(
    lines: &GroupedLines,
    client: Option<&Client>,
    event: &ReceivedEvent,
) -> Result<(), Failure> {
    let text = match client {
        // Boxed: in place, the fetch's future would make every handling as large as a fetch,
        // `--fetch` or not, and past the allocator's fast path when the inbox boxes it.
        Some(client) if *event.status() == WebhookStatus::Completed => Some(
            Box::pin(client.transcriptions().transcript(event.id()))
                .await?
                .spoken_text(),
        ),
        _ => None,
    };
    lines
        .json_line(&Line {
            id: event.id().as_str(),
            status: event.status().as_str(),
            metadata: metadata(event),
            text,
        })
        .await
}

/// One accepted delivery, as printed.
#[derive(Serialize)]
struct Line<'a> {
    id: &'a str,
    status: &'a str,
    metadata: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<String>,
}

/// The query parameters as an object; a name given several times maps to an array.
fn metadata(event: &ReceivedEvent) -> Map<String, Value> {
    let mut object = Map::new();
    for (name, value) in event.metadata().iter() {
        match object.get_mut(name) {
            None => {
                object.insert(name.to_owned(), Value::from(value));
            }
            Some(Value::Array(values)) => values.push(Value::from(value)),
            Some(first) => {
                let first = first.take();
                object.insert(
                    name.to_owned(),
                    Value::Array(vec![first, Value::from(value)]),
                );
            }
        }
    }
    object
}
