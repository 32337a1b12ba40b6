//! How many requests the REST API received, per route: what a test counts to prove a client
//! made no duplicate create, or what a benchmark counts to price a reconciler pass.

use std::{
    collections::BTreeMap,
    sync::{Mutex, PoisonError},
};

use serde::Serialize;

/// Requests received per route, each as `"METHOD /v1/route"` with ids written `{id}` (as in
/// `GET /v1/transcriptions/{id}/transcript`), authenticated or not, including those an
/// injected fault answered or dropped. Requests that name no operation of the API (an unknown
/// path, or a method the path does not take) count together under [`RequestCounts::OTHER`];
/// admin requests (`/_emulator/`) do not count.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct RequestCounts(BTreeMap<String, u64>);

impl RequestCounts {
    /// The key of the requests that name no operation of the API.
    pub const OTHER: &str = "other";

    /// How many `method` requests `route` received (`route` as in the keys, e.g.
    /// `/v1/transcriptions/{id}`).
    pub fn get(&self, method: &str, route: &str) -> u64 {
        self.0
            .get(&format!("{method} {route}"))
            .copied()
            .unwrap_or(0)
    }

    /// How many requests named no operation of the API.
    pub fn other(&self) -> u64 {
        self.0.get(Self::OTHER).copied().unwrap_or(0)
    }

    /// Requests received in all.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    /// Each route's count, `"METHOD /v1/route"` (and [`OTHER`](Self::OTHER)) in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        self.0.iter().map(|(route, count)| (route.as_str(), *count))
    }
}

/// The counter the server updates.
#[derive(Debug, Default)]
pub(crate) struct RequestLog(Mutex<RequestCounts>);

impl RequestLog {
    /// Counts one `method` request for `path` (the whole path, `/v1/...`) when it names an
    /// operation of the API, and under [`RequestCounts::OTHER`] when not: keys come only
    /// from the operations, so no request can add one of its own.
    pub(crate) fn record(&self, method: &http::Method, path: &str) {
        let key = if crate::api::names_operation(method, path) {
            format!("{method} {}", route(path))
        } else {
            RequestCounts::OTHER.to_owned()
        };
        let mut counts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *counts.0.entry(key).or_default() += 1;
    }

    pub(crate) fn snapshot(&self) -> RequestCounts {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// `path`, an operation's, with the id of a file or a transcription written `{id}`, so that
/// every job's requests count under one route.
fn route(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    let mut segments: Vec<&str> = trimmed.split('/').collect();
    // ["", "v1", collection, id, ...]
    if let [_, "v1", "files" | "transcriptions", id, ..] = segments.as_mut_slice()
        && *id != "count"
    {
        *id = "{id}";
    }
    segments.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_count_under_one_route() {
        use http::Method;

        let log = RequestLog::default();
        log.record(&Method::GET, "/v1/transcriptions/a1");
        log.record(&Method::GET, "/v1/transcriptions/b2/");
        log.record(&Method::GET, "/v1/transcriptions/b2/transcript");
        log.record(&Method::GET, "/v1/transcriptions/count");
        log.record(&Method::DELETE, "/v1/files/f1");
        log.record(&Method::POST, "/v1/transcriptions");
        let counts = log.snapshot();
        assert_eq!(counts.get("GET", "/v1/transcriptions/{id}"), 2);
        assert_eq!(counts.get("GET", "/v1/transcriptions/{id}/transcript"), 1);
        assert_eq!(counts.get("GET", "/v1/transcriptions/count"), 1);
        assert_eq!(counts.get("DELETE", "/v1/files/{id}"), 1);
        assert_eq!(counts.get("POST", "/v1/transcriptions"), 1);
        assert_eq!(counts.get("POST", "/v1/files"), 0);
        assert_eq!(counts.total(), 6);
    }
}
