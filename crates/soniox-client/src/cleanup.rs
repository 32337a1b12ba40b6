//! Deleting what is no longer needed: one job with its file, or old jobs and files in bulk.

use std::{collections::HashSet, fmt, time::Duration};

use futures_util::TryStreamExt;
use soniox_types::{File, FileId, ListParams, OffsetDateTime, Transcription, TranscriptionId};

use crate::{Client, Error, Transcriptions};

impl Transcriptions<'_> {
    /// Deletes a finished job and the file it was transcribed from, in one call (the official
    /// SDKs' `destroy`). A job made from an `audio_url` has no file; a file already gone is
    /// not an error.
    ///
    /// The file is deleted even if other jobs were made from it too; finished ones keep their
    /// transcripts, but a job still queued on it would fail.
    ///
    /// ```no_run
    /// # async fn run(client: soniox_client::Client, id: soniox_client::types::TranscriptionId) -> Result<(), soniox_client::Error> {
    /// client.transcriptions().destroy(&id).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`get`](Self::get) and [`delete`](Self::delete): 404 when there is no such job,
    /// 409 ([`Error::is_invalid_state`]) while it is queued or processing, in which case
    /// nothing is deleted.
    pub async fn destroy(&self, id: &TranscriptionId) -> Result<(), Error> {
        let job = self.get(id).await?;
        self.delete(id).await?;
        if let Some(file) = &job.file_id {
            match self.client.files().delete(file).await {
                Err(error) if !error.is_not_found() => return Err(error),
                _ => {}
            }
        }
        Ok(())
    }
}

type Filter<T> = Box<dyn Fn(&T) -> bool + Send + Sync>;

/// Which old jobs and files [`Client::clean_up`] deletes.
///
/// Only items created more than `older_than` ago are considered. Of those, every finished
/// job (unfinished ones cannot be deleted) and every file that no unfinished job uses, both
/// narrowed by the optional filters.
///
/// ```no_run
/// # async fn run(client: soniox_client::Client) -> Result<(), soniox_client::Error> {
/// use std::time::Duration;
/// use soniox_client::CleanUp;
///
/// let week = Duration::from_secs(7 * 24 * 3600);
/// let plan = CleanUp::older_than(week)
///     .transcriptions_where(|job| job.client_reference_id.is_none())
///     .dry_run(true);
/// let report = client.clean_up(plan).await?;
/// println!("would delete {} jobs and {} files", report.transcriptions.len(), report.files.len());
/// # Ok(()) }
/// ```
#[must_use]
pub struct CleanUp {
    older_than: Duration,
    transcriptions: Option<Filter<Transcription>>,
    files: Option<Filter<File>>,
    keep_files: bool,
    dry_run: bool,
}

impl CleanUp {
    /// Items created more than `age` ago (`Duration::ZERO`: everything), by this machine's
    /// clock against the API's `created_at`.
    pub fn older_than(age: Duration) -> Self {
        Self {
            older_than: age,
            transcriptions: None,
            files: None,
            keep_files: false,
            dry_run: false,
        }
    }

    /// Deletes only the old, finished jobs for which `filter` is true.
    pub fn transcriptions_where(
        mut self,
        filter: impl Fn(&Transcription) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.transcriptions = Some(Box::new(filter));
        self
    }

    /// Deletes only the old files for which `filter` is true.
    pub fn files_where(mut self, filter: impl Fn(&File) -> bool + Send + Sync + 'static) -> Self {
        self.files = Some(Box::new(filter));
        self
    }

    /// Leaves every file alone; only jobs are deleted.
    pub fn keep_files(mut self) -> Self {
        self.keep_files = true;
        self
    }

    /// Lists what would be deleted and deletes nothing.
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    fn is_old(&self, now: OffsetDateTime, created_at: OffsetDateTime) -> bool {
        now - created_at >= self.older_than
    }
}

impl fmt::Debug for CleanUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CleanUp")
            .field("older_than", &self.older_than)
            .field("transcriptions_where", &self.transcriptions.is_some())
            .field("files_where", &self.files.is_some())
            .field("keep_files", &self.keep_files)
            .field("dry_run", &self.dry_run)
            .finish()
    }
}

/// What [`Client::clean_up`] deleted, or with [`CleanUp::dry_run`] would delete.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct CleanUpReport {
    /// The jobs deleted (or selected, in a dry run).
    pub transcriptions: Vec<TranscriptionId>,
    /// The files deleted (or selected, in a dry run).
    pub files: Vec<FileId>,
    /// The deletions that failed; the others went ahead.
    pub failures: Vec<(Deletion, Error)>,
}

/// One item [`Client::clean_up`] tried to delete.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Deletion {
    /// A job.
    Transcription(TranscriptionId),
    /// A file.
    File(FileId),
}

impl Client {
    /// Deletes old jobs and files in bulk, as `plan` says; see [`CleanUp`].
    ///
    /// Everything is listed first, then deleted one by one: a deletion that fails is reported
    /// in [`CleanUpReport::failures`] and the rest go ahead. Jobs go before files, and a file
    /// that an unfinished job uses is never deleted.
    ///
    /// # Errors
    /// Errors of listing jobs and files; nothing has been deleted then.
    pub async fn clean_up(&self, plan: CleanUp) -> Result<CleanUpReport, Error> {
        let now = OffsetDateTime::now_utc();
        let jobs: Vec<Transcription> = self
            .transcriptions()
            .list(ListParams::new())
            .try_collect()
            .await?;
        let in_use: HashSet<&FileId> = jobs
            .iter()
            .filter(|job| !job.status.is_terminal())
            .filter_map(|job| job.file_id.as_ref())
            .collect();
        let files: Vec<File> = if plan.keep_files {
            Vec::new()
        } else {
            self.files().list(ListParams::new()).try_collect().await?
        };
        let selected = CleanUpReport {
            transcriptions: jobs
                .iter()
                .filter(|job| job.status.is_terminal() && plan.is_old(now, job.created_at))
                .filter(|job| plan.transcriptions.as_ref().is_none_or(|keep| keep(job)))
                .map(|job| job.id.clone())
                .collect(),
            files: files
                .iter()
                .filter(|file| !in_use.contains(&file.id) && plan.is_old(now, file.created_at))
                .filter(|file| plan.files.as_ref().is_none_or(|keep| keep(file)))
                .map(|file| file.id.clone())
                .collect(),
            failures: Vec::new(),
        };
        if plan.dry_run {
            return Ok(selected);
        }
        // One at a time on purpose: a clean-up should not take the account's rate limit away
        // from the application.
        let mut report = CleanUpReport::default();
        for id in selected.transcriptions {
            match self.transcriptions().delete(&id).await {
                Ok(()) => report.transcriptions.push(id),
                Err(error) => report.failures.push((Deletion::Transcription(id), error)),
            }
        }
        for id in selected.files {
            match self.files().delete(&id).await {
                Ok(()) => report.files.push(id),
                Err(error) => report.failures.push((Deletion::File(id), error)),
            }
        }
        Ok(report)
    }
}
