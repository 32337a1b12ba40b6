//! Each input's `client_reference_id`: the batch's id (random, kept beside its database) and
//! a hash of the input's name. The tracker records a job under it before creating it, so a
//! resumed batch finds every input it submitted, even one a crash cut off mid-submit, and the
//! handler knows a finished job's input by it, without asking the API.

use std::{collections::HashMap, io::Write as _, path::Path};

use sha2::{Digest as _, Sha256};

use super::inputs::Input;
use crate::failure::Failure;

/// The file holding the batch's id, inside its state folder.
const ID_FILE: &str = "batch-id";

/// Hex digits of the batch's id (64 random bits).
const ID_DIGITS: usize = 16;

/// The batch's references.
#[derive(Debug)]
pub(super) struct References {
    batch: String,
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
        let batch = match std::fs::read_to_string(&path) {
            Ok(text) => text.trim().to_owned(),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let id = format!("{:016x}", fastrand::u64(..));
                write_new(&path, &id)?;
                id
            }
            Err(error) => return Err(Failure::io(path.display(), &error)),
        };
        if batch.len() != ID_DIGITS || !batch.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return Err(Failure::other(format!(
                "{}: not a batch id; remove the folder to start the batch anew",
                path.display()
            )));
        }
        Ok(Self { batch })
    }

    /// The reference of `input`: the same on every run of this batch.
    pub(super) fn of(&self, input: &Input) -> String {
        let digest = Sha256::digest(input.name.as_bytes());
        let hash: String = digest[..16]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        format!("soniox-batch-{}-{hash}", self.batch)
    }

    /// The input name of each reference.
    pub(super) fn names(&self, inputs: &[Input]) -> HashMap<String, String> {
        inputs
            .iter()
            .map(|input| (self.of(input), input.name.clone()))
            .collect()
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
        let a = input("a.wav");
        assert_eq!(first.of(&a), again.of(&a));
        assert_ne!(first.of(&a), first.of(&input("b.wav")));
        assert_ne!(first.of(&a), other.of(&a));
        assert!(first.of(&a).len() <= 256, "within the API's limit");
        assert_eq!(
            first.names(std::slice::from_ref(&a))[&first.of(&a)],
            "a.wav"
        );

        std::fs::write(one.path().join(ID_FILE), "not an id").expect("write");
        assert!(References::open(one.path()).is_err());
    }
}
