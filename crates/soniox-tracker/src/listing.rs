//! What one reconciler pass has learnt from the API's job list, and whether it must read
//! another page. No I/O: the pass requests the pages this asks for and adds them.
//!
//! The list is newest first, so the pages that answer for a due job are those down to the one
//! holding it, or down to the first one older than the job (then the API has no such job
//! there). A pass reads them once: it keeps every job it listed and the cursor of the next
//! page, and asks for more only while a claimed job is neither found nor passed. Claiming
//! its due jobs in batches therefore costs no more pages than claiming them all at once, and
//! a pass over N overdue jobs reads the pages they fill, not a page per batch.

use std::{collections::HashMap, time::Duration};

use soniox_types::{ListParams, OffsetDateTime, Transcription, TranscriptionId, TranscriptionList};

use crate::reconcile::{Stage, TrackedJob};

/// How long the clocks of this process and the API may disagree: the listing reads this much
/// past a job's recording before calling it missing.
pub(crate) const CLOCK_SKEW: Duration = Duration::from_secs(300);

/// The page size the reconciler lists with: the API's maximum.
pub(crate) const PAGE_SIZE: u32 = 1000;

/// Where the next page starts.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Next {
    /// Nothing listed yet.
    First,
    /// The previous page's `next_page_cursor`.
    Cursor(String),
    /// The previous page was the last.
    End,
}

/// The jobs one pass has listed so far.
#[derive(Debug)]
pub(crate) struct Listing {
    by_id: HashMap<TranscriptionId, Transcription>,
    by_reference: HashMap<String, TranscriptionId>,
    next: Next,
    /// The creation time of the oldest job listed.
    oldest: Option<OffsetDateTime>,
}

impl Default for Listing {
    fn default() -> Self {
        Self {
            by_id: HashMap::new(),
            by_reference: HashMap::new(),
            next: Next::First,
            oldest: None,
        }
    }
}

/// What the listing says about one job.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Listed<'a> {
    /// The job as listed.
    Found(&'a Transcription),
    /// The listing read past the job's recording (or to its end) without finding it.
    Absent,
    /// The listing has not reached the job's recording yet.
    NotReached,
    /// Nothing to look for: the job is finished or done.
    NotWanted,
}

impl Listing {
    /// What the listing says about `job`.
    pub(crate) fn lookup(&self, job: &TrackedJob) -> Listed<'_> {
        let found = match &job.stage {
            // Only a job created after the recording (give or take the skew) is the one its
            // create made: an older one with the same reference is another submission's,
            // whose record was pruned since.
            Stage::Submitting => self
                .by_reference
                .get(&job.reference)
                .and_then(|id| self.by_id.get(id))
                .filter(|listed| listed.created_at >= job.recorded_at - CLOCK_SKEW),
            Stage::Submitted { id, .. } => self.by_id.get(id),
            Stage::Finished { .. } | Stage::Done => return Listed::NotWanted,
        };
        match found {
            Some(found) => Listed::Found(found),
            None if self.passed(job.recorded_at) => Listed::Absent,
            None => Listed::NotReached,
        }
    }

    /// Whether the listing holds everything created since `recorded_at`, give or take the
    /// clock skew.
    fn passed(&self, recorded_at: OffsetDateTime) -> bool {
        self.next == Next::End
            || self
                .oldest
                .is_some_and(|oldest| oldest < recorded_at - CLOCK_SKEW)
    }

    /// The page to request next so that the listing answers for every one of `jobs`; `None`
    /// once it does (each is found, absent, or not wanted).
    pub(crate) fn next_page<'a>(
        &self,
        mut jobs: impl Iterator<Item = &'a TrackedJob>,
    ) -> Option<ListParams> {
        if !jobs.any(|job| matches!(self.lookup(job), Listed::NotReached)) {
            return None;
        }
        let params = ListParams::new().limit(PAGE_SIZE);
        match &self.next {
            Next::First => Some(params),
            Next::Cursor(cursor) => Some(params.cursor(cursor.clone())),
            Next::End => None,
        }
    }

    /// Adds the page requested with [`Listing::next_page`].
    pub(crate) fn add(&mut self, page: TranscriptionList) {
        if let Some(last) = page.transcriptions.last() {
            self.oldest = Some(
                self.oldest
                    .map_or(last.created_at, |oldest| oldest.min(last.created_at)),
            );
        }
        self.next = match page.next_page_cursor {
            Some(cursor) if !cursor.is_empty() && !page.transcriptions.is_empty() => {
                Next::Cursor(cursor)
            }
            _ => Next::End,
        };
        for job in page.transcriptions {
            if let Some(reference) = &job.client_reference_id {
                // The newest job with each reference, whatever the pages' order.
                let newer = self
                    .by_reference
                    .get(reference)
                    .and_then(|id| self.by_id.get(id))
                    .is_none_or(|kept| kept.created_at < job.created_at);
                if newer {
                    self.by_reference.insert(reference.clone(), job.id.clone());
                }
            }
            self.by_id.insert(job.id.clone(), job);
        }
    }
}

#[cfg(test)]
mod tests {
    use soniox_types::TranscriptionStatus;

    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    fn at(minutes: u32) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("a valid instant") + MIN * minutes
    }

    fn api(n: u32) -> Transcription {
        let mut job = Transcription::new(
            TranscriptionId::new(format!("job-{n}")),
            TranscriptionStatus::Completed,
            at(n),
            "stt-async-v5",
            "a.wav",
        );
        job.client_reference_id = Some(format!("ref-{n}"));
        job
    }

    fn submitted(n: u32) -> TrackedJob {
        TrackedJob {
            reference: format!("ref-{n}"),
            recorded_at: at(n),
            stage: Stage::Submitted {
                id: TranscriptionId::new(format!("job-{n}")),
                at: at(n),
                polls: 0,
                next_poll: at(n),
            },
        }
    }

    fn submitting(n: u32) -> TrackedJob {
        TrackedJob {
            stage: Stage::Submitting,
            ..submitted(n)
        }
    }

    /// The lookup of `job`: the id found, or how it was not.
    fn look(listing: &Listing, job: &TrackedJob) -> String {
        match listing.lookup(job) {
            Listed::Found(found) => found.id.as_str().to_owned(),
            other => format!("{other:?}"),
        }
    }

    /// Jobs `newest` down to `oldest`, newest first, with the cursor `next`.
    fn page(newest: u32, oldest: u32, next: Option<&str>) -> TranscriptionList {
        let jobs = (oldest..=newest).rev().map(api).collect();
        TranscriptionList::new(jobs, next.map(str::to_owned))
    }

    #[test]
    fn the_first_page_is_asked_for_only_when_a_job_needs_the_api() {
        let listing = Listing::default();
        let finished = TrackedJob {
            stage: Stage::Finished {
                id: TranscriptionId::new("job-1"),
                status: TranscriptionStatus::Completed,
                retry_at: at(1),
            },
            ..submitted(1)
        };
        assert_eq!(listing.next_page([&finished].into_iter()), None);
        let first = listing.next_page([&finished, &submitted(1)].into_iter());
        assert_eq!(first, Some(ListParams::new().limit(PAGE_SIZE)));
    }

    #[test]
    fn pages_are_read_until_every_job_is_found_and_no_further() {
        let mut listing = Listing::default();
        let wanted = [submitted(100), submitting(60)];
        listing.add(page(100, 71, Some("c1")));
        assert_eq!(look(&listing, &wanted[0]), "job-100");
        assert_eq!(look(&listing, &wanted[1]), "NotReached");
        assert_eq!(
            listing.next_page(wanted.iter()),
            Some(ListParams::new().limit(PAGE_SIZE).cursor("c1"))
        );
        listing.add(page(70, 41, Some("c2")));
        assert_eq!(look(&listing, &wanted[1]), "job-60");
        assert_eq!(listing.next_page(wanted.iter()), None, "all found");
        // A later batch finds what earlier pages held without another request.
        assert_eq!(listing.next_page([submitted(45)].iter()), None);
        assert_eq!(look(&listing, &submitted(45)), "job-45");
    }

    #[test]
    fn a_job_is_absent_only_once_the_listing_is_past_its_recording_and_the_skew() {
        let mut listing = Listing::default();
        // Job 50 was deleted: the API lists 51 and 49.
        listing.add(TranscriptionList::new(
            vec![api(53), api(52), api(51)],
            Some("c1".into()),
        ));
        assert_eq!(look(&listing, &submitted(50)), "NotReached");
        listing.add(TranscriptionList::new(
            vec![api(49), api(46)],
            Some("c2".into()),
        ));
        // 46 is not yet five minutes before 50.
        assert_eq!(look(&listing, &submitting(50)), "NotReached");
        assert!(listing.next_page([submitting(50)].iter()).is_some());
        listing.add(TranscriptionList::new(vec![api(44)], Some("c3".into())));
        assert_eq!(look(&listing, &submitting(50)), "Absent");
        assert_eq!(look(&listing, &submitted(50)), "Absent");
        assert_eq!(listing.next_page([submitted(50)].iter()), None);
    }

    /// A reference used again after its first job's record was pruned: the old job, still in
    /// the API, is not the new submission's.
    #[test]
    fn a_reference_finds_only_the_newest_job_made_since_the_recording() {
        let reused = |n: u32| {
            let mut job = api(n);
            job.client_reference_id = Some("inv-42".to_owned());
            job
        };
        let again = TrackedJob {
            reference: "inv-42".to_owned(),
            ..submitting(60)
        };
        let mut listing = Listing::default();
        listing.add(TranscriptionList::new(vec![api(70), reused(20)], None));
        assert_eq!(look(&listing, &again), "Absent", "job-20 is another's");
        // Pages in either order keep the newest of the two.
        for pages in [
            [vec![reused(61)], vec![reused(20)]],
            [vec![reused(20)], vec![reused(61)]],
        ] {
            let mut listing = Listing::default();
            for jobs in pages {
                listing.add(TranscriptionList::new(jobs, Some("c".into())));
            }
            assert_eq!(look(&listing, &again), "job-61");
        }
        // Within the skew of the recording, a job is taken for its create's.
        let mut listing = Listing::default();
        listing.add(TranscriptionList::new(vec![reused(56)], None));
        assert_eq!(look(&listing, &again), "job-56");
    }

    #[test]
    fn the_last_page_answers_for_every_older_job() {
        let mut listing = Listing::default();
        listing.add(page(10, 8, None));
        assert_eq!(look(&listing, &submitted(2)), "Absent");
        assert_eq!(listing.next_page([submitted(2)].iter()), None);
        // An empty page, or an empty cursor, ends the listing too.
        for last in [
            TranscriptionList::new(Vec::new(), Some("c".into())),
            page(10, 8, Some("")),
        ] {
            let mut listing = Listing::default();
            listing.add(last);
            assert_eq!(look(&listing, &submitted(2)), "Absent");
        }
    }
}
