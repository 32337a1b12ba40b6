//! The references of the jobs this tracker created, by transcription id, so that handling a
//! job's webhook needs no read of its row.
//!
//! A handler is told its job's `client_reference_id`. Reading it from the job table costs a
//! statement per job; on PostgreSQL that was two round trips (the driver prepares an ad hoc
//! statement, then runs it) and a parse and plan on the server, more of the server's time
//! than the batched writes of the job. An id's reference never changes (the API gives every
//! create its own id, and a job row takes its id once), so what this replica learnt when the
//! create was answered stays true; a job created by another replica, or one forgotten here to
//! stay within [`CAPACITY`], is read from the table as before.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Mutex, PoisonError},
};

use soniox_types::TranscriptionId;

/// The most references held. A job's entry normally goes when its handler takes it; entries
/// of jobs whose webhooks another replica handled would stay, so the oldest go first once
/// this many are held (about 200 bytes each with the id kept twice: some 13 MB when full).
const CAPACITY: usize = 65_536;

/// Ids to references, oldest first out; see the [module docs](self).
#[derive(Debug, Default)]
pub(crate) struct References {
    held: Mutex<Held>,
}

#[derive(Debug, Default)]
struct Held {
    /// Each reference with the number of its insertion.
    by_id: HashMap<TranscriptionId, (u64, String)>,
    /// Insertions in order, for eviction; an insertion whose id was taken or inserted again
    /// since is stale and evicts nothing.
    order: VecDeque<(u64, TranscriptionId)>,
    inserted: u64,
}

impl References {
    /// Remembers that the job created as `id` is recorded under `reference`.
    pub(crate) fn insert(&self, id: &TranscriptionId, reference: &str) {
        self.insert_bounded(id, reference, CAPACITY);
    }

    fn insert_bounded(&self, id: &TranscriptionId, reference: &str, capacity: usize) {
        let mut held = self.lock();
        while held.by_id.len() >= capacity || held.order.len() >= 2 * capacity {
            let Some((seq, oldest)) = held.order.pop_front() else {
                break;
            };
            if held
                .by_id
                .get(&oldest)
                .is_some_and(|(live, _)| *live == seq)
            {
                held.by_id.remove(&oldest);
            }
        }
        held.inserted += 1;
        let seq = held.inserted;
        held.by_id.insert(id.clone(), (seq, reference.to_owned()));
        held.order.push_back((seq, id.clone()));
    }

    /// The reference of the job created as `id`, if this replica knows it. It stays known:
    /// a handling that fails is retried, and a delivery may come twice.
    pub(crate) fn get(&self, id: &TranscriptionId) -> Option<String> {
        self.lock()
            .by_id
            .get(id)
            .map(|(_, reference)| reference.clone())
    }

    /// Forgets `id`, once its job is handled.
    pub(crate) fn remove(&self, id: &TranscriptionId) {
        // `order` keeps the insertion until it reaches the front; the map says what is held.
        self.lock().by_id.remove(id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: usize) -> TranscriptionId {
        TranscriptionId::new(format!("id-{n}"))
    }

    #[test]
    fn an_inserted_reference_is_found_until_removed() {
        let references = References::default();
        references.insert(&id(1), "ref-1");
        assert_eq!(references.get(&id(1)).as_deref(), Some("ref-1"));
        assert_eq!(references.get(&id(1)).as_deref(), Some("ref-1"));
        assert_eq!(references.get(&id(2)), None);
        references.remove(&id(1));
        assert_eq!(references.get(&id(1)), None);
    }

    #[test]
    fn the_oldest_go_first_when_full() {
        let references = References::default();
        for n in 0..5 {
            references.insert_bounded(&id(n), &format!("ref-{n}"), 3);
        }
        let held: Vec<_> = (0..5).map(|n| references.get(&id(n))).collect();
        assert_eq!(
            held,
            [
                None,
                None,
                Some("ref-2".to_owned()),
                Some("ref-3".to_owned()),
                Some("ref-4".to_owned())
            ]
        );
    }

    #[test]
    fn an_id_inserted_again_is_not_evicted_by_its_earlier_insertion() {
        let references = References::default();
        references.insert_bounded(&id(0), "ref-0", 2);
        references.remove(&id(0));
        references.insert_bounded(&id(1), "ref-1", 2);
        references.insert_bounded(&id(0), "ref-0", 2);
        // Full: the oldest live insertion (id 1) goes, not id 0's stale first one.
        references.insert_bounded(&id(2), "ref-2", 2);
        assert_eq!(references.get(&id(0)).as_deref(), Some("ref-0"));
        assert_eq!(references.get(&id(1)), None);
        assert_eq!(references.get(&id(2)).as_deref(), Some("ref-2"));
    }

    #[test]
    fn taken_ids_do_not_grow_the_order_without_bound() {
        let references = References::default();
        for n in 0..100 {
            references.insert_bounded(&id(n), "ref", 3);
            references.remove(&id(n));
        }
        let held = references.lock();
        assert!(held.order.len() <= 6, "{} ids in order", held.order.len());
        assert!(held.by_id.is_empty());
    }
}
