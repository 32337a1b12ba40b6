//! `client.files()`: upload, inspect, list and delete audio files.

use futures_util::Stream;
use soniox_types::{Count, File, FileId, FileList, ListParams};

use crate::{Client, Error, Upload, call::Call, pagination::paginate, stall::Progress};

/// The `/v1/files` endpoints. Get one from [`Client::files`].
#[derive(Clone, Copy, Debug)]
pub struct Files<'a> {
    client: &'a Client,
}

impl Client {
    /// Uploaded files.
    pub fn files(&self) -> Files<'_> {
        Files { client: self }
    }
}

impl Files<'_> {
    /// Uploads a file, streaming it from its source.
    ///
    /// The size (≤ 1 GiB) and metadata are checked before anything is sent. A failure that
    /// proves the file was not stored (no connection, 408, 429) is retried, from the start
    /// of the source; one after which it may have been (the whole request was sent and no
    /// answer came, or a 500, 502, 503 or 504, which may come after the request was forwarded
    /// and acted on) is not, since the file would be stored twice. An upload cut off before
    /// its body went out whole cannot have been stored, and ends with its plain error.
    ///
    /// # Errors
    /// [`Error::FileTooLarge`], [`Error::Validation`] or [`Error::Io`] before sending; API and
    /// transport errors after, and [`Error::UploadStalled`] when the server stops taking the
    /// body or does not answer (see [`ClientBuilder::upload_idle_timeout`](crate::ClientBuilder::upload_idle_timeout)).
    /// [`Error::OutcomeUnknown`], with that error as its source, when the file may have been
    /// stored: the file list shows it, with its `client_reference_id` if it had one.
    pub async fn upload(&self, upload: Upload) -> Result<File, Error> {
        let size = upload.prepare().await?;
        let progress = Progress::new();
        let call = Call::post("/v1/files")
            .upload(upload.is_replayable(), &progress)
            .reference(upload.reference());
        let unread = call.unread_answer();
        let response = self
            .client
            .send(call, |request| {
                upload
                    .form(size, &progress)
                    .map(|form| form.map(|form| request.multipart(form)))
            })
            .await?;
        // The answer's body is bounded like its head: a server must not stall it either.
        progress
            .watch(self.client.upload_stall(), self.client.decode(response))
            .await
            .map_err(|error| unread.error(error))
    }

    /// Gets a file's metadata.
    ///
    /// # Errors
    /// [`Error::InvalidId`] for an id that cannot be a path segment; [`Error::Api`] with
    /// status 404 ([`Error::is_not_found`]) when there is no such file.
    pub async fn get(&self, id: &FileId) -> Result<File, Error> {
        self.client.json(Call::get(&file_path(id)?)).await
    }

    /// Deletes a file.
    ///
    /// # Errors
    /// [`Error::InvalidId`] for an id that cannot be a path segment; [`Error::Api`] with
    /// status 404 when there is no such file.
    pub async fn delete(&self, id: &FileId) -> Result<(), Error> {
        self.client.no_content(Call::delete(&file_path(id)?)).await
    }

    /// Counts the account's files.
    ///
    /// # Errors
    /// API and transport errors.
    pub async fn count(&self) -> Result<Count, Error> {
        self.client.json(Call::get("/v1/files/count")).await
    }

    /// One page of files.
    ///
    /// # Errors
    /// [`Error::Validation`] for a limit outside 1..=1000; API errors such as an invalid cursor.
    pub async fn list_page(&self, params: &ListParams) -> Result<FileList, Error> {
        params.validate()?;
        self.client
            .json(Call::get("/v1/files").query(params.to_query()))
            .await
    }

    /// Every file, page after page, as a stream.
    ///
    /// ```no_run
    /// # async fn run(client: soniox_client::Client) -> Result<(), soniox_client::Error> {
    /// use futures_util::TryStreamExt;
    /// use soniox_client::types::ListParams;
    ///
    /// let files: Vec<_> = client.files().list(ListParams::new().limit(500)).try_collect().await?;
    /// # Ok(()) }
    /// ```
    pub fn list(
        &self,
        params: ListParams,
    ) -> impl Stream<Item = Result<File, Error>> + Send + 'static {
        let client = self.client.clone();
        paginate(params, move |params| {
            let client = client.clone();
            async move { client.files().list_page(&params).await }
        })
    }
}

fn file_path(id: &FileId) -> Result<String, Error> {
    Ok(format!("/v1/files/{}", path_segment(id.as_str())?))
}

/// Percent-encodes an id for use as one path segment, so an id can never change the path.
///
/// Encoding is not enough for the dot segments: URL parsing resolves `.` and `..` (and their
/// `%2E` spellings) whatever their encoding, so `..` would turn `/v1/files/..` into `/v1/`.
/// Those, and the empty id (which would name the list), are refused before anything is sent.
pub(crate) fn path_segment(id: &str) -> Result<String, Error> {
    if matches!(id, "" | "." | "..") {
        return Err(Error::InvalidId { id: id.to_owned() });
    }
    Ok(url::form_urlencoded::byte_serialize(id.as_bytes())
        .collect::<String>()
        .replace('+', "%20"))
}
