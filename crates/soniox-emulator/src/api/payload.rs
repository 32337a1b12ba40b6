//! Shape checks of JSON request bodies before they are decoded, so that a wrong type or a
//! missing field gets a located, pydantic-style `validation_errors` entry as from the real API,
//! rather than one opaque decoding error. The field tables are generated from the spec
//! (`generated/bodies.rs`).

use serde::de::DeserializeOwned;
use serde_json::Value;
use soniox_types::ValidationErrorDetail;

use crate::respond::Failure;

/// What a field must hold. `null` is accepted for every optional field.
#[derive(Clone, Copy, Debug)]
pub(super) enum Kind {
    Str,
    Bool,
    /// A whole number; the range is checked later by the request's own validation.
    Int,
    StrList,
    /// One of the listed strings.
    Choice(&'static [&'static str]),
    /// A nested object with these fields.
    Object(&'static [Field]),
    /// A string or an object (the two forms of `context`).
    StrOrObject,
}

/// One field of a body: name, kind, and whether it must be present.
pub(super) type Field = (&'static str, Kind, bool);

/// Checks `value` against `fields` at `location`, then decodes it.
///
/// # Errors
/// A 400 `invalid_request` listing every misplaced type and missing field.
pub(super) fn decode<T: DeserializeOwned>(
    value: Value,
    location: &str,
    fields: &[Field],
) -> Result<T, Failure> {
    let mut details = Vec::new();
    check_object(&value, location, fields, &mut details);
    if !details.is_empty() {
        return Err(Failure::validation(details));
    }
    serde_json::from_value(value).map_err(|error| {
        Failure::invalid("value_error", location, &format!("Value error, {error}"))
    })
}

fn check_object(
    value: &Value,
    location: &str,
    fields: &[Field],
    out: &mut Vec<ValidationErrorDetail>,
) {
    let Some(object) = value.as_object() else {
        out.push(ValidationErrorDetail::new(
            "model_attributes_type",
            location,
            "Input should be a valid dictionary or object to extract fields from",
        ));
        return;
    };
    for (name, kind, required) in fields {
        let at = format!("{location}.{name}");
        match object.get(*name) {
            None | Some(Value::Null) if *required => {
                out.push(ValidationErrorDetail::new("missing", at, "Field required"));
            }
            None | Some(Value::Null) => {}
            Some(field) => check_value(field, &at, *kind, out),
        }
    }
}

fn check_value(value: &Value, at: &str, kind: Kind, out: &mut Vec<ValidationErrorDetail>) {
    let wrong =
        |error_type: &str, message: &str| ValidationErrorDetail::new(error_type, at, message);
    match kind {
        Kind::Str if !value.is_string() => {
            out.push(wrong("string_type", "Input should be a valid string"));
        }
        Kind::Bool if !value.is_boolean() => {
            out.push(wrong("bool_type", "Input should be a valid boolean"));
        }
        Kind::Int if value.as_i64().is_none() && value.as_u64().is_none() => {
            out.push(wrong("int_type", "Input should be a valid integer"));
        }
        Kind::StrList => match value.as_array() {
            None => out.push(wrong("list_type", "Input should be a valid list")),
            Some(items) => {
                for (i, item) in items.iter().enumerate() {
                    check_value(item, &format!("{at}.{i}"), Kind::Str, out);
                }
            }
        },
        Kind::Choice(choices) if !value.as_str().is_some_and(|v| choices.contains(&v)) => {
            let listed: Vec<String> = choices.iter().map(|c| format!("'{c}'")).collect();
            out.push(wrong(
                "enum",
                &format!("Input should be {}", listed.join(" or ")),
            ));
        }
        Kind::Object(fields) => check_object(value, at, fields, out),
        Kind::StrOrObject if !value.is_string() && !value.is_object() => {
            out.push(wrong(
                "model_type",
                "Input should be a valid string or object",
            ));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use soniox_types::CreateTranscription;

    use super::*;
    use crate::api::generated::bodies::CREATE_TRANSCRIPTION;

    #[track_caller]
    fn check(body: &Value, expect: &[(&str, &str)]) {
        let mut out = Vec::new();
        check_object(body, "body.payload", CREATE_TRANSCRIPTION, &mut out);
        let got: Vec<(&str, &str)> = out
            .iter()
            .map(|d| (d.error_type.as_str(), d.location.as_str()))
            .collect();
        assert_eq!(got, expect);
    }

    #[test]
    fn located_type_errors() {
        check(&json!({"model": "m", "file_id": "f"}), &[]);
        check(
            &json!({"model": "m", "audio_url": null, "file_id": "f"}),
            &[],
        );
        check(&json!({}), &[("missing", "body.payload.model")]);
        check(
            &json!({"model": null}),
            &[("missing", "body.payload.model")],
        );
        check(&json!([1]), &[("model_attributes_type", "body.payload")]);
        check(
            &json!({"model": 5, "language_hints": ["en", 3], "enable_speaker_diarization": "yes"}),
            &[
                ("string_type", "body.payload.model"),
                ("string_type", "body.payload.language_hints.1"),
                ("bool_type", "body.payload.enable_speaker_diarization"),
            ],
        );
        check(
            &json!({"model": "m", "translation": {"type": "three_way"}, "context": 1}),
            &[
                ("enum", "body.payload.translation.type"),
                ("model_type", "body.payload.context"),
            ],
        );
    }

    #[test]
    fn decodes_after_checks() {
        let request: CreateTranscription = decode(
            json!({"model": "stt-async-v5", "file_id": "f", "audio_url": null}),
            "body.payload",
            CREATE_TRANSCRIPTION,
        )
        .expect("decodes");
        assert_eq!(request.model, "stt-async-v5");
    }
}
