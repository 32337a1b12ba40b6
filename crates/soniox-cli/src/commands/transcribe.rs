//! `soniox transcribe`: upload (or point at a URL), create the job, wait, print the
//! transcript, and delete what was created unless `--keep`.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use clap::Args;
use futures_util::StreamExt as _;
use indicatif::ProgressBar;
use soniox_client::{Client, Error as ClientError, Webhook};
use soniox_types::{
    DEFAULT_WEBHOOK_HEADER, FileId, ListParams, Secret, Transcript, Transcription, TranscriptionId,
    WEBHOOK_HEADER_ENV, WEBHOOK_SECRET_ENV,
};

use crate::{
    context::Context,
    failure::Failure,
    job, progress,
    render::{Format, write},
    request::RequestArgs,
};
use soniox_emulator::options;

/// How long a wait may take before it is given up.
const WAIT_TIMEOUT: Duration = Duration::from_secs(3 * 3600);

/// How long the answer to an upload whose body went out whole is waited for after Ctrl-C: the
/// server only has to store the file and answer.
const ANSWER_GRACE: Duration = Duration::from_secs(10);

/// How long cleanup after Ctrl-C or a failure may take before it is given up.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(15);

/// Transcribe audio files or URLs and print the transcripts.
// Reads as `Command`'s doc in main.rs, which this replaces once the subcommand is built.
#[derive(Debug, Args)]
pub(crate) struct TranscribeArgs {
    /// Audio files to upload, or http(s) URLs for Soniox to fetch.
    #[arg(required = true, value_name = "PATH|URL")]
    inputs: Vec<String>,

    #[command(flatten)]
    request: RequestArgs,

    /// Have Soniox POST `{id, status}` here when the job finishes.
    #[arg(long, value_name = "URL")]
    webhook_url: Option<String>,

    /// The header that carries the webhook secret.
    #[arg(long, value_name = "NAME", env = WEBHOOK_HEADER_ENV)]
    webhook_header: Option<String>,

    /// The webhook secret, sent in the webhook header with every delivery.
    #[arg(long, value_name = "SECRET", env = WEBHOOK_SECRET_ENV, hide_env_values = true)]
    webhook_secret: Option<Secret>,

    /// Metadata added to the webhook URL's query (repeat for several).
    #[arg(long = "webhook-meta", value_name = "KEY=VALUE", value_parser = parse_pair, requires = "webhook_url")]
    webhook_meta: Vec<(String, String)>,

    /// Create the jobs and print their ids without waiting.
    #[arg(long)]
    no_wait: bool,

    /// How to print the transcript [default: text, or json with --json].
    #[arg(long, value_enum)]
    format: Option<Format>,

    /// Write the transcript to FILE instead of stdout (one input only).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,

    /// Keep the transcription and the uploaded file instead of deleting them.
    #[arg(long)]
    keep: bool,

    /// The first interval between polls while waiting; it grows up to 30 s
    /// [default: 1s, 100ms with --emulator].
    #[arg(long, value_name = "DURATION", value_parser = options::parse_duration)]
    poll_interval: Option<Duration>,
}

/// Parses `key=value`.
pub(crate) fn parse_pair(value: &str) -> Result<(String, String), String> {
    value
        .split_once('=')
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .filter(|(key, _)| !key.is_empty())
        .ok_or_else(|| format!("`{value}` is not KEY=VALUE"))
}

/// What was created for one input, to delete afterwards.
#[derive(Debug, Default)]
struct Created {
    /// The reference of an upload whose answer never came (cut off by Ctrl-C, or lost), which
    /// may have stored the file all the same: it finds the file.
    upload_reference: Option<String>,
    file: Option<FileId>,
    transcription: Option<TranscriptionId>,
}

/// What one input gave.
enum Done {
    Submitted(Box<Transcription>),
    Transcribed(Transcript),
}

pub(crate) async fn run(context: &mut Context, args: TranscribeArgs) -> Result<(), Failure> {
    if args.output.is_some() && args.inputs.len() > 1 {
        return Err(Failure::usage(
            "--output takes one input; run once per input",
        ));
    }
    args.request.check()?;
    let webhook = webhook(&args)?;
    let client = context.client().await?;
    let format = Format::or_default(args.format, context.output.json());
    let several = args.inputs.len() > 1;
    for input in &args.inputs {
        let mut created = Created::default();
        let result = transcribe_one(
            context,
            &client,
            &args,
            webhook.as_ref(),
            input,
            &mut created,
        )
        .await;
        let submitted = matches!(result, Ok(Done::Submitted(_)));
        // Written before anything is deleted: a transcript that cannot be written (a full
        // disk, a missing directory) is kept in the API to fetch again, not paid for twice.
        let (shown, unwritten) = match result {
            Ok(Done::Submitted(transcription)) => {
                let shown = context
                    .output
                    .record(&transcription, || transcription.id.to_string());
                (shown, false)
            }
            Ok(Done::Transcribed(transcript)) => {
                // Named if a second Ctrl-C stops a slow write to `-o` (it runs off this thread;
                // one to stdout holds the thread, and the signal waits for it).
                context.interrupt.leaving(left_notes(&created, "left"));
                let header = several && args.output.is_none() && format != Format::Json;
                let shown = async {
                    if header {
                        context.output.line(&format!("==> {input} <=="))?;
                    }
                    write(context.output, &transcript, format, args.output.as_deref()).await
                }
                .await;
                let unwritten = shown.is_err();
                (shown, unwritten)
            }
            Err(failure) => (Err(failure), false),
        };
        if args.keep || unwritten {
            note_kept(context, &created);
        } else if !submitted {
            clean_up(context, &client, created).await;
        }
        shown?;
    }
    Ok(())
}

fn webhook(args: &TranscribeArgs) -> Result<Option<Webhook>, Failure> {
    let Some(url) = &args.webhook_url else {
        return Ok(None);
    };
    let mut webhook = Webhook::new(url.clone());
    for (key, value) in &args.webhook_meta {
        webhook = webhook.metadata(key.clone(), value.clone());
    }
    match (&args.webhook_secret, &args.webhook_header) {
        (Some(secret), header) => {
            let header = header
                .clone()
                .unwrap_or_else(|| DEFAULT_WEBHOOK_HEADER.to_owned());
            webhook = webhook.auth(header, secret.clone());
        }
        (None, Some(_)) => {
            return Err(Failure::usage(
                "--webhook-header needs --webhook-secret (or SONIOX_API_WEBHOOK_SECRET)",
            ));
        }
        (None, None) => {}
    }
    Ok(Some(webhook))
}

async fn transcribe_one(
    context: &Context,
    client: &Client,
    args: &TranscribeArgs,
    webhook: Option<&Webhook>,
    input: &str,
    created: &mut Created,
) -> Result<Done, Failure> {
    let interrupt = &context.interrupt;
    let output = context.output;
    let mut request = args.request.request();
    if is_url(input) {
        request = request.audio_url(input);
    } else {
        let reference = format!("soniox-cli-{:016x}", fastrand::u64(..));
        let progress::TrackedUpload { upload, bar, sent } =
            progress::upload_with_bar(output, Path::new(input));
        let upload = upload.client_reference_id(reference.clone());
        let uploaded = answer_unless_interrupted(
            context,
            client.files().upload(upload),
            bar.as_ref(),
            &sent,
            &reference,
        )
        .await;
        progress::clear(bar);
        // Cut off after its body went out whole, or its answer lost: the file may be stored,
        // known by its reference only. Cut off before, it is not.
        let maybe_stored = match &uploaded {
            None => sent.get(),
            Some(result) => matches!(result, Err(ClientError::OutcomeUnknown { .. })),
        };
        if maybe_stored {
            created.upload_reference = Some(reference);
        }
        let file = match uploaded {
            Some(Ok(file)) => file,
            Some(Err(error)) if !interrupt.is_set() => return Err(error.into()),
            _ => return Err(Failure::interrupted()),
        };
        created.file = Some(file.id.clone());
        // The answer came after Ctrl-C: the file is known now, and deleted by the cleanup.
        if interrupt.is_set() {
            return Err(Failure::interrupted());
        }
        request = request.file_id(file.id);
    }
    if let Some(webhook) = webhook {
        request = webhook.apply(request)?;
    }
    // Not raced with Ctrl-C: a create cut off mid-flight might leave a job we do not know
    // about; it is short, and the interrupt is checked right after.
    let transcription = client.transcriptions().create(&request).await?;
    created.transcription = Some(transcription.id.clone());
    if interrupt.is_set() {
        return Err(Failure::interrupted());
    }
    if args.no_wait {
        return Ok(Done::Submitted(Box::new(transcription)));
    }
    let finished = job::wait(
        context,
        client,
        &transcription.id,
        args.poll_interval,
        Some(WAIT_TIMEOUT),
    )
    .await?;
    if let Some(failure) = job::failed(&finished) {
        return Err(failure);
    }
    let transcript = interrupt
        .guard(client.transcriptions().transcript(&finished.id))
        .await
        .ok_or_else(Failure::interrupted)??;
    Ok(Done::Transcribed(transcript))
}

/// The upload's answer, or `None` when Ctrl-C cut it off first. Once its body has gone out
/// whole, the server may store the file even if the request is dropped, and only the answer
/// names the file for the cleanup: the answer is then waited for, at most [`ANSWER_GRACE`],
/// or until a retry starts (the server did not store the file). Before that, dropping the
/// request stores nothing. (After a 429 the body stays whole through the client's wait before
/// its retry, which ends this wait when it starts.)
async fn answer_unless_interrupted<T>(
    context: &Context,
    upload: impl Future<Output = T>,
    bar: Option<&ProgressBar>,
    sent: &progress::SentWhole,
    reference: &str,
) -> Option<T> {
    let mut upload = std::pin::pin!(upload);
    if let Some(answer) = context.interrupt.guard(upload.as_mut()).await {
        return Some(answer);
    }
    if !sent.get() {
        return None;
    }
    context
        .interrupt
        .leaving(vec![maybe_stored_note(reference)]);
    // Off the terminal first: the note would be drawn over, then cleared with the bar.
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    context.output.note(&format!(
        "interrupted after the upload went out whole: waiting for its answer ({} s at most; \
         Ctrl-C again stops at once)",
        ANSWER_GRACE.as_secs()
    ));
    let answer = async {
        tokio::select! {
            answer = upload => Some(answer),
            () = sent.cut() => None,
        }
    };
    tokio::time::timeout(ANSWER_GRACE, answer)
        .await
        .ok()
        .flatten()
}

fn is_url(input: &str) -> bool {
    input.starts_with("http://") || input.starts_with("https://")
}

fn note_kept(context: &Context, created: &Created) {
    context.interrupt.leaving(Vec::new());
    for note in left_notes(created, "kept") {
        context.output.note(&note);
    }
}

/// What is in the account for `created` when it is not deleted, one note a line: `verb` says
/// why ("kept", "left").
fn left_notes(created: &Created, verb: &str) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(id) = &created.transcription {
        notes.push(format!("{verb} transcription {id}"));
    }
    if let Some(id) = &created.file {
        notes.push(format!("{verb} file {id}"));
    } else if let Some(reference) = &created.upload_reference {
        notes.push(maybe_stored_note(reference));
    }
    notes
}

fn maybe_stored_note(reference: &str) -> String {
    format!("the upload may have been stored: {}", look_for(reference))
}

/// Deletes the transcription, then the file. A job still processing cannot be deleted (the
/// API answers 409): say how to delete it later instead. Its file is deleted all the same,
/// unlike the library's `transcribe` cleanup: here the user stopped the command, and a job
/// whose audio is gone fails instead of running on unwanted.
async fn clean_up(context: &Context, client: &Client, created: Created) {
    let output = context.output;
    let interrupt = &context.interrupt;
    // What is still in the account: named if a second Ctrl-C or the time limit stops this.
    let mut left = created;
    interrupt.leaving(left_notes(&left, "left"));
    let work = async {
        if let Some(id) = left.transcription.clone() {
            match client.transcriptions().delete(&id).await {
                Ok(()) => {
                    tracing::info!(transcription = %id, "deleted");
                    left.transcription = None;
                }
                Err(error) if error.is_invalid_state() => output.note(&format!(
                    "transcription {id} is still processing; delete it later with \
                     `soniox transcriptions delete {id}`"
                )),
                Err(error) => output.note(&format!(
                    "warning: could not delete transcription {id}: {}",
                    Failure::from(error)
                )),
            }
            interrupt.leaving(left_notes(&left, "left"));
        }
        if left.file.is_none()
            && let Some(reference) = left.upload_reference.clone()
        {
            match uploaded_file(client, &reference).await {
                Ok(Some(id)) => {
                    output.note(&format!(
                        "the upload was stored though its answer never came: deleting file {id}"
                    ));
                    left.file = Some(id);
                }
                // Not stored yet, or not at all: an answer that was lost, or that did not come
                // within its grace after Ctrl-C, follows a body that may have gone out whole.
                Ok(None) => output.note(&format!(
                    "the upload may still be stored: {}",
                    look_for(&reference)
                )),
                Err(error) => output.note(&format!(
                    "warning: could not look for the upload that may have been stored \
                     (client_reference_id {reference}): {}",
                    Failure::from(error)
                )),
            }
            interrupt.leaving(left_notes(&left, "left"));
        }
        if let Some(id) = left.file.clone() {
            match client.files().delete(&id).await {
                Ok(()) => {
                    tracing::info!(file = %id, "deleted");
                    (left.file, left.upload_reference) = (None, None);
                }
                Err(error) => output.note(&format!(
                    "warning: could not delete file {id}: {}",
                    Failure::from(error)
                )),
            }
        }
    };
    if tokio::time::timeout(CLEANUP_TIMEOUT, work).await.is_err() {
        output.note("warning: cleanup took too long and was abandoned");
        for note in left_notes(&left, "left") {
            output.note(&note);
        }
    }
    interrupt.leaving(Vec::new());
}

/// How to find an upload that may have been stored under `reference`.
fn look_for(reference: &str) -> String {
    format!("look for client_reference_id {reference} in `soniox files list --json`")
}

/// The file stored under `reference`, if any: the list cannot filter by reference, so it is
/// read until the file comes, or to its end (an account holds 1,000 files unless its limit
/// was raised; the cleanup's time limit bounds the rest).
async fn uploaded_file(client: &Client, reference: &str) -> Result<Option<FileId>, ClientError> {
    let files = client.files().list(ListParams::new());
    let mut files = std::pin::pin!(files);
    while let Some(file) = files.next().await {
        let file = file?;
        if file.client_reference_id.as_deref() == Some(reference) {
            return Ok(Some(file.id));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs() {
        assert_eq!(parse_pair("a=b=c"), Ok(("a".to_owned(), "b=c".to_owned())));
        assert_eq!(parse_pair("a="), Ok(("a".to_owned(), String::new())));
        assert!(parse_pair("=b").is_err());
        assert!(parse_pair("ab").is_err());
    }
}
