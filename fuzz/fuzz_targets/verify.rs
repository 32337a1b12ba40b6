//! Fuzzes `Verifier::verify` with attacker-controlled method, target, auth header and body.
//!
//! Input layout: byte 0 picks the method, byte 1 the content type, then three fields
//! separated by `0xFF`: target, auth header value, body (the rest).

#![no_main]

use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use libfuzzer_sys::fuzz_target;
use soniox_types::Secret;
use soniox_webhook::Verifier;

const SECRET: &str = "fuzz-secret-value";
const METHODS: [&str; 4] = ["POST", "GET", "PUT", "post"];
const TYPES: [Option<&str>; 4] = [
    None,
    Some("application/json"),
    Some("text/plain"),
    Some("application/x+json; q=1"),
];

fuzz_target!(|data: &[u8]| {
    let [method, content_type, rest @ ..] = data else {
        return;
    };
    let mut fields = rest.splitn(3, |&b| b == 0xFF);
    let (target, auth, body) = (
        fields.next().unwrap_or_default(),
        fields.next(),
        fields.next().unwrap_or_default(),
    );
    let verifier = Verifier::with_secrets("X-Soniox-Webhook-Secret", [Secret::new(SECRET)])
        .expect("valid configuration")
        .body_limit(4096);
    let Ok(method) = Method::from_bytes(METHODS[usize::from(*method) % 4].as_bytes()) else {
        return;
    };
    let uri = Uri::try_from(target).unwrap_or_default();
    let mut headers = HeaderMap::new();
    if let Some(value) = TYPES[usize::from(*content_type) % 4] {
        headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(value));
    }
    if let Some(Ok(value)) = auth.map(HeaderValue::from_bytes) {
        headers.append(HeaderName::from_static("x-soniox-webhook-secret"), value);
    }
    let result = verifier.verify(&method, &uri, &headers, body);
    // Acceptance implies the exact secret: the property the fuzzer hunts counterexamples for.
    if result.is_ok() {
        assert_eq!(auth, Some(SECRET.as_bytes()));
        assert_eq!(method, Method::POST);
    }
});
