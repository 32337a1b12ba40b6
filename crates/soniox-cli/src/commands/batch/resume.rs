//! Where a batch stands when it starts: which inputs are done, which wait on a job the
//! tracker holds, which are to be submitted and under which reference; and what becomes of
//! the uploads an earlier run left without a job.

use std::collections::{HashMap, HashSet};

use futures_util::TryStreamExt as _;
use soniox_client::Client;
use soniox_tracker::{JobState, Tracker, TrackerError};
use soniox_types::{FileId, ListParams};

use super::{inputs::Input, reference::References};
use crate::{failure::Failure, output::Output};

/// An input still to transcribe, and the reference its job has or will have.
#[derive(Debug)]
pub(super) struct Pending<'a> {
    pub(super) input: &'a Input,
    pub(super) reference: String,
}

/// What each input needs.
#[derive(Debug, Default)]
pub(super) struct Plan<'a> {
    /// Inputs whose output (or error) is written.
    pub(super) done: usize,
    /// Inputs whose job the tracker holds and will hand to the handler.
    pub(super) waiting: Vec<Pending<'a>>,
    /// Inputs to submit, in order.
    pub(super) queue: Vec<Pending<'a>>,
}

/// Sorts `inputs` by what they need. An input without output whose job the tracker has
/// handled (its output was deleted since; the job, cleaned up, cannot give it again) or lost
/// (the API no longer had it) is submitted again under its next attempt's reference.
///
/// # Errors
/// When the tracker's records cannot be read.
pub(super) async fn plan<'a>(
    tracker: &Tracker,
    references: &References,
    inputs: &'a [Input],
    is_done: impl Fn(&Input) -> bool,
    output: Output,
) -> Result<Plan<'a>, Failure> {
    let mut plan = Plan::default();
    for input in inputs {
        if is_done(input) {
            plan.done += 1;
            continue;
        }
        let mut attempt = 0;
        let mut gone = None;
        let (state, reference) = loop {
            let reference = references.of(input, attempt);
            match tracker
                .state_of(&reference)
                .await
                .map_err(|error| unreadable(&error))?
            {
                Some(state @ (JobState::Handled | JobState::Lost)) => {
                    gone = Some(state);
                    attempt += 1;
                }
                state => break (state, reference),
            }
        };
        match gone {
            Some(JobState::Handled) => output.note(&format!(
                "{}: its output is missing; transcribing it again",
                input.name
            )),
            Some(_) => output.note(&format!(
                "{}: the API no longer has its job; transcribing it again",
                input.name
            )),
            None => {}
        }
        let pending = Pending { input, reference };
        match state {
            None => plan.queue.push(pending),
            Some(_) => plan.waiting.push(pending),
        }
    }
    Ok(plan)
}

/// The uploads of this batch that an earlier run left without a recorded job (it was killed
/// or failed between an upload and the tracker's record): for each reference in `queue`, one
/// file to submit instead of uploading again; every other such upload is deleted, unless a
/// job the tracker holds still needs it.
///
/// # Errors
/// When the files cannot be listed or the tracker's records cannot be read.
pub(super) async fn uploads_left(
    client: &Client,
    tracker: &Tracker,
    references: &References,
    queue: &[Pending<'_>],
    output: Output,
) -> Result<HashMap<String, FileId>, Failure> {
    let ours: Vec<(String, FileId)> = client
        .files()
        .list(ListParams::new())
        .try_filter_map(|file| async move {
            Ok(file
                .client_reference_id
                .filter(|reference| references.owns(reference))
                .map(|reference| (reference, file.id)))
        })
        .try_collect()
        .await?;
    let queued: HashSet<&str> = queue
        .iter()
        .map(|pending| pending.reference.as_str())
        .collect();
    let mut adopted = HashMap::new();
    for (reference, file) in ours {
        let wanted = queued.contains(reference.as_str());
        if wanted && !adopted.contains_key(&reference) {
            tracing::info!(%reference, %file, "reusing an upload of an earlier run");
            adopted.insert(reference, file);
            continue;
        }
        let state = tracker
            .state_of(&reference)
            .await
            .map_err(|error| unreadable(&error))?;
        if matches!(
            state,
            Some(JobState::Submitting | JobState::Submitted | JobState::Finished)
        ) {
            continue;
        }
        match client.files().delete(&file).await {
            Ok(()) => tracing::info!(%reference, %file, "deleted an upload left by an earlier run"),
            Err(error) if error.is_not_found() => {}
            Err(error) => output.note(&format!(
                "warning: could not delete file {file}, left by an earlier run: {}",
                Failure::from(error)
            )),
        }
    }
    Ok(adopted)
}

/// A failure to read the tracker's records.
pub(super) fn unreadable(error: &TrackerError) -> Failure {
    Failure::other(format!("cannot read the batch state: {error}"))
}
