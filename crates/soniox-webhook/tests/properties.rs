//! Properties over arbitrary input: verification never panics, and a delivery is accepted
//! exactly when it carries an accepted secret and a well-formed body.

mod common;

use common::{HEADER, NEW_SECRET, OLD_SECRET, verifier};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use proptest::prelude::*;

/// The oracle for "well-formed", written independently of the crate's parser.
fn well_formed(body: &[u8]) -> bool {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(body)
    else {
        return false;
    };
    let id_ok = matches!(map.get("id"), Some(serde_json::Value::String(id)) if !id.is_empty() && id.len() <= 256);
    let status_ok =
        matches!(map.get("status"), Some(serde_json::Value::String(s)) if !s.is_empty());
    id_ok && status_ok
}

fn body_strategy() -> impl Strategy<Value = Vec<u8>> {
    let event = ("[ -~]{0,300}", "[a-z]{0,12}", any::<bool>()).prop_map(|(id, status, extra)| {
        let mut value = serde_json::json!({ "id": id, "status": status });
        if extra {
            value["extra"] = serde_json::json!([1, {"nested": null}]);
        }
        serde_json::to_vec(&value).expect("serializable")
    });
    prop_oneof![
        event,
        proptest::collection::vec(any::<u8>(), 0..256),
        "[\\[\\]{}\":,a-z0-9 ]{0,64}".prop_map(String::into_bytes),
    ]
}

fn secret_strategy() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop_oneof![
        Just(Some(NEW_SECRET.as_bytes().to_vec())),
        Just(Some(OLD_SECRET.as_bytes().to_vec())),
        Just(None),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Some),
    ]
}

proptest! {
    #[test]
    fn accepted_iff_right_secret_and_well_formed_body(
        secret in secret_strategy(),
        body in body_strategy(),
        query in "[a-zA-Z0-9%=&+._~-]{0,40}",
    ) {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let mut authentic = false;
        if let Some(value) = &secret
            && let Ok(value) = HeaderValue::from_bytes(value)
        {
            authentic = value == NEW_SECRET || value == OLD_SECRET;
            headers.insert(HeaderName::from_static("x-soniox-webhook-secret"), value);
        }
        let uri: Uri = format!("/hook?{query}").parse().expect("query alphabet is URI-safe");
        let result = verifier().verify(&Method::POST, &uri, &headers, &body);
        prop_assert_eq!(result.is_ok(), authentic && well_formed(&body), "{:?}", result);
        if let Err(rejection) = result {
            prop_assert_eq!(rejection.is_auth_failure(), !authentic);
        }
    }

    #[test]
    fn never_panics_on_arbitrary_requests(
        method in "[A-Z]{1,8}",
        headers in proptest::collection::vec(("[a-zA-Z-]{1,24}", proptest::collection::vec(any::<u8>(), 0..64)), 0..8),
        body in proptest::collection::vec(any::<u8>(), 0..512),
        target in "/[ -~]{0,64}",
    ) {
        let Ok(method) = Method::from_bytes(method.as_bytes()) else { return Ok(()) };
        let Ok(uri) = target.parse::<Uri>() else { return Ok(()) };
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            let name = if name.eq_ignore_ascii_case("x-a") { HEADER.to_owned() } else { name };
            if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_bytes(&value)) {
                map.append(name, value);
            }
        }
        let result = verifier().verify(&method, &uri, &map, &body);
        if let Err(rejection) = result {
            prop_assert!(!rejection.to_string().is_empty());
        }
    }
}
