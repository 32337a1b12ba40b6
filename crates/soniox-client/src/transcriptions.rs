//! `client.transcriptions()`: create jobs, follow them, fetch transcripts.

use std::time::Duration;

use futures_util::Stream;
use soniox_types::{
    Count, CreateTranscription, ListParams, OffsetDateTime, Transcript, Transcription,
    TranscriptionId, TranscriptionList,
};

use crate::{
    Client, Error,
    call::{Acted, Call},
    files::path_segment,
    pagination::paginate,
};

/// The `/v1/transcriptions` endpoints. Get one from [`Client::transcriptions`].
#[derive(Clone, Copy, Debug)]
pub struct Transcriptions<'a> {
    pub(crate) client: &'a Client,
}

impl Client {
    /// Transcription jobs.
    pub fn transcriptions(&self) -> Transcriptions<'_> {
        Transcriptions { client: self }
    }
}

impl Transcriptions<'_> {
    /// Creates a job; it starts `queued`.
    ///
    /// The request is validated before sending. A failure that proves the job was not created
    /// (no connection, 408, 429) is retried. After one that may have created it (the request
    /// was sent and no answer came, or a 500, 502, 503 or 504, which may come after the
    /// request was forwarded and acted on), a request without a `client_reference_id` is
    /// looked up under the one the client sent (its own, unique: `sxc-` and random hex), and
    /// the job found is returned instead of creating a second one; not found, it is sent
    /// again after a 503 only, since a request with no answer may still be running on the
    /// server. So is the job of an answer that says it was created (2xx) but cannot be read.
    /// A reference of the caller's own need not be unique, so it cannot tell this job from an
    /// older one and is not looked up. Every other such failure ends with
    /// [`Error::OutcomeUnknown`], which names the reference to look the job up by.
    ///
    /// # Errors
    /// [`Error::Validation`] before sending, and [`Error::Config`] for a webhook secret that
    /// would go to another host over plain `http` (see
    /// [`ClientBuilder::allow_insecure_http`](crate::ClientBuilder::allow_insecure_http));
    /// [`Error::OutcomeUnknown`] when the job may or may not exist (with the client's own
    /// reference too, when the lookup itself failed); API and transport errors after.
    pub async fn create(&self, request: &CreateTranscription) -> Result<Transcription, Error> {
        request.validate()?;
        self.client.check_webhook_transport(request)?;
        let mut request = request.clone();
        // Only a reference of the client's own is unique, so only it can find this very job
        // after a failure that may have created it; the caller's may name older jobs too.
        let generated = request.client_reference_id.is_none();
        let reference = request
            .client_reference_id
            .get_or_insert_with(|| {
                format!("sxc-{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
            })
            .clone();
        // Before sending: the job, if made, was made after this by the API's clock (give or
        // take the margin).
        let sent = OffsetDateTime::now_utc();
        let found = std::sync::Mutex::new(None);
        let looked = std::sync::atomic::AtomicBool::new(false);
        let look_up = || -> futures_util::future::BoxFuture<'_, Acted> {
            looked.store(true, std::sync::atomic::Ordering::Relaxed);
            Box::pin(async {
                match self.find_by_reference(&reference, sent).await {
                    Ok(Some(job)) => {
                        *found
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(job);
                        Acted::Yes
                    }
                    Ok(None) => Acted::No,
                    Err(error) => {
                        tracing::debug!(%error, "cannot look up the job a failed create may have made");
                        Acted::Unknown
                    }
                }
            })
        };
        let mut call = Call::post("/v1/transcriptions").reference(Some(&reference));
        if generated {
            call = call.look_up(&look_up);
        }
        let result = self.client.json_with_body(call, &request).await;
        let found = found
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match (result, found) {
            (Err(_), Some(job)) => Ok(job),
            // Not looked up while sending: a 2xx whose answer could not be read. The job
            // was created; look.
            (Err(error @ Error::OutcomeUnknown { .. }), None)
                if generated && !looked.into_inner() =>
            {
                match self.find_by_reference(&reference, sent).await {
                    Ok(Some(job)) => Ok(job),
                    _ => Err(error),
                }
            }
            (result, _) => result,
        }
    }

    /// The job with `reference`, made by a create sent at `sent` or later.
    ///
    /// The list cannot filter by reference, and its order is not documented: newest first, as
    /// far as anyone has seen. Pages are read until one is in that order and ends with a job
    /// made before `sent` (less [`CLOCK_MARGIN`]), after which no page can hold the job, or to
    /// the end of the list in any other order. The first page is small: the job was made
    /// moments ago.
    async fn find_by_reference(
        &self,
        reference: &str,
        sent: OffsetDateTime,
    ) -> Result<Option<Transcription>, Error> {
        let cutoff = sent - CLOCK_MARGIN;
        let mut params = ListParams::new().limit(RECENT_JOBS);
        loop {
            let page = self.list_page(&params).await?;
            let last = ends_before(&page.transcriptions, cutoff);
            if let Some(job) = page
                .transcriptions
                .into_iter()
                .find(|job| job.client_reference_id.as_deref() == Some(reference))
            {
                return Ok(Some(job));
            }
            match page.next_page_cursor {
                Some(cursor) if !last => {
                    params = ListParams::new().limit(PAGE_LIMIT).cursor(cursor);
                }
                _ => return Ok(None),
            }
        }
    }

    /// Gets a job.
    ///
    /// # Errors
    /// [`Error::InvalidId`] for an id that cannot be a path segment (`.`, `..`, empty);
    /// [`Error::Api`] with status 404 when there is no such job.
    pub async fn get(&self, id: &TranscriptionId) -> Result<Transcription, Error> {
        self.client.json(Call::get(&item_path(id, "")?)).await
    }

    /// Deletes a finished job.
    ///
    /// # Errors
    /// [`Error::Api`] with status 404 when there is no such job, 409
    /// ([`Error::is_invalid_state`]) while it is queued or processing.
    pub async fn delete(&self, id: &TranscriptionId) -> Result<(), Error> {
        self.client
            .no_content(Call::delete(&item_path(id, "")?))
            .await
    }

    /// Gets a completed job's transcript.
    ///
    /// # Errors
    /// [`Error::Api`] with status 409 when the job is not completed, 404 when it does not exist.
    pub async fn transcript(&self, id: &TranscriptionId) -> Result<Transcript, Error> {
        self.client
            .json_parsed(
                Call::get(&item_path(id, "/transcript")?),
                Transcript::from_json,
            )
            .await
    }

    /// Counts the account's jobs.
    ///
    /// # Errors
    /// API and transport errors.
    pub async fn count(&self) -> Result<Count, Error> {
        self.client
            .json(Call::get("/v1/transcriptions/count"))
            .await
    }

    /// One page of jobs.
    ///
    /// # Errors
    /// [`Error::Validation`] for a limit outside 1..=1000; API errors such as an invalid cursor.
    pub async fn list_page(&self, params: &ListParams) -> Result<TranscriptionList, Error> {
        params.validate()?;
        self.client
            .json(Call::get("/v1/transcriptions").query(params.to_query()))
            .await
    }

    /// Every job, page after page, as a stream.
    pub fn list(
        &self,
        params: ListParams,
    ) -> impl Stream<Item = Result<Transcription, Error>> + Send + 'static {
        let client = self.client.clone();
        paginate(params, move |params| {
            let client = client.clone();
            async move { client.transcriptions().list_page(&params).await }
        })
    }
}

/// The first page read to find a create whose answer was lost: the job was made moments ago.
const RECENT_JOBS: u32 = 100;

/// The pages read after it, if any: the API's largest.
const PAGE_LIMIT: u32 = 1000;

/// How far the API's clock may be behind this machine's for a lookup to see a job made
/// after its create was sent.
const CLOCK_MARGIN: Duration = Duration::from_secs(10 * 60);

/// Whether `jobs` are newest first and end with one made before `cutoff`: then no later page
/// holds a job made after it.
fn ends_before(jobs: &[Transcription], cutoff: OffsetDateTime) -> bool {
    jobs.windows(2)
        .all(|pair| pair[0].created_at >= pair[1].created_at)
        && jobs.last().is_some_and(|job| job.created_at < cutoff)
}

/// The path of one job (or of `suffix` under it); [`Error::InvalidId`] for an id that cannot
/// be a path segment.
fn item_path(id: &TranscriptionId, suffix: &str) -> Result<String, Error> {
    Ok(format!(
        "/v1/transcriptions/{}{suffix}",
        path_segment(id.as_str())?
    ))
}

#[cfg(test)]
mod tests {
    use soniox_types::TranscriptionStatus;

    use super::*;

    fn jobs_made_at(minutes_ago: &[u64], now: OffsetDateTime) -> Vec<Transcription> {
        minutes_ago
            .iter()
            .map(|&minutes| {
                Transcription::new(
                    TranscriptionId::new(format!("job-{minutes}")),
                    TranscriptionStatus::Queued,
                    now - Duration::from_secs(minutes * 60),
                    "stt-async-v5",
                    "a.wav",
                )
            })
            .collect()
    }

    #[test]
    fn only_a_page_newest_first_that_ends_before_the_cutoff_is_the_last_to_read() {
        let now = OffsetDateTime::now_utc();
        let cutoff = now - CLOCK_MARGIN;
        // Newest first, ending before the cutoff: no later page can hold the job.
        assert!(ends_before(&jobs_made_at(&[0, 5, 60], now), cutoff));
        // Newest first, all within the margin: a later page may still hold it.
        assert!(!ends_before(&jobs_made_at(&[0, 1, 2], now), cutoff));
        // Oldest first: the job may be on the last page, whatever the times.
        assert!(!ends_before(&jobs_made_at(&[60, 30, 20], now), cutoff));
        // An empty page says nothing.
        assert!(!ends_before(&[], cutoff));
    }
}
