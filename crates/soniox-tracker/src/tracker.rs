//! The tracker: submit jobs, receive their webhooks, reconcile the overdue ones, hand each
//! finished job to the handler.

use std::{fmt, future::Future, pin::Pin, sync::Arc, time::Duration};

use soniox_client::{Client, Webhook};
use soniox_store::StoreError;
use soniox_types::{
    CreateTranscription, OffsetDateTime, Secret, TranscriptionId, TranscriptionStatus,
    ValidationErrors, WebhookEvent, WebhookStatus,
};
use soniox_webhook::{Inbox, Outcome, ReceivedEvent, Verifier, store::ClaimToken};

use crate::{
    Database,
    background::Background,
    events::TrackedEvents,
    handler::{
        BoxedHandler, EffectHandler, FinishedJob, JobHandler, JobOutcome, boxed, boxed_effects,
    },
    jobs::{Cleanup, DueJob, Jobs},
    listing::{Listed, Listing, PAGE_SIZE},
    metrics::{Counters, Metrics},
    reconcile::{Decision, Delivery, Observation, Policy, Stage, decide},
    references::References,
};

/// How many due jobs a reconciler pass takes (and holds) at a time: a list page's worth, so
/// that a batch's jobs are mostly answered by the page or two that hold them.
const BATCH_SIZE: usize = PAGE_SIZE as usize;

/// Why the tracker could not do something.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrackerError {
    /// The tracker's store failed.
    #[error("the tracker's store failed")]
    Store(#[from] StoreError),
    /// The API refused or failed a request.
    #[error("the Soniox API request failed")]
    Api(#[from] soniox_client::Error),
    /// The create request is invalid.
    #[error("the transcription request is invalid")]
    Invalid(#[from] ValidationErrors),
    /// A reference given to [`Tracker::submit_with_reference`] is empty or too long.
    #[error("invalid client_reference_id: {0}")]
    InvalidReference(String),
    /// A recorded create request could not be read back.
    #[error("a recorded transcription request is unreadable")]
    Unreadable(#[source] serde_json::Error),
    /// The [`Policy`] given to [`TrackerBuilder::policy`] has a duration over
    /// [`Policy::MAX_DURATION`].
    #[error("invalid policy: {0}")]
    InvalidPolicy(String),
}

/// What [`Tracker::submit`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Submission {
    /// The API accepted the job.
    Created {
        /// The job's `client_reference_id`.
        reference: String,
        /// The job's id.
        id: TranscriptionId,
    },
    /// A job is recorded under the reference given to [`Tracker::submit_with_reference`]
    /// already (submitted before, perhaps by a process that then crashed): nothing was
    /// recorded or sent, and the tracker carries on with that job as it would have.
    Existing {
        /// The job's `client_reference_id`.
        reference: String,
    },
    /// The create request's fate is unknown (a timeout, a 5xx, a rate limit): the job is
    /// recorded, and the reconciler adopts it or sends it again.
    Pending {
        /// The job's `client_reference_id`.
        reference: String,
        /// Why the answer is unknown.
        reason: String,
    },
}

/// Where a tracked job is; see [`Tracker::state_of`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JobState {
    /// Recorded; its create request is on its way, or its answer was lost and the reconciler
    /// will adopt or resubmit the job.
    Submitting,
    /// The API accepted the job; it is queued or processing.
    Submitted,
    /// The job finished and its handling has not succeeded yet; it is retried.
    Finished,
    /// The handler succeeded; the tracker does nothing more with the job.
    Handled,
    /// The API no longer had the job before it was handled (deleted by someone else, or a
    /// resubmission whose request it refused as invalid): it never will be.
    Lost,
}

/// What one reconciler pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Pass {
    /// Jobs that were due.
    pub due: usize,
    /// List pages requested.
    pub pages: usize,
    /// Single jobs requested (a job the pages did not cover).
    pub gets: usize,
    /// Finished jobs handed to the handler successfully.
    pub handled: usize,
}

/// Builds a [`Tracker`].
pub struct TrackerBuilder {
    client: Client,
    database: Database,
    webhook_url: Option<String>,
    auth: Option<(String, Secret)>,
    policy: Policy,
    handler_deadline: Duration,
    lease_margin: Duration,
    cleanup: bool,
}

impl fmt::Debug for TrackerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrackerBuilder")
            .field("webhook_url", &self.webhook_url)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl TrackerBuilder {
    /// Jobs are created with this `webhook_url`, which should reach [`Tracker::inbox`].
    #[must_use]
    pub fn webhook_url(mut self, url: impl Into<String>) -> Self {
        self.webhook_url = Some(url.into());
        self
    }

    /// Jobs' webhooks carry `name: secret`.
    #[must_use]
    pub fn webhook_auth(mut self, name: impl Into<String>, secret: impl Into<Secret>) -> Self {
        self.auth = Some((name.into(), secret.into()));
        self
    }

    /// When the reconciler looks at jobs (default [`Policy::default`]).
    #[must_use]
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// How long a job's handling may take (default 10 s), the same as the receiving inbox's:
    /// fetching the transcript, running the handler, recording the job handled and, with
    /// [`cleanup`](Self::cleanup), deleting it from the API. A handling past it is cancelled
    /// and tried again later, so leave room for the longest transcripts you expect.
    #[must_use]
    pub fn handler_deadline(mut self, deadline: Duration) -> Self {
        self.handler_deadline = deadline;
        self
    }

    /// How much longer a claim's lease runs than the handler deadline (default
    /// [`soniox_webhook::DEFAULT_LEASE_MARGIN`]); after a crash, a job's handling is blocked
    /// for the whole lease. See [`Inbox::lease_margin`].
    #[must_use]
    pub fn lease_margin(mut self, margin: Duration) -> Self {
        self.lease_margin = margin;
        self
    }

    /// After a job is handled, delete it (and its uploaded file) from the API. A job handled
    /// from a webhook before the tracker recorded its id (its create answer lost, or the
    /// webhook first) is deleted only once the reconciler has found it through the API (under
    /// its reference while its id is unknown) and recorded it done: deleted before, it would
    /// be missing there, and created again. Delete jobs through this, not in the handler, for
    /// the same reason. The cleanup is recorded as owed with the job done, in one
    /// transaction: should a delete fail, or the process stop before both succeeded, the
    /// reconciler's passes try again after the retry interval until both have (a job or file
    /// already gone counts as deleted).
    #[must_use]
    pub fn cleanup(mut self, cleanup: bool) -> Self {
        self.cleanup = cleanup;
        self
    }

    /// A tracker handing each finished job to `handler`, at least once; creates its tables
    /// if needed.
    ///
    /// # Errors
    ///
    /// [`TrackerError::InvalidPolicy`] for a policy with a duration over
    /// [`Policy::MAX_DURATION`] or a create grace under [`Policy::MIN_CREATE_GRACE`]; a store
    /// error when the database cannot hold the job table,
    /// or (PostgreSQL) when other transactions kept it locked through every attempt to
    /// migrate it (`PostgresStore::migrate_component`).
    pub async fn build(self, handler: impl JobHandler) -> Result<Tracker, TrackerError> {
        self.build_boxed(boxed(handler)).await
    }

    /// A tracker whose `handler` returns an [`Effect`](crate::Effect): its writes commit in
    /// the tracker's transaction that records the job as handled, so they happen exactly once
    /// even across crashes and duplicate deliveries.
    ///
    /// # Errors
    ///
    /// As [`build`](Self::build).
    pub async fn build_with_effects(
        self,
        handler: impl EffectHandler,
    ) -> Result<Tracker, TrackerError> {
        self.build_boxed(boxed_effects(handler)).await
    }

    async fn build_boxed(self, handler: BoxedHandler) -> Result<Tracker, TrackerError> {
        self.policy.check().map_err(TrackerError::InvalidPolicy)?;
        let jobs = Jobs::open(&self.database).await?;
        let counters = Arc::new(Counters::default());
        let events = Arc::new(TrackedEvents::new(
            self.database.event_store(),
            jobs.clone(),
            Arc::clone(&counters),
        ));
        // Neither inbox receives requests, so neither verifies: `webhooks` is the template of
        // the inboxes `Tracker::inbox` hands out (they share its counts and running
        // handlers), `polls` handles the finished jobs the reconciler finds.
        let inbox = || {
            Inbox::new(Verifier::dangerous_accept_unauthenticated())
                .shared_store(Arc::clone(&events) as Arc<dyn soniox_store::EventStore>)
                .handler_deadline(self.handler_deadline)
                .lease_margin(self.lease_margin)
        };
        let (webhooks, polls) = (inbox(), inbox());
        Ok(Tracker {
            inner: Arc::new(Inner {
                client: self.client,
                webhooks,
                polls,
                jobs,
                webhook_url: self.webhook_url,
                auth: self.auth,
                policy: self.policy,
                cleanup: self.cleanup,
                handler,
                counters,
                events,
                references: References::default(),
                background: Arc::default(),
            }),
        })
    }
}

/// Tracks the jobs submitted through it until each finished one has been handled; see the
/// [crate docs](crate). Cheap to clone.
#[derive(Clone)]
pub struct Tracker {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    /// Where the webhooks' inboxes come from.
    webhooks: Inbox,
    /// Handles the finished jobs the reconciler finds, under the same claims as webhooks.
    polls: Inbox,
    jobs: Jobs,
    webhook_url: Option<String>,
    auth: Option<(String, Secret)>,
    policy: Policy,
    cleanup: bool,
    handler: BoxedHandler,
    counters: Arc<Counters>,
    /// The inboxes' event store, which records a job handled as it completes its event.
    events: Arc<TrackedEvents>,
    /// The references of the jobs this replica created, which their handlers are told.
    references: References,
    /// The acceptances `submit` left running.
    background: Arc<Background>,
}

impl fmt::Debug for Tracker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tracker")
            .field("webhook_url", &self.inner.webhook_url)
            .field("policy", &self.inner.policy)
            .finish_non_exhaustive()
    }
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// A fresh `client_reference_id`: 128 random bits.
fn new_reference() -> String {
    format!("sxt-{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}

impl Tracker {
    /// A tracker that creates jobs with `client` and keeps its records in `database` (a
    /// `soniox_store::SqliteStore` or a
    /// `soniox_store::PostgresStore`, which also holds the webhook events
    /// it receives).
    pub fn builder(client: Client, database: impl Into<Database>) -> TrackerBuilder {
        TrackerBuilder {
            client,
            database: database.into(),
            webhook_url: None,
            auth: None,
            policy: Policy::default(),
            handler_deadline: soniox_webhook::DEFAULT_HANDLER_DEADLINE,
            lease_margin: soniox_webhook::DEFAULT_LEASE_MARGIN,
            cleanup: false,
        }
    }

    /// Submits a job: records it under a fresh `client_reference_id`, then creates it with the
    /// tracker's webhook. A crash or a lost answer in between loses nothing: the reconciler
    /// adopts the job the API has under that reference, or creates it then. The created job's
    /// id is recorded in the background ([`Tracker::flush`] waits for it): should that fail,
    /// or the process end first, the job is adopted under its reference the same way.
    ///
    /// # Errors
    ///
    /// When the request is invalid, the API refused it outright (a 4xx other than 408 and
    /// 429; the record is dropped), or the store failed: to record the job (then nothing was
    /// sent), or to drop the record of a job the API refused. Nothing was sent, but the
    /// record may exist: a commit whose answer was lost (a connection dropped after
    /// PostgreSQL's `COMMIT` went out), or a future dropped once its record was queued, can
    /// leave it, and the reconciler then creates the job. Retry with
    /// [`submit_with_reference`](Self::submit_with_reference) and one reference per piece of
    /// work, which finds that record, rather than with `submit`, which records a second job.
    pub async fn submit(&self, request: CreateTranscription) -> Result<Submission, TrackerError> {
        self.submit_as(new_reference(), request, false).await
    }

    /// Submits a job under `reference`, a `client_reference_id` of the caller's own (at most
    /// 256 characters), as [`Tracker::submit`] does, unless the tracker already holds a job
    /// under it: then it returns [`Submission::Existing`] and sends nothing. Recording is
    /// atomic, so of concurrent or repeated submits under one reference exactly one creates
    /// the job. Derive the reference from what identifies the work (an input and a run), so
    /// that a process resuming after a crash submits under the same one and finds the job it
    /// recorded, however far its create got. References must be unique among the jobs of
    /// the account the reconciler lists: it adopts the job the API has under a reference.
    /// A reference whose create the API refused outright is forgotten, and may be submitted
    /// again.
    ///
    /// # Errors
    ///
    /// As [`Tracker::submit`], and [`TrackerError::InvalidReference`] for an empty or too
    /// long reference.
    pub async fn submit_with_reference(
        &self,
        reference: impl Into<String>,
        request: CreateTranscription,
    ) -> Result<Submission, TrackerError> {
        let reference = reference.into();
        if reference.is_empty() {
            return Err(TrackerError::InvalidReference("it is empty".to_owned()));
        }
        let chars = reference.chars().count();
        if chars > soniox_types::validation::limits::CLIENT_REFERENCE_ID_MAX_CHARS {
            return Err(TrackerError::InvalidReference(format!(
                "{chars} characters, more than the {} allowed",
                soniox_types::validation::limits::CLIENT_REFERENCE_ID_MAX_CHARS
            )));
        }
        self.submit_as(reference, request, true).await
    }

    /// Waits until the ids of the jobs that [`Tracker::submit`] or
    /// [`Tracker::submit_with_reference`] created before this call (not before the future is
    /// first polled) are recorded (they are written in the background), or their writes have
    /// failed; not for jobs submitted after it, so that a steady stream of submissions cannot
    /// hold it up. Call it before the process stops, so that a restart finds those jobs under
    /// their ids instead of adopting them after the create grace, and before reading
    /// [`Tracker::state_of`] or [`Tracker::metrics`] when jobs just submitted must count as
    /// submitted rather than submitting.
    pub fn flush(&self) -> impl Future<Output = ()> + Send + '_ {
        self.inner.background.idle()
    }

    /// Whether the tracker holds a job recorded under `reference`, in any stage (submitting,
    /// awaiting its result, handled, lost). Lets a caller skip the work before a submit
    /// (an upload, say) that [`Tracker::submit_with_reference`] would find done.
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn is_tracked(&self, reference: &str) -> Result<bool, TrackerError> {
        Ok(self.inner.jobs.holds(reference).await?)
    }

    /// Where the job recorded under `reference` is, or `None` when none is. A caller that
    /// keeps its own results beside the tracker's records (an output file per job, say) can
    /// tell from it a job still on its way from one whose handling is over
    /// ([`JobState::Handled`]) or that will never be handled ([`JobState::Lost`]), when its
    /// own result has gone missing since.
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn state_of(&self, reference: &str) -> Result<Option<JobState>, TrackerError> {
        let stage = self.inner.jobs.stage_of(reference).await?;
        Ok(stage.map(|stage| crate::jobs::stage_state(&stage)))
    }

    /// Deletes the records of jobs whose tracking is over for good, handled (with no cleanup
    /// owed) or lost, and last changed `older_than` or longer ago; returns how many. Nothing
    /// else deletes them, and each keeps its create request. A pruned job's reference is
    /// free again: [`submit_with_reference`](Self::submit_with_reference) then submits it
    /// anew, and [`state_of`](Self::state_of) answers `None`. Prune with an age well past
    /// the longest a caller may resubmit a reference (days, not minutes), for example once a
    /// day, beside the event store's own prune.
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn prune(&self, older_than: Duration) -> Result<u64, TrackerError> {
        // No record is older than the limit, and a date cannot move by `Duration::MAX`.
        let before = now() - older_than.min(Policy::MAX_DURATION);
        Ok(self.inner.jobs.prune(before).await?)
    }

    /// Records the job under `reference` (only if none is, when `chosen` by the caller) and
    /// creates it.
    async fn submit_as(
        &self,
        reference: String,
        request: CreateTranscription,
        chosen: bool,
    ) -> Result<Submission, TrackerError> {
        let inner = &self.inner;
        let request = self.with_webhook(request.client_reference_id(&reference))?;
        request.validate()?;
        let recorded = now();
        let check_at = recorded + inner.policy.create_grace;
        let request_text = recordable(&request)?;
        if chosen {
            if !inner
                .jobs
                .record_new(&reference, request_text, recorded, check_at)
                .await?
            {
                return Ok(Submission::Existing { reference });
            }
        } else {
            inner
                .jobs
                .record(&reference, request_text, recorded, check_at)
                .await?;
        }
        Counters::add(&inner.counters.submitted);
        match self.create(&request, recorded).await {
            Created::Yes(id) => {
                // Before the acceptance is written: the webhook may overtake it.
                inner.references.insert(&id, &reference);
                let at = now();
                let first_poll = at + inner.policy.webhook_grace;
                // Recorded without waiting: the record made before the create is what makes
                // the job recoverable. Until the id commits, or if it fails, the job is
                // submitting, and the reconciler adopts it under its reference after the
                // create grace; a webhook handled meanwhile leaves the job in the API for it
                // (see `run_handler`). Waiting would cost each submission a second commit,
                // and an error here would report as failed a job that exists and is tracked,
                // inviting a second one.
                let (jobs, accepted_reference, accepted_id) =
                    (inner.jobs.clone(), reference.clone(), id.clone());
                inner.background.spawn(async move {
                    let accepted = jobs
                        .submitted(&accepted_reference, &accepted_id, at, first_poll)
                        .await;
                    if let Err(error) = accepted {
                        tracing::warn!(reference = %accepted_reference, id = %accepted_id, %error,
                            "cannot record a created job's id; the reconciler adopts it under its reference");
                    }
                });
                Ok(Submission::Created { reference, id })
            }
            Created::Maybe(reason) => {
                tracing::warn!(%reference, %reason, "create answer unknown; the reconciler will adopt or resubmit the job");
                Ok(Submission::Pending { reference, reason })
            }
            Created::Refused(error) => {
                inner.jobs.forget(&reference).await?;
                Err(error.into())
            }
        }
    }

    /// Sends a create request, giving up on its answer half the create grace after `since`:
    /// the reconciler looks at the job only once the whole grace has passed since `since`,
    /// so an abandoned create has had the other half to land (or not) before the reconciler
    /// lists the API and decides between adopting and resending. Resending while the first
    /// create may still land would create the job twice. Counted from `since`, not from
    /// the send, the margin holds however long the writes before the send took; with no
    /// time left, nothing is sent.
    async fn create(&self, request: &CreateTranscription, since: OffsetDateTime) -> Created {
        let deadline = since + self.inner.policy.create_grace / 2;
        let left = Duration::try_from(deadline - now()).unwrap_or(Duration::ZERO);
        if left.is_zero() {
            return Created::Maybe(format!("not sent: past its deadline {deadline}"));
        }
        let transcriptions = self.inner.client.transcriptions();
        match tokio::time::timeout(left, transcriptions.create(request)).await {
            Ok(Ok(job)) => Created::Yes(job.id),
            Ok(Err(error)) if created_maybe(&error) => Created::Maybe(error.to_string()),
            Ok(Err(error)) => Created::Refused(error),
            Err(_) => Created::Maybe(format!("no answer by {deadline}")),
        }
    }

    fn with_webhook(
        &self,
        request: CreateTranscription,
    ) -> Result<CreateTranscription, TrackerError> {
        let Some(url) = &self.inner.webhook_url else {
            return Ok(request);
        };
        let mut webhook = Webhook::new(url.clone());
        if let Some((name, secret)) = &self.inner.auth {
            webhook = webhook.auth(name.clone(), secret.clone());
        }
        Ok(webhook.apply(request)?)
    }

    /// The inbox to receive this tracker's webhooks with: `verifier`, the tracker's store,
    /// handler deadline and lease margin. Serve it with [`Tracker::webhook_handler`]. Every
    /// inbox it returns counts into the same [`Metrics`].
    pub fn inbox(&self, verifier: Verifier) -> Inbox {
        self.inner.webhooks.clone().verifier(verifier)
    }

    /// The webhook handler for a `soniox_webhook::WebhookService` over [`Tracker::inbox`]:
    /// marks the job finished and runs the job handler.
    pub fn webhook_handler(&self) -> WebhookHandler {
        WebhookHandler {
            tracker: self.clone(),
        }
    }

    /// What the tracker has done, and the jobs still needing work.
    ///
    /// # Errors
    ///
    /// When the store cannot count the pending jobs.
    pub async fn metrics(&self) -> Result<Metrics, TrackerError> {
        let inner = &self.inner;
        let pending = inner.jobs.pending(now()).await?;
        let (webhooks, polls) = (inner.webhooks.counts(), inner.polls.counts());
        let unsuccessful =
            |counts: soniox_webhook::DeliveryCounts| counts.failed + counts.deadline_exceeded;
        Ok(Metrics {
            submitting: pending.submitting,
            awaiting: pending.submitted,
            unhandled: pending.finished,
            overdue: pending.overdue,
            duplicate_deliveries: webhooks.duplicates,
            unverified_deliveries: webhooks.rejected,
            handler_failures: unsuccessful(webhooks) + unsuccessful(polls),
            ..inner.counters.snapshot()
        })
    }

    /// Fetches what the handler needs, runs it, and records the job as done.
    /// `event` is the one its inbox claimed, which it completes should this succeed.
    async fn run_handler(
        &self,
        event: &WebhookEvent,
        claim: Option<ClaimToken>,
        status: &TranscriptionStatus,
    ) -> Result<(), String> {
        let inner = &self.inner;
        let id = &event.id;
        let transcriptions = inner.client.transcriptions();
        // With the outcome, the job's uploaded file when the fetch told it.
        let fetched = if *status == TranscriptionStatus::Completed {
            let transcript = transcriptions.transcript(id).await;
            transcript.map(|transcript| (JobOutcome::Completed(Box::new(transcript)), None))
        } else {
            transcriptions.get(id).await.map(|job| {
                let outcome = JobOutcome::Failed {
                    error_type: job.error_type,
                    error_message: job.error_message,
                };
                (outcome, job.file_id)
            })
        };
        let (outcome, file) = match fetched {
            Ok(outcome) => outcome,
            // Deleted before it was handled: every retry would fail the same way. The
            // handling still fails, so that nothing records the job handled.
            Err(error) if error.is_not_found() => {
                let lost = inner.jobs.lost_id(id, now()).await;
                if lost.map_err(|e| e.to_string())? {
                    report_lost(&inner.counters, id.as_str());
                }
                return Err(format!("the API no longer has job {id}: {error}"));
            }
            Err(error) => return Err(error.to_string()),
        };
        // Whatever the job's status: deleted, a failed job would leave its file unfindable.
        let file = match (&outcome, inner.cleanup) {
            (_, false) => None,
            (JobOutcome::Completed(_), true) => {
                self.uploaded_file(id).await.map_err(|e| e.to_string())?
            }
            (_, true) => file,
        };
        let reference = match inner.references.get(id) {
            Some(reference) => Some(reference),
            None => match inner.jobs.reference_of(id).await {
                Ok(Some(reference)) => Some(reference),
                Ok(None) => self.reference_from_api(id).await?,
                Err(error) => return Err(error.to_string()),
            },
        };
        let job = FinishedJob {
            id: id.clone(),
            reference,
            outcome,
        };
        let effect = (inner.handler)(job).await?;
        // Handled: a repeat (a failed completion, a duplicate) is rare and reads the table.
        inner.references.remove(id);
        // The inbox's completion records the job as handled, unless it is recorded here: with
        // the effect, or before the cleanup deletes what a retry would need.
        if effect.is_some() || inner.cleanup {
            let now = now();
            let cleanup = inner.cleanup.then(|| self.owed_cleanup(now, file.clone()));
            let found = inner
                .jobs
                .done_with(event.clone(), claim, now, effect, cleanup)
                .await
                .map_err(|e| e.to_string())?;
            inner.events.recorded(event);
            if inner.cleanup {
                if found {
                    self.clean_up(id, file).await;
                } else {
                    // A webhook that overtook the job's acceptance: until that commits, the
                    // job is known by its reference only, and the reconciler finds it through
                    // the API's list. Deleted there, it would be missing, and sent again.
                    tracing::warn!(%id, "handled a job not recorded under its id (its id not recorded yet, or a job submitted elsewhere); not deleting it from the API");
                }
            }
        }
        Ok(())
    }

    /// The reference of job `id` as the API holds it, if the tracker recorded a job under it
    /// and does not know that job's id: a job of this tracker's whose id is not recorded yet
    /// (its create's answer was lost, or the process that sent it stopped before recording
    /// it). `None` for a job the tracker did not submit, or another job under a reference
    /// whose own job is known. A failed read fails the handling, retried later.
    async fn reference_from_api(&self, id: &TranscriptionId) -> Result<Option<String>, String> {
        let job = match self.inner.client.transcriptions().get(id).await {
            Ok(job) => job,
            Err(error) if error.is_not_found() => return Ok(None),
            Err(error) => return Err(error.to_string()),
        };
        let Some(reference) = job.client_reference_id else {
            return Ok(None);
        };
        let ours = self.inner.jobs.awaits_id(&reference).await;
        Ok(ours.map_err(|e| e.to_string())?.then_some(reference))
    }

    /// The file job `id` transcribed, for the cleanup to delete with it; `None` when the job
    /// had none, or is gone (so that nothing can tell any more). Any other failure is an
    /// error: once the job is deleted, its file could never be found again.
    async fn uploaded_file(
        &self,
        id: &TranscriptionId,
    ) -> Result<Option<soniox_types::FileId>, soniox_client::Error> {
        match self.inner.client.transcriptions().get(id).await {
            Ok(job) => Ok(job.file_id),
            Err(error) if error.is_not_found() => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// The cleanup a job recorded done at `now` owes, with its uploaded `file`: due after the
    /// retry interval, for a pass to retry should this process's own attempt fail.
    fn owed_cleanup(&self, now: OffsetDateTime, file: Option<soniox_types::FileId>) -> Cleanup {
        Cleanup {
            due: now + self.inner.policy.retry_interval,
            file,
        }
    }

    /// Deletes the done job `id` and its uploaded `file` from the API; once both are gone,
    /// records that the cleanup its record owes is done. Until then the record keeps it, for
    /// a later reconciler pass.
    async fn clean_up(&self, id: &TranscriptionId, file: Option<soniox_types::FileId>) {
        // Already gone is done: a webhook and a poll may both have handled the job, and an
        // earlier cleanup may have deleted one of the two.
        let client = &self.inner.client;
        let mut gone = true;
        if let Err(error) = client.transcriptions().delete(id).await
            && !error.is_not_found()
        {
            gone = false;
            tracing::warn!(%id, %error, "cleanup: the transcription could not be deleted; retried later");
        }
        if let Some(file) = file
            && let Err(error) = client.files().delete(&file).await
            && !error.is_not_found()
        {
            gone = false;
            tracing::warn!(%id, %error, "cleanup: the uploaded file could not be deleted; retried later");
        }
        if gone && let Err(error) = self.inner.jobs.cleaned(id, now()).await {
            tracing::warn!(%id, %error, "cleanup: done, but not recorded; repeated later");
        }
    }

    /// One reconciler pass over every job due when it starts: takes them in batches, asks the
    /// API about them (list pages, each read once per pass, and a GET only for a job the pages
    /// did not hold), and acts on each decision.
    ///
    /// # Errors
    ///
    /// When the store fails, or the API cannot be listed; the jobs of the batch at hand come
    /// back after [`Policy::retry_interval`].
    pub async fn reconcile(&self) -> Result<Pass, TrackerError> {
        // Kept until the pass ends: a dropped sender stops it.
        let (_never, stop) = tokio::sync::watch::channel(false);
        self.reconcile_until(&stop).await
    }

    /// [`Tracker::reconcile`], ending early, between two jobs, once `stop` is set (or its
    /// sender gone): the jobs it claimed and left come due again when their hold runs out.
    async fn reconcile_until(
        &self,
        stop: &tokio::sync::watch::Receiver<bool>,
    ) -> Result<Pass, TrackerError> {
        let stopping = || *stop.borrow() || stop.has_changed().is_err();
        let inner = &self.inner;
        // Only jobs due at the start: the create of every submitting one among them has
        // landed (or never will) by then, so pages read from here on are recent enough to
        // tell adopting from resubmitting, however late in the pass a job is taken.
        let started = now();
        let claim = fastrand::i64(..);
        let mut pass = Pass::default();
        let mut listing = Listing::default();
        loop {
            if stopping() {
                return Ok(pass);
            }
            let held_until = now() + inner.policy.retry_interval;
            let batch = inner
                .jobs
                .claim_due(started, held_until, BATCH_SIZE, claim)
                .await?;
            pass.due += batch.len();
            while let Some(params) = listing.next_page(batch.iter().map(|due| &due.job)) {
                if stopping() {
                    return Ok(pass);
                }
                let page = inner.client.transcriptions().list_page(&params).await?;
                pass.pages += 1;
                listing.add(page);
            }
            let last = batch.len() < BATCH_SIZE;
            for due in batch {
                if stopping() {
                    return Ok(pass);
                }
                let reference = due.job.reference.clone();
                if let Err(error) = self.settle(due, claim, &listing, &mut pass).await {
                    tracing::warn!(%reference, error = %error, "reconciling a job failed; it is looked at again later");
                }
            }
            if last {
                return Ok(pass);
            }
        }
    }

    /// Decides about one due job and acts on the decision.
    async fn settle(
        &self,
        due: DueJob,
        claim: i64,
        listing: &Listing,
        pass: &mut Pass,
    ) -> Result<(), TrackerError> {
        let inner = &self.inner;
        // A handled job whose cleanup is still owed: the claim holds it for the retry
        // interval, after which a failed cleanup is due again.
        if let Some((id, file)) = due.cleanup {
            self.clean_up(&id, file).await;
            return Ok(());
        }
        let now = now();
        let job = &due.job;
        let fetched;
        let observation = match (listing.lookup(job), &job.stage) {
            (Listed::Found(found), _) => Observation::Found(found),
            (Listed::NotWanted, _) => Observation::NotAsked,
            // Only a GET tells a submitted job the list no longer holds (deleted, say).
            (_, Stage::Submitted { id, .. }) => {
                pass.gets += 1;
                match inner.client.transcriptions().get(id).await {
                    Ok(found) => {
                        fetched = found;
                        Observation::Found(&fetched)
                    }
                    Err(error) if error.is_not_found() => Observation::Missing,
                    Err(error) => return Err(error.into()),
                }
            }
            (Listed::Absent, _) => Observation::Missing,
            // The pass lists until every job of its batch is found or passed; should the API
            // end a listing early, the job stays due.
            (Listed::NotReached, _) => Observation::NotAsked,
        };
        match decide(job, now, observation, &inner.policy) {
            Decision::Wait { until } => {
                inner
                    .jobs
                    .reschedule(
                        &job.reference,
                        until.max(now + Duration::from_secs(1)),
                        false,
                        now,
                    )
                    .await?;
            }
            Decision::Polled { until, stuck } => {
                if stuck {
                    Counters::add(&inner.counters.stuck);
                    tracing::warn!(reference = %job.reference, "job still queued or processing past stuck_after");
                }
                inner
                    .jobs
                    .reschedule(&job.reference, until, true, now)
                    .await?;
            }
            Decision::Adopt { id } => {
                Counters::add(&inner.counters.adopted);
                tracing::info!(reference = %job.reference, %id, "adopted a job whose create answer was lost");
                inner.references.insert(&id, &job.reference);
                // Looked at again at once: it may well have finished already.
                inner.jobs.submitted(&job.reference, &id, now, now).await?;
            }
            Decision::Resubmit => self.resubmit(&due, claim, now).await?,
            Decision::Handle { status, delivery } => {
                let Some(id) = job_id(job) else {
                    return Ok(());
                };
                match delivery {
                    Delivery::Rejected { status_code } => {
                        Counters::add(&inner.counters.rejected_deliveries);
                        tracing::error!(%id, status_code, "the job's webhook was answered {status_code}: check the receiver's secret and path");
                    }
                    Delivery::NeverDelivered | Delivery::AcceptedElsewhere { .. } => {
                        tracing::info!(%id, "job finished without its webhook reaching the tracker; handling it from the poll");
                    }
                    Delivery::Received => {}
                }
                if self.handle_polled(&id, &status, now).await? {
                    pass.handled += 1;
                    if delivery != Delivery::Received {
                        Counters::add(&inner.counters.recovered_by_polling);
                    }
                }
            }
            // Reported only if it was not handled meanwhile: a webhook may have recorded it
            // done, and cleaned it up, while this pass looked it up.
            Decision::Lost => {
                if inner.jobs.lost(&job.reference, now).await? {
                    report_lost(&inner.counters, &job.reference);
                }
            }
            Decision::Settled => {}
        }
        Ok(())
    }

    /// Sends a recorded create request again, under its reference, if the pass `claim` still
    /// holds the job.
    async fn resubmit(
        &self,
        due: &DueJob,
        claim: i64,
        now: OffsetDateTime,
    ) -> Result<(), TrackerError> {
        let inner = &self.inner;
        let mut request: CreateTranscription =
            serde_json::from_str(&due.request).map_err(TrackerError::Unreadable)?;
        request.webhook_auth_header_value = request
            .webhook_auth_header_name
            .as_ref()
            .and_then(|_| inner.auth.as_ref().map(|(_, secret)| secret.clone()));
        request.validate()?;
        // The pass held the job for the retry interval, and may have taken longer to get
        // here; a later pass may have taken the job since and be creating it. Only the pass
        // holding it now sends the create, which then holds the job for the create grace, as
        // the first create did, so that no pass decides about it meanwhile.
        let held_until = now + inner.policy.create_grace;
        if !inner
            .jobs
            .take(&due.job.reference, claim, held_until, now)
            .await?
        {
            tracing::debug!(reference = %due.job.reference, "another reconciler pass took the job");
            return Ok(());
        }
        match self.create(&request, now).await {
            Created::Yes(id) => {
                Counters::add(&inner.counters.resubmitted);
                tracing::info!(reference = %due.job.reference, %id, "resubmitted a job whose create request never reached the API");
                let at = OffsetDateTime::now_utc();
                inner
                    .jobs
                    .submitted(&due.job.reference, &id, at, at + inner.policy.webhook_grace)
                    .await?;
            }
            Created::Maybe(reason) => {
                tracing::warn!(reference = %due.job.reference, %reason, "resubmitted create answer unknown; looked at again after the create grace");
            }
            // Refused for now (its key, its account's balance or quota): nothing was created,
            // and the job stays held for the create grace, then is resubmitted.
            Created::Refused(error) if refused_for_now(&error) => {
                tracing::warn!(reference = %due.job.reference, %error, "the API refused a resubmitted job for now; sent again after the create grace");
            }
            Created::Refused(error) => {
                tracing::error!(reference = %due.job.reference, %error, "the API refused a resubmitted job's request");
                if inner.jobs.lost(&due.job.reference, now).await? {
                    report_lost(&inner.counters, &due.job.reference);
                }
            }
        }
        Ok(())
    }

    /// Handles the finished job through the reconciler's inbox, under the same claim as its
    /// webhook; `true` when this call handled it. A claim held elsewhere (its webhook is being
    /// handled) is left to its holder and looked at again after the retry interval.
    async fn handle_polled(
        &self,
        id: &TranscriptionId,
        status: &TranscriptionStatus,
        now: OffsetDateTime,
    ) -> Result<bool, TrackerError> {
        let inner = &self.inner;
        let event = ReceivedEvent::polled(WebhookEvent::new(id.clone(), webhook_status(status)));
        let tracker = self.clone();
        let outcome = inner
            .polls
            .process(event, move |event| async move {
                tracker.handle_finished(&event).await
            })
            .await;
        match outcome {
            Outcome::Handled => return Ok(true),
            // A job handled from its webhook before its id was recorded was left in the API
            // (see `run_handler`); recorded done under its id now, it can go.
            Outcome::Duplicate if inner.cleanup => {
                let file = match self.uploaded_file(id).await {
                    Ok(file) => file,
                    // Due again after the retry interval, from when it was taken.
                    Err(error) => {
                        tracing::warn!(%id, %error, "cleanup: the job's file could not be looked up; retried later");
                        return Ok(false);
                    }
                };
                let cleanup = self.owed_cleanup(now, file.clone());
                inner.jobs.done_owing_cleanup(id, now, cleanup).await?;
                // A job an earlier cleanup deleted no longer names its file; the record does,
                // if that cleanup's file deletion failed. Deleting none here would record
                // the cleanup done and forget the file.
                let file = match file {
                    Some(file) => Some(file),
                    None => inner.jobs.owed_file(id).await?,
                };
                self.clean_up(id, file).await;
            }
            Outcome::Duplicate => inner.jobs.done(id, now).await?,
            Outcome::InProgress { .. } => {
                let retry_at = now + inner.policy.retry_interval;
                inner.jobs.finished(id, status, now, retry_at).await?;
            }
            // The job was due again after the retry interval when it was taken, and the
            // handling (if it started) pushed that back again.
            outcome => {
                tracing::warn!(%id, %outcome, "handling a polled job did not succeed; retried later");
            }
        }
        Ok(false)
    }

    /// Runs the handler for the job of a verified delivery or a poll; should it fail, marks
    /// the job finished, so that the reconciler tries again after the retry interval (a job
    /// the API no longer has is marked lost instead, by `run_handler`).
    ///
    /// A success is recorded by the inbox's completion ([`TrackedEvents`]). A handling cut
    /// short (a crash, a panic, the deadline) leaves the job as it was: its webhook is
    /// delivered again, and its next poll finds it finished.
    async fn handle_finished(&self, event: &ReceivedEvent) -> Result<(), String> {
        let status = match event.status() {
            WebhookStatus::Completed => TranscriptionStatus::Completed,
            _ => TranscriptionStatus::Error,
        };
        // Fenced by the claim only if it is this tracker's: an inbox over another store holds
        // claims its database does not know.
        let claim = event
            .claim_token()
            .filter(|token| self.inner.events.issued(event.event(), *token));
        let handled = self.run_handler(event.event(), claim, &status).await;
        if handled.is_err() {
            let now = now();
            let retry_at = now + self.inner.policy.retry_interval;
            if let Err(error) = self
                .inner
                .jobs
                .finished(event.id(), &status, now, retry_at)
                .await
            {
                tracing::warn!(id = %event.id(), %error, "a failed handling could not be scheduled for a retry; the job's next poll retries it");
            }
        }
        handled
    }

    /// Runs the reconciler every `every` in a background task until the handle is stopped or
    /// dropped. A failed pass is logged and the next one waits twice as long (up to ten
    /// times `every`).
    pub fn spawn_reconciler(&self, every: Duration) -> Reconciler {
        let tracker = self.clone();
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            let mut wait = every;
            loop {
                match tracker.reconcile_until(&stopped).await {
                    Ok(pass) => {
                        wait = every;
                        if pass.due > 0 {
                            tracing::debug!(?pass, "reconciler pass");
                        }
                    }
                    Err(error) => {
                        wait = wait.saturating_mul(2).min(every.saturating_mul(10));
                        tracing::warn!(error = %error, "reconciler pass failed");
                    }
                }
                tokio::select! {
                    // Set, or the handle dropped.
                    _ = stopped.wait_for(|stop| *stop) => return,
                    () = tokio::time::sleep(wait) => {}
                }
            }
        });
        Reconciler { stop, task }
    }
}

/// The reconciler running in the background; see [`Tracker::spawn_reconciler`].
#[derive(Debug)]
pub struct Reconciler {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Reconciler {
    /// Stops once the job at hand is settled. The rest of a pass under way is left: the
    /// jobs it held come due again when their hold (the retry interval) runs out, for the
    /// next pass, here or on another replica.
    pub async fn stop(self) {
        self.stop.send_replace(true);
        let _ = self.task.await;
    }
}

/// What came of a create request.
enum Created {
    /// The API accepted the job under this id.
    Yes(TranscriptionId),
    /// No answer, or one that does not say whether the job was created: why.
    Maybe(String),
    /// The API refused it.
    Refused(soniox_client::Error),
}

/// Counts and reports a job just marked lost, known by `job` (its reference or its id).
fn report_lost(counters: &Counters, job: &str) {
    Counters::add(&counters.lost);
    tracing::error!(%job, "the API no longer has this job; it was never handled");
}

fn job_id(job: &crate::reconcile::TrackedJob) -> Option<TranscriptionId> {
    match &job.stage {
        Stage::Submitted { id, .. } | Stage::Finished { id, .. } => Some(id.clone()),
        Stage::Submitting | Stage::Done => None,
    }
}

fn webhook_status(status: &TranscriptionStatus) -> WebhookStatus {
    match status {
        TranscriptionStatus::Completed => WebhookStatus::Completed,
        _ => WebhookStatus::Error,
    }
}

/// Whether a failed create may still have created the job: no answer, or an answer that
/// does not say it was refused.
fn created_maybe(error: &soniox_client::Error) -> bool {
    use soniox_client::Error;
    match error {
        // Refused before anything was sent.
        Error::Validation(_) | Error::Config(_) | Error::Io { .. } | Error::FileTooLarge { .. } => {
            false
        }
        _ => error.is_retryable() || error.status().is_none_or(|status| status.is_server_error()),
    }
}

/// Whether the API refused a create because of who asked (the key, the account's balance or
/// quota: 401, 402, 403), which an operator may lift, so that sending it again later can
/// succeed; any other refusal is of the request itself.
fn refused_for_now(error: &soniox_client::Error) -> bool {
    error
        .status()
        .is_some_and(|status| matches!(status.as_u16(), 401..=403))
}

/// The request as recorded for a resubmission: everything but the webhook's secret, which the
/// tracker adds back from its own configuration.
fn recordable(request: &CreateTranscription) -> Result<String, TrackerError> {
    let mut recorded = request.clone();
    recorded.webhook_auth_header_value = None;
    serde_json::to_string(&recorded).map_err(TrackerError::Unreadable)
}

/// The tracker's webhook handler; see [`Tracker::webhook_handler`].
#[derive(Clone, Debug)]
pub struct WebhookHandler {
    tracker: Tracker,
}

impl soniox_webhook::Handler for WebhookHandler {
    type Error = String;
    type Future = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

    fn call(&self, event: ReceivedEvent) -> Self::Future {
        let tracker = self.tracker.clone();
        Box::pin(async move { tracker.handle_finished(&event).await })
    }
}
