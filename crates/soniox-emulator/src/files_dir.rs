//! The directory uploads and downloads are written to: the names the emulator gives its
//! files, clearing those a previous run left, and removing a file that was never finished.

use std::path::{Path, PathBuf};

use crate::issued::{is_uuid, new_uuid};

/// The suffix of a download's scratch file.
const DOWNLOAD_SUFFIX: &str = ".download";

/// A path for a new upload: the directory and a fresh UUID.
pub(crate) fn upload_path(dir: &Path) -> PathBuf {
    dir.join(new_uuid())
}

/// A path for a new download's scratch file.
pub(crate) fn download_path(dir: &Path) -> PathBuf {
    dir.join(format!("{}{DOWNLOAD_SUFFIX}", new_uuid()))
}

/// Whether a file named `name` is one the emulator writes.
fn is_ours(name: &str) -> bool {
    is_uuid(name.strip_suffix(DOWNLOAD_SUFFIX).unwrap_or(name))
}

/// Removes the files a previous run left in `dir`. State is kept in memory only, so no job or
/// file of a new run can refer to them; other files in the directory are left alone.
///
/// # Errors
/// When the directory cannot be read or one of the emulator's files cannot be removed.
pub(crate) async fn clear_stale(dir: &Path) -> std::io::Result<usize> {
    let mut entries = tokio::fs::read_dir(dir).await?;
    let mut removed = 0;
    while let Some(entry) = entries.next_entry().await? {
        let ours = entry.file_name().to_str().is_some_and(is_ours);
        if ours && entry.file_type().await?.is_file() {
            tokio::fs::remove_file(entry.path()).await?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Removes its file when dropped, unless [`keep`](Self::keep) was called: an upload or a
/// download whose future is dropped at an `.await` (the client went away, the emulator shut
/// down) leaves nothing behind.
#[derive(Debug)]
pub(crate) struct PartialFile {
    path: Option<PathBuf>,
}

impl PartialFile {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self { path: Some(path) }
    }

    pub(crate) fn path(&self) -> &Path {
        self.path.as_deref().unwrap_or(Path::new(""))
    }

    /// The file is complete and recorded: keep it.
    pub(crate) fn keep(mut self) -> PathBuf {
        self.path.take().unwrap_or_default()
    }
}

impl Drop for PartialFile {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            // Blocking, but only a directory entry; a drop cannot await. A file that was
            // never created is the usual reason for a failure, and changes nothing.
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_names() {
        let dir = Path::new("/d");
        for path in [upload_path(dir), download_path(dir)] {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            assert!(is_ours(name), "{name}");
        }
        assert!(!is_ours("notes.txt"));
        assert!(!is_ours("b6f6b6b2-4a34-4a25-9ef6-0d3f0b5f9c11.wav"));
    }

    #[test]
    fn a_partial_file_is_removed_unless_kept() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (dropped, kept) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&dropped, b"x").expect("write");
        std::fs::write(&kept, b"x").expect("write");
        drop(PartialFile::new(dropped.clone()));
        let _ = PartialFile::new(kept.clone()).keep();
        assert!(!dropped.exists());
        assert!(kept.exists());
    }
}
