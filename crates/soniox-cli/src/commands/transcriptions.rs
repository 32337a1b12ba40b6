//! `soniox transcriptions`: list, get, delete, fetch transcripts, wait.

use std::{path::PathBuf, time::Duration};

use clap::{Args, Subcommand};
use soniox_types::{Transcription, TranscriptionId};

use crate::{
    context::Context,
    failure::Failure,
    job,
    listing::{ListArgs, print_deleted, print_stream, timestamp},
    render::{Format, write},
};
use soniox_emulator::options;

/// Manage transcription jobs.
// Reads as `Command`'s doc in main.rs, which this replaces once the subcommand is built.
#[derive(Debug, Args)]
pub(crate) struct TranscriptionsArgs {
    #[command(subcommand)]
    command: TranscriptionsCommand,
}

#[derive(Debug, Subcommand)]
enum TranscriptionsCommand {
    /// List every transcription, newest first: id, status, creation time, audio.
    List(ListArgs),
    /// Show transcriptions.
    Get {
        /// Transcription ids.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Delete transcriptions (finished ones: the API refuses to delete a running job).
    Delete {
        /// Transcription ids.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Print the transcript of a completed transcription.
    Transcript {
        /// Transcription id.
        id: String,
        /// How to print it [default: text, or json with --json].
        #[arg(long, value_enum)]
        format: Option<Format>,
        /// Write it to FILE instead of stdout.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Wait until a transcription is completed or failed, and show it.
    Wait {
        /// Transcription id.
        id: String,
        /// The first interval between polls; it grows up to 30 s
        /// [default: 1s, 100ms with --emulator].
        #[arg(long, value_name = "DURATION", value_parser = options::parse_duration)]
        poll_interval: Option<Duration>,
        /// Give up after this long (exit code 1).
        #[arg(long, value_name = "DURATION", value_parser = options::parse_duration)]
        timeout: Option<Duration>,
    },
}

fn line(job: &Transcription) -> String {
    let audio = job.audio_url.as_deref().unwrap_or(&job.filename);
    format!(
        "{}\t{}\t{}\t{audio}",
        job.id,
        job.status,
        timestamp(job.created_at)
    )
}

pub(crate) async fn run(context: &mut Context, args: TranscriptionsArgs) -> Result<(), Failure> {
    let client = context.client().await?;
    let output = context.output;
    match args.command {
        TranscriptionsCommand::List(list) => {
            print_stream(output, client.transcriptions().list(list.params()), line).await
        }
        TranscriptionsCommand::Get { ids } => {
            for id in ids {
                let job = client
                    .transcriptions()
                    .get(&TranscriptionId::new(id))
                    .await?;
                output.record(&job, || line(&job))?;
            }
            Ok(())
        }
        TranscriptionsCommand::Delete { ids } => {
            for id in ids {
                let id = TranscriptionId::new(id);
                client.transcriptions().delete(&id).await?;
                print_deleted(output, &id)?;
            }
            Ok(())
        }
        TranscriptionsCommand::Transcript {
            id,
            format,
            output: path,
        } => {
            let transcript = client
                .transcriptions()
                .transcript(&TranscriptionId::new(id))
                .await?;
            let format = Format::or_default(format, output.json());
            write(output, &transcript, format, path.as_deref()).await
        }
        TranscriptionsCommand::Wait {
            id,
            poll_interval,
            timeout,
        } => {
            let id = TranscriptionId::new(id);
            let finished = job::wait(context, &client, &id, poll_interval, timeout).await?;
            output.record(&finished, || line(&finished))?;
            job::failed(&finished).map_or(Ok(()), Err)
        }
    }
}
