//! Decoding the delivery body while borrowing from it: the fields are read in place, so the
//! one allocation is the event's own copy of the id (a JSON-escaped string costs one more), and
//! a known status allocates nothing.
//!
//! A hand-written visitor instead of `#[derive(Deserialize)]` so that every way of being wrong
//! (not an object, a field of the wrong type, a repeated field) becomes its own [`Rejection`]
//! rather than a serde message that could echo the body.

use std::{borrow::Cow, fmt};

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use soniox_types::{TranscriptionId, WebhookEvent, WebhookStatus};

use crate::{MAX_ID_LEN, MAX_STATUS_LEN, Rejection};

/// Parses `{"id": "...", "status": "..."}`; extra fields are ignored.
pub(crate) fn parse_event(body: &[u8]) -> Result<WebhookEvent, Rejection> {
    // JSON is UTF-8 (RFC 8259), so a body that is not is invalid JSON. Checked once here,
    // the body is read as a `str`, whose strings serde_json then need not check one by one.
    let body = std::str::from_utf8(body).map_err(|_| Rejection::InvalidJson)?;
    let mut de = serde_json::Deserializer::from_str(body);
    let wire = de
        .deserialize_any(WireVisitor)
        .map_err(|_| Rejection::InvalidJson)?;
    de.end().map_err(|_| Rejection::InvalidJson)?;
    let Wire::Object {
        id,
        status,
        duplicate,
    } = wire
    else {
        return Err(Rejection::NotAnObject);
    };
    if let Some(field) = duplicate {
        return Err(Rejection::DuplicateField { field });
    }
    let id = match id {
        None => return Err(Rejection::MissingId),
        Some(Field::Str(id)) if id.is_empty() => return Err(Rejection::EmptyId),
        Some(Field::Str(id)) if id.len() > MAX_ID_LEN => return Err(Rejection::IdTooLong),
        Some(Field::Str(id)) => id,
        Some(Field::Other) => return Err(Rejection::InvalidField { field: "id" }),
    };
    let status = match status {
        None => return Err(Rejection::MissingStatus),
        Some(Field::Str(status)) if status.len() > MAX_STATUS_LEN => {
            return Err(Rejection::StatusTooLong);
        }
        Some(Field::Str(status)) if !status.is_empty() => WebhookStatus::from(&*status),
        Some(_) => return Err(Rejection::InvalidField { field: "status" }),
    };
    Ok(WebhookEvent::new(TranscriptionId::new(id), status))
}

enum Wire<'de> {
    Object {
        id: Option<Field<'de>>,
        status: Option<Field<'de>>,
        duplicate: Option<&'static str>,
    },
    NotObject,
}

enum Field<'de> {
    Str(Cow<'de, str>),
    Other,
}

struct WireVisitor;

impl<'de> Visitor<'de> for WireVisitor {
    type Value = Wire<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a webhook event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut id, mut status, mut duplicate) = (None, None, None);
        while let Some(key) = map.next_key::<Key>()? {
            let (slot, name) = match key {
                Key::Id => (&mut id, "id"),
                Key::Status => (&mut status, "status"),
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            let value = map.next_value::<Field<'de>>()?;
            if slot.replace(value).is_some() {
                duplicate.get_or_insert(name);
            }
        }
        Ok(Wire::Object {
            id,
            status,
            duplicate,
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Wire::NotObject)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Wire::NotObject)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Wire::NotObject)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Wire::NotObject)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Wire::NotObject)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Wire::NotObject)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Wire::NotObject)
    }
}

enum Key {
    Id,
    Status,
    Other,
}

impl<'de> de::Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

struct KeyVisitor;

impl Visitor<'_> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
        Ok(match key {
            "id" => Key::Id,
            "status" => Key::Status,
            _ => Key::Other,
        })
    }
}

impl<'de> de::Deserialize<'de> for Field<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(FieldVisitor)
    }
}

struct FieldVisitor;

impl<'de> Visitor<'de> for FieldVisitor {
    type Value = Field<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Self::Value, E> {
        Ok(Field::Str(Cow::Borrowed(value)))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        Ok(Field::Str(Cow::Owned(value.to_owned())))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Self::Value, E> {
        Ok(Field::Str(Cow::Owned(value)))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Field::Other)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Field::Other)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Field::Other)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Field::Other)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Field::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Field::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Field::Other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(body: &str, expect: Result<(&str, WebhookStatus), Rejection>) {
        let got = parse_event(body.as_bytes()).map(|e| (e.id.into_string(), e.status));
        let expect = expect.map(|(id, status)| (id.to_owned(), status));
        assert_eq!(got, expect, "{body}");
    }

    #[test]
    fn decodes_and_classifies() {
        check(
            r#"{"id":"a","status":"completed"}"#,
            Ok(("a", WebhookStatus::Completed)),
        );
        check(
            r#" {"status":"error","id":"b"} "#,
            Ok(("b", WebhookStatus::Error)),
        );
        check(
            r#"{"id":"\u0041","status":"x"}"#,
            Ok(("A", WebhookStatus::Unknown("x".into()))),
        );
        check(
            r#"{"id":"a","status":"error","more":{"n":[1,2]}}"#,
            Ok(("a", WebhookStatus::Error)),
        );
        check(
            r#"{"id":"a","status":"error"} x"#,
            Err(Rejection::InvalidJson),
        );
        check(
            r#"{"id":"a","id":"b","status":"error"}"#,
            Err(Rejection::DuplicateField { field: "id" }),
        );
        check(
            r#"{"id":{"x":1},"status":"error"}"#,
            Err(Rejection::InvalidField { field: "id" }),
        );
        check(
            r#"{"id":"a","status":""}"#,
            Err(Rejection::InvalidField { field: "status" }),
        );
        let longest = "s".repeat(MAX_STATUS_LEN);
        check(
            &format!(r#"{{"id":"a","status":"{longest}"}}"#),
            Ok(("a", WebhookStatus::Unknown(longest.as_str().into()))),
        );
        check(
            &format!(r#"{{"id":"a","status":"{longest}s"}}"#),
            Err(Rejection::StatusTooLong),
        );
        check(r#"[{"id":"a"}]"#, Err(Rejection::NotAnObject));
        check(r#""id""#, Err(Rejection::NotAnObject));
    }

    /// JSON is UTF-8: a body with a byte that is not is invalid even where the byte sits in
    /// a field that is otherwise ignored.
    #[test]
    fn a_body_that_is_not_utf8_is_invalid_json() {
        for body in [
            &b"{\"id\":\"a\",\"status\":\"error\",\"more\":\"\xff\"}"[..],
            b"{\"id\":\"\xc3\",\"status\":\"error\"}",
            b"[\"\xff\"]",
        ] {
            assert_eq!(parse_event(body), Err(Rejection::InvalidJson), "{body:?}");
        }
    }
}
