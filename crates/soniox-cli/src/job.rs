//! Waiting for a job with a spinner, and what a failed job means for the exit code.

use std::time::Duration;

use soniox_client::{Client, WaitOptions};
use soniox_types::{Transcription, TranscriptionId, TranscriptionStatus};

use crate::{
    context::Context,
    failure::{Failure, Kind},
    progress,
};

/// Polls `id` until it is `completed` or `error`, showing its status on a spinner; Ctrl-C
/// stops waiting (and is reported as [`Failure::interrupted`]).
///
/// # Errors
/// Interrupted, a wait timeout, API and network errors.
pub(crate) async fn wait(
    context: &Context,
    client: &Client,
    id: &TranscriptionId,
    poll_interval: Option<Duration>,
    timeout: Option<Duration>,
) -> Result<Transcription, Failure> {
    let spinner = progress::spinner(context.output, format!("{id} waiting"));
    let status = spinner.clone();
    let label = id.clone();
    let wait = WaitOptions::new()
        .initial_interval(poll_interval.unwrap_or_else(|| context.default_poll_interval()))
        .timeout(timeout)
        .on_status_change(move |job| status.set_message(format!("{label} {}", job.status)));
    let finished = context
        .interrupt
        .guard(client.transcriptions().wait(id, wait))
        .await;
    spinner.finish_and_clear();
    match finished.ok_or_else(Failure::interrupted)? {
        Ok(job) => Ok(job),
        // The client reports a job that ended in `error` as an error; the CLI shows the job
        // either way, and its callers turn a failed one into exit code 5 after printing it.
        Err(soniox_client::Error::TranscriptionFailed { .. }) => {
            Ok(client.transcriptions().get(id).await?)
        }
        Err(error) => Err(error.into()),
    }
}

/// The failure for a job that ended in `error`, if it did.
pub(crate) fn failed(job: &Transcription) -> Option<Failure> {
    (job.status == TranscriptionStatus::Error).then(|| {
        Failure::new(
            Kind::JobFailed,
            format!(
                "transcription {} failed: {}: {}",
                job.id,
                job.error_type.as_deref().unwrap_or("unknown"),
                job.error_message.as_deref().unwrap_or("no message"),
            ),
        )
    })
}
