//! Properties over arbitrary input: verification never panics, and a delivery is accepted
//! exactly when it carries an accepted secret and a well-formed body.

mod common;

use common::{HEADER, NEW_SECRET, OLD_SECRET, verifier};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use proptest::prelude::*;

/// The oracle for "well-formed", written independently of the crate's parser: an object with
/// one `id` (a non-empty string of at most 256 bytes) and one `status` (a non-empty string).
fn well_formed(body: &[u8]) -> bool {
    let Ok(Members(members)) = serde_json::from_slice::<Members>(body) else {
        return false;
    };
    let only = |key: &str| {
        let mut values = members.iter().filter(|(name, _)| name == key);
        match (values.next(), values.next()) {
            (Some((_, serde_json::Value::String(value))), None) => Some(value.clone()),
            _ => None,
        }
    };
    let id_ok = only("id").is_some_and(|id| !id.is_empty() && id.len() <= 256);
    let status_ok = only("status").is_some_and(|status| !status.is_empty());
    id_ok && status_ok
}

/// A JSON object's members in order, a repeated key kept each time (`serde_json::Value`
/// keeps only the last, so it would call an object with two `id`s well-formed).
struct Members(Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for Members {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Members;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Members, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry()? {
                    members.push(member);
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

fn body_strategy() -> impl Strategy<Value = Vec<u8>> {
    let event = ("[ -~]{0,300}", "[a-z]{0,12}", any::<bool>()).prop_map(|(id, status, extra)| {
        let mut value = serde_json::json!({ "id": id, "status": status });
        if extra {
            value["extra"] = serde_json::json!([1, {"nested": null}]);
        }
        serde_json::to_vec(&value).expect("serializable")
    });
    let repeated = ("[a-z]{1,8}", "[a-z]{1,8}").prop_map(|(first, second)| {
        format!(r#"{{"id":"{first}","status":"completed","id":"{second}"}}"#).into_bytes()
    });
    prop_oneof![
        event,
        repeated,
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

    /// Any request, mostly near a real delivery (POST, the secret's header, a JSON content
    /// type), so that every check is reached: nothing panics, every refusal says why, and only a
    /// POST with one accepted secret and a well-formed body is accepted.
    #[test]
    fn never_panics_and_accepts_only_authentic_deliveries(
        method in prop_oneof![3 => Just("POST".to_owned()), 1 => "[A-Z]{1,8}"],
        headers in proptest::collection::vec((header_name_strategy(), header_value_strategy()), 0..6),
        body in body_strategy(),
        target in "/[ -~]{0,64}",
    ) {
        let Ok(method) = Method::from_bytes(method.as_bytes()) else { return Ok(()) };
        let Ok(uri) = target.parse::<Uri>() else { return Ok(()) };
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_bytes(&value)) {
                map.append(name, value);
            }
        }
        let secrets: Vec<_> = map.get_all(HEADER).iter().collect();
        let authentic = matches!(secrets.as_slice(), [one] if *one == NEW_SECRET || *one == OLD_SECRET);
        match verifier().verify(&method, &uri, &map, &body) {
            Ok(_) => prop_assert!(method == Method::POST && authentic && well_formed(&body)),
            Err(rejection) => prop_assert!(!rejection.to_string().is_empty()),
        }
    }
}

fn header_name_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => Just(HEADER.to_owned()),
        1 => Just("content-type".to_owned()),
        1 => "[a-zA-Z-]{1,24}",
    ]
}

fn header_value_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(NEW_SECRET.as_bytes().to_vec()),
        Just(OLD_SECRET.as_bytes().to_vec()),
        Just(b"application/json".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..64),
    ]
}
