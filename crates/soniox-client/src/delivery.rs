//! From a webhook delivery to the job and its transcript, in one call.

use std::future::Future;

use soniox_types::{Transcription, WebhookEvent};

use crate::{Client, Error, Transcribed};

/// Fetches what a webhook delivery is about: the job and its transcript, like the Node SDK's
/// `fetchTranscript()`.
///
/// Implemented for everything that is `AsRef<WebhookEvent>`: the event itself and
/// `soniox-webhook`'s verified `ReceivedEvent`, so a receiver calls it on what its handler
/// is given. It lives in the client because `soniox-webhook` never depends on the client: a
/// receiver that only acknowledges deliveries stays small.
///
/// ```no_run
/// use soniox_client::{Client, FetchOnDelivery, types::WebhookEvent};
///
/// async fn on_delivery(client: &Client, event: &WebhookEvent) -> Result<(), soniox_client::Error> {
///     let done = event.fetch(client).await?;
///     println!("{}: {}", done.transcription.id, done.transcript.text);
///     Ok(())
/// }
/// ```
///
/// The job's own state decides, not the delivery's `status`: a delivery is only a hint, and
/// anyone who knows the webhook secret could send one.
pub trait FetchOnDelivery {
    /// The job and its transcript.
    ///
    /// # Errors
    /// [`Error::TranscriptionFailed`] when the job ended in `error` (the same rule as
    /// [`Transcriptions::wait`](crate::Transcriptions::wait)); [`Error::is_not_found`] when
    /// it does not exist (deleted meanwhile, or a forged id); [`Error::is_invalid_state`] when
    /// it has not finished; and transport errors.
    fn fetch(&self, client: &Client) -> impl Future<Output = Result<Transcribed, Error>> + Send;

    /// The job alone, in whatever state it is, failed jobs included (like the Node SDK's
    /// `fetchTranscription()`).
    ///
    /// # Errors
    /// As [`Transcriptions::get`](crate::Transcriptions::get).
    fn fetch_transcription(
        &self,
        client: &Client,
    ) -> impl Future<Output = Result<Transcription, Error>> + Send;
}

impl<T: AsRef<WebhookEvent> + ?Sized> FetchOnDelivery for T {
    fn fetch(&self, client: &Client) -> impl Future<Output = Result<Transcribed, Error>> + Send {
        let id = self.as_ref().id.clone();
        async move {
            let transcription = Error::unless_failed(client.transcriptions().get(&id).await?)?;
            let transcript = client.transcriptions().transcript(&id).await?;
            Ok(Transcribed {
                transcription,
                transcript,
            })
        }
    }

    fn fetch_transcription(
        &self,
        client: &Client,
    ) -> impl Future<Output = Result<Transcription, Error>> + Send {
        let id = self.as_ref().id.clone();
        async move { client.transcriptions().get(&id).await }
    }
}
