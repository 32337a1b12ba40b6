//! The emulated account's state: files, transcriptions, scripted transcripts and the webhook
//! attempt log, all in memory behind one lock that is never held across an `.await`.

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    path::PathBuf,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use soniox_types::{File, Secret, Transcription, TranscriptionStatus, Translation};

use crate::{attempts::WebhookAttempt, audio::AudioFacts};

/// An uploaded file and where its bytes are.
#[derive(Debug)]
pub(crate) struct FileEntry {
    pub(crate) file: File,
    pub(crate) seq: u64,
    pub(crate) path: PathBuf,
    pub(crate) facts: AudioFacts,
}

/// Where a job's audio comes from.
#[derive(Clone, Debug)]
pub(crate) enum JobAudio {
    /// An uploaded file, analysed at upload time.
    File(AudioFacts),
    /// A URL, downloaded when processing begins.
    Url(String),
}

/// A transcription job and what the API does not echo back.
#[derive(Debug)]
pub(crate) struct JobEntry {
    pub(crate) transcription: Transcription,
    pub(crate) seq: u64,
    pub(crate) audio: JobAudio,
    /// Known once processing has begun.
    pub(crate) facts: Option<AudioFacts>,
    /// The scripted text in force when the job completed.
    pub(crate) script: Option<Arc<str>>,
    pub(crate) webhook_secret: Option<Secret>,
    pub(crate) translation: Option<Translation>,
    /// The transcript's JSON, built on its first request and served from here after.
    pub(crate) transcript: Option<bytes::Bytes>,
}

/// Items of one kind in creation order, for cursor pagination.
#[derive(Debug)]
pub(crate) struct Table<T> {
    items: HashMap<String, T>,
    order: BTreeMap<u64, String>,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Self {
            items: HashMap::new(),
            order: BTreeMap::new(),
        }
    }
}

/// A cursor that the emulator did not issue.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct InvalidCursor;

impl<T> Table<T> {
    pub(crate) fn insert(&mut self, id: String, seq: u64, item: T) {
        self.order.insert(seq, id.clone());
        self.items.insert(id, item);
    }

    pub(crate) fn get(&self, id: &str) -> Option<&T> {
        self.items.get(id)
    }

    pub(crate) fn get_mut(&mut self, id: &str) -> Option<&mut T> {
        self.items.get_mut(id)
    }

    pub(crate) fn remove(&mut self, id: &str, seq: impl Fn(&T) -> u64) -> Option<T> {
        let item = self.items.remove(id)?;
        self.order.remove(&seq(&item));
        Some(item)
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &T> {
        self.order.values().filter_map(|id| self.items.get(id))
    }

    /// Newest first: `limit` items older than the cursor, and the cursor of the next page when
    /// there is one. An empty cursor means the first page, as the official samples send it.
    pub(crate) fn page<R>(
        &self,
        cursor: Option<&str>,
        limit: usize,
        render: impl Fn(&T) -> R,
    ) -> Result<(Vec<R>, Option<String>), InvalidCursor> {
        let before = match cursor.filter(|cursor| !cursor.is_empty()) {
            None => u64::MAX,
            Some(cursor) => decode_cursor(cursor).ok_or(InvalidCursor)?,
        };
        let mut older = self.order.range(..before).rev();
        let mut page = Vec::with_capacity(limit.min(self.order.len()));
        let mut last = None;
        for (seq, id) in older.by_ref().take(limit) {
            if let Some(item) = self.items.get(id) {
                page.push(render(item));
            }
            last = Some(*seq);
        }
        let next = match (last, older.next()) {
            (Some(last), Some(_)) => Some(encode_cursor(last)),
            _ => None,
        };
        Ok((page, next))
    }
}

const CURSOR_PREFIX: &str = "emu1.";

fn encode_cursor(seq: u64) -> String {
    format!("{CURSOR_PREFIX}{seq:016x}")
}

fn decode_cursor(cursor: &str) -> Option<u64> {
    let hex = cursor.strip_prefix(CURSOR_PREFIX)?;
    if hex.len() != 16 {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

/// Everything behind the lock.
#[derive(Debug, Default)]
pub(crate) struct State {
    next_seq: u64,
    pub(crate) files: Table<FileEntry>,
    pub(crate) jobs: Table<JobEntry>,
    /// Jobs queued or processing, kept so that the quota check is O(1).
    pub(crate) pending: usize,
    pub(crate) scripts: HashMap<String, Arc<str>>,
    attempts: VecDeque<WebhookAttempt>,
}

/// Most webhook attempts kept in the log; the oldest are dropped first, so a long-running
/// emulator does not grow without bound.
pub(crate) const MAX_ATTEMPTS: usize = 50_000;

impl State {
    pub(crate) fn record_attempt(&mut self, attempt: WebhookAttempt) {
        if self.attempts.len() == MAX_ATTEMPTS {
            self.attempts.pop_front();
        }
        self.attempts.push_back(attempt);
    }

    /// The attempt log, oldest first.
    pub(crate) fn attempts(&self) -> impl Iterator<Item = &WebhookAttempt> {
        self.attempts.iter()
    }

    pub(crate) fn next_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// Sets a job's status, keeping the pending count in step.
    pub(crate) fn set_status(
        &mut self,
        id: &str,
        status: TranscriptionStatus,
    ) -> Option<&mut JobEntry> {
        let job = self.jobs.get_mut(id)?;
        let was_pending = !job.transcription.status.is_terminal();
        let is_pending = !status.is_terminal();
        job.transcription.status = status;
        match (was_pending, is_pending) {
            (true, false) => self.pending -= 1,
            (false, true) => self.pending += 1,
            _ => {}
        }
        self.jobs.get_mut(id)
    }
}

/// The shared, lockable state.
#[derive(Debug, Default)]
pub(crate) struct Store(Mutex<State>);

impl Store {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // Every update is a few field writes that cannot be left half-done by a panic, so a
        // poisoned lock still holds consistent state.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(n: u64) -> Table<u64> {
        let mut table = Table::default();
        for seq in 1..=n {
            table.insert(format!("id{seq}"), seq, seq);
        }
        table
    }

    #[test]
    fn pages_newest_first_until_the_end() {
        let table = table(5);
        let (first, cursor) = table.page(None, 2, |v| *v).expect("first page");
        assert_eq!(first, [5, 4]);
        let (second, cursor) = table.page(cursor.as_deref(), 2, |v| *v).expect("second");
        assert_eq!(second, [3, 2]);
        let (third, cursor) = table.page(cursor.as_deref(), 2, |v| *v).expect("third");
        assert_eq!((third, cursor), (vec![1], None));
        let (all, cursor) = table.page(Some(""), 5, |v| *v).expect("empty cursor");
        assert_eq!((all.len(), cursor), (5, None));
    }

    #[test]
    fn the_attempt_log_keeps_the_latest() {
        let mut state = State::default();
        for attempt in 0..=MAX_ATTEMPTS {
            state.record_attempt(WebhookAttempt {
                transcription_id: "t".into(),
                status: soniox_types::WebhookStatus::Completed,
                delivery: 1,
                attempt: u32::try_from(attempt).expect("small"),
                url: String::new(),
                headers: BTreeMap::new(),
                started_at: soniox_types::OffsetDateTime::UNIX_EPOCH,
                duration_ms: 0,
                outcome: crate::attempts::DeliveryOutcome::Withheld,
            });
        }
        assert_eq!(state.attempts().count(), MAX_ATTEMPTS);
        assert_eq!(state.attempts().next().map(|a| a.attempt), Some(1));
    }

    #[test]
    fn foreign_cursors_are_rejected() {
        let table = table(1);
        for cursor in ["abc", "emu1.zz", "emu1.0000000000000000ff"] {
            assert_eq!(
                table.page(Some(cursor), 1, |v| *v),
                Err(InvalidCursor),
                "{cursor}"
            );
        }
    }
}
