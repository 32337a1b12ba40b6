//! What to upload: a path, bytes in memory, or any reader — always streamed.

use std::{
    fmt,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use bytes::Bytes;

use futures_util::{Stream, StreamExt, TryStreamExt};
use reqwest::multipart::{Form, Part};
use soniox_types::UploadMetadata;
use tokio::io::AsyncRead;
use tokio_util::io::ReaderStream;

use crate::{
    Error,
    file_chunks::{CHUNK_BYTES, file_chunks},
    stall::{Attempt, Progress as Watched},
};

type Progress = Arc<dyn Fn(u64, u64) + Send + Sync>;
type Reader = Box<dyn AsyncRead + Send + Sync + Unpin>;

/// A file to upload with [`Files::upload`](crate::Files::upload).
///
/// The body is streamed from its source and never held whole in memory. A path is reopened
/// and bytes are reused when a retry is needed; a reader can be read only once, so an upload
/// from a reader is not retried after its first attempt.
///
/// ```no_run
/// # async fn run(client: soniox_client::Client) -> Result<(), soniox_client::Error> {
/// use soniox_client::Upload;
///
/// let upload = Upload::path("call.wav")
///     .client_reference_id("call-42")
///     .on_progress(|sent, total| eprintln!("{sent}/{total} bytes"));
/// let file = client.files().upload(upload).await?;
/// # Ok(()) }
/// ```
#[must_use]
pub struct Upload {
    source: Source,
    filename: Option<String>,
    metadata: UploadMetadata,
    progress: Option<Progress>,
}

enum Source {
    Path(PathBuf),
    Bytes(Bytes),
    Reader {
        reader: Mutex<Option<Reader>>,
        len: u64,
    },
}

impl Upload {
    /// Uploads the file at `path`, named after its last component.
    pub fn path(path: impl AsRef<Path>) -> Self {
        Self::new(Source::Path(path.as_ref().to_path_buf()))
    }

    /// Uploads bytes already in memory.
    pub fn bytes(data: impl Into<Bytes>, filename: impl Into<String>) -> Self {
        Self::new(Source::Bytes(data.into())).filename(filename)
    }

    /// Uploads `len` bytes read from `reader`.
    pub fn reader(
        reader: impl AsyncRead + Send + Sync + Unpin + 'static,
        len: u64,
        filename: impl Into<String>,
    ) -> Self {
        Self::new(Source::Reader {
            reader: Mutex::new(Some(Box::new(reader))),
            len,
        })
        .filename(filename)
    }

    fn new(source: Source) -> Self {
        Self {
            source,
            filename: None,
            metadata: UploadMetadata::new(),
            progress: None,
        }
    }

    /// Sets the name the file gets in Soniox.
    pub fn filename(mut self, filename: impl Into<String>) -> Self {
        self.filename = Some(filename.into());
        self
    }

    /// Sets a reference of the caller's own, returned on the file.
    pub fn client_reference_id(mut self, id: impl Into<String>) -> Self {
        self.metadata = self.metadata.client_reference_id(id);
        self
    }

    /// Calls `progress(bytes_sent, total_bytes)` as the body is streamed: with 0 when each
    /// attempt's body is ready (an empty file's is then whole), then after each chunk handed
    /// to the HTTP client. A retried upload therefore reports 0 again, and the earlier attempt's
    /// body, should the HTTP client still be sending it, reports no more. Keep it quick: it
    /// runs with the upload's attempt bookkeeping locked, which its stall watch also takes.
    pub fn on_progress(mut self, progress: impl Fn(u64, u64) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(progress));
        self
    }

    /// The reference set with [`client_reference_id`](Self::client_reference_id), if any.
    pub(crate) fn reference(&self) -> Option<&str> {
        self.metadata.client_reference_id.as_deref()
    }

    /// Whether the body can be streamed again for a retry (a reader cannot).
    pub(crate) fn is_replayable(&self) -> bool {
        !matches!(self.source, Source::Reader { .. })
    }

    /// Checks the size and metadata before anything is sent; returns the size.
    pub(crate) async fn prepare(&self) -> Result<u64, Error> {
        let size = match &self.source {
            Source::Path(path) => tokio::fs::metadata(path)
                .await
                .map_err(Error::io(path))?
                .len(),
            Source::Bytes(bytes) => bytes.len() as u64,
            Source::Reader { len, .. } => *len,
        };
        if size > soniox_types::validation::limits::FILE_MAX_BYTES {
            return Err(Error::FileTooLarge { size });
        }
        self.metadata.validate(None)?;
        Ok(size)
    }

    /// A fresh multipart form for one attempt; `None` when the source cannot be read again.
    ///
    /// Each chunk sent is reported to `watched`, which the client watches for stalls.
    pub(crate) fn form(&self, size: u64, watched: &Watched) -> Option<Result<Form, Error>> {
        let attempt = watched.begin(size == 0);
        let filename = self
            .filename
            .clone()
            .unwrap_or_else(|| self.default_filename());
        let body = match &self.source {
            Source::Path(path) => match std::fs::File::open(path) {
                Ok(file) => self.counted(file_chunks(file), size, &attempt),
                Err(error) => return Some(Err(Error::io(path)(error))),
            },
            Source::Bytes(bytes) => {
                let chunks = bytes_chunks(bytes.clone()).map(Ok::<_, std::io::Error>);
                self.counted(futures_util::stream::iter(chunks), size, &attempt)
            }
            Source::Reader { reader, .. } => {
                let reader = reader
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .take()?;
                self.streamed(reader, size, &attempt)
            }
        };
        let part = Part::stream_with_length(body, size).file_name(filename);
        let part = match part.mime_str("application/octet-stream") {
            Ok(part) => part,
            Err(error) => return Some(Err(Error::Transport(error))),
        };
        let mut form = Form::new().part("file", part);
        if let Some(id) = &self.metadata.client_reference_id {
            form = form.text("client_reference_id", id.clone());
        }
        // From zero once the attempt's body is ready: a retry's progress starts again, and a
        // caller learns that an empty body (which has no chunk) is whole.
        let progress = self.progress.as_ref();
        attempt.advanced(size == 0, || report(progress, 0, size));
        Some(Ok(form))
    }

    fn streamed(
        &self,
        reader: impl AsyncRead + Send + Sync + 'static,
        total: u64,
        attempt: &Attempt,
    ) -> reqwest::Body {
        self.counted(
            ReaderStream::with_capacity(reader, CHUNK_BYTES),
            total,
            attempt,
        )
    }

    /// The body for `chunks`, reporting progress as they are sent, while `attempt` is the
    /// current one.
    fn counted(
        &self,
        chunks: impl Stream<Item = std::io::Result<Bytes>> + Send + 'static,
        total: u64,
        attempt: &Attempt,
    ) -> reqwest::Body {
        let progress = self.progress.clone();
        let attempt = attempt.clone();
        let mut sent = 0u64;
        let stream = chunks
            .inspect_ok(move |chunk| {
                sent += chunk.len() as u64;
                attempt.advanced(sent >= total, || report(progress.as_ref(), sent, total));
            })
            .boxed();
        reqwest::Body::wrap_stream(stream)
    }

    fn default_filename(&self) -> String {
        match &self.source {
            Source::Path(path) => path.file_name().map_or_else(
                || "audio".to_owned(),
                |name| name.to_string_lossy().into_owned(),
            ),
            Source::Bytes(_) | Source::Reader { .. } => "audio".to_owned(),
        }
    }
}

/// Calls the caller's progress callback, if there is one.
fn report(progress: Option<&Progress>, sent: u64, total: u64) {
    if let Some(progress) = progress {
        progress(sent, total);
    }
}

/// Cheap slices of `bytes`, so progress is reported as the body goes out.
fn bytes_chunks(bytes: Bytes) -> impl Iterator<Item = Bytes> + Send {
    (0..bytes.len())
        .step_by(CHUNK_BYTES)
        .map(move |start| bytes.slice(start..bytes.len().min(start + CHUNK_BYTES)))
}

impl fmt::Debug for Upload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match &self.source {
            Source::Path(path) => format!("path {}", path.display()),
            Source::Bytes(bytes) => format!("{} bytes in memory", bytes.len()),
            Source::Reader { len, .. } => format!("reader of {len} bytes"),
        };
        f.debug_struct("Upload")
            .field("source", &source)
            .field("filename", &self.filename)
            .field("metadata", &self.metadata)
            .finish_non_exhaustive()
    }
}
