//! Cursor pagination shared by `GET /v1/files` and `GET /v1/transcriptions`.

use serde::{Deserialize, Serialize};

use crate::validation::{Checker, ValidationErrors, limits};

/// Query parameters of a list call.
///
/// ```
/// use soniox_types::ListParams;
///
/// let params = ListParams::new().limit(100).cursor("abc");
/// assert_eq!(params.to_query(), vec![("limit", "100".to_owned()), ("cursor", "abc".to_owned())]);
/// assert!(ListParams::new().limit(0).validate().is_err());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct ListParams {
    /// Page size, 1..=1000; the server's default is 1000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// The `next_page_cursor` of the previous page; absent (or empty) for the first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

impl ListParams {
    /// The first page with the server's default size.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the page size.
    #[must_use]
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Continues from a previous page's cursor.
    #[must_use]
    pub fn cursor(mut self, cursor: impl Into<String>) -> Self {
        self.cursor = Some(cursor.into());
        self
    }

    /// Checks the page size against the documented range.
    ///
    /// # Errors
    /// A [`ValidationErrors`] at `query.limit` when the limit is out of range.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut check = Checker::new("query");
        if let Some(limit) = self.limit {
            check.range("limit", limit.into(), limits::LIST_LIMIT_RANGE);
        }
        check.finish()
    }

    /// The parameters as query pairs, in a stable order.
    pub fn to_query(&self) -> Vec<(&'static str, String)> {
        let mut query = Vec::new();
        if let Some(limit) = self.limit {
            query.push(("limit", limit.to_string()));
        }
        if let Some(cursor) = &self.cursor {
            query.push(("cursor", cursor.clone()));
        }
        query
    }
}

/// One page of a list response.
pub trait Page {
    /// What the page lists.
    type Item;

    /// The page's items and the cursor of the next page, if there is one.
    ///
    /// An empty cursor counts as "no more pages", as in both official SDKs.
    fn into_parts(self) -> (Vec<Self::Item>, Option<String>);
}

/// Normalizes a received cursor: empty means there is no next page.
pub(crate) fn next_cursor(cursor: Option<String>) -> Option<String> {
    cursor.filter(|cursor| !cursor.is_empty())
}
