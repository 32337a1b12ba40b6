//! `soniox batch`: transcribe many files within Soniox's quotas, on the durable tracker, and
//! resume after a crash or Ctrl-C without submitting a finished or running file again.
//!
//! State lives in `OUT/.soniox-batch/`: the tracker's SQLite database (every job, recorded
//! before its create request) and the batch's id. Each input is submitted under a reference
//! derived from both (see [`mod@reference`]), so the tracker records it once: an input is done when
//! its output (or its `.error.txt`) exists; submitted when the tracker holds its reference,
//! whether or not its create request got out before a crash. Its upload carries the same
//! reference, so a resumed batch submits an upload whose job was never recorded instead of
//! uploading the file again, and deletes the ones it does not need (see [`mod@resume`]). An
//! input whose output went missing after its job was handled and cleaned up is submitted
//! again under a new reference. Jobs are found finished by the tracker's reconciler (list
//! pages), handled once, written out atomically, then deleted from the API with their uploads,
//! which keeps the stored transcriptions well under the 2,000 quota and the running ones under
//! `--concurrency`. A job the API lost is written as failed instead of being waited for.

mod inputs;
mod reference;
mod resume;

use std::{
    collections::{HashMap, HashSet},
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use clap::Args;
use soniox_client::{Client, Upload};
use soniox_store::SqliteStore;
use soniox_tracker::{FinishedJob, JobOutcome, JobState, Tracker, reconcile::Policy};
use soniox_types::FileId;
use tokio::sync::mpsc;

use self::{inputs::Input, reference::References, resume::Pending};
use crate::{
    context::Context,
    failure::{Failure, Kind},
    interrupt::Interrupt,
    output::Output,
    progress,
    render::{Format, render},
    request::RequestArgs,
};
use soniox_emulator::options;

/// The folder of the batch's state inside `--out`.
const STATE_DIR: &str = ".soniox-batch";

/// Transcribe a directory (or a list) of files within Soniox's quotas; resumable.
// Reads as `Command`'s doc in main.rs, which this replaces once the subcommand is built.
#[derive(Debug, Args)]
pub(crate) struct BatchArgs {
    /// A directory of audio files, or a file listing one path a line.
    #[arg(value_name = "DIR|LIST_FILE")]
    source: PathBuf,

    /// Where transcripts go (`NAME.txt`, `.json`, `.srt`, `.vtt`), with the batch's state.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,

    #[command(flatten)]
    request: RequestArgs,

    /// How to write each transcript.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,

    /// Most jobs queued or processing at once (Soniox allows 100).
    #[arg(long, value_name = "N", default_value_t = 50, value_parser = clap::value_parser!(u16).range(1..=100))]
    concurrency: u16,

    /// How long after submission a job is first polled; intervals then double up to 30 s
    /// [default: 2s, 50ms with --emulator].
    #[arg(long, value_name = "DURATION", value_parser = options::parse_duration)]
    poll_interval: Option<Duration>,

    /// How long a create request may take to reach Soniox (at least 1s): a job whose answer
    /// was lost (a timeout, a crash) is looked up after it, and sent again only if Soniox
    /// does not have it.
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = parse_create_grace)]
    create_grace: Duration,
}

/// A `--create-grace`: the tracker gives a create half of it to answer, which must leave
/// room for a round trip.
fn parse_create_grace(value: &str) -> Result<Duration, String> {
    let grace = options::parse_duration(value)?;
    if grace < Duration::from_secs(1) {
        return Err(format!("`{value}` is shorter than 1s"));
    }
    Ok(grace)
}

/// What the handler reports for each finished input.
#[derive(Debug)]
struct Finished {
    name: String,
    failed: bool,
}

pub(crate) async fn run(context: &mut Context, args: BatchArgs) -> Result<(), Failure> {
    args.request.check()?;
    let inputs = inputs::read(&args.source)?;
    let state = args.out.join(STATE_DIR);
    std::fs::create_dir_all(&state).map_err(|error| Failure::io(state.display(), &error))?;
    let references = References::open(&state)?;
    let client = context.client().await?;
    let store = SqliteStore::open(state.join("tracker.db"))
        .await
        .map_err(|error| Failure::other(format!("cannot open the batch state: {error}")))?;
    let (finished_tx, mut finished_rx) = mpsc::unbounded_channel();
    let writer = Arc::new(Writer {
        client: client.clone(),
        out: args.out.clone(),
        format: args.format,
        names: references.names(&inputs),
        finished: finished_tx,
    });
    let first_poll = args.poll_interval.unwrap_or(
        if context.default_poll_interval() < Duration::from_secs(1) {
            Duration::from_millis(50)
        } else {
            Duration::from_secs(2)
        },
    );
    let mut policy = Policy::default();
    // No webhook comes (there is no receiver): poll from the start.
    policy.webhook_grace = first_poll;
    policy.create_grace = args.create_grace;
    policy.max_poll_interval = Duration::from_secs(30).max(first_poll);
    policy.retry_interval = first_poll.max(Duration::from_secs(1));
    // How long the batch waits for a finished job before it looks for lost ones.
    let lost_check = policy.retry_interval;
    let tracker = Tracker::builder(client.clone(), store)
        .policy(policy)
        .cleanup(true)
        .build(move |job: FinishedJob| {
            let writer = Arc::clone(&writer);
            async move { writer.write(job).await }
        })
        .await
        .map_err(|error| Failure::other(format!("cannot start the tracker: {error}")))?;
    let reconciler = tracker.spawn_reconciler(first_poll.min(Duration::from_secs(1)));

    let is_done = |input: &Input| {
        args.out
            .join(output_name(&input.name, args.format))
            .exists()
            || args.out.join(error_name(&input.name)).exists()
    };
    let plan = resume::plan(&tracker, &references, &inputs, is_done, context.output).await?;
    let mut uploads = if references.resumed() {
        resume::uploads_left(&client, &tracker, &references, &plan.queue, context.output).await?
    } else {
        HashMap::new()
    };
    // Each input in flight by name, with its job's reference.
    let mut waiting: HashMap<String, String> = plan
        .waiting
        .into_iter()
        .map(|pending| (pending.input.name.clone(), pending.reference))
        .collect();
    // Failed in earlier runs too: a resumed batch ends as the whole batch did. Only inputs
    // the plan found done count: one still in flight may fail (and get its error file) any
    // moment now, and is counted when it is reported.
    let queued: HashSet<&str> = plan
        .queue
        .iter()
        .map(|pending| pending.input.name.as_str())
        .collect();
    let failed_before = inputs
        .iter()
        .filter(|input| {
            !waiting.contains_key(&input.name)
                && !queued.contains(input.name.as_str())
                && args.out.join(error_name(&input.name)).exists()
        })
        .count();
    let mut queue = plan.queue.into_iter();
    let mut tally = Tally {
        bar: progress::count_bar(context.output, inputs.len() as u64),
        failed: failed_before,
    };
    tally.bar.set_position(plan.done as u64);
    let interrupt = context.interrupt.clone();
    let concurrency = usize::from(args.concurrency);
    let result: Result<(), Failure> = async {
        loop {
            while waiting.len() < concurrency
                && let Some(pending) = queue.next()
            {
                let file = uploads.remove(&pending.reference);
                let name = pending.input.name.clone();
                match submit(&client, &tracker, &args, &pending, file, &interrupt).await? {
                    Submitted::Yes => {
                        waiting.insert(name, pending.reference);
                    }
                    Submitted::Refused(why) => {
                        let error = format!(
                            "upload_refused: {why}; delete this file and run the batch again \
                             to submit the input again\n"
                        );
                        write_atomically(&args.out.join(error_name(&name)), error.as_bytes())
                            .await?;
                        let refused = Finished { name, failed: true };
                        tally.settled(context.output, &refused, args.format)?;
                    }
                }
                tally.in_flight(waiting.len());
            }
            if waiting.is_empty() {
                return Ok(());
            }
            let next = tokio::time::timeout(lost_check, finished_rx.recv());
            let finished = match interrupt
                .guard(next)
                .await
                .ok_or_else(Failure::interrupted)?
            {
                Ok(finished) => finished.ok_or_else(|| Failure::other("the tracker stopped"))?,
                // Nothing finished for a while: a job the API lost will never finish.
                Err(_) => match lost(&tracker, &waiting, &args.out).await? {
                    Some(finished) => finished,
                    None => continue,
                },
            };
            if waiting.remove(&finished.name).is_some() {
                tally.settled(context.output, &finished, args.format)?;
                tally.in_flight(waiting.len());
            }
        }
    }
    .await;
    tally.bar.finish_and_clear();
    reconciler.stop().await;
    // The ids of the jobs just created are recorded in the background: written before the
    // process ends, a resumed batch finds those jobs at once rather than after the create
    // grace.
    tracker.flush().await;
    match result {
        Err(failure) if failure.is_interrupted() => {
            context
                .output
                .note("stopped; run the same command again to resume");
            Err(failure)
        }
        Err(failure) => Err(failure),
        Ok(()) if tally.failed > 0 => Err(Failure::new(
            Kind::JobFailed,
            format!(
                "{} of {} files failed; see the .error.txt files",
                tally.failed,
                inputs.len()
            ),
        )),
        Ok(()) => {
            context
                .output
                .note(&format!("{} files transcribed", inputs.len()));
            Ok(())
        }
    }
}

/// The inputs settled, on the progress bar, and how many of them failed.
struct Tally {
    bar: indicatif::ProgressBar,
    failed: usize,
}

impl Tally {
    /// Counts `finished` and prints which output it got.
    fn settled(
        &mut self,
        output: Output,
        finished: &Finished,
        format: Format,
    ) -> Result<(), Failure> {
        self.bar.inc(1);
        let file = if finished.failed {
            self.failed += 1;
            error_name(&finished.name)
        } else {
            output_name(&finished.name, format)
        };
        output.record(
            &serde_json::json!({ "input": finished.name, "output": file, "failed": finished.failed }),
            || format!("{} -> {file}", finished.name),
        )
    }

    /// Shows `count` inputs in flight.
    fn in_flight(&self, count: usize) {
        self.bar
            .set_message(format!("{count} in flight, {} failed", self.failed));
    }
}

/// What [`submit`] did with an input.
enum Submitted {
    /// Its job is submitted.
    Yes,
    /// Its upload failed for a reason of its own (too large, unreadable, refused by the API
    /// for what it is), said here: it fails alone, and the batch goes on.
    Refused(String),
}

/// Uploads the input under its name and its job's reference (unless `file`, an upload of an
/// earlier run, is given) and submits its job through the tracker under that reference.
/// Ctrl-C stops the upload, not the submission, which the tracker records before creating
/// the job; a resumed batch finds the input submitted by its reference, or its upload by the
/// same reference.
///
/// # Errors
/// A failure that would fail every input alike (the network, the key, the quotas, the job
/// request): the batch stops.
async fn submit(
    client: &Client,
    tracker: &Tracker,
    args: &BatchArgs,
    pending: &Pending<'_>,
    file: Option<FileId>,
    interrupt: &Interrupt,
) -> Result<Submitted, Failure> {
    let input = pending.input;
    let file = match file {
        Some(file) => file,
        None => {
            let upload = Upload::path(&input.path)
                .filename(input.name.clone())
                .client_reference_id(pending.reference.clone());
            let uploaded = interrupt
                .guard(client.files().upload(upload))
                .await
                .ok_or_else(Failure::interrupted)?;
            match uploaded {
                Ok(file) => file.id,
                Err(error) if is_the_inputs_own(&error) => {
                    return Ok(Submitted::Refused(Failure::from(error).to_string()));
                }
                Err(error) => return Err(Failure::from(error)),
            }
        }
    };
    let request = args.request.request().file_id(file);
    tracker
        .submit_with_reference(pending.reference.clone(), request)
        .await
        .map_err(|error| match error {
            soniox_tracker::TrackerError::Api(error) => Failure::from(error),
            other => Failure::other(format!("{}: {other}", input.name)),
        })?;
    Ok(Submitted::Yes)
}

/// Whether an upload's failure is its input's own: the file too large or unreadable, or
/// refused by the API for what it is (400, 413, 415, 422). Other statuses (a 404 from a
/// wrong `--base-url`, a proxy's 407, the key's 401) would refuse every input alike.
fn is_the_inputs_own(error: &soniox_client::Error) -> bool {
    use soniox_client::Error;
    match error {
        Error::FileTooLarge { .. } | Error::Io { .. } | Error::Validation(_) => true,
        Error::Api { .. } => error
            .status()
            .is_some_and(|status| matches!(status.as_u16(), 400 | 413 | 415 | 422)),
        _ => false,
    }
}

/// The first input in flight whose job the tracker has found lost (the API no longer has it:
/// deleted by someone else, say), written as failed: it would never finish. Running the batch
/// again after deleting the `.error.txt` submits it again.
async fn lost(
    tracker: &Tracker,
    waiting: &HashMap<String, String>,
    out: &Path,
) -> Result<Option<Finished>, Failure> {
    for (name, reference) in waiting {
        if tracker
            .state_of(reference)
            .await
            .map_err(|error| resume::unreadable(&error))?
            == Some(JobState::Lost)
        {
            let error = "job_lost: the API no longer has this input's job; delete this file \
                         and run the batch again to submit it again\n";
            write_atomically(&out.join(error_name(name)), error.as_bytes()).await?;
            return Ok(Some(Finished {
                name: name.clone(),
                failed: true,
            }));
        }
    }
    Ok(None)
}

/// The tracker's handler: writes each finished job's output, then reports it.
#[derive(Debug)]
struct Writer {
    client: Client,
    out: PathBuf,
    format: Format,
    /// Each input's name by its first attempt's reference.
    names: HashMap<String, String>,
    finished: mpsc::UnboundedSender<Finished>,
}

impl Writer {
    /// Writes the output (or the error) under its input's name, known by the job's reference
    /// (or, for a job of an input no longer in the source, its uploaded file's). Idempotent:
    /// the tracker calls it again after a failure or a crash.
    async fn write(&self, job: FinishedJob) -> Result<(), Failure> {
        let known = job
            .reference
            .as_ref()
            .and_then(|reference| self.names.get(References::first_attempt(reference)));
        let name = match known {
            Some(name) => name.clone(),
            None => {
                let filename = self.client.transcriptions().get(&job.id).await?.filename;
                plain_name(filename).unwrap_or_else(|| job.id.to_string())
            }
        };
        let (file, contents, failed) = match job.outcome {
            JobOutcome::Completed(transcript) => (
                output_name(&name, self.format),
                render(&transcript, self.format)?,
                false,
            ),
            JobOutcome::Failed {
                error_type,
                error_message,
            } => {
                let error = format!(
                    "{}: {}\n",
                    error_type.as_deref().unwrap_or("unknown"),
                    error_message.as_deref().unwrap_or("no message")
                );
                (error_name(&name), error, true)
            }
            _ => return Err(Failure::other(format!("{}: unknown outcome", job.id))),
        };
        write_atomically(&self.out.join(&file), contents.as_bytes()).await?;
        // The batch may have stopped listening (Ctrl-C); the output is written either way.
        let _ = self.finished.send(Finished { name, failed });
        Ok(())
    }
}

/// Writes a temporary file and renames it, so that an output exists only whole: its
/// existence is what marks the input done.
async fn write_atomically(path: &Path, contents: &[u8]) -> Result<(), Failure> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".partial");
    let temporary = PathBuf::from(temporary);
    tokio::fs::write(&temporary, contents)
        .await
        .map_err(|error| Failure::io(temporary.display(), &error))?;
    tokio::fs::rename(&temporary, path)
        .await
        .map_err(|error| Failure::io(path.display(), &error))
}

fn output_name(name: &str, format: Format) -> String {
    let extension = match format {
        Format::Text | Format::Speakers => "txt",
        Format::Json => "json",
        Format::Srt => "srt",
        Format::Vtt => "vtt",
    };
    format!("{name}.{extension}")
}

/// `filename` if it is a plain file name, as every input's is: one path component, neither
/// `.` nor `..`, and no line break. A name the API answered with is written under `--out`
/// only so.
fn plain_name(filename: String) -> Option<String> {
    let mut components = Path::new(&filename).components();
    let plain = matches!(components.next(), Some(std::path::Component::Normal(_)))
        && components.next().is_none()
        && !filename.contains(['/', '\n']);
    plain.then_some(filename)
}

fn error_name(name: &str) -> String {
    format!("{name}.error.txt")
}

#[cfg(test)]
mod tests {
    use super::plain_name;

    #[test]
    fn only_plain_file_names_name_outputs() {
        for name in ["a.wav", "call 1.mp3", "..a", "a..b"] {
            assert_eq!(plain_name(name.to_owned()).as_deref(), Some(name));
        }
        for name in [
            "",
            ".",
            "..",
            "../a.wav",
            "/etc/passwd",
            "a/b.wav",
            "a/",
            "./a",
            "a\nb",
        ] {
            assert_eq!(plain_name(name.to_owned()), None, "{name:?}");
        }
    }
}
