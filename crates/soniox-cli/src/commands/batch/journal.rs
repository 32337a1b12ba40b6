//! The batch's record of the inputs it submitted, so that a resumed batch waits for them
//! instead of submitting them again. One name a line, appended and synced after each submit.

use std::{
    collections::HashSet,
    io::Write as _,
    path::{Path, PathBuf},
};

use crate::failure::Failure;

/// The submitted-inputs file.
#[derive(Debug)]
pub(super) struct Journal {
    path: PathBuf,
    file: std::fs::File,
}

impl Journal {
    /// Opens (creating) the journal at `path` and returns the names it holds.
    ///
    /// # Errors
    /// When it cannot be read or opened for appending.
    pub(super) fn open(path: &Path) -> Result<(Self, HashSet<String>), Failure> {
        let submitted = match std::fs::read_to_string(path) {
            Ok(text) => text.lines().map(str::to_owned).collect(),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => HashSet::new(),
            Err(error) => return Err(Failure::io(path.display(), &error)),
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|error| Failure::io(path.display(), &error))?;
        Ok((
            Self {
                path: path.to_owned(),
                file,
            },
            submitted,
        ))
    }

    /// Records `name` as submitted, durably.
    ///
    /// # Errors
    /// When the write or the sync fails.
    pub(super) fn submitted(&mut self, name: &str) -> Result<(), Failure> {
        writeln!(self.file, "{name}")
            .and_then(|()| self.file.sync_data())
            .map_err(|error| Failure::io(self.path.display(), &error))
    }
}
