//! `soniox webhook`: receive (`listen`), fire (`send`) and relay (`relay`) deliveries.

mod listen;
mod relay;
mod send;

use clap::{Args, Subcommand};
use soniox_types::{DEFAULT_WEBHOOK_HEADER, WEBHOOK_HEADER_ENV};

use crate::{context::Context, failure::Failure};

pub(crate) use self::listen::REJECTIONS_TARGET;

/// Receive, send and relay webhook deliveries.
// Reads as `Command`'s doc in main.rs, which this replaces once the subcommand is built.
#[derive(Debug, Args)]
pub(crate) struct WebhookArgs {
    #[command(subcommand)]
    command: WebhookCommand,
}

impl WebhookArgs {
    /// Whether the command receives deliveries, and so logs the rejected ones.
    pub(crate) fn receives(&self) -> bool {
        matches!(self.command, WebhookCommand::Listen(_))
    }
}

#[derive(Debug, Subcommand)]
enum WebhookCommand {
    /// Receive deliveries, verify them, and print each accepted one as a JSON line.
    Listen(listen::ListenArgs),
    /// Fire one delivery at your endpoint, exactly as Soniox sends it, and print the answer.
    Send(send::SendArgs),
    /// Deliver to a local URL the webhooks of jobs that finish while it runs, found by
    /// polling the API: local development against the real API without a tunnel.
    Relay(relay::RelayArgs),
}

/// The name of the header that carries the webhook secret.
#[derive(Debug, Args)]
pub(crate) struct HeaderArg {
    /// The header that carries the secret.
    #[arg(long, value_name = "NAME", env = WEBHOOK_HEADER_ENV, default_value = DEFAULT_WEBHOOK_HEADER)]
    header: String,
}

pub(crate) async fn run(context: &mut Context, args: WebhookArgs) -> Result<(), Failure> {
    match args.command {
        WebhookCommand::Listen(args) => listen::run(context, args).await,
        WebhookCommand::Send(args) => send::run(context, args).await,
        WebhookCommand::Relay(args) => relay::run(context, args).await,
    }
}
