//! Each input's `client_reference_id`: the batch's id (random, kept beside its database) and
//! a hash of the input's name, with an attempt number after the first attempt. The tracker
//! records a job under it before creating it, so a resumed batch finds every input it
//! submitted, even one a crash cut off mid-submit, and the handler knows a finished job's
//! input by it, without asking the API. Uploads carry their job's reference too, so a resumed
//! batch finds the file of an upload whose job was never recorded.

use std::{collections::HashMap, io::Write as _, path::Path};

use sha2::{Digest as _, Sha256};

use super::inputs::Input;
use crate::failure::Failure;

/// The file holding the batch's id, inside its state folder.
const ID_FILE: &str = "batch-id";

/// Hex digits of the batch's id (64 random bits).
const ID_DIGITS: usize = 16;

/// What separates an input's reference from its attempt number: not a hex digit, and not in
/// the prefix.
const ATTEMPT_MARK: &str = "-r";

/// The batch's references.
#[derive(Debug)]
pub(super) struct References {
    batch: String,
    /// Whether the batch's id was there already: this run resumes an earlier one.
    resumed: bool,
}

impl References {
    /// The references of the batch whose state is in `state`, with its id created on its
    /// first run. The id keeps two batches' references apart: the tracker adopts the job the
    /// API has under a reference, whichever batch created it.
    ///
    /// # Errors
    /// When the id cannot be read or written, or is not one this command wrote.
    pub(super) fn open(state: &Path) -> Result<Self, Failure> {
        let path = state.join(ID_FILE);
        let (batch, resumed) = match std::fs::read_to_string(&path) {
            Ok(text) => (text.trim().to_owned(), true),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let id = format!("{:016x}", fastrand::u64(..));
                write_new(&path, &id)?;
                (id, false)
            }
            Err(error) => return Err(Failure::io(path.display(), &error)),
        };
        if batch.len() != ID_DIGITS || !batch.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return Err(Failure::other(format!(
                "{}: not a batch id; remove the folder to start the batch anew",
                path.display()
            )));
        }
        Ok(Self { batch, resumed })
    }

    /// Whether this run resumes an earlier one (the batch's id was there already).
    pub(super) fn resumed(&self) -> bool {
        self.resumed
    }

    /// The reference of `input`'s `attempt` (0 for the first): the same on every run of this
    /// batch. An input is submitted again under its next attempt when its earlier job can
    /// give no output any more (its output was deleted after the job was cleaned up).
    pub(super) fn of(&self, input: &Input, attempt: u32) -> String {
        let digest = Sha256::digest(input.name.as_bytes());
        let hash: String = digest[..16]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        let first = format!("{}{hash}", self.prefix());
        match attempt {
            0 => first,
            attempt => format!("{first}{ATTEMPT_MARK}{attempt}"),
        }
    }

    /// What every reference of this batch starts with.
    fn prefix(&self) -> String {
        format!("soniox-batch-{}-", self.batch)
    }

    /// Whether `reference` is one of this batch's, of any input and attempt.
    pub(super) fn owns(&self, reference: &str) -> bool {
        reference.starts_with(&self.prefix())
    }

    /// The input name of each first-attempt reference; see [`References::first_attempt`].
    pub(super) fn names(&self, inputs: &[Input]) -> HashMap<String, String> {
        inputs
            .iter()
            .map(|input| (self.of(input, 0), input.name.clone()))
            .collect()
    }

    /// The reference of the first attempt of the input whose reference (of any attempt) this
    /// is.
    pub(super) fn first_attempt(reference: &str) -> &str {
        reference
            .split_once(ATTEMPT_MARK)
            .map_or(reference, |(first, _)| first)
    }
}

/// Writes `contents` to `path` whole or not at all (a temporary file, synced, renamed), so
/// that a crash never leaves a half-written id.
fn write_new(path: &Path, contents: &str) -> Result<(), Failure> {
    let temporary = path.with_extension("partial");
    let written = std::fs::File::create(&temporary).and_then(|mut file| {
        file.write_all(contents.as_bytes())?;
        file.sync_all()
    });
    written
        .and_then(|()| std::fs::rename(&temporary, path))
        .map_err(|error| Failure::io(path.display(), &error))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(name: &str) -> Input {
        Input {
            path: name.into(),
            name: name.to_owned(),
        }
    }

    #[test]
    fn references_are_stable_per_batch_and_distinct_across_batches() {
        let (one, two) = (
            tempfile::tempdir().expect("tempdir"),
            tempfile::tempdir().expect("tempdir"),
        );
        let first = References::open(one.path()).expect("created");
        let again = References::open(one.path()).expect("read back");
        let other = References::open(two.path()).expect("created");
        assert!(!first.resumed() && again.resumed());
        let a = input("a.wav");
        assert_eq!(first.of(&a, 0), again.of(&a, 0));
        assert_ne!(first.of(&a, 0), first.of(&input("b.wav"), 0));
        assert_ne!(first.of(&a, 0), other.of(&a, 0));
        assert_ne!(first.of(&a, 0), first.of(&a, 1));
        assert!(
            first.of(&a, u32::MAX).len() <= 256,
            "within the API's limit"
        );
        assert!(first.owns(&first.of(&a, 3)) && !other.owns(&first.of(&a, 0)));
        for attempt in [0, 1, 12] {
            let reference = first.of(&a, attempt);
            let names = first.names(std::slice::from_ref(&a));
            assert_eq!(names[References::first_attempt(&reference)], "a.wav");
        }

        std::fs::write(one.path().join(ID_FILE), "not an id").expect("write");
        assert!(References::open(one.path()).is_err());
    }
}
