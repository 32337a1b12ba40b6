//! What a verified delivery yields.

use std::{fmt, sync::OnceLock};

use soniox_types::{TranscriptionId, WebhookEvent, WebhookStatus};

use crate::store::ClaimToken;

/// A verified delivery: the event Soniox sent plus the metadata carried in the webhook URL's
/// query string.
///
/// ```
/// use soniox_webhook::{
///     Secret, TranscriptionId, Verifier, WebhookEvent, WebhookStatus, testing::TestDelivery,
/// };
///
/// let verifier = Verifier::new("X-Hook-Token", Secret::new("s3cr3t"))?;
/// let event = WebhookEvent::new(TranscriptionId::new("tr-1"), WebhookStatus::Completed);
/// let request = TestDelivery::new(event)
///     .uri("/hooks/soniox?order=42&customer=ada%20l")
///     .auth("X-Hook-Token", "s3cr3t")
///     .into_request()?;
/// let received = verifier.verify_request(&request)?;
/// assert_eq!(received.id(), "tr-1");
/// assert_eq!(received.metadata().get("customer"), Some("ada l"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Two are equal when they carry the same event and metadata, whatever claim their handlings
/// held: a retry of a delivery equals it.
#[derive(Clone, Debug)]
pub struct ReceivedEvent {
    event: WebhookEvent,
    metadata: Metadata,
    /// The claim the handling runs under, once an inbox claimed the event.
    claim: Option<ClaimToken>,
}

/// The event itself, so that helpers written for any event (such as `soniox-client`'s
/// `FetchOnDelivery`, which fetches the transcript) take a `ReceivedEvent` directly.
impl AsRef<WebhookEvent> for ReceivedEvent {
    fn as_ref(&self) -> &WebhookEvent {
        &self.event
    }
}

impl PartialEq for ReceivedEvent {
    fn eq(&self, other: &Self) -> bool {
        self.event == other.event && self.metadata == other.metadata
    }
}

impl Eq for ReceivedEvent {}

impl ReceivedEvent {
    pub(crate) fn new(event: WebhookEvent, metadata: Metadata) -> Self {
        Self {
            event,
            metadata,
            claim: None,
        }
    }

    /// An event learnt some other way than a delivery (a poll of the API that found the job
    /// finished), with no metadata: to handle it through `Inbox::process`
    /// under the same claims as its deliveries, so that it is handled once whichever way
    /// arrives first.
    pub fn polled(event: WebhookEvent) -> Self {
        Self::new(event, Metadata::default())
    }

    /// The transcription the delivery is about.
    pub fn id(&self) -> &TranscriptionId {
        &self.event.id
    }

    /// How the transcription ended; [`WebhookStatus::Unknown`] for a value newer than this crate.
    pub fn status(&self) -> &WebhookStatus {
        &self.event.status
    }

    /// The event as Soniox sent it.
    pub fn event(&self) -> &WebhookEvent {
        &self.event
    }

    /// The decoded query parameters of the delivery URL.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// The token of the claim the handling holds, for a handler an [`Inbox`](crate::Inbox)
    /// called; `None` before (a verifier's answer). A handler whose writes commit together
    /// with the event's completion, in the event store's own transaction, fences them with
    /// it (`soniox-store`'s `complete_claimed_in`): should the handling outlive its lease and
    /// another take the event, those writes roll back instead of happening twice.
    pub fn claim_token(&self) -> Option<ClaimToken> {
        self.claim
    }

    /// Records the claim the handling about to start holds.
    #[cfg(feature = "inbox")]
    pub(crate) fn hold(&mut self, token: ClaimToken) {
        self.claim = Some(token);
    }

    /// Splits into the event and the metadata.
    pub fn into_parts(self) -> (WebhookEvent, Metadata) {
        (self.event, self.metadata)
    }
}

/// The query parameters of the URL a delivery was sent to, percent- and `+`-decoded, in order.
///
/// Soniox keeps the query of `webhook_url` verbatim, so this is where per-job context
/// (`?order=42`) travels. Invalid UTF-8 after decoding is replaced with U+FFFD; repeated names
/// are all kept. Decoding happens on first access, so deliveries whose metadata is never read
/// cost one copy of the raw query.
#[derive(Clone, Default)]
pub struct Metadata {
    raw: Box<str>,
    decoded: OnceLock<Vec<(String, String)>>,
}

impl Metadata {
    /// Wraps a raw query string (without the leading `?`).
    pub fn from_query(query: &str) -> Self {
        Self {
            raw: query.into(),
            decoded: OnceLock::new(),
        }
    }

    /// The query exactly as received, still encoded.
    pub fn raw_query(&self) -> &str {
        &self.raw
    }

    fn pairs(&self) -> &[(String, String)] {
        self.decoded.get_or_init(|| {
            form_urlencoded::parse(self.raw.as_bytes())
                .map(|(name, value)| (name.into_owned(), value.into_owned()))
                .collect()
        })
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs()
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs()
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// All pairs, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs().iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The number of pairs.
    pub fn len(&self) -> usize {
        self.pairs().len()
    }

    /// Whether the URL had no query parameters.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty() || self.pairs().is_empty()
    }
}

/// Equal when the decoded pairs are, whatever the encoding (`a=%31` equals `a=1`).
impl PartialEq for Metadata {
    fn eq(&self, other: &Self) -> bool {
        self.pairs() == other.pairs()
    }
}

impl Eq for Metadata {}

impl fmt::Debug for Metadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}
