//! Known-answer tests and the bad-request table, straight through `Verifier`.

mod common;

use std::ffi::OsString;

use common::{Case, HEADER, ID, NEW_SECRET, OLD_SECRET, bad_requests, good_requests, verifier};
use http::{HeaderMap, Method, Request};
use soniox_types::{Secret, TranscriptionId, WebhookEvent, WebhookStatus};
use soniox_webhook::{ConfigError, Rejection, Verifier, testing::TestDelivery};

fn run(verifier: &Verifier, case: &Case) -> Result<soniox_webhook::ReceivedEvent, Rejection> {
    verifier.verify(
        &case.http_method(),
        &case.uri(),
        &case.header_map(),
        &case.body,
    )
}

#[test]
fn bad_requests_get_their_exact_status() {
    let verifier = verifier();
    let cases = bad_requests();
    assert!(cases.len() >= 40, "only {} bad requests", cases.len());
    for case in &cases {
        let rejection = run(&verifier, case).expect_err(case.name);
        assert_eq!(
            rejection.status().as_u16(),
            case.status,
            "{}: {rejection:?}",
            case.name
        );
    }
}

#[test]
fn good_requests_are_accepted() {
    let verifier = verifier();
    for case in good_requests() {
        let event = run(&verifier, &case).unwrap_or_else(|r| panic!("{}: {r:?}", case.name));
        assert!(!event.id().as_str().is_empty(), "{}", case.name);
    }
}

#[test]
fn known_answers() {
    let verifier = verifier();
    let event = run(&verifier, &Case::good("kat")).expect("accepted");
    assert_eq!(event.id(), &TranscriptionId::new(ID));
    assert_eq!(event.status(), &WebhookStatus::Completed);
    assert!(event.metadata().is_empty());

    let unknown = Case::good("unknown").body(format!(r#"{{"id":"{ID}","status":"archived"}}"#));
    let event = run(&verifier, &unknown).expect("accepted");
    assert_eq!(
        event.status(),
        &WebhookStatus::Unknown("archived".to_owned())
    );

    let escaped = Case::good("escaped").body(r#"{"id":"\u0061\n","status":"error"}"#);
    let event = run(&verifier, &escaped).expect("accepted");
    assert_eq!(event.id().as_str(), "a\n");
    assert_eq!(event.status(), &WebhookStatus::Error);
}

#[test]
fn each_body_failure_has_its_own_rejection() {
    let verifier = verifier();
    #[track_caller]
    fn check(verifier: &Verifier, body: &str, expect: &Rejection) {
        let got = run(verifier, &Case::good("body").body(body));
        assert_eq!(got.as_ref().err(), Some(expect), "{body}");
    }
    check(&verifier, "nope", &Rejection::InvalidJson);
    check(&verifier, "[]", &Rejection::NotAnObject);
    check(&verifier, r#"{"status":"error"}"#, &Rejection::MissingId);
    check(
        &verifier,
        r#"{"id":"","status":"error"}"#,
        &Rejection::EmptyId,
    );
    check(&verifier, r#"{"id":"a"}"#, &Rejection::MissingStatus);
    check(
        &verifier,
        r#"{"id":1,"status":"error"}"#,
        &Rejection::InvalidField { field: "id" },
    );
    check(
        &verifier,
        r#"{"id":"a","status":[]}"#,
        &Rejection::InvalidField { field: "status" },
    );
    check(
        &verifier,
        r#"{"id":"a","status":"error","status":"completed"}"#,
        &Rejection::DuplicateField { field: "status" },
    );
    let long = format!(r#"{{"id":"{}","status":"error"}}"#, "a".repeat(257));
    check(&verifier, &long, &Rejection::IdTooLong);
    let long = format!(r#"{{"id":"a","status":"{}"}}"#, "e".repeat(65));
    check(&verifier, &long, &Rejection::StatusTooLong);
}

#[test]
fn each_auth_failure_has_its_own_rejection() {
    let verifier = verifier();
    #[track_caller]
    fn check(verifier: &Verifier, case: &Case, expect: &Rejection) {
        assert_eq!(
            run(verifier, case).as_ref().err(),
            Some(expect),
            "{}",
            case.name
        );
    }
    check(
        &verifier,
        &Case::good("missing").without(HEADER),
        &Rejection::MissingAuthHeader,
    );
    check(
        &verifier,
        &Case::good("twice").add(HEADER, NEW_SECRET),
        &Rejection::DuplicateAuthHeader,
    );
    check(
        &verifier,
        &Case::good("tab").secret("a\tb"),
        &Rejection::MalformedAuthHeader,
    );
    check(
        &verifier,
        &Case::good("wrong").secret("wrong"),
        &Rejection::WrongSecret,
    );
    check(
        &verifier,
        &Case::good("get").method("GET"),
        &Rejection::MethodNotAllowed,
    );
}

#[test]
fn rejections_never_echo_the_secret_or_the_header() {
    let verifier = verifier();
    let received = "attacker-sent-this-value";
    let mut cases = bad_requests();
    cases.push(Case::good("echo").secret(received));
    for case in &cases {
        let rejection = run(&verifier, case).expect_err(case.name);
        let text = format!("{rejection} {rejection:?}");
        let response = rejection.to_response();
        let body = String::from_utf8_lossy(response.body());
        for needle in [NEW_SECRET, OLD_SECRET, received] {
            assert!(
                !text.contains(needle) && !body.contains(needle),
                "{}: {text}",
                case.name
            );
        }
    }
    let debug = format!("{verifier:?}");
    assert!(
        !debug.contains(NEW_SECRET) && !debug.contains(OLD_SECRET),
        "{debug}"
    );
}

#[test]
fn method_not_allowed_says_which_method_is() {
    let response = Rejection::MethodNotAllowed.to_response();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");
}

#[test]
fn query_metadata_is_decoded() {
    let verifier = verifier();
    let target =
        "/hook?order=42&customer=ada%20l&tag=a&tag=b&plus=1+2&bad=%ZZ&latin=%FF&empty=&bare&=v";
    let event = run(&verifier, &Case::good("q").target(target)).expect("accepted");
    let metadata = event.metadata();
    assert_eq!(metadata.get("order"), Some("42"));
    assert_eq!(metadata.get("customer"), Some("ada l"));
    assert_eq!(metadata.get_all("tag").collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(metadata.get("plus"), Some("1 2"));
    assert_eq!(metadata.get("bad"), Some("%ZZ"));
    assert_eq!(metadata.get("latin"), Some("\u{fffd}"));
    assert_eq!(metadata.get("empty"), Some(""));
    assert_eq!(metadata.get("bare"), Some(""));
    assert_eq!(metadata.get(""), Some("v"));
    assert_eq!(metadata.get("missing"), None);
    assert_eq!(metadata.len(), 10);
    assert_eq!(metadata.raw_query(), &target[6..]);
    assert_eq!(
        metadata,
        &soniox_webhook::Metadata::from_query(&target[6..])
    );
    assert_eq!(
        soniox_webhook::Metadata::from_query("a=%31"),
        soniox_webhook::Metadata::from_query("a=1")
    );

    let event = run(&verifier, &Case::good("empty query").target("/hook?")).expect("accepted");
    assert!(event.metadata().is_empty());
}

#[test]
fn body_limit_is_configurable() {
    let verifier = verifier().body_limit(100);
    assert_eq!(verifier.get_body_limit(), 100);
    let at = Case::good("at").body(common::sized_body(100));
    assert!(run(&verifier, &at).is_ok());
    let over = Case::good("over").body(common::sized_body(101));
    assert_eq!(
        run(&verifier, &over).err(),
        Some(Rejection::BodyTooLarge { limit: 100 })
    );
    let declared = Case::good("declared").set("Content-Length", "101");
    assert_eq!(
        verifier.verify_head(&Method::POST, &declared.header_map_without_length()),
        Err(Rejection::BodyTooLarge { limit: 100 })
    );
}

#[test]
fn construction_fails_closed() {
    #[track_caller]
    fn check(header: &str, secret: &str, expect: &ConfigError) {
        let got = Verifier::new(header, Secret::new(secret)).err();
        assert_eq!(got.as_ref(), Some(expect), "{header:?} {secret:?}");
        assert!(!expect.to_string().contains(secret) || secret.is_empty());
    }
    check(HEADER, "", &ConfigError::EmptySecret);
    check(HEADER, " padded", &ConfigError::InvalidSecret);
    check(HEADER, "padded ", &ConfigError::InvalidSecret);
    check(HEADER, "tab\there", &ConfigError::InvalidSecret);
    check(HEADER, "caf\u{e9}", &ConfigError::InvalidSecret);
    check(HEADER, &"a".repeat(257), &ConfigError::SecretTooLong);
    check(HEADER, Secret::MASKED, &ConfigError::MaskedSecret);
    assert_eq!(
        Verifier::with_secrets(HEADER, [Secret::new("real"), Secret::masked()]).err(),
        Some(ConfigError::MaskedSecret)
    );
    for (bad, invalid_at) in [
        ("bad header", Some(3)),
        ("", None),
        (&"a".repeat(257), None),
        ("X-Token:", Some(7)),
    ] {
        let error = ConfigError::InvalidHeaderName {
            len: bad.len(),
            invalid_at,
            var: None,
        };
        check(bad, "secret", &error);
    }
    // A whole header line, or a secret passed as the name, is not repeated in the error.
    let line = "Authorization: Bearer s3cr3t-value";
    let error = Verifier::new(line, Secret::new("secret")).expect_err("not a header name");
    assert_eq!(
        error.to_string(),
        "invalid webhook header name: the character at byte 13 of 34 is not allowed; it must \
         be an HTTP token (letters, digits, `-`, no spaces) of at most 256 characters"
    );
    assert!(!format!("{error:?}").contains("s3cr3t"));
    assert!(Verifier::new(HEADER, Secret::new("a".repeat(256))).is_ok());
    assert!(Verifier::new(HEADER, Secret::new("Bearer s3cr3t")).is_ok());
    assert_eq!(
        Verifier::with_secrets(HEADER, Vec::<Secret>::new()).err(),
        Some(ConfigError::MissingSecret {
            var: "SONIOX_API_WEBHOOK_SECRET"
        })
    );
}

#[test]
fn from_lookup_follows_the_official_sdks() {
    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl FnMut(&str) -> Option<OsString> + 'a {
        move |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| OsString::from(*v))
        }
    }
    let missing = Verifier::from_lookup(env(&[])).err();
    assert_eq!(
        missing,
        Some(ConfigError::MissingSecret {
            var: "SONIOX_API_WEBHOOK_SECRET"
        })
    );
    let empty = Verifier::from_lookup(env(&[("SONIOX_API_WEBHOOK_SECRET", "")])).err();
    assert_eq!(
        empty,
        Some(ConfigError::MissingSecret {
            var: "SONIOX_API_WEBHOOK_SECRET"
        })
    );
    let only_header = Verifier::from_lookup(env(&[("SONIOX_API_WEBHOOK_HEADER", "X-A")])).err();
    assert!(matches!(
        only_header,
        Some(ConfigError::MissingSecret { .. })
    ));

    let default = Verifier::from_lookup(env(&[("SONIOX_API_WEBHOOK_SECRET", "s")])).expect("ok");
    assert_eq!(
        default.header_name().map(|h| h.as_str()),
        Some("x-soniox-webhook-secret")
    );
    let custom = Verifier::from_lookup(env(&[
        ("SONIOX_API_WEBHOOK_SECRET", "s"),
        ("SONIOX_API_WEBHOOK_HEADER", "Authorization"),
    ]))
    .expect("ok");
    assert_eq!(
        custom.header_name().map(|h| h.as_str()),
        Some("authorization")
    );
    let bad_header = Verifier::from_lookup(env(&[
        ("SONIOX_API_WEBHOOK_SECRET", "s"),
        ("SONIOX_API_WEBHOOK_HEADER", "X Soniox Secret"),
    ]))
    .expect_err("a header name with spaces is refused");
    assert_eq!(
        bad_header.to_string(),
        "invalid webhook header name (from SONIOX_API_WEBHOOK_HEADER): the character at byte 1 \
         of 15 is not allowed; it must be an HTTP token (letters, digits, `-`, no spaces) of at \
         most 256 characters"
    );
}

#[test]
fn unauthenticated_verifier_is_explicit_and_still_checks_the_rest() {
    let verifier = Verifier::dangerous_accept_unauthenticated();
    assert!(verifier.header_name().is_none());
    assert!(run(&verifier, &Case::good("no auth").without(HEADER)).is_ok());
    assert_eq!(
        run(&verifier, &Case::good("get").method("GET")).err(),
        Some(Rejection::MethodNotAllowed)
    );
    assert_eq!(
        run(&verifier, &Case::good("json").body("[]")).err(),
        Some(Rejection::NotAnObject)
    );
}

#[test]
fn test_deliveries_verify() {
    let secret = Secret::new(NEW_SECRET);
    let event = WebhookEvent::new(TranscriptionId::new(ID), WebhookStatus::Error);
    let request: Request<bytes::Bytes> = TestDelivery::new(event.clone())
        .uri("https://hooks.example.com/soniox?order=7")
        .auth(HEADER, secret.clone())
        .into_request()
        .expect("valid delivery");
    let received = verifier().verify_request(&request).expect("accepted");
    assert_eq!(received.event(), &event);
    assert_eq!(received.metadata().get("order"), Some("7"));

    let unsigned = TestDelivery::new(event.clone())
        .into_request()
        .expect("valid delivery");
    assert_eq!(
        verifier().verify_request(&unsigned).err(),
        Some(Rejection::MissingAuthHeader)
    );
    let bad = TestDelivery::new(event.clone())
        .auth("bad name", secret)
        .into_request();
    assert_eq!(
        bad.err(),
        Some(ConfigError::InvalidHeaderName {
            len: 8,
            invalid_at: Some(3),
            var: None
        })
    );
    let bad = TestDelivery::new(event).uri("http://[").into_request();
    assert_eq!(bad.err(), Some(ConfigError::InvalidUri));
}

#[test]
fn header_map_helpers_agree() {
    let case = Case::good("plain");
    let headers: HeaderMap = case.header_map();
    assert_eq!(headers.get_all(HEADER).iter().count(), 1);
}
