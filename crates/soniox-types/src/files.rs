//! `/v1/files`: uploaded audio.

use serde::{Deserialize, Serialize};

use crate::{
    ids::FileId,
    pagination::{Page, next_cursor},
    timestamp::{OffsetDateTime, rfc3339},
    validation::{Checker, ValidationErrors, ViolationKind, limits},
};

/// An uploaded file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct File {
    /// The file's id, to pass as a transcription's `file_id`.
    pub id: FileId,
    /// The uploaded file's name.
    pub filename: String,
    /// Size in bytes.
    pub size: u64,
    /// When it was uploaded.
    #[serde(with = "rfc3339")]
    #[cfg_attr(feature = "schemars", schemars(with = "String"))]
    pub created_at: OffsetDateTime,
    /// The caller's own reference, if one was given at upload.
    #[serde(default)]
    pub client_reference_id: Option<String>,
}

impl File {
    /// A file record with the given parts.
    pub fn new(
        id: FileId,
        filename: impl Into<String>,
        size: u64,
        created_at: OffsetDateTime,
    ) -> Self {
        Self {
            id,
            filename: filename.into(),
            size,
            created_at,
            client_reference_id: None,
        }
    }

    /// Sets the client reference id.
    #[must_use]
    pub fn client_reference_id(mut self, id: impl Into<String>) -> Self {
        self.client_reference_id = Some(id.into());
        self
    }
}

/// A page of `GET /v1/files`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct FileList {
    /// The files on this page.
    pub files: Vec<File>,
    /// The cursor of the next page; `None` on the last page.
    #[serde(default)]
    pub next_page_cursor: Option<String>,
}

impl FileList {
    /// A page with the given parts.
    pub fn new(files: Vec<File>, next_page_cursor: Option<String>) -> Self {
        Self {
            files,
            next_page_cursor,
        }
    }
}

impl Page for FileList {
    type Item = File;

    fn into_parts(self) -> (Vec<File>, Option<String>) {
        (self.files, next_cursor(self.next_page_cursor))
    }
}

/// The form fields sent with an upload, besides the file itself.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct UploadMetadata {
    /// A reference of the caller's own, returned on the file (≤ 256 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_reference_id: Option<String>,
}

impl UploadMetadata {
    /// No metadata.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the client reference id.
    #[must_use]
    pub fn client_reference_id(mut self, id: impl Into<String>) -> Self {
        self.client_reference_id = Some(id.into());
        self
    }

    /// Checks the fields and, when known, the file size against the documented limits.
    ///
    /// # Errors
    /// A [`ValidationErrors`] naming each field that breaks a limit; a file over 1 GiB is
    /// reported at `file.file`.
    pub fn validate(&self, file_size: Option<u64>) -> Result<(), ValidationErrors> {
        let mut check = Checker::new("file");
        if let Some(id) = &self.client_reference_id {
            check.max_chars(
                "client_reference_id",
                id,
                limits::CLIENT_REFERENCE_ID_MAX_CHARS,
            );
        }
        if file_size.is_some_and(|size| size > limits::FILE_MAX_BYTES) {
            check.push("file", ViolationKind::Invalid(FILE_TOO_LARGE_MESSAGE));
        }
        check.finish()
    }
}

/// The API's message for an upload over [`limits::FILE_MAX_BYTES`].
pub const FILE_TOO_LARGE_MESSAGE: &str =
    "Exceeded maximum file size (maximum is 1073741824 bytes).";
