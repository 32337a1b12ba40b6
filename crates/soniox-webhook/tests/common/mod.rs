//! The request table shared by the core, hyper and axum tests.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

pub(crate) mod axum_server;
pub(crate) mod emulated;

use std::fmt::Write as _;

use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use soniox_types::Secret;
use soniox_webhook::{DEFAULT_BODY_LIMIT, Verifier};

pub(crate) const HEADER: &str = "X-Soniox-Webhook-Secret";
pub(crate) const NEW_SECRET: &str = "new-secret-value-123";
pub(crate) const OLD_SECRET: &str = "old-secret-value-456";
pub(crate) const ID: &str = "548d023b-2b3d-4dc2-a3ef-cca26d05fd9a";
pub(crate) const GOOD_BODY: &str =
    r#"{"id":"548d023b-2b3d-4dc2-a3ef-cca26d05fd9a","status":"completed"}"#;

/// The verifier every table runs against: two accepted secrets (rotation), default limit.
pub(crate) fn verifier() -> Verifier {
    Verifier::with_secrets(HEADER, [Secret::new(NEW_SECRET), Secret::new(OLD_SECRET)])
        .expect("valid configuration")
}

/// One request, described at the byte level so it can go through `Verifier::verify`, a raw
/// socket, or an axum router.
#[derive(Clone, Debug)]
pub(crate) struct Case {
    pub(crate) name: &'static str,
    pub(crate) method: &'static str,
    pub(crate) target: String,
    pub(crate) headers: Vec<(String, Vec<u8>)>,
    pub(crate) body: Vec<u8>,
    pub(crate) chunked: bool,
    pub(crate) status: u16,
    /// The status over a real socket when HTTP parsing changes the request (whitespace
    /// around a header value is not part of the value on the wire).
    pub(crate) wire_status: Option<u16>,
}

impl Case {
    /// A valid delivery signed with the new secret, expected to be accepted.
    pub(crate) fn good(name: &'static str) -> Self {
        Self {
            name,
            method: "POST",
            target: "/hooks/soniox".to_owned(),
            headers: vec![
                ("Content-Type".to_owned(), b"application/json".to_vec()),
                (HEADER.to_owned(), NEW_SECRET.as_bytes().to_vec()),
            ],
            body: GOOD_BODY.as_bytes().to_vec(),
            chunked: false,
            status: 200,
            wire_status: None,
        }
    }

    pub(crate) fn method(mut self, method: &'static str) -> Self {
        self.method = method;
        self
    }

    pub(crate) fn target(mut self, target: &str) -> Self {
        self.target = target.to_owned();
        self
    }

    /// Removes every header called `name` (case-insensitively).
    pub(crate) fn without(mut self, name: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self
    }

    /// Replaces the headers called `name` with one `name: value`.
    pub(crate) fn set(self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.without(name).add(name, value)
    }

    /// Adds `name: value`, keeping existing ones.
    pub(crate) fn add(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.headers
            .push((name.to_owned(), value.as_ref().to_vec()));
        self
    }

    pub(crate) fn secret(self, value: impl AsRef<[u8]>) -> Self {
        self.set(HEADER, value)
    }

    pub(crate) fn body(mut self, body: impl AsRef<[u8]>) -> Self {
        self.body = body.as_ref().to_vec();
        self
    }

    pub(crate) fn chunked(mut self) -> Self {
        self.chunked = true;
        self
    }

    pub(crate) fn expect(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    pub(crate) fn on_the_wire(mut self, status: u16) -> Self {
        self.wire_status = Some(status);
        self
    }

    /// The headers as a `HeaderMap`, with the `Content-Length` a client would send.
    pub(crate) fn header_map(&self) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in &self.headers {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).expect("test header name"),
                HeaderValue::from_bytes(value).expect("test header value"),
            );
        }
        if !self.chunked {
            map.insert(
                http::header::CONTENT_LENGTH,
                HeaderValue::from(self.body.len()),
            );
        }
        map
    }

    /// The headers exactly as listed, without an added `Content-Length`.
    pub(crate) fn header_map_without_length(&self) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in &self.headers {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).expect("test header name"),
                HeaderValue::from_bytes(value).expect("test header value"),
            );
        }
        map
    }

    pub(crate) fn http_method(&self) -> Method {
        Method::from_bytes(self.method.as_bytes()).expect("test method")
    }

    pub(crate) fn uri(&self) -> Uri {
        self.target.parse().expect("test URI")
    }

    /// The request as HTTP/1.1 bytes; the connection closes after the response.
    pub(crate) fn to_wire(&self) -> Vec<u8> {
        let mut head = format!(
            "{} {} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n",
            self.method, self.target
        );
        let mut out = Vec::new();
        if self.chunked {
            head.push_str("Transfer-Encoding: chunked\r\n");
        } else {
            let _ = write!(head, "Content-Length: {}\r\n", self.body.len());
        }
        out.extend_from_slice(head.as_bytes());
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        if self.chunked {
            for chunk in self.body.chunks(1000) {
                out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                out.extend_from_slice(chunk);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"0\r\n\r\n");
        } else {
            out.extend_from_slice(&self.body);
        }
        out
    }
}

/// A valid delivery body of exactly `len` bytes (padded with an extra field).
pub(crate) fn sized_body(len: usize) -> Vec<u8> {
    let prefix = format!(r#"{{"id":"{ID}","status":"completed","pad":""#);
    let fill = len - prefix.len() - 2;
    let mut body = prefix.into_bytes();
    body.resize(body.len() + fill, b'x');
    body.extend_from_slice(b"\"}");
    assert_eq!(body.len(), len);
    body
}

/// Requests that must be refused, each with its exact status.
pub(crate) fn bad_requests() -> Vec<Case> {
    let limit = DEFAULT_BODY_LIMIT;
    let over = sized_body(limit + 1);
    vec![
        Case::good("GET").method("GET").body("").expect(405),
        Case::good("PUT").method("PUT").expect(405),
        Case::good("DELETE").method("DELETE").expect(405),
        Case::good("PATCH").method("PATCH").expect(405),
        Case::good("HEAD").method("HEAD").body("").expect(405),
        Case::good("OPTIONS").method("OPTIONS").expect(405),
        Case::good("GET without auth")
            .method("GET")
            .without(HEADER)
            .expect(405),
        Case::good("missing header").without(HEADER).expect(401),
        Case::good("wrong secret, same length")
            .secret("new-secret-value-124")
            .expect(401),
        Case::good("wrong secret, shorter")
            .secret("new-secret")
            .expect(401),
        Case::good("wrong secret, longer")
            .secret("new-secret-value-1234")
            .expect(401),
        Case::good("empty header").secret("").expect(401),
        Case::good("duplicated header, both right")
            .add(HEADER, NEW_SECRET)
            .expect(401),
        Case::good("duplicated header, right and wrong")
            .add(HEADER, "nope")
            .expect(401),
        Case::good("duplicated header, differently cased")
            .add("x-soniox-webhook-secret", OLD_SECRET)
            .expect(401),
        Case::good("whitespace-padded header")
            .secret(format!(" {NEW_SECRET} "))
            .expect(401)
            .on_the_wire(200),
        Case::good("tab inside header")
            .secret("new-secret\tvalue-123")
            .expect(401),
        Case::good("non-ASCII header")
            .secret(b"new-secret-value-12\xff")
            .expect(401),
        Case::good("secret upper-cased")
            .secret(NEW_SECRET.to_uppercase())
            .expect(401),
        Case::good("secret with a Bearer prefix")
            .secret(format!("Bearer {NEW_SECRET}"))
            .expect(401),
        Case::good("secret in another header")
            .without(HEADER)
            .add("X-Soniox-Webhook-Token", NEW_SECRET)
            .expect(401),
        Case::good("rotation: unknown secret")
            .secret("older-secret-value-789")
            .expect(401),
        Case::good("missing header and bad body")
            .without(HEADER)
            .body("nope")
            .expect(401),
        Case::good("wrong secret and oversized body")
            .secret("x")
            .body(&over)
            .expect(401),
        Case::good("body one byte over the limit")
            .body(&over)
            .expect(413),
        Case::good("chunked body over the limit")
            .body(&over)
            .chunked()
            .expect(413),
        Case::good("chunked body far over the limit")
            .body(sized_body(3 * limit))
            .chunked()
            .expect(413),
        Case::good("oversized with a non-JSON type")
            .body(&over)
            .set("Content-Type", "text/plain")
            .expect(413),
        Case::good("text/plain")
            .set("Content-Type", "text/plain")
            .expect(415),
        Case::good("form")
            .set("Content-Type", "application/x-www-form-urlencoded")
            .expect(415),
        Case::good("multipart")
            .set("Content-Type", "multipart/form-data; boundary=x")
            .expect(415),
        Case::good("xml")
            .set("Content-Type", "application/xml")
            .expect(415),
        Case::good("jsonp")
            .set("Content-Type", "application/jsonp")
            .expect(415),
        Case::good("type without subtype")
            .set("Content-Type", "json")
            .expect(415),
        Case::good("empty content type")
            .set("Content-Type", "")
            .expect(415),
        Case::good("JSON and text types")
            .add("Content-Type", "text/plain")
            .expect(415),
        Case::good("non-JSON type and bad body")
            .set("Content-Type", "text/plain")
            .body("nope")
            .expect(415),
        Case::good("empty body").body("").expect(400),
        Case::good("not JSON").body("hello").expect(400),
        Case::good("truncated JSON")
            .body(&GOOD_BODY.as_bytes()[..20])
            .expect(400),
        Case::good("invalid UTF-8 in a string")
            .body(b"{\"id\":\"\xff\xfe\",\"status\":\"completed\"}")
            .expect(400),
        Case::good("invalid UTF-8 body")
            .body(b"\xff\xfe\xfd")
            .expect(400),
        Case::good("JSON array")
            .body(format!("[{GOOD_BODY}]"))
            .expect(400),
        Case::good("JSON null").body("null").expect(400),
        Case::good("JSON number").body("42").expect(400),
        Case::good("JSON string").body(r#""completed""#).expect(400),
        Case::good("JSON bool").body("true").expect(400),
        Case::good("empty object").body("{}").expect(400),
        Case::good("missing id")
            .body(r#"{"status":"completed"}"#)
            .expect(400),
        Case::good("empty id")
            .body(r#"{"id":"","status":"completed"}"#)
            .expect(400),
        Case::good("null id")
            .body(r#"{"id":null,"status":"completed"}"#)
            .expect(400),
        Case::good("numeric id")
            .body(r#"{"id":42,"status":"completed"}"#)
            .expect(400),
        Case::good("missing status")
            .body(format!(r#"{{"id":"{ID}"}}"#))
            .expect(400),
        Case::good("null status")
            .body(format!(r#"{{"id":"{ID}","status":null}}"#))
            .expect(400),
        Case::good("numeric status")
            .body(format!(r#"{{"id":"{ID}","status":1}}"#))
            .expect(400),
        Case::good("empty status")
            .body(format!(r#"{{"id":"{ID}","status":""}}"#))
            .expect(400),
        Case::good("duplicated id field")
            .body(format!(
                r#"{{"id":"{ID}","id":"other","status":"completed"}}"#
            ))
            .expect(400),
        Case::good("huge id")
            .body(format!(
                r#"{{"id":"{}","status":"completed"}}"#,
                "a".repeat(10_000)
            ))
            .expect(400),
        Case::good("trailing garbage")
            .body(format!("{GOOD_BODY}x"))
            .expect(400),
        Case::good("two objects")
            .body(format!("{GOOD_BODY}{GOOD_BODY}"))
            .expect(400),
        Case::good("deeply nested array")
            .body(format!("{}{}", "[".repeat(30_000), "]".repeat(30_000)))
            .expect(400),
        Case::good("deeply nested id")
            .body(format!(
                r#"{{"status":"completed","id":{}{}}}"#,
                "[".repeat(30_000),
                "]".repeat(30_000)
            ))
            .expect(400),
        Case::good("chunked invalid JSON")
            .body("{\"id\":")
            .chunked()
            .expect(400),
    ]
}

/// Requests that must be accepted (and handed to the handler exactly once).
pub(crate) fn good_requests() -> Vec<Case> {
    let limit = DEFAULT_BODY_LIMIT;
    let nested = format!(
        r#"{{"id":"a","status":"completed","x":{}{}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    vec![
        Case::good("new secret"),
        Case::good("rotation: old secret").secret(OLD_SECRET),
        Case::good("header name lower-cased")
            .without(HEADER)
            .add("x-soniox-webhook-secret", NEW_SECRET),
        Case::good("header name upper-cased")
            .without(HEADER)
            .add("X-SONIOX-WEBHOOK-SECRET", NEW_SECRET),
        Case::good("no content type").without("Content-Type"),
        Case::good("charset parameter").set("Content-Type", "application/json; charset=utf-8"),
        Case::good("upper-case type").set("Content-Type", "APPLICATION/JSON"),
        Case::good("+json type").set("Content-Type", "application/vnd.soniox+json"),
        Case::good("status error").body(format!(r#"{{"id":"{ID}","status":"error"}}"#)),
        Case::good("unknown status").body(format!(r#"{{"id":"{ID}","status":"archived"}}"#)),
        Case::good("extra fields").body(format!(
            r#"{{"id":"{ID}","status":"completed","extra":[1,{{"a":null}}]}}"#
        )),
        Case::good("escaped id").body(r#"{"id":"\u0061\n","status":"completed"}"#),
        Case::good("id at the length bound").body(format!(
            r#"{{"id":"{}","status":"completed"}}"#,
            "a".repeat(256)
        )),
        Case::good("body at the limit").body(sized_body(limit)),
        Case::good("chunked body at the limit")
            .body(sized_body(limit))
            .chunked(),
        Case::good("body under the limit").body(sized_body(limit - 1)),
        Case::good("chunked small body").chunked(),
        Case::good("deeply nested extra field").body(nested),
        Case::good("query metadata").target("/hooks/soniox?order=42&customer=ada%20l&tag=a&tag=b"),
        Case::good("odd query").target("/hooks/soniox?&=&a&b=%ZZ&c=%FF&d=1+2"),
    ]
}
