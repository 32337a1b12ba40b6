//! Lists as `Stream`s that follow `next_page_cursor`.

use std::{
    collections::{HashSet, VecDeque},
    future::Future,
};

use futures_util::{Stream, stream};
use soniox_types::{ListParams, Page};

use crate::Error;

/// Yields every item of every page, fetching the next page only when the previous one is used
/// up. After an error the stream yields it once and ends; a cursor the server already gave
/// ends it with [`Error::RepeatedCursor`], since following it would never end.
pub(crate) fn paginate<P, F, Fut>(
    params: ListParams,
    fetch: F,
) -> impl Stream<Item = Result<P::Item, Error>>
where
    P: Page,
    F: FnMut(ListParams) -> Fut,
    Fut: Future<Output = Result<P, Error>>,
{
    struct State<F, T> {
        fetch: F,
        params: ListParams,
        buffer: VecDeque<T>,
        /// `Some(cursor)` while a page remains to fetch (`Some(None)` is the first page).
        next: Option<Option<String>>,
        /// Every cursor followed so far.
        seen: HashSet<String>,
    }

    let first = params.cursor.clone().filter(|cursor| !cursor.is_empty());
    let state = State {
        fetch,
        params,
        buffer: VecDeque::new(),
        next: Some(first),
        seen: HashSet::new(),
    };
    stream::unfold(state, |mut state| async move {
        loop {
            if let Some(item) = state.buffer.pop_front() {
                return Some((Ok(item), state));
            }
            let cursor = state.next.take()?;
            if let Some(cursor) = &cursor
                && !state.seen.insert(cursor.clone())
            {
                let error = Error::RepeatedCursor {
                    cursor: cursor.clone(),
                };
                return Some((Err(error), state));
            }
            let mut params = state.params.clone();
            params.cursor = cursor;
            match (state.fetch)(params).await {
                Ok(page) => {
                    let (items, next) = page.into_parts();
                    state.buffer = items.into();
                    state.next = next.map(Some);
                }
                Err(error) => return Some((Err(error), state)),
            }
        }
    })
}
