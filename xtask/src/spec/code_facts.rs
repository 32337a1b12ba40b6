//! The facts the crates copy by hand from the spec, compared with a document's: the half of
//! spec-drift that looks at the code rather than at the snapshot.
//!
//! Three kinds: the limits soniox-types enforces (`validation::limits`), each constant tied to
//! the snapshot locations it copies; the known values of its open enums, each tied to the
//! schema whose `enum` it copies; and the field lists of the emulator's request checks and of
//! the fast transcript decoder, each tied to the schema whose properties it lists. `CONTEXT_MAX_CHARS`,
//! `AUDIO_MAX_DURATION_MS` and `FILE_MAX_BYTES` come from Soniox's prose documentation, not
//! from schema facts, so they have no location here.

use std::fs;

use serde_json::Value;

use super::drift::{Finding, Kind, location};
use crate::project_root;

/// Where the constants live, relative to the workspace root.
pub(crate) const SOURCE: &str = "crates/soniox-types/src/validation.rs";

/// soniox-types' open enums: the file that declares each, its name there, and the schema
/// whose `enum` lists the same values.
const ENUMS: &[(&str, &str, &str)] = &[
    (
        "crates/soniox-types/src/transcription.rs",
        "TranscriptionStatus",
        "TranscriptionStatus",
    ),
    (
        "crates/soniox-types/src/temporary_key.rs",
        "TemporaryKeyUsage",
        "TemporaryApiKeyUsageType",
    ),
    (
        "crates/soniox-types/src/models.rs",
        "TranscriptionMode",
        "TranscriptionMode",
    ),
];

type Path = &'static [&'static str];

/// What a constant holds: one number, or an inclusive range.
enum Tie {
    /// The constant equals the value at every one of these locations.
    Value(&'static [Path]),
    /// The constant's range runs from the first location's value to the second's.
    Range(Path, Path),
}

const PAYLOAD: &str = "CreateTranscriptionPayload";
const TEMPORARY_KEY: &str = "CreateTemporaryApiKeyPayload";

const TIES: &[(&str, Tie)] = &[
    (
        "MODEL_MAX_CHARS",
        Tie::Value(&[&["schemas", PAYLOAD, "properties", "model", "maxLength"]]),
    ),
    (
        "AUDIO_URL_MAX_CHARS",
        Tie::Value(&[&["schemas", PAYLOAD, "properties", "audio_url", "maxLength"]]),
    ),
    (
        "WEBHOOK_URL_MAX_CHARS",
        Tie::Value(&[&["schemas", PAYLOAD, "properties", "webhook_url", "maxLength"]]),
    ),
    (
        "WEBHOOK_HEADER_NAME_MAX_CHARS",
        Tie::Value(&[&[
            "schemas",
            PAYLOAD,
            "properties",
            "webhook_auth_header_name",
            "maxLength",
        ]]),
    ),
    (
        "WEBHOOK_HEADER_VALUE_MAX_CHARS",
        Tie::Value(&[&[
            "schemas",
            PAYLOAD,
            "properties",
            "webhook_auth_header_value",
            "maxLength",
        ]]),
    ),
    (
        "CLIENT_REFERENCE_ID_MAX_CHARS",
        Tie::Value(&[
            &[
                "schemas",
                PAYLOAD,
                "properties",
                "client_reference_id",
                "maxLength",
            ],
            &[
                "schemas",
                "UploadFilePayload",
                "properties",
                "client_reference_id",
                "maxLength",
            ],
            &[
                "schemas",
                TEMPORARY_KEY,
                "properties",
                "client_reference_id",
                "maxLength",
            ],
        ]),
    ),
    (
        "LANGUAGE_HINTS_MAX_ITEMS",
        Tie::Value(&[&[
            "schemas",
            PAYLOAD,
            "properties",
            "language_hints",
            "maxItems",
        ]]),
    ),
    (
        "LANGUAGE_HINT_MAX_CHARS",
        Tie::Value(&[&[
            "schemas",
            PAYLOAD,
            "properties",
            "language_hints",
            "items",
            "maxLength",
        ]]),
    ),
    (
        "LIST_LIMIT_RANGE",
        Tie::Range(
            &[
                "operations",
                "GET /v1/files",
                "parameters",
                "query:limit",
                "schema",
                "minimum",
            ],
            &[
                "operations",
                "GET /v1/files",
                "parameters",
                "query:limit",
                "schema",
                "maximum",
            ],
        ),
    ),
    (
        "LIST_LIMIT_RANGE",
        Tie::Range(
            &[
                "operations",
                "GET /v1/transcriptions",
                "parameters",
                "query:limit",
                "schema",
                "minimum",
            ],
            &[
                "operations",
                "GET /v1/transcriptions",
                "parameters",
                "query:limit",
                "schema",
                "maximum",
            ],
        ),
    ),
    (
        "TEMPORARY_KEY_EXPIRES_RANGE",
        Tie::Range(
            &[
                "schemas",
                TEMPORARY_KEY,
                "properties",
                "expires_in_seconds",
                "minimum",
            ],
            &[
                "schemas",
                TEMPORARY_KEY,
                "properties",
                "expires_in_seconds",
                "maximum",
            ],
        ),
    ),
    (
        "TEMPORARY_KEY_SESSION_RANGE",
        Tie::Range(
            &[
                "schemas",
                TEMPORARY_KEY,
                "properties",
                "max_session_duration_seconds",
                "minimum",
            ],
            &[
                "schemas",
                TEMPORARY_KEY,
                "properties",
                "max_session_duration_seconds",
                "maximum",
            ],
        ),
    ),
];

/// Field lists: the file, the constant, the schema whose properties it lists, and whether the
/// list marks required fields (the emulator's `(name, kind, required)` tuples) or holds names
/// only (the decoder's `Key::new(b"\"name\"")` entries).
const FIELD_LISTS: &[(&str, &str, &str, Fields)] = &[
    (
        "crates/soniox-emulator/src/api/payload.rs",
        "CREATE_TRANSCRIPTION",
        "CreateTranscriptionPayload",
        Fields::Checked,
    ),
    (
        "crates/soniox-emulator/src/api/payload.rs",
        "TRANSLATION",
        "TranslationConfig",
        Fields::Checked,
    ),
    (
        "crates/soniox-emulator/src/api/payload.rs",
        "CREATE_TEMPORARY_KEY",
        "CreateTemporaryApiKeyPayload",
        Fields::Checked,
    ),
    (
        "crates/soniox-types/src/transcript/decode.rs",
        "TRANSCRIPT_KEYS",
        "TranscriptionTranscript",
        Fields::Keys,
    ),
    (
        "crates/soniox-types/src/transcript/decode.rs",
        "TOKEN_KEYS",
        "TranscriptionTranscriptToken",
        Fields::Keys,
    ),
];

#[derive(Clone, Copy)]
enum Fields {
    /// `("name", Kind::…, required)` tuples.
    Checked,
    /// `Key::new(b"\"name\"")` entries.
    Keys,
}

/// Reads the limits and enums from soniox-types' source and compares each with `snapshot`.
///
/// # Errors
/// When a source cannot be read, or a tied constant or enum is missing from it or is not in
/// the shape expected (the tables here must then follow the code).
pub(crate) fn findings(snapshot: &Value) -> Result<Vec<Finding>, String> {
    let mut found = compare(&read(SOURCE)?, snapshot)?;
    for (file, name, schema) in ENUMS {
        let known = enum_values(&read(file)?, name)
            .ok_or_else(|| format!("{file} declares no `pub enum {name}` any more"))?;
        found.extend(compare_enum(name, &known, schema, snapshot));
    }
    for (file, name, schema, fields) in FIELD_LISTS {
        let listed = field_list(&read(file)?, name, *fields)
            .ok_or_else(|| format!("{file} has no field list `{name}` any more"))?;
        found.extend(compare_fields(
            &format!("{file} `{name}`"),
            &listed,
            schema,
            snapshot,
        ));
    }
    found.sort_by(|a, b| a.location.cmp(&b.location));
    Ok(found)
}

fn read(file: &str) -> Result<String, String> {
    let path = project_root().join(file);
    fs::read_to_string(&path).map_err(|error| format!("cannot read {}: {error}", path.display()))
}

/// The wire values of `pub enum NAME { Variant => "value", … }` inside `open_enum!`.
fn enum_values(source: &str, name: &str) -> Option<Vec<String>> {
    let declaration = format!("pub enum {name} {{");
    let mut lines = source.lines().skip_while(|line| line.trim() != declaration);
    lines.next()?;
    Some(
        lines
            .take_while(|line| line.trim() != "}")
            .filter_map(|line| {
                let value = line.split_once("=> \"")?.1;
                Some(value.split_once('"')?.0.to_owned())
            })
            .collect(),
    )
}

/// The field names of `const NAME: … = [ … ];`, each with whether it is required (always
/// `false` for a list of keys, which does not say).
fn field_list(source: &str, name: &str, fields: Fields) -> Option<Vec<(String, bool)>> {
    let start = source.find(&format!("const {name}: "))?;
    let body = &source[start..];
    let body = &body[body.find('[')? + 1..body.find("];")?];
    let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    // rustfmt leaves a trailing comma in a tuple it breaks over lines.
    let compact = compact.replace(",)", ")");
    let entries = match fields {
        Fields::Checked => compact
            .split("(\"")
            .skip(1)
            .filter_map(|entry| {
                let (field, rest) = entry.split_once('"')?;
                let required = match (rest.find("true)"), rest.find("false)")) {
                    (Some(yes), Some(no)) => yes < no,
                    (yes, _) => yes.is_some(),
                };
                Some((field.to_owned(), required))
            })
            .collect(),
        Fields::Keys => compact
            .split("b\"\\\"")
            .skip(1)
            .filter_map(|entry| Some((entry.split_once("\\\"")?.0.to_owned(), false)))
            .collect(),
    };
    Some(entries)
}

/// A finding for each field on one side only, and for each required field the code treats
/// as optional or the reverse (for lists that say).
fn compare_fields(
    list: &str,
    listed: &[(String, bool)],
    schema: &str,
    snapshot: &Value,
) -> Vec<Finding> {
    let facts = &snapshot["schemas"][schema];
    let properties: Vec<&str> = facts["properties"]
        .as_object()
        .map(|all| all.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let required: Vec<&str> = facts["required"]
        .as_array()
        .map(|all| all.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let at = |field: &str| {
        location(
            &[
                "schemas".to_owned(),
                schema.to_owned(),
                "properties".to_owned(),
            ],
            field,
        )
    };
    let mut found = Vec::new();
    for (field, _) in listed {
        if !properties.contains(&field.as_str()) {
            found.push(Finding {
                kind: Kind::Field,
                location: at(field),
                detail: format!("{list} lists it, the document does not"),
            });
        }
    }
    for field in &properties {
        if !listed.iter().any(|(name, _)| name == field) {
            found.push(Finding {
                kind: Kind::Field,
                location: at(field),
                detail: format!("the document has it, {list} does not"),
            });
        }
    }
    let marks_required = listed.iter().any(|(_, required)| *required);
    let mismatched: Vec<&str> = listed
        .iter()
        .filter(|(field, is)| {
            marks_required
                && properties.contains(&field.as_str())
                && *is != required.contains(&field.as_str())
        })
        .map(|(field, _)| field.as_str())
        .collect();
    if !mismatched.is_empty() {
        found.push(Finding {
            kind: Kind::Required,
            location: location(&["schemas".to_owned(), schema.to_owned()], "required"),
            detail: format!("{list} disagrees on {}", mismatched.join(", ")),
        });
    }
    found
}

/// The values a document lists for `schema` that the code does not know, and the reverse.
fn compare_enum(name: &str, known: &[String], schema: &str, snapshot: &Value) -> Option<Finding> {
    let listed: Vec<&str> = snapshot["schemas"][schema]["enum"]
        .as_array()
        .map(|values| values.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let unknown: Vec<&str> = listed
        .iter()
        .copied()
        .filter(|value| !known.iter().any(|k| k == value))
        .collect();
    let unlisted: Vec<&str> = known
        .iter()
        .map(String::as_str)
        .filter(|value| !listed.contains(value))
        .collect();
    let mut parts = Vec::new();
    if !unknown.is_empty() {
        parts.push(format!("lacks {}", unknown.join(", ")));
    }
    if !unlisted.is_empty() {
        parts.push(format!(
            "knows {} the document does not list",
            unlisted.join(", ")
        ));
    }
    (!parts.is_empty()).then(|| Finding {
        kind: Kind::Enum,
        location: location(&["schemas".to_owned(), schema.to_owned()], "enum"),
        detail: format!("soniox-types `{name}` {}", parts.join("; ")),
    })
}

fn compare(source: &str, snapshot: &Value) -> Result<Vec<Finding>, String> {
    let mut found = Vec::new();
    for (name, tie) in TIES {
        let value = constant(source, name)
            .ok_or_else(|| format!("{SOURCE} has no plain `pub const {name}` any more"))?;
        let checks: Vec<(Path, u64)> = match (tie, value) {
            (Tie::Value(paths), Constant::Value(value)) => {
                paths.iter().map(|path| (*path, value)).collect()
            }
            (Tie::Range(low, high), Constant::Range(from, to)) => vec![(low, from), (high, to)],
            _ => {
                return Err(format!(
                    "`{name}` in {SOURCE} changed shape (number or range)"
                ));
            }
        };
        for (path, code) in checks {
            let in_document = path
                .iter()
                .try_fold(snapshot, |value, key| value.get(key))
                .and_then(Value::as_u64);
            if in_document != Some(code) {
                let (key, parent) = path.split_last().unwrap_or((&"", &[]));
                let parent: Vec<String> = parent.iter().map(|s| (*s).to_owned()).collect();
                found.push(Finding {
                    kind: Kind::Limit,
                    location: location(&parent, key),
                    detail: format!(
                        "soniox-types `limits::{name}` holds {code}, the document {}",
                        in_document.map_or_else(|| "has none".to_owned(), |n| n.to_string())
                    ),
                });
            }
        }
    }
    found.sort_by(|a, b| a.location.cmp(&b.location));
    Ok(found)
}

enum Constant {
    Value(u64),
    Range(u64, u64),
}

/// The value of `pub const NAME: … = 42;` or `= 1..=1000;`, underscores allowed.
fn constant(source: &str, name: &str) -> Option<Constant> {
    let line = source.lines().find_map(|line| {
        line.trim()
            .strip_prefix("pub const ")?
            .strip_prefix(name)?
            .strip_prefix(':')
    })?;
    let value = line.split_once('=')?.1.trim().strip_suffix(';')?;
    let number = |text: &str| text.trim().replace('_', "").parse::<u64>().ok();
    match value.split_once("..=") {
        Some((from, to)) => Some(Constant::Range(number(from)?, number(to)?)),
        None => number(value).map(Constant::Value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{
        DEVIATIONS, SNAPSHOT,
        drift::{Deviation, Report},
        read_json,
    };

    fn details(found: &[Finding]) -> Vec<(&str, &str)> {
        found
            .iter()
            .map(|f| (f.location.as_str(), f.detail.as_str()))
            .collect()
    }

    /// What the crates copy by hand agrees with the committed snapshot, or is a listed
    /// deviation: `cargo test` fails when one side is edited without the other.
    #[test]
    fn the_code_facts_match_the_committed_snapshot() {
        let snapshot = read_json(&project_root().join(SNAPSHOT)).unwrap();
        let deviations =
            Deviation::read_list(&read_json(&project_root().join(DEVIATIONS)).unwrap()).unwrap();
        let report = Report::new(findings(&snapshot).unwrap(), &deviations);
        assert_eq!(report.unexplained(), 0, "{report}");
    }

    #[test]
    fn a_changed_or_missing_limit_is_reported() {
        let mut snapshot = read_json(&project_root().join(SNAPSHOT)).unwrap();
        let model = &mut snapshot["schemas"][PAYLOAD]["properties"]["model"];
        model["maxLength"] = 64.into();
        let expires = &mut snapshot["schemas"][TEMPORARY_KEY]["properties"]["expires_in_seconds"];
        expires.as_object_mut().unwrap().remove("maximum");
        let source = fs::read_to_string(project_root().join(SOURCE)).unwrap();
        let found = compare(&source, &snapshot).unwrap();
        assert_eq!(
            details(&found),
            [
                (
                    "schemas.CreateTemporaryApiKeyPayload.properties.expires_in_seconds.maximum",
                    "soniox-types `limits::TEMPORARY_KEY_EXPIRES_RANGE` holds 3600, the document has none"
                ),
                (
                    "schemas.CreateTranscriptionPayload.properties.model.maxLength",
                    "soniox-types `limits::MODEL_MAX_CHARS` holds 32, the document 64"
                ),
            ]
        );
    }

    #[test]
    fn constants_are_parsed_or_refused() {
        let source = "pub const A: usize = 10_000;\npub const B: Range = 1..=3_600;\n\
                      pub const C: u64 = 300 * 60;\n";
        assert!(matches!(
            constant(source, "A"),
            Some(Constant::Value(10_000))
        ));
        assert!(matches!(
            constant(source, "B"),
            Some(Constant::Range(1, 3600))
        ));
        assert!(constant(source, "C").is_none());
        assert!(constant(source, "AB").is_none());
        let error = compare("", &Value::Null).err().unwrap();
        assert!(error.contains("MODEL_MAX_CHARS"), "{error}");
    }

    #[test]
    fn enum_values_are_read_from_the_declaration() {
        let source = "open_enum! {\n    /// Doc.\n    pub enum Mode {\n        /// A.\n        A => \"a\",\n        B => \"b\",\n    }\n}\npub enum Other {\n    C => \"c\",\n}\n";
        assert_eq!(enum_values(source, "Mode").unwrap(), ["a", "b"]);
        assert!(enum_values(source, "Missing").is_none());
    }

    #[test]
    fn an_enum_value_on_one_side_only_is_reported() {
        let snapshot = serde_json::json!({"schemas": {"Mode": {"enum": ["a", "c"]}}});
        let known = ["a".to_owned(), "b".to_owned()];
        let finding = compare_enum("Mode", &known, "Mode", &snapshot).unwrap();
        assert_eq!(finding.location, "schemas.Mode.enum");
        assert_eq!(
            finding.detail,
            "soniox-types `Mode` lacks c; knows b the document does not list"
        );
        let same = serde_json::json!({"schemas": {"Mode": {"enum": ["b", "a"]}}});
        assert!(compare_enum("Mode", &known, "Mode", &same).is_none());
    }

    #[test]
    fn field_lists_are_read_from_both_shapes() {
        let checked = "const SHAPE: &[Field] = &[\n    (\"model\", Kind::Str, true),\n    (\n        \"usage\",\n        Kind::Choice(&[\"a\", \"b\"]),\n        true,\n    ),\n    (\"hint\", Kind::Str, false),\n];\n";
        assert_eq!(
            field_list(checked, "SHAPE", Fields::Checked).unwrap(),
            [
                ("model".to_owned(), true),
                ("usage".to_owned(), true),
                ("hint".to_owned(), false)
            ]
        );
        let keys = "const KEYS: [Key; 2] = [\n    Key::new(b\"\\\"id\\\"\"),\n    Key::new(b\"\\\"text\\\"\"),\n];\n";
        assert_eq!(
            field_list(keys, "KEYS", Fields::Keys).unwrap(),
            [("id".to_owned(), false), ("text".to_owned(), false)]
        );
        assert!(field_list(keys, "OTHER", Fields::Keys).is_none());
    }

    #[test]
    fn fields_on_one_side_and_required_mismatches_are_reported() {
        let snapshot = serde_json::json!({"schemas": {"S": {
            "properties": {"a": {}, "b": {}, "c": {}}, "required": ["a", "b"]}}});
        let listed = [
            ("a".to_owned(), true),
            ("b".to_owned(), false),
            ("x".to_owned(), false),
        ];
        let found = compare_fields("list", &listed, "S", &snapshot);
        assert_eq!(
            details(&found),
            [
                (
                    "schemas.S.properties.x",
                    "list lists it, the document does not"
                ),
                (
                    "schemas.S.properties.c",
                    "the document has it, list does not"
                ),
                ("schemas.S.required", "list disagrees on b"),
            ]
        );
    }
}
