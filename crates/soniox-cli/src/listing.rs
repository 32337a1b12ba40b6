//! Printing API objects: streamed lists, one line (or one JSON object) per item.

use std::fmt::Display;

use clap::Args;
use futures_util::{Stream, StreamExt as _};
use serde::Serialize;
use soniox_client::Error as ClientError;
use soniox_types::ListParams;
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use crate::{failure::Failure, output::Output};

/// Prints every item of `items` as it arrives (page by page), as a JSON line with `--json`
/// or the line `text` makes otherwise.
///
/// # Errors
/// The first error of the stream, after the items before it were printed.
pub(crate) async fn print_stream<T: Serialize>(
    output: Output,
    items: impl Stream<Item = Result<T, ClientError>>,
    text: impl Fn(&T) -> String,
) -> Result<(), Failure> {
    let mut items = std::pin::pin!(items);
    while let Some(item) = items.next().await {
        let item = item?;
        output.record(&item, || text(&item))?;
    }
    Ok(())
}

/// A time as RFC 3339, as the API writes it.
pub(crate) fn timestamp(time: OffsetDateTime) -> String {
    time.format(&Rfc3339).unwrap_or_else(|_| time.to_string())
}

/// How lists are fetched.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Items per page requested from the API (each page is printed as it arrives).
    #[arg(long, value_name = "N")]
    page_size: Option<u32>,
}

impl ListArgs {
    pub(crate) fn params(&self) -> ListParams {
        match self.page_size {
            Some(limit) => ListParams::new().limit(limit),
            None => ListParams::new(),
        }
    }
}

/// Says that `id` was deleted: `deleted ID`, or `{"id": ID, "deleted": true}`.
pub(crate) fn print_deleted(
    output: Output,
    id: &(impl Display + Serialize),
) -> Result<(), Failure> {
    output.record(&serde_json::json!({ "id": id, "deleted": true }), || {
        format!("deleted {id}")
    })
}
