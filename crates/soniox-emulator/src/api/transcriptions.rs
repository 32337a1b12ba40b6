//! `/v1/transcriptions`: create, list, count, get, delete, and the transcript.

use std::sync::Arc;

use bytes::Bytes;
use http::{Request, StatusCode};
use soniox_types::{
    Count, CreateTranscription, Secret, Transcription, TranscriptionId, TranscriptionList,
    TranscriptionStatus,
};

use super::{files::invalid_cursor, generated::bodies, models::is_async_model, payload};
use crate::{
    issued::{is_uuid, new_uuid, now},
    jobs,
    request_body::RequestBody,
    respond::{
        Failure, Reply, TRANSCRIPT_NOT_READY, TRANSCRIPTION_FAILED, json, json_body, no_content,
    },
    shared::Shared,
    store::{JobAudio, JobEntry},
    webhooks,
};

pub(super) async fn create(
    shared: &Arc<Shared>,
    request: Request<RequestBody>,
) -> Result<Reply, Failure> {
    let body = super::read_json(request, super::MAX_JSON_BODY).await?;
    let request: CreateTranscription =
        payload::decode(body, "body.payload", bodies::CREATE_TRANSCRIPTION)?;
    request
        .validate()
        .map_err(|errors| Failure::validation(errors.to_details()))?;
    if !is_async_model(&request.model) {
        return Err(Failure::invalid(
            "value_error",
            "body.payload.model",
            "Invalid model",
        ));
    }
    if let Some(url) = &request.webhook_url {
        webhooks::destination(&shared.config.webhook_urls, url).map_err(|message| {
            Failure::invalid(
                "value_error",
                "body.payload.webhook_url",
                &format!("Value error, {message}"),
            )
        })?;
    }
    let id = new_uuid();
    let mut state = shared.store.lock();
    let quotas = shared.config.quotas;
    if state.pending >= quotas.pending_transcriptions {
        return Err(Failure::limit_exceeded(format!(
            "Maximum number of pending transcriptions reached ({}). Wait for some to finish.",
            quotas.pending_transcriptions
        )));
    }
    if state.jobs.len() >= quotas.total_transcriptions {
        return Err(Failure::limit_exceeded(format!(
            "Maximum number of transcriptions reached ({}). Delete transcriptions you no longer need.",
            quotas.total_transcriptions
        )));
    }
    let (audio, filename) = match (&request.file_id, &request.audio_url) {
        (Some(file_id), _) => {
            if !is_uuid(file_id.as_str()) {
                return Err(Failure::invalid(
                    "uuid_parsing",
                    "body.payload.file_id",
                    "Input should be a valid UUID",
                ));
            }
            let entry = state
                .files
                .get(file_id.as_str())
                .ok_or_else(Failure::file_not_found)?;
            (JobAudio::File(entry.facts), entry.file.filename.clone())
        }
        (None, Some(url)) => (JobAudio::Url(url.clone()), url_filename(url)),
        (None, None) => {
            return Err(Failure::invalid(
                "value_error",
                "body.payload",
                "Value error, either audio_url or file_id must be set",
            ));
        }
    };
    let transcription = transcription_of(&request, TranscriptionId::new(id.clone()), filename);
    let reply = json(StatusCode::CREATED, &transcription);
    let seq = state.next_seq();
    state.pending += 1;
    state.jobs.insert(
        id.clone(),
        seq,
        JobEntry {
            transcription,
            seq,
            audio,
            facts: None,
            script: None,
            webhook_secret: request.webhook_auth_header_value,
            translation: request.translation,
            transcript: None,
        },
    );
    drop(state);
    jobs::schedule(shared, id);
    Ok(reply)
}

/// The job as the API returns it: the auth header value masked, options echoed.
fn transcription_of(
    request: &CreateTranscription,
    id: TranscriptionId,
    filename: String,
) -> Transcription {
    let mut transcription = Transcription::new(
        id,
        TranscriptionStatus::Queued,
        now(),
        request.model.clone(),
        filename,
    );
    transcription.audio_url = request.audio_url.clone();
    transcription.file_id = request.file_id.clone();
    transcription.language_hints = request.language_hints.clone();
    transcription.enable_speaker_diarization = request.enable_speaker_diarization.unwrap_or(false);
    transcription.enable_language_identification =
        request.enable_language_identification.unwrap_or(false);
    transcription.webhook_url = request.webhook_url.clone();
    transcription.webhook_auth_header_name = request.webhook_auth_header_name.clone();
    transcription.webhook_auth_header_value = request
        .webhook_auth_header_value
        .as_ref()
        .map(|_| Secret::masked());
    transcription.client_reference_id = request.client_reference_id.clone();
    transcription
}

/// The last path segment of an audio URL, as the API names such jobs.
fn url_filename(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|url| {
            url.path_segments()
                .and_then(|mut segments| segments.next_back().map(str::to_owned))
        })
        .filter(|segment| !segment.is_empty())
        .unwrap_or_else(|| "audio".to_owned())
}

pub(super) fn list(shared: &Shared, request: &Request<RequestBody>) -> Result<Reply, Failure> {
    let (limit, cursor) = super::list_params(request)?;
    let state = shared.store.lock();
    let (transcriptions, next) = state
        .jobs
        .page(cursor.as_deref(), limit, |job| job.transcription.clone())
        .map_err(|_| invalid_cursor())?;
    Ok(json(
        StatusCode::OK,
        &TranscriptionList::new(transcriptions, next),
    ))
}

pub(super) fn count(shared: &Shared) -> Reply {
    let total = shared.store.lock().jobs.len() as u64;
    json(StatusCode::OK, &Count::new(total, total, 0))
}

pub(super) fn get(shared: &Shared, id: &str) -> Result<Reply, Failure> {
    let state = shared.store.lock();
    let job = state
        .jobs
        .get(id)
        .ok_or_else(Failure::transcription_not_found)?;
    Ok(json(StatusCode::OK, &job.transcription))
}

pub(super) fn delete(shared: &Shared, id: &str) -> Result<Reply, Failure> {
    let mut state = shared.store.lock();
    let job = state
        .jobs
        .get(id)
        .ok_or_else(Failure::transcription_not_found)?;
    let status = &job.transcription.status;
    if !status.is_terminal() {
        return Err(Failure::invalid_state(format!(
            "Cannot delete transcription with {status} status."
        )));
    }
    state.jobs.remove(id, |job| job.seq);
    Ok(no_content())
}

pub(super) fn transcript(shared: &Shared, id: &str) -> Result<Reply, Failure> {
    let (transcription, facts, script, translation) = {
        let state = shared.store.lock();
        let job = state
            .jobs
            .get(id)
            .ok_or_else(Failure::transcription_not_found)?;
        match job.transcription.status {
            TranscriptionStatus::Completed => {}
            TranscriptionStatus::Error => return Err(Failure::invalid_state(TRANSCRIPTION_FAILED)),
            _ => return Err(Failure::invalid_state(TRANSCRIPT_NOT_READY)),
        }
        if let Some(body) = &job.transcript {
            return Ok(json_body(StatusCode::OK, body.clone()));
        }
        (
            job.transcription.clone(),
            job.facts,
            job.script.clone(),
            job.translation.clone(),
        )
    };
    // Built outside the lock: a long job's transcript takes a while. Two first requests at
    // once may both build it; they build the same, and the first stored is kept.
    let transcript = jobs::transcript_of(&transcription, facts, script.as_deref(), translation)
        .ok_or_else(Failure::internal)?;
    let body = Bytes::from(serde_json::to_vec(&transcript).map_err(|_| Failure::internal())?);
    let body = match shared.store.lock().jobs.get_mut(id) {
        Some(job) => job.transcript.get_or_insert(body).clone(),
        None => body,
    };
    Ok(json_body(StatusCode::OK, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filenames_come_from_the_last_path_segment() {
        assert_eq!(
            url_filename("https://soniox.com/media/examples/coffee_shop.mp3?x=1"),
            "coffee_shop.mp3"
        );
        assert_eq!(url_filename("http://127.0.0.1:9/"), "audio");
        assert_eq!(url_filename("http://127.0.0.1:9"), "audio");
    }
}
