//! `/v1/files`: streamed multipart uploads to disk, list, count, get, delete.

use std::sync::Arc;

use futures_util::StreamExt;
use http::{Request, StatusCode, header};
use soniox_types::{
    Count, FILE_TOO_LARGE_MESSAGE, File, FileId, FileList, UploadMetadata, validation::limits,
};

use super::form_body::{FormBody, PartHead, PartHeadTooLong};
use crate::{
    audio::{self, IngestError},
    files_dir::{self, PartialFile},
    issued::{new_uuid, now},
    request_body::RequestBody,
    respond::{Failure, Reply, json, no_content},
    shared::Shared,
    store::FileEntry,
};

/// Bytes a multipart body may have besides its file: boundaries, part headers and the
/// `client_reference_id` field.
const FORM_OVERHEAD: u64 = 1024 * 1024;

/// Longest form field other than the file. A `client_reference_id` past the 256-character
/// limit is already an error; this bounds what is read of it and of fields the API ignores.
const MAX_TEXT_FIELD: u64 = 16 * 1024;

pub(super) fn list(shared: &Shared, request: &Request<RequestBody>) -> Result<Reply, Failure> {
    let (limit, cursor) = super::list_params(request)?;
    let state = shared.store.lock();
    let (files, next) = state
        .files
        .page(cursor.as_deref(), limit, |entry| entry.file.clone())
        .map_err(|_| invalid_cursor())?;
    Ok(json(StatusCode::OK, &FileList::new(files, next)))
}

pub(super) fn invalid_cursor() -> Failure {
    Failure::new(
        StatusCode::BAD_REQUEST,
        soniox_types::ApiErrorType::InvalidCursor,
        crate::respond::INVALID_CURSOR,
    )
}

pub(super) fn count(shared: &Shared) -> Reply {
    let total = shared.store.lock().files.len() as u64;
    json(StatusCode::OK, &Count::new(total, total, 0))
}

pub(super) fn get(shared: &Shared, id: &str) -> Result<Reply, Failure> {
    let state = shared.store.lock();
    let entry = state.files.get(id).ok_or_else(Failure::file_not_found)?;
    Ok(json(StatusCode::OK, &entry.file))
}

pub(super) async fn delete(shared: &Shared, id: &str) -> Result<Reply, Failure> {
    let removed = shared
        .store
        .lock()
        .files
        .remove(id, |entry| entry.seq)
        .ok_or_else(Failure::file_not_found)?;
    if let Err(error) = tokio::fs::remove_file(&removed.path).await {
        tracing::warn!(%error, path = %removed.path.display(), "could not remove an uploaded file");
    }
    Ok(no_content())
}

fn missing_file() -> Failure {
    Failure::invalid("missing", "file.file", "Field required")
}

pub(super) async fn upload(
    shared: &Arc<Shared>,
    request: Request<RequestBody>,
) -> Result<Reply, Failure> {
    // The quota is checked before the body is read, so a refused upload costs no disk, and
    // again before the file is recorded, as uploads running at once may have filled it.
    check_file_quota(shared, &shared.store.lock())?;
    // A body declared larger than the file limit plus room for the form's other parts cannot
    // hold an acceptable file: answer now rather than after reading a gigabyte.
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    let limit = shared.config.max_file_bytes;
    if declared.is_some_and(|declared| declared > limit.saturating_add(FORM_OVERHEAD)) {
        return Err(ingest_failure(IngestError::TooLarge { limit }));
    }
    let boundary = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| multer::parse_boundary(value).ok())
        .ok_or_else(missing_file)?;
    let part_head = PartHead::new();
    let body = FormBody::new(request.into_body(), Arc::clone(&part_head));
    // The file's own limit is checked as it is stored, with the API's message.
    let sizes = multer::SizeLimit::new()
        .whole_stream(limit.saturating_add(FORM_OVERHEAD))
        .per_field(MAX_TEXT_FIELD)
        .for_field("file", u64::MAX);
    let mut multipart = multer::Multipart::with_constraints(
        body,
        boundary,
        multer::Constraints::new().size_limit(sizes),
    );
    let mut form = Form {
        multipart: &mut multipart,
        part_head: &part_head,
        limit,
    };
    let mut stored = None;
    let result = read_form(shared, &mut form, &mut stored)
        .await
        .and_then(|client_reference_id| {
            if let Some(id) = &client_reference_id {
                UploadMetadata::new()
                    .client_reference_id(id.as_str())
                    .validate(None)
                    .map_err(|errors| Failure::validation(errors.to_details()))?;
            }
            let file = stored.take().ok_or_else(missing_file)?;
            Ok((file, client_reference_id))
        });
    // On failure the stored file's guard removes it.
    let (stored, client_reference_id) = result?;
    let Stored {
        filename,
        size,
        file: partial,
        facts,
    } = stored;
    let id = new_uuid();
    let mut file = File::new(FileId::new(id.clone()), filename, size, now());
    file.client_reference_id = client_reference_id;
    let mut state = shared.store.lock();
    // Refused here, the partial file's guard removes the upload.
    check_file_quota(shared, &state)?;
    let seq = state.next_seq();
    let reply = json(StatusCode::CREATED, &file);
    let path = partial.keep();
    state.files.insert(
        id,
        seq,
        FileEntry {
            file,
            seq,
            path,
            facts,
        },
    );
    Ok(reply)
}

fn check_file_quota(shared: &Shared, state: &crate::store::State) -> Result<(), Failure> {
    if state.files.len() >= shared.config.quotas.files {
        return Err(Failure::limit_exceeded(format!(
            "Maximum number of files reached ({}). Delete files you no longer need.",
            shared.config.quotas.files
        )));
    }
    Ok(())
}

/// An upload's file part, on disk.
struct Stored {
    filename: String,
    size: u64,
    /// Removed unless the upload is recorded.
    file: PartialFile,
    facts: audio::AudioFacts,
}

/// The parser over an upload's body, and what its errors are reported against.
struct Form<'a> {
    multipart: &'a mut multer::Multipart<'static>,
    part_head: &'a PartHead,
    /// The largest file accepted.
    limit: u64,
}

impl Form<'_> {
    /// The next part, found within the bound of [`PartHead`].
    async fn next_field(&mut self) -> Result<Option<multer::Field<'static>>, Failure> {
        self.part_head.searching();
        let field = self.multipart.next_field().await;
        self.part_head.found();
        field.map_err(|error| self.failure(&error))
    }

    /// The answer to a body the parser refused.
    fn failure(&self, error: &multer::Error) -> Failure {
        match error {
            multer::Error::StreamSizeExceeded { .. } => {
                ingest_failure(IngestError::TooLarge { limit: self.limit })
            }
            multer::Error::FieldSizeExceeded {
                field_name: Some(name),
                ..
            } if name == "client_reference_id" => Failure::invalid(
                "string_too_long",
                "file.client_reference_id",
                &format!(
                    "String should have at most {} characters",
                    limits::CLIENT_REFERENCE_ID_MAX_CHARS
                ),
            ),
            multer::Error::FieldSizeExceeded { field_name, .. } => Failure::invalid(
                "value_error",
                "file",
                &format!(
                    "Value error, form field {:?} is longer than {MAX_TEXT_FIELD} bytes",
                    field_name.as_deref().unwrap_or_default()
                ),
            ),
            multer::Error::StreamReadFailed(cause) if cause.is::<PartHeadTooLong>() => {
                bad_multipart(&cause.to_string())
            }
            other => bad_multipart(&other.to_string()),
        }
    }
}

/// Reads the form's parts, streaming the first `file` part to disk; returns the
/// `client_reference_id` field.
async fn read_form(
    shared: &Shared,
    form: &mut Form<'_>,
    stored: &mut Option<Stored>,
) -> Result<Option<String>, Failure> {
    let mut client_reference_id = None;
    while let Some(field) = form.next_field().await? {
        match field.name() {
            Some("file") if stored.is_none() => {
                let filename = field.file_name().unwrap_or("file").to_owned();
                let path = files_dir::upload_path(&shared.files_dir);
                let (file, size, facts) = audio::ingest(field, path, shared.config.max_file_bytes)
                    .await
                    .map_err(ingest_failure)?;
                *stored = Some(Stored {
                    filename,
                    size,
                    file,
                    facts,
                });
            }
            Some("client_reference_id") => {
                client_reference_id = Some(read_text(form, field).await?);
            }
            _ => drain(form, field).await?,
        }
    }
    Ok(client_reference_id)
}

/// The API's message, with the emulator's limit in place of 1 GiB when it was changed.
fn too_large_message(limit: u64) -> String {
    if limit == limits::FILE_MAX_BYTES {
        FILE_TOO_LARGE_MESSAGE.to_owned()
    } else {
        format!("Exceeded maximum file size (maximum is {limit} bytes).")
    }
}

fn bad_multipart(reason: &str) -> Failure {
    Failure::invalid(
        "value_error",
        "file",
        &format!("Value error, malformed multipart body: {reason}"),
    )
}

fn ingest_failure(error: IngestError) -> Failure {
    match error {
        IngestError::TooLarge { limit } => {
            let message = too_large_message(limit);
            let mut failure = Failure::invalid("value_error", "file.file", &message);
            failure.set_message(message);
            failure
        }
        IngestError::Body(message) => Failure::invalid(
            "value_error",
            "file.file",
            &format!("Value error, {message}"),
        ),
        IngestError::Io(error) => {
            tracing::error!(%error, "storing an upload failed");
            Failure::internal()
        }
    }
}

/// A text field, at most [`MAX_TEXT_FIELD`] bytes long (the parser's limit).
async fn read_text(form: &Form<'_>, mut field: multer::Field<'_>) -> Result<String, Failure> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.next().await {
        bytes.extend_from_slice(&chunk.map_err(|error| form.failure(&error))?);
    }
    String::from_utf8(bytes).map_err(|_| {
        Failure::invalid(
            "string_unicode",
            "file.client_reference_id",
            "Input should be a valid string, unable to parse raw data as a unicode string",
        )
    })
}

async fn drain(form: &Form<'_>, mut field: multer::Field<'_>) -> Result<(), Failure> {
    while let Some(chunk) = field.next().await {
        chunk.map_err(|error| form.failure(&error))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_large_message_matches_the_api_at_the_default_limit() {
        assert_eq!(
            too_large_message(limits::FILE_MAX_BYTES),
            FILE_TOO_LARGE_MESSAGE
        );
        assert_eq!(
            too_large_message(10),
            "Exceeded maximum file size (maximum is 10 bytes)."
        );
    }
}
