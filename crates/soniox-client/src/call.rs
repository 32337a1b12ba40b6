//! [`Call`], what `Client::send` sends: a request apart from its body, how it may be
//! replayed, and the lookup that lets a `POST` be replayed after a failure that may have acted.

use reqwest::Method;

use crate::{Error, retry::Replay, stall::Progress};

/// One API call, described independently of its body so it can be rebuilt per attempt.
pub(crate) struct Call<'a> {
    pub(crate) method: Method,
    pub(crate) path: &'a str,
    pub(crate) query: Vec<(&'static str, String)>,
    pub(crate) replay: Replay,
    /// The body progress of an upload, watched for stalls; `Some` marks an upload.
    pub(crate) progress: Option<&'a Progress>,
    /// Asked, after an attempt that may have been carried out, whether it was; the call is
    /// replayed only when it was not (see [`Replay::AfterLookup`]).
    pub(crate) look_up: Option<&'a LookUp<'a>>,
    /// The request's `client_reference_id`, for
    /// [`Error::OutcomeUnknown`](crate::Error::OutcomeUnknown).
    pub(crate) reference: Option<&'a str>,
    /// Whether a success body carries a secret, which errors must not quote.
    pub(crate) secret_response: bool,
}

/// See [`Call::look_up`].
pub(crate) type LookUp<'a> =
    dyn Fn() -> futures_util::future::BoxFuture<'a, Acted> + Send + Sync + 'a;

/// What a [`LookUp`] found out about an earlier attempt.
pub(crate) enum Acted {
    /// The server carried it out: the call ends with the attempt's error, and the caller
    /// answers with what the lookup found.
    Yes,
    /// It is not there (yet): replayed where the policy allows (after a 503), an unknown
    /// outcome otherwise, since a request with no answer may still be running.
    No,
    /// The lookup failed: the outcome is unknown.
    Unknown,
}

impl<'a> Call<'a> {
    pub(crate) fn get(path: &'a str) -> Self {
        Self {
            method: Method::GET,
            path,
            query: Vec::new(),
            replay: Replay::Safe,
            progress: None,
            look_up: None,
            reference: None,
            secret_response: false,
        }
    }

    pub(crate) fn delete(path: &'a str) -> Self {
        Self {
            method: Method::DELETE,
            ..Self::get(path)
        }
    }

    pub(crate) fn post(path: &'a str) -> Self {
        Self {
            method: Method::POST,
            replay: Replay::OnlyIfNotProcessed,
            ..Self::get(path)
        }
    }

    pub(crate) fn query(mut self, query: Vec<(&'static str, String)>) -> Self {
        self.query = query;
        self
    }

    /// Sets the lookup of a `POST`'s effect, which lets it be replayed after an attempt that
    /// may have been carried out (see [`Call::look_up`]).
    pub(crate) fn look_up(mut self, look_up: &'a LookUp<'a>) -> Self {
        self.look_up = Some(look_up);
        self.replay = Replay::AfterLookup;
        self
    }

    /// Sets the request's `client_reference_id` (see [`Call::reference`]).
    pub(crate) fn reference(mut self, reference: Option<&'a str>) -> Self {
        self.reference = reference;
        self
    }

    /// Marks a call whose success body carries a secret, such as a temporary API key.
    pub(crate) fn secret_response(mut self) -> Self {
        self.secret_response = true;
        self
    }

    /// Marks an upload: its own timeout, a watch for stalls on `progress`, and no retry at all
    /// when its body cannot be replayed.
    pub(crate) fn upload(mut self, replayable: bool, progress: &'a Progress) -> Self {
        self.progress = Some(progress);
        if !replayable {
            self.replay = Replay::Never;
        }
        self
    }

    /// What reading or decoding this call's success answer turns an error into, kept apart
    /// from the call, which sending it consumes.
    pub(crate) fn unread_answer(&self) -> UnreadAnswer {
        UnreadAnswer {
            creates: self.replay != Replay::Safe,
            reference: self.reference.map(str::to_owned),
        }
    }

    /// Whether this is an upload (see [`Call::upload`]).
    pub(crate) fn is_upload(&self) -> bool {
        self.progress.is_some()
    }
}

/// See [`Call::unread_answer`].
pub(crate) struct UnreadAnswer {
    creates: bool,
    reference: Option<String>,
}

impl UnreadAnswer {
    /// The error of a success answer (2xx) that could not be read or decoded. A call that
    /// creates something did create it, and the caller cannot tell what: its outcome is
    /// unknown, to look up by its reference rather than send again. Other calls keep `error`.
    pub(crate) fn error(self, error: Error) -> Error {
        if self.creates {
            Error::unknown_outcome(self.reference, error)
        } else {
            error
        }
    }
}
