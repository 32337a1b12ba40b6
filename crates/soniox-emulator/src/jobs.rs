//! The life of a transcription job: queued → processing → completed | error.
//!
//! A job moves in two steps. Starting to process reads what is known about the audio (or
//! downloads it); finishing marks it completed and fires the webhook. With an automatic clock a
//! background task takes both steps; with [`JobClock::Manual`](crate::JobClock::Manual) each
//! call of [`advance`] takes one step for every unfinished job.

use std::sync::Arc;

use http::{Method, Request, Uri};
use http_body_util::{BodyDataStream, Full};
use soniox_types::{
    Transcript, Transcription, TranscriptionStatus, Translation, validation::limits,
};

use crate::{
    audio::{self, AudioFacts},
    files_dir,
    shared::Shared,
    store::JobAudio,
    synth::{self, Shape},
    webhooks::{self, WebhookTarget, error_chain},
};

/// The job-level `error_type` of audio that could not be downloaded.
pub(crate) const DOWNLOAD_ERROR: &str = "audio_download_error";
/// The job-level `error_type` of content that is not audio.
pub(crate) const DECODE_ERROR: &str = "audio_decode_error";
/// The job-level `error_type` of audio longer than the API transcribes.
pub(crate) const TOO_LONG_ERROR: &str = "audio_too_long";

/// Runs a new job on the automatic clock, if the clock is automatic.
pub(crate) fn schedule(shared: &Arc<Shared>, id: String) {
    if shared.config.job_clock.processing_time(0).is_none() {
        return;
    }
    let task_shared = Arc::clone(shared);
    shared.spawn(async move {
        start_processing(&task_shared, &id).await;
        let duration_ms = {
            let state = task_shared.store.lock();
            state
                .jobs
                .get(&id)
                .and_then(|job| job.transcription.audio_duration_ms)
                .unwrap_or(0)
        };
        if let Some(delay) = task_shared.config.job_clock.processing_time(duration_ms)
            && !delay.is_zero()
        {
            tokio::time::sleep(delay).await;
        }
        finish(&task_shared, &id);
    });
}

/// Moves every unfinished job one step on, in creation order; returns how many moved.
///
/// It first waits for the jobs whose audio is being learnt (downloads started by the automatic
/// clock, or by an earlier call whose future was dropped), so that they move on too.
pub(crate) async fn advance(shared: &Arc<Shared>) -> usize {
    let mut starting = shared.starting.subscribe();
    // The sender lives in `shared`, which this borrow keeps alive: the wait cannot fail.
    let _ = starting.wait_for(|count| *count == 0).await;
    let pending: Vec<(String, TranscriptionStatus)> = {
        let state = shared.store.lock();
        state
            .jobs
            .values()
            .filter(|job| !job.transcription.status.is_terminal())
            .map(|job| {
                (
                    job.transcription.id.as_str().to_owned(),
                    job.transcription.status.clone(),
                )
            })
            .collect()
    };
    let mut moved = 0;
    for (id, status) in pending {
        let stepped = if status == TranscriptionStatus::Queued {
            start_processing(shared, &id).await
        } else {
            finish(shared, &id)
        };
        moved += usize::from(stepped);
    }
    moved
}

/// Marks a queued job processing and learns its audio; false when the job was not queued.
///
/// A URL's audio is downloaded in a task of its own that the job's outcome does not depend on
/// the caller for: an admin request's future is dropped when its client hangs up, and a job
/// left processing without its audio's facts would never finish.
async fn start_processing(shared: &Arc<Shared>, id: &str) -> bool {
    // Counted before the job shows as processing, so that `advance` never sees it processing
    // without its facts while nothing is under way to bring them.
    let starting = Starting::new(shared);
    let audio = {
        let mut state = shared.store.lock();
        let queued = state
            .jobs
            .get(id)
            .is_some_and(|job| job.transcription.status == TranscriptionStatus::Queued);
        if !queued {
            return false;
        }
        match state.set_status(id, TranscriptionStatus::Processing) {
            Some(job) => job.audio.clone(),
            None => return false,
        }
    };
    match audio {
        JobAudio::File(facts) => settle(shared, id, Ok(facts)),
        JobAudio::Url(url) => {
            let task_shared = Arc::clone(shared);
            let id = id.to_owned();
            let task = shared.spawn(async move {
                let facts = download(&task_shared, &url).await;
                settle(&task_shared, &id, facts);
                drop(starting);
            });
            // Ends early only when the emulator shuts down.
            let _ = task.await;
        }
    }
    true
}

/// A job being started, counted in `Shared::starting` until dropped.
struct Starting(Arc<Shared>);

impl Starting {
    fn new(shared: &Arc<Shared>) -> Self {
        shared.starting.send_modify(|count| *count += 1);
        Self(Arc::clone(shared))
    }
}

impl Drop for Starting {
    fn drop(&mut self) {
        self.0.starting.send_modify(|count| *count -= 1);
    }
}

/// Records what was learnt about a processing job's audio, or fails the job.
fn settle(shared: &Arc<Shared>, id: &str, facts: Result<AudioFacts, String>) {
    match facts {
        Ok(facts) if facts.is_audio && facts.duration_ms > limits::AUDIO_MAX_DURATION_MS => {
            if let Some(job) = shared.store.lock().jobs.get_mut(id) {
                job.transcription.audio_duration_ms = Some(facts.duration_ms);
            }
            fail(
                shared,
                id,
                TOO_LONG_ERROR,
                "Audio is too long: the maximum duration is 300 minutes.",
            );
        }
        Ok(facts) if facts.is_audio => {
            let mut state = shared.store.lock();
            if let Some(job) = state.jobs.get_mut(id) {
                job.facts = Some(facts);
                job.transcription.audio_duration_ms = Some(facts.duration_ms);
            }
        }
        Ok(_) => fail(
            shared,
            id,
            DECODE_ERROR,
            "Audio decode error: the content is not in a supported audio format.",
        ),
        Err(message) => fail(shared, id, DOWNLOAD_ERROR, &message),
    }
}

/// Completes a processing job whose audio is known; false when the job was not such.
fn finish(shared: &Arc<Shared>, id: &str) -> bool {
    let target = {
        let mut state = shared.store.lock();
        let Some(sha) = state
            .jobs
            .get(id)
            .filter(|job| job.transcription.status == TranscriptionStatus::Processing)
            .and_then(|job| job.facts)
            .map(|facts| facts.sha256_hex())
        else {
            return false;
        };
        let script = state.scripts.get(&sha).cloned();
        let Some(job) = state.set_status(id, TranscriptionStatus::Completed) else {
            return false;
        };
        job.script = script;
        WebhookTarget::of(job)
    };
    if let Some(target) = target {
        webhooks::dispatch(shared, &target);
    }
    true
}

fn fail(shared: &Arc<Shared>, id: &str, error_type: &str, message: &str) {
    let target = {
        let mut state = shared.store.lock();
        let Some(job) = state.set_status(id, TranscriptionStatus::Error) else {
            return;
        };
        job.transcription.error_type = Some(error_type.to_owned());
        job.transcription.error_message = Some(message.to_owned());
        WebhookTarget::of(job)
    };
    if let Some(target) = target {
        webhooks::dispatch(shared, &target);
    }
}

/// Downloads an audio URL to a scratch file, learns what it needs, and removes the file.
/// The whole download, body included, must finish within the timeout: a server that sends
/// its headers and then trickles the body cannot hold the job forever.
async fn download(shared: &Shared, url: &str) -> Result<AudioFacts, String> {
    tokio::time::timeout(
        shared.config.audio_download_timeout,
        download_within(shared, url),
    )
    .await
    .map_err(|_| "Failed to download audio: the download did not finish in time.".to_owned())?
}

async fn download_within(shared: &Shared, url: &str) -> Result<AudioFacts, String> {
    let parsed =
        url::Url::parse(url).map_err(|_| "Failed to download audio: invalid URL.".to_owned())?;
    let host = parsed.host_str().unwrap_or_default();
    if !shared.config.audio_urls.allows(host) {
        return Err(format!(
            "Failed to download audio: the emulator's audio URL policy does not allow host {host}."
        ));
    }
    let uri: Uri = url
        .parse()
        .map_err(|_| "Failed to download audio: invalid URL.".to_owned())?;
    let mut request = Request::new(Full::default());
    *request.method_mut() = Method::GET;
    *request.uri_mut() = uri;
    let response = shared
        .http
        .request(request)
        .await
        .map_err(|error| format!("Failed to download audio: {}.", error_chain(&error)))?;
    if !response.status().is_success() {
        return Err(format!(
            "Failed to download audio: the server answered {}.",
            response.status()
        ));
    }
    let stream = BodyDataStream::new(response.into_body());
    // The audio's facts are all the job needs: the scratch file goes when its guard does.
    audio::ingest(
        stream,
        files_dir::download_path(&shared.files_dir),
        limits::FILE_MAX_BYTES,
    )
    .await
    .map(|(_, _, facts)| facts)
    .map_err(|error| format!("Failed to download audio: {error}."))
}

/// The transcript of a completed job. It is deterministic; the caller keeps the first one
/// built so that each job's is built once.
pub(crate) fn transcript_of(
    transcription: &Transcription,
    facts: Option<AudioFacts>,
    script: Option<&str>,
    translation: Option<Translation>,
) -> Option<Transcript> {
    let facts = facts?;
    let text = match script {
        Some(script) => script.to_owned(),
        None => synth::generated_text(&facts.sha256, facts.duration_ms),
    };
    let shape = Shape {
        diarization: transcription.enable_speaker_diarization,
        language_identification: transcription.enable_language_identification,
        language_hints: transcription.language_hints.clone().unwrap_or_default(),
        translation,
    };
    Some(synth::transcript(
        transcription.id.clone(),
        &text,
        facts.duration_ms,
        &facts.sha256,
        &shape,
    ))
}
