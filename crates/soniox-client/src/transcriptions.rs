//! `client.transcriptions()`: create jobs, follow them, fetch transcripts.

use std::time::Duration;

use futures_util::{Stream, StreamExt as _};
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
    /// far as anyone has seen. It is read until a job made before `sent` (less
    /// [`CLOCK_MARGIN`]) comes after only newer ones, past which no job can be this one, or
    /// to its end in any other order. Its pages are small: the job was made moments ago.
    async fn find_by_reference(
        &self,
        reference: &str,
        sent: OffsetDateTime,
    ) -> Result<Option<Transcription>, Error> {
        let jobs = self.list(ListParams::new().limit(RECENT_JOBS));
        let mut jobs = std::pin::pin!(jobs);
        let mut past = Past::new(sent - CLOCK_MARGIN);
        while let Some(job) = jobs.next().await {
            let job = job?;
            if job.client_reference_id.as_deref() == Some(reference) {
                return Ok(Some(job));
            }
            if past.reached(job.created_at) {
                break;
            }
        }
        Ok(None)
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

/// The page size of the lookup of a create whose answer was lost: the job was made moments
/// ago, so it is on the first page of a list that is newest first.
const RECENT_JOBS: u32 = 100;

/// How far the API's clock may be behind this machine's for a lookup to see a job made
/// after its create was sent.
const CLOCK_MARGIN: Duration = Duration::from_secs(10 * 60);

/// Whether a list read in order has gone past the jobs made since `cutoff`: it has, at a job
/// made before it, if the jobs so far came newest first (each no newer than the one before,
/// and one at least older: a list that starts with an old job may be oldest first).
#[derive(Debug)]
struct Past {
    cutoff: OffsetDateTime,
    previous: Option<OffsetDateTime>,
    /// No job so far was newer than the one before it.
    never_newer: bool,
    /// Some job so far was older than the one before it.
    some_older: bool,
}

impl Past {
    fn new(cutoff: OffsetDateTime) -> Self {
        Self {
            cutoff,
            previous: None,
            never_newer: true,
            some_older: false,
        }
    }

    /// Takes the next job's creation time; true once no later job can have been made since
    /// the cutoff.
    fn reached(&mut self, created_at: OffsetDateTime) -> bool {
        if let Some(previous) = self.previous {
            self.never_newer &= created_at <= previous;
            self.some_older |= created_at < previous;
        }
        self.previous = Some(created_at);
        self.never_newer && self.some_older && created_at < self.cutoff
    }
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
    use super::*;

    /// Where `Past` stops reading jobs made `minutes_ago`: the index of the job it stops at.
    fn stops_at(minutes_ago: &[u64]) -> Option<usize> {
        let now = OffsetDateTime::now_utc();
        let mut past = Past::new(now - CLOCK_MARGIN);
        minutes_ago
            .iter()
            .position(|&minutes| past.reached(now - Duration::from_secs(minutes * 60)))
    }

    #[test]
    fn a_list_is_read_past_the_cutoff_only_while_it_is_newest_first() {
        // Newest first: the first job made before the cutoff ends the search.
        assert_eq!(stops_at(&[0, 5, 60, 61]), Some(2));
        assert_eq!(stops_at(&[60, 61]), Some(1));
        // All within the margin: every job is read.
        assert_eq!(stops_at(&[0, 1, 2]), None);
        // Oldest first, or one old job alone: the job may come last.
        assert_eq!(stops_at(&[60, 30, 20, 0]), None);
        assert_eq!(stops_at(&[60]), None);
        assert_eq!(stops_at(&[60, 60, 0]), None);
    }
}
