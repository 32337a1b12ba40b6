//! Setting up the completion webhook of a new job: URL, metadata and auth header.

use soniox_types::{
    CreateTranscription, DEFAULT_WEBHOOK_HEADER, Secret, WEBHOOK_HEADER_ENV, WEBHOOK_SECRET_ENV,
    validation::check_webhook_url,
};

use crate::{Error, config::non_empty_env};

/// Where and how Soniox should deliver a job's completion webhook.
///
/// Metadata becomes query parameters of the URL — the only way to attach your own data to a
/// delivery. They are form-encoded and appended after any query the URL already has; the URL
/// is otherwise kept exactly as given. The 256-character limit applies to the final URL.
///
/// ```
/// use soniox_client::Webhook;
///
/// let webhook = Webhook::new("https://example.com/hooks/soniox?source=app")
///     .metadata("customer", "Zoë & Co")
///     .auth("X-Soniox-Webhook-Secret", "s3cr3t");
/// assert_eq!(
///     webhook.url()?,
///     "https://example.com/hooks/soniox?source=app&customer=Zo%C3%AB+%26+Co"
/// );
/// # Ok::<(), soniox_client::Error>(())
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct Webhook {
    url: String,
    metadata: Vec<(String, String)>,
    auth: Option<(String, Secret)>,
}

impl Webhook {
    /// A webhook to `url` (`http` or `https`).
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            metadata: Vec::new(),
            auth: None,
        }
    }

    /// Adds a metadata query parameter.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.push((key.into(), value.into()));
        self
    }

    /// Sends `name: secret` with every delivery, for the receiver to check.
    pub fn auth(mut self, name: impl Into<String>, secret: impl Into<Secret>) -> Self {
        self.auth = Some((name.into(), secret.into()));
        self
    }

    /// Takes the auth header from `SONIOX_API_WEBHOOK_SECRET` and, if set,
    /// `SONIOX_API_WEBHOOK_HEADER` (default `X-Soniox-Webhook-Secret`), like the official
    /// SDKs.
    ///
    /// # Errors
    /// [`Error::Config`] when `SONIOX_API_WEBHOOK_SECRET` is not set (a receiver expecting a
    /// secret would reject every delivery), or when `SONIOX_API_WEBHOOK_HEADER` is not a valid
    /// header name; the message names the variable.
    pub fn auth_from_env(self) -> Result<Self, Error> {
        self.auth_from(non_empty_env)
    }

    fn auth_from(self, lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let secret = lookup(WEBHOOK_SECRET_ENV)
            .ok_or_else(|| Error::Config(format!("{WEBHOOK_SECRET_ENV} is not set")))?;
        let name = match lookup(WEBHOOK_HEADER_ENV) {
            None => DEFAULT_WEBHOOK_HEADER.to_owned(),
            Some(name) if http::HeaderName::from_bytes(name.as_bytes()).is_ok() => name,
            Some(name) => {
                return Err(Error::Config(format!(
                    "{WEBHOOK_HEADER_ENV} is {name:?}, which is not a valid HTTP header name \
                     (letters, digits and `-`, no spaces)"
                )));
            }
        };
        Ok(self.auth(name, secret))
    }

    /// The final URL: the given one with the metadata appended.
    ///
    /// # Errors
    /// [`Error::Validation`] at `body.payload.webhook_url` when the URL is not http(s) or is
    /// longer than 256 characters once the metadata is added.
    pub fn url(&self) -> Result<String, Error> {
        let url = append_query(&self.url, &self.metadata);
        check_webhook_url(&url)?;
        Ok(url)
    }

    /// Sets the webhook fields of a job request.
    ///
    /// # Errors
    /// As [`url`](Self::url).
    pub fn apply(&self, request: CreateTranscription) -> Result<CreateTranscription, Error> {
        let request = request.webhook_url(self.url()?);
        Ok(match &self.auth {
            Some((name, secret)) => request.webhook_auth(name.clone(), secret.clone()),
            None => request,
        })
    }
}

/// Appends form-encoded pairs to `url`'s query, before any fragment, leaving the rest of the
/// URL byte-for-byte as it was.
fn append_query(url: &str, pairs: &[(String, String)]) -> String {
    if pairs.is_empty() {
        return url.to_owned();
    }
    let encoded = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let (base, fragment) = match url.find('#') {
        Some(at) => url.split_at(at),
        None => (url, ""),
    };
    let separator = match base.find('?') {
        None => "?",
        Some(_) if base.ends_with('?') || base.ends_with('&') => "",
        Some(_) => "&",
    };
    format!("{base}{separator}{encoded}{fragment}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(url: &str, pairs: &[(&str, &str)], expected: &str) {
        let mut webhook = Webhook::new(url);
        for (key, value) in pairs {
            webhook = webhook.metadata(*key, *value);
        }
        assert_eq!(webhook.url().unwrap(), expected);
    }

    #[test]
    fn metadata_is_appended_and_encoded() {
        check("https://example.com/hook", &[], "https://example.com/hook");
        check(
            "https://example.com/hook",
            &[("a", "1")],
            "https://example.com/hook?a=1",
        );
        check(
            "https://example.com/hook?x=1",
            &[("a", "1")],
            "https://example.com/hook?x=1&a=1",
        );
        check(
            "https://example.com/hook?",
            &[("a", "1")],
            "https://example.com/hook?a=1",
        );
        check(
            "https://example.com/hook?x=1&",
            &[("a", "1")],
            "https://example.com/hook?x=1&a=1",
        );
        check(
            "https://example.com/hook#frag",
            &[("a", "1")],
            "https://example.com/hook?a=1#frag",
        );
        check(
            "https://example.com/hook",
            &[("ключ", "значение"), ("emoji", "🎙")],
            "https://example.com/hook?%D0%BA%D0%BB%D1%8E%D1%87=%D0%B7%D0%BD%D0%B0%D1%87%D0%B5%D0%BD%D0%B8%D0%B5&emoji=%F0%9F%8E%99",
        );
        check(
            "https://example.com/hook",
            &[("q", "a&b=c d+e/f?g#h%")],
            "https://example.com/hook?q=a%26b%3Dc+d%2Be%2Ff%3Fg%23h%25",
        );
        // The given URL is not normalized: its own encoding survives.
        check(
            "https://EXAMPLE.com/a%2Fb?x=%7E",
            &[("a", "1")],
            "https://EXAMPLE.com/a%2Fb?x=%7E&a=1",
        );
    }

    #[test]
    fn the_limit_applies_after_the_query_is_added() {
        let base = format!("https://example.com/{}", "p".repeat(256 - 24));
        assert_eq!(base.len(), 252);
        let fits = Webhook::new(&base).metadata("a", "1");
        assert_eq!(fits.url().unwrap().len(), 256);
        let error = Webhook::new(&base).metadata("ab", "1").url().unwrap_err();
        let Error::Validation(errors) = error else {
            panic!("expected a validation error")
        };
        assert_eq!(
            errors.violations()[0].location(),
            "body.payload.webhook_url"
        );
        assert_eq!(errors.violations()[0].error_type(), "string_too_long");
    }

    #[test]
    fn only_http_urls_are_accepted() {
        for bad in [
            "ftp://example.com/hook",
            "example.com/hook",
            "https://exa mple.com/",
            "",
        ] {
            assert!(
                matches!(Webhook::new(bad).url(), Err(Error::Validation(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn auth_from_the_environment_names_what_is_wrong() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(var, _)| *var == name)
                    .map(|(_, value)| (*value).to_owned())
            }
        };
        let hook = || Webhook::new("https://example.com/hook");
        let error = hook().auth_from(env(&[])).unwrap_err();
        assert_eq!(
            error.to_string(),
            "configuration error: SONIOX_API_WEBHOOK_SECRET is not set"
        );
        let error = hook()
            .auth_from(env(&[
                ("SONIOX_API_WEBHOOK_SECRET", "s3cr3t"),
                ("SONIOX_API_WEBHOOK_HEADER", "X Soniox Secret"),
            ]))
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "configuration error: SONIOX_API_WEBHOOK_HEADER is \"X Soniox Secret\", which is not \
             a valid HTTP header name (letters, digits and `-`, no spaces)"
        );
        assert!(!format!("{error:?}").contains("s3cr3t"));
        let webhook = hook()
            .auth_from(env(&[("SONIOX_API_WEBHOOK_SECRET", "s3cr3t")]))
            .unwrap();
        assert_eq!(
            webhook.auth.as_ref().map(|(name, _)| name.as_str()),
            Some("X-Soniox-Webhook-Secret")
        );
    }

    #[test]
    fn apply_sets_every_webhook_field() {
        let request =
            CreateTranscription::new("stt-async-v5").audio_url("https://example.com/a.mp3");
        let request = Webhook::new("https://example.com/hook")
            .metadata("job", "7")
            .auth("X-Token", "t0p")
            .apply(request)
            .unwrap();
        assert_eq!(
            request.webhook_url.as_deref(),
            Some("https://example.com/hook?job=7")
        );
        assert_eq!(request.webhook_auth_header_name.as_deref(), Some("X-Token"));
        assert_eq!(
            request
                .webhook_auth_header_value
                .as_ref()
                .map(Secret::expose_secret),
            Some("t0p")
        );
        assert!(!format!("{request:?}").contains("t0p"));
    }
}
