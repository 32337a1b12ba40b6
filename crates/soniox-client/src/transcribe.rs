//! The whole job in one call: upload if needed, create, wait, fetch, clean up.

use std::fmt;

use soniox_types::{
    CreateTranscription, DEFAULT_ASYNC_MODEL, FileId, Transcript, Transcription, TranscriptionId,
};

use crate::{Client, Error, Upload, WaitOptions, Webhook};

/// The audio to transcribe.
#[derive(Debug)]
#[non_exhaustive]
pub enum Audio {
    /// A URL Soniox downloads.
    Url(String),
    /// A file the flow uploads first.
    Upload(Upload),
    /// A file uploaded earlier; the flow never deletes it.
    File(FileId),
}

impl Audio {
    /// Audio Soniox downloads from `url`.
    pub fn url(url: impl Into<String>) -> Self {
        Audio::Url(url.into())
    }

    /// A local file, uploaded by the flow.
    pub fn path(path: impl AsRef<std::path::Path>) -> Self {
        Audio::Upload(Upload::path(path))
    }
}

type Configure = Box<dyn FnOnce(CreateTranscription) -> CreateTranscription + Send>;

/// Options of [`Client::transcribe`].
///
/// ```
/// use soniox_client::{TranscribeOptions, Webhook};
///
/// // Wait here, and let a webhook tell another service too. The job is kept: the webhook's
/// // receiver fetches its transcript after this call has returned.
/// let options = TranscribeOptions::new()
///     .model("stt-async-v4")
///     .configure(|request| request.speaker_diarization(true).language_hints(["en"]))
///     .webhook(Webhook::new("https://example.com/hooks/soniox").metadata("order", "42"));
///
/// // Or transcribe here only, and delete the job and the uploaded file afterwards.
/// let options = TranscribeOptions::new().cleanup(true);
/// ```
///
/// [`webhook`](Self::webhook) and [`cleanup(true)`](Self::cleanup) do not go together:
/// the job would be deleted while the receiver may still be fetching it, so `transcribe`
/// refuses the pair with [`Error::Config`] before doing anything.
#[must_use]
pub struct TranscribeOptions {
    model: String,
    configure: Option<Configure>,
    webhook: Option<Webhook>,
    wait: WaitOptions,
    cleanup: bool,
}

impl Default for TranscribeOptions {
    fn default() -> Self {
        Self {
            model: DEFAULT_ASYNC_MODEL.to_owned(),
            configure: None,
            webhook: None,
            wait: WaitOptions::default(),
            cleanup: false,
        }
    }
}

impl TranscribeOptions {
    /// The defaults: model `stt-async-v5`, default waiting, nothing deleted.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the model.
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = model.into();
        self
    }

    /// Sets any other request field (diarization, translation, context, ...).
    pub fn configure(
        mut self,
        configure: impl FnOnce(CreateTranscription) -> CreateTranscription + Send + 'static,
    ) -> Self {
        self.configure = Some(Box::new(configure));
        self
    }

    /// Also asks for a completion webhook. Not with [`cleanup(true)`](Self::cleanup): see
    /// the type's documentation.
    pub fn webhook(mut self, webhook: Webhook) -> Self {
        self.webhook = Some(webhook);
        self
    }

    /// Sets how to wait.
    pub fn wait(mut self, wait: WaitOptions) -> Self {
        self.wait = wait;
        self
    }

    /// Whether to delete the job, and the file the flow uploaded, once done — on failure too.
    /// Not with a [`webhook`](Self::webhook): see the type's documentation.
    pub fn cleanup(mut self, cleanup: bool) -> Self {
        self.cleanup = cleanup;
        self
    }

    fn request(&mut self, source: &Source) -> Result<CreateTranscription, Error> {
        let mut builder = CreateTranscription::new(self.model.clone());
        builder = match source {
            Source::Url(url) => builder.audio_url(url.clone()),
            Source::File(id) => builder.file_id(id.clone()),
        };
        if let Some(configure) = self.configure.take() {
            builder = configure(builder);
        }
        if let Some(webhook) = &self.webhook {
            builder = webhook.apply(builder)?;
        }
        Ok(builder)
    }
}

impl fmt::Debug for TranscribeOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TranscribeOptions")
            .field("model", &self.model)
            .field("configure", &self.configure.is_some())
            .field("webhook", &self.webhook)
            .field("wait", &self.wait)
            .field("cleanup", &self.cleanup)
            .finish()
    }
}

/// The audio once any upload is done.
enum Source {
    Url(String),
    File(FileId),
}

/// What [`Client::transcribe`] returns.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Transcribed {
    /// The job, in its final state.
    pub transcription: Transcription,
    /// Its transcript.
    pub transcript: Transcript,
}

impl Client {
    /// Transcribes audio start to finish: uploads it if needed, creates the job, waits for it,
    /// and fetches the transcript.
    ///
    /// With [`cleanup`](TranscribeOptions::cleanup), the job and the file this call uploaded
    /// are deleted afterwards, also when something failed and when this future is dropped,
    /// even while it deletes (what is left then runs in a spawned task); a failed cleanup is
    /// logged and never replaces the original error. A job still running (after
    /// [`Error::WaitTimeout`], say) cannot be deleted, and its file is then kept too, since
    /// the job still reads it. So is the file when the create may or may not have made the
    /// job: the error, [`Error::OutcomeUnknown`], names it as
    /// [`kept_file`](Error::OutcomeUnknown::kept_file); dropped while the create is in
    /// flight, the call keeps the file and logs its id.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), soniox_client::Error> {
    /// use soniox_client::{Audio, Client, TranscribeOptions};
    ///
    /// let client = Client::from_env()?;
    /// let done = client.transcribe(Audio::path("meeting.mp3"), TranscribeOptions::new().cleanup(true)).await?;
    /// println!("{}", done.transcript.text);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] for a webhook with cleanup, before anything is sent;
    /// [`Error::TranscriptionFailed`] when the job ends in `error` (as
    /// [`wait`](crate::Transcriptions::wait)); [`Error::WaitTimeout`]; and the errors of each
    /// step, such as [`Error::OutcomeUnknown`] from [`create`](crate::Transcriptions::create).
    pub async fn transcribe(
        &self,
        audio: Audio,
        mut options: TranscribeOptions,
    ) -> Result<Transcribed, Error> {
        if options.cleanup && options.webhook.is_some() {
            return Err(Error::Config(
                "a webhook with cleanup(true) would delete the job while the webhook's receiver \
                 may still fetch it: drop the webhook, or the cleanup"
                    .to_owned(),
            ));
        }
        // Armed before anything is created: dropping this future at any await still runs the
        // cleanup, in a task of its own.
        let mut cleanup = Cleanup {
            client: options.cleanup.then(|| self.clone()),
            transcription: None,
            file: None,
            creating: false,
        };
        let source = match audio {
            Audio::Url(url) => Source::Url(url),
            Audio::File(id) => Source::File(id),
            Audio::Upload(upload) => {
                let file = self.files().upload(upload).await?;
                cleanup.file = Some(file.id.clone());
                Source::File(file.id)
            }
        };
        let result = async {
            let request = options.request(&source)?;
            cleanup.creating = true;
            let created = self.transcriptions().create(&request).await;
            cleanup.creating = false;
            let transcription = created.map_err(|mut error| {
                // The job may exist, reading the file: deleting the file would fail it.
                if let Error::OutcomeUnknown { kept_file, .. } = &mut error {
                    *kept_file = cleanup.keep_file();
                }
                error
            })?;
            cleanup.transcription = Some(transcription.id.clone());
            let wait = std::mem::take(&mut options.wait);
            let transcription = self.transcriptions().wait(&transcription.id, wait).await?;
            let transcript = self.transcriptions().transcript(&transcription.id).await?;
            Ok(Transcribed {
                transcription,
                transcript,
            })
        }
        .await;
        cleanup.run().await;
        result
    }
}

/// What `transcribe` created, to delete when it ends, however it ends.
struct Cleanup {
    /// `None` when no cleanup was asked for, or once `Drop` has taken it; a cleanup that ran
    /// leaves no ids for `Drop` to delete.
    client: Option<Client>,
    transcription: Option<TranscriptionId>,
    file: Option<FileId>,
    /// Whether the create is in flight: dropped then, the job may or may not exist, and if it
    /// does it reads the file.
    creating: bool,
}

impl Cleanup {
    /// Deletes what was created. Each id is let go only once its delete has ended, so that if
    /// this future is dropped at an await, `Drop` deletes what is left.
    async fn run(mut self) {
        if let Some(client) = &self.client {
            delete_created(client, &mut self.transcription, &mut self.file).await;
        }
    }

    /// Lets go of the uploaded file, to keep it; returns it when a cleanup would have deleted
    /// it.
    fn keep_file(&mut self) -> Option<FileId> {
        let file = self.file.take();
        self.client.as_ref().and(file)
    }
}

impl Drop for Cleanup {
    /// The `transcribe` future was dropped before its end: clean up in a task of its own, when
    /// a runtime is there to run it.
    fn drop(&mut self) {
        let Some(client) = self.client.take() else {
            return;
        };
        if self.creating
            && let Some(file) = self.file.take()
        {
            tracing::warn!(
                %file,
                "transcribe was dropped while creating its job, which may exist and read the \
                 file: the file is kept"
            );
        }
        let (mut transcription, mut file) = (self.transcription.take(), self.file.take());
        if transcription.is_none() && file.is_none() {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    delete_created(&client, &mut transcription, &mut file).await;
                });
            }
            Err(_) => tracing::warn!(
                ?transcription,
                ?file,
                "transcribe was dropped outside a runtime: its job and file are left"
            ),
        }
    }
}

/// Deletes what `transcribe` created, taking each id out once its delete has ended; failures
/// are logged, never returned. Something already gone (a delete whose answer a dropped
/// future never read, say) counts as deleted.
///
/// A job that is still queued or processing (after a wait timeout, or a cancelled call) cannot
/// be deleted, and it still reads its file: both are left, and logged, rather than failing the
/// job by deleting its audio.
async fn delete_created(
    client: &Client,
    transcription: &mut Option<TranscriptionId>,
    file: &mut Option<FileId>,
) {
    if let Some(id) = transcription.clone() {
        let result = client.transcriptions().delete(&id).await;
        *transcription = None;
        if let Err(error) = result
            && !error.is_not_found()
        {
            *file = None;
            tracing::warn!(
                transcription = %id,
                %error,
                "could not delete the transcription; its file is kept too, as the job may still use it"
            );
            return;
        }
    }
    if let Some(id) = file.clone() {
        let result = client.files().delete(&id).await;
        *file = None;
        if let Err(error) = result
            && !error.is_not_found()
        {
            tracing::warn!(file = %id, %error, "could not delete the uploaded file");
        }
    }
}
