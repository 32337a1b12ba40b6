//! soniox-types' generated module (`crates/soniox-types/src/generated/`): the limits
//! `validation::limits` re-exports, the known values each open enum is held to, and the fast
//! transcript decoder's key lists.

use std::fmt::Write as _;

use super::{
    Folder,
    facts::{Facts, ordered_properties},
    rust,
};

/// What one limit constant holds.
enum Limit {
    /// `maxLength`/`maxItems`, the same at every listed location: a `usize`.
    Max(&'static [&'static str]),
    /// `minimum..=maximum` of the schemas at the listed locations, the same at each: a
    /// `RangeInclusive<u32>`.
    Range(&'static [&'static str]),
}

/// Every limit soniox-types takes from the spec: its name, its documentation, and where the
/// spec states it. (`CONTEXT_MAX_CHARS`, `AUDIO_MAX_DURATION_MS` and `FILE_MAX_BYTES` come
/// from Soniox's prose documentation and stay hand-written in `validation.rs`.)
const LIMITS: &[(&str, &str, Limit)] = &[
    (
        "MODEL_MAX_CHARS",
        "Longest `model` id.",
        Limit::Max(&["schemas.CreateTranscriptionPayload.properties.model.maxLength"]),
    ),
    (
        "AUDIO_URL_MAX_CHARS",
        "Longest `audio_url`.",
        Limit::Max(&["schemas.CreateTranscriptionPayload.properties.audio_url.maxLength"]),
    ),
    (
        "WEBHOOK_URL_MAX_CHARS",
        "Longest `webhook_url`, query string included.",
        Limit::Max(&["schemas.CreateTranscriptionPayload.properties.webhook_url.maxLength"]),
    ),
    (
        "WEBHOOK_HEADER_NAME_MAX_CHARS",
        "Longest webhook auth header name.",
        Limit::Max(&[
            "schemas.CreateTranscriptionPayload.properties.webhook_auth_header_name.maxLength",
        ]),
    ),
    (
        "WEBHOOK_HEADER_VALUE_MAX_CHARS",
        "Longest webhook auth header value.",
        Limit::Max(&[
            "schemas.CreateTranscriptionPayload.properties.webhook_auth_header_value.maxLength",
        ]),
    ),
    (
        "CLIENT_REFERENCE_ID_MAX_CHARS",
        "Longest `client_reference_id`.",
        Limit::Max(&[
            "schemas.CreateTranscriptionPayload.properties.client_reference_id.maxLength",
            "schemas.UploadFilePayload.properties.client_reference_id.maxLength",
            "schemas.CreateTemporaryApiKeyPayload.properties.client_reference_id.maxLength",
        ]),
    ),
    (
        "LANGUAGE_HINTS_MAX_ITEMS",
        "Most entries in `language_hints`.",
        Limit::Max(&["schemas.CreateTranscriptionPayload.properties.language_hints.maxItems"]),
    ),
    (
        "LANGUAGE_HINT_MAX_CHARS",
        "Longest single language hint.",
        Limit::Max(&[
            "schemas.CreateTranscriptionPayload.properties.language_hints.items.maxLength",
        ]),
    ),
    (
        "LIST_LIMIT_RANGE",
        "Smallest and largest page size of list endpoints.",
        Limit::Range(&[
            "operations[GET /v1/files].parameters.query:limit.schema",
            "operations[GET /v1/transcriptions].parameters.query:limit.schema",
        ]),
    ),
    (
        "TEMPORARY_KEY_EXPIRES_RANGE",
        "Lifetime range of a temporary API key, in seconds.",
        Limit::Range(&["schemas.CreateTemporaryApiKeyPayload.properties.expires_in_seconds"]),
    ),
    (
        "TEMPORARY_KEY_SESSION_RANGE",
        "Range of a temporary key's session cap, in seconds.",
        Limit::Range(&[
            "schemas.CreateTemporaryApiKeyPayload.properties.max_session_duration_seconds",
        ]),
    ),
];

/// The open enums held to the spec's values: the constant, the enum that declares the
/// variants, and where the spec lists the values.
const ENUMS: &[(&str, &str, &str)] = &[
    (
        "TRANSCRIPTION_STATUS",
        "TranscriptionStatus",
        "schemas.TranscriptionStatus.enum",
    ),
    (
        "TEMPORARY_KEY_USAGE",
        "TemporaryKeyUsage",
        "schemas.TemporaryApiKeyUsageType.enum",
    ),
    (
        "TRANSCRIPTION_MODE",
        "TranscriptionMode",
        "schemas.TranscriptionMode.enum",
    ),
    (
        "TRANSLATION_STATUS",
        "TranslationStatus",
        "schemas.TranscriptionTranscriptToken.properties.translation_status.enum",
    ),
];

/// The objects the fast decoder reads: the constant, the index module, the schema, and the
/// order the API writes the fields in (the decoder's fast path expects them in this order;
/// any other field of the schema follows, in name order).
const DECODER_KEYS: &[(&str, &str, &str, &[&str])] = &[
    (
        "TRANSCRIPT_KEYS",
        "transcript_key",
        "TranscriptionTranscript",
        &["id", "text", "tokens"],
    ),
    (
        "TOKEN_KEYS",
        "token_key",
        "TranscriptionTranscriptToken",
        &[
            "text",
            "start_ms",
            "end_ms",
            "confidence",
            "speaker",
            "language",
            "translation_status",
            "source_language",
            "is_audio_event",
        ],
    ),
];

/// Where the module goes.
const FOLDER: &str = "crates/soniox-types/src/generated";

/// soniox-types' generated folder, from the snapshot's facts.
pub(crate) fn generate(facts: &Facts) -> Result<Folder, String> {
    let files = vec![
        (
            "enum_values.rs".to_owned(),
            rust::file(&enum_values(facts)?)?,
        ),
        ("limits.rs".to_owned(), rust::file(&limits(facts)?)?),
        (
            "mod.rs".to_owned(),
            rust::file(
                "//! Facts soniox-types takes from Soniox's API specification, written by \
                 `cargo xtask codegen` from\n//! `spec/soniox-api.json` and the facts of \
                 `spec/deviations.json`.\n\n\
                 pub(crate) mod enum_values;\npub(crate) mod limits;\n\
                 pub(crate) mod transcript_keys;\n",
            )?,
        ),
        (
            "transcript_keys.rs".to_owned(),
            rust::file(&transcript_keys(facts)?)?,
        ),
    ];
    Ok(Folder {
        path: FOLDER,
        files,
    })
}

fn limits(facts: &Facts) -> Result<String, String> {
    let mut out = String::from(
        "//! The limits the spec states, re-exported by `validation::limits`.\n\n\
         use std::ops::RangeInclusive;\n",
    );
    for (name, doc, limit) in LIMITS {
        let (locations, ty, value) = match limit {
            Limit::Max(locations) => {
                let value = same(name, locations, |at| facts.number(at))?;
                (*locations, "usize", rust::number(value))
            }
            Limit::Range(locations) => {
                let (low, high) = same(name, locations, |at| {
                    Ok((
                        facts.number(&format!("{at}.minimum"))?,
                        facts.number(&format!("{at}.maximum"))?,
                    ))
                })?;
                let value = format!("{}..={}", rust::number(low), rust::number(high));
                (*locations, "RangeInclusive<u32>", value)
            }
        };
        let _ = writeln!(out, "\n/// {doc}\n///\n/// From the spec:");
        for at in locations {
            let _ = writeln!(out, "/// - `{at}`");
        }
        let _ = writeln!(out, "pub const {name}: {ty} = {value};");
    }
    Ok(out)
}

/// The value every location holds; an error when they disagree, since one constant cannot
/// hold two.
fn same<T: PartialEq + std::fmt::Debug>(
    name: &str,
    locations: &[&str],
    read: impl Fn(&str) -> Result<T, String>,
) -> Result<T, String> {
    let mut values = locations.iter().map(|at| read(at).map(|value| (at, value)));
    let (first_at, first) = values
        .next()
        .ok_or_else(|| format!("`{name}` has no location"))??;
    for value in values {
        let (at, value) = value?;
        if value != first {
            return Err(format!(
                "`{name}`: `{first_at}` holds {first:?} but `{at}` holds {value:?}; split the \
                 constant"
            ));
        }
    }
    Ok(first)
}

fn enum_values(facts: &Facts) -> Result<String, String> {
    let mut out = String::from(
        "//! The values the spec lists for each open enum; `open_enum!` fails to compile when \
         an enum's\n//! variants are not exactly these.\n",
    );
    for (name, rust_enum, location) in ENUMS {
        let values: Vec<String> = facts
            .strings(location)?
            .into_iter()
            .map(rust::string)
            .collect();
        let _ = writeln!(
            out,
            "\n/// [`{rust_enum}`](crate::{rust_enum})'s values, from\n/// `{location}`.\n\
             pub(crate) const {name}: &[&str] = &[{}];",
            values.join(", ")
        );
    }
    Ok(out)
}

fn transcript_keys(facts: &Facts) -> Result<String, String> {
    let mut out = String::from(
        "//! The keys `Transcript::from_json` reads, each list with a module of indexes into it \
         (the\n//! reader matches on them).\n\nuse crate::transcript::json_cursor::Key;\n",
    );
    for (name, index_module, schema_name, order) in DECODER_KEYS {
        let schema = facts.schema(schema_name)?;
        let fields = ordered_properties(schema_name, schema, order)?;
        let keys: Vec<String> = fields
            .iter()
            .map(|field| format!("Key::new({})", rust::quoted_key(field)))
            .collect();
        let _ = writeln!(
            out,
            "\n/// `{schema_name}`'s fields, in the order the API writes them.\n\
             pub(crate) const {name}: [Key; {}] = [{}];\n\n\
             /// Where each field of `{schema_name}` is in `{name}`.\n\
             pub(crate) mod {index_module} {{",
            fields.len(),
            keys.join(", ")
        );
        for (index, field) in fields.iter().enumerate() {
            let _ = writeln!(
                out,
                "    /// `{field}`.\n    pub(crate) const {}: usize = {index};",
                rust::constant(field)
            );
        }
        out.push_str("}\n");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn disagreeing_locations_cannot_make_one_constant() {
        let read = |at: &str| Ok(if at == "b" { 2 } else { 1 });
        assert_eq!(same("X", &["a", "c"], read).unwrap(), 1);
        let error = same("X", &["a", "b"], read).unwrap_err();
        assert!(error.contains("`a` holds 1 but `b` holds 2"), "{error}");
    }

    #[test]
    fn a_missing_limit_is_an_error_naming_its_location() {
        let facts = Facts::new(json!({"schemas": {}}), &[]).unwrap();
        let error = limits(&facts).unwrap_err();
        assert!(
            error.contains("schemas.CreateTranscriptionPayload.properties.model.maxLength"),
            "{error}"
        );
    }
}
