//! soniox-emulator's generated module (`crates/soniox-emulator/src/api/generated/`): the
//! field tables its request checks walk, and the operation router.

use std::fmt::Write as _;

use serde_json::{Map, Value};

use super::{
    Folder,
    facts::{Facts, ordered_properties},
    rust,
};

/// The request bodies the emulator checks before decoding: the constant, the schema, and the
/// order the API's model declares the fields in (its `validation_errors` follow that order;
/// any other field of the schema follows, in name order).
const BODIES: &[(&str, &str, &[&str])] = &[
    (
        "CREATE_TRANSCRIPTION",
        "CreateTranscriptionPayload",
        &[
            "model",
            "audio_url",
            "file_id",
            "language_hints",
            "language_hints_strict",
            "enable_speaker_diarization",
            "enable_language_identification",
            "translation",
            "context",
            "webhook_url",
            "webhook_auth_header_name",
            "webhook_auth_header_value",
            "client_reference_id",
        ],
    ),
    (
        "TRANSLATION",
        "TranslationConfig",
        &["type", "target_language", "language_a", "language_b"],
    ),
    (
        "CREATE_TEMPORARY_KEY",
        "CreateTemporaryApiKeyPayload",
        &[
            "usage_type",
            "expires_in_seconds",
            "client_reference_id",
            "single_use",
            "max_session_duration_seconds",
        ],
    ),
];

/// Where the module goes.
const FOLDER: &str = "crates/soniox-emulator/src/api/generated";

/// Every path of the spec starts with this; the router sees what follows.
const PREFIX: &str = "/v1/";

/// The emulator's generated folder, from the snapshot's facts.
pub(crate) fn generate(facts: &Facts) -> Result<Folder, String> {
    let files = vec![
        ("bodies.rs".to_owned(), rust::file(&bodies(facts)?)?),
        (
            "mod.rs".to_owned(),
            rust::file(
                "//! What the emulator takes from Soniox's API specification, written by `cargo \
                 xtask codegen` from\n//! `spec/soniox-api.json`.\n\n\
                 pub(super) mod bodies;\npub(super) mod operations;\n",
            )?,
        ),
        ("operations.rs".to_owned(), rust::file(&operations(facts)?)?),
    ];
    Ok(Folder {
        path: FOLDER,
        files,
    })
}

fn bodies(facts: &Facts) -> Result<String, String> {
    let mut out = String::from(
        "//! The fields of each JSON request body, as `payload::decode` checks them.\n\n\
         use crate::api::payload::{Field, Kind};\n",
    );
    for (name, schema_name, order) in BODIES {
        let schema = facts.schema(schema_name)?;
        let required = facts.strings(&format!("schemas.{schema_name}.required"))?;
        let mut entries = Vec::new();
        for field in ordered_properties(schema_name, schema, order)? {
            let property = &schema["properties"][field];
            let kind =
                kind(facts, property).map_err(|why| format!("`{schema_name}.{field}`: {why}"))?;
            entries.push(format!(
                "({}, {kind}, {})",
                rust::string(field),
                required.contains(&field)
            ));
        }
        let _ = writeln!(
            out,
            "\n/// The fields of `{schema_name}`.\n\
             pub(in crate::api) const {name}: &[Field] = &[{}];",
            entries.join(", ")
        );
    }
    Ok(out)
}

/// The `Kind` a property's schema asks for.
fn kind(facts: &Facts, property: &Value) -> Result<String, String> {
    if let Some(reference) = property.get("$ref").and_then(Value::as_str) {
        let name = referenced(reference)?;
        let schema = facts.schema(name)?;
        if let Some(values) = schema.get("enum") {
            return choice(values);
        }
        return BODIES
            .iter()
            .find(|(_, schema_name, _)| *schema_name == name)
            .map(|(constant, _, _)| format!("Kind::Object({constant})"))
            .ok_or_else(|| format!("it is a `{name}`, which has no table in BODIES"));
    }
    if let Some(members) = property.get("anyOf").and_then(Value::as_array) {
        let object = |member: &Value| {
            member
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|reference| referenced(reference).ok())
                .and_then(|name| facts.schema(name).ok())
                .is_some_and(|schema: &Map<String, Value>| schema["type"] == "object")
        };
        let string = |member: &Value| member["type"] == "string" && member.get("enum").is_none();
        return match members.as_slice() {
            [a, b] if (object(a) && string(b)) || (string(a) && object(b)) => {
                Ok("Kind::StrOrObject".to_owned())
            }
            _ => Err("a union other than an object or a string".to_owned()),
        };
    }
    match property.get("type").and_then(Value::as_str) {
        Some("string") if property.get("enum").is_some() => choice(&property["enum"]),
        Some("string") => Ok("Kind::Str".to_owned()),
        Some("boolean") => Ok("Kind::Bool".to_owned()),
        Some("integer") => Ok("Kind::Int".to_owned()),
        Some("array") if property["items"]["type"] == "string" => Ok("Kind::StrList".to_owned()),
        other => Err(format!("a type the checks cannot express ({other:?})")),
    }
}

/// `Kind::Choice` of an `enum` list of strings.
fn choice(values: &Value) -> Result<String, String> {
    let values: Vec<String> = values
        .as_array()
        .and_then(|values| values.iter().map(Value::as_str).collect::<Option<Vec<_>>>())
        .ok_or("an enum of something other than strings")?
        .into_iter()
        .map(rust::string)
        .collect();
    Ok(format!("Kind::Choice(&[{}])", values.join(", ")))
}

/// `#/components/schemas/Name` → `Name`.
fn referenced(reference: &str) -> Result<&str, String> {
    reference
        .strip_prefix("#/components/schemas/")
        .ok_or_else(|| format!("a reference outside the schemas (`{reference}`)"))
}

/// One operation of the spec, as the router matches it.
struct Operation<'a> {
    method: &'a str,
    /// The path after [`PREFIX`], split at `/`; a parameter is `{name}`.
    segments: Vec<&'a str>,
    variant: String,
    key: &'a str,
}

impl Operation<'_> {
    /// The segments as a slice pattern, parameters bound by name (or ignored).
    fn pattern(&self, bind: bool) -> String {
        let parts: Vec<String> = self
            .segments
            .iter()
            .map(|segment| match parameter(segment) {
                Some(name) if bind => name.to_owned(),
                Some(_) => "_".to_owned(),
                None => rust::string(segment),
            })
            .collect();
        format!("[{}]", parts.join(", "))
    }

    fn parameters(&self) -> impl Iterator<Item = &str> {
        self.segments
            .iter()
            .filter_map(|segment| parameter(segment))
    }
}

fn parameter(segment: &str) -> Option<&str> {
    segment.strip_prefix('{')?.strip_suffix('}')
}

fn operations(facts: &Facts) -> Result<String, String> {
    let mut all = Vec::new();
    for (key, operation) in facts.operations()? {
        let (method, path) = key
            .split_once(' ')
            .ok_or_else(|| format!("operation `{key}` is not `METHOD /path`"))?;
        let rest = path
            .strip_prefix(PREFIX)
            .ok_or_else(|| format!("operation `{key}` is not under `{PREFIX}`"))?;
        let id = operation["operation_id"]
            .as_str()
            .ok_or_else(|| format!("operation `{key}` has no operation_id"))?;
        all.push(Operation {
            method,
            segments: rest.split('/').collect(),
            variant: rust::camel(id),
            key,
        });
    }
    // A fixed segment wins over a parameter in the same place (`files/count` before
    // `files/{file_id}`): match arms are tried in order.
    fn rank<'a>(operation: &Operation<'a>) -> Vec<(bool, &'a str)> {
        operation
            .segments
            .iter()
            .map(|segment| (parameter(segment).is_some(), *segment))
            .collect()
    }
    all.sort_by(|a, b| rank(a).cmp(&rank(b)).then(a.method.cmp(b.method)));

    let mut out = String::from(
        "//! Every operation of the API, and which one a request names.\n\n\
         use http::Method;\n\n\
         /// An operation of the API, with its path parameters.\n\
         #[derive(Clone, Copy, Debug, PartialEq, Eq)]\n\
         pub(in crate::api) enum Operation<'a> {\n",
    );
    for operation in &all {
        let parameters: Vec<String> = operation
            .parameters()
            .map(|name| format!("{name}: &'a str"))
            .collect();
        let fields = if parameters.is_empty() {
            String::new()
        } else {
            format!(" {{ {} }}", parameters.join(", "))
        };
        let _ = writeln!(
            out,
            "/// `{}`.\n{}{fields},",
            operation.key, operation.variant
        );
    }
    out.push_str(
        "}\n\n\
         /// Why no operation matches a request.\n\
         #[derive(Clone, Copy, Debug, PartialEq, Eq)]\n\
         pub(in crate::api) enum NoOperation {\n\
         /// No operation has the path.\n\
         NotFound,\n\
         /// The path is an operation's, the method is not.\n\
         MethodNotAllowed,\n\
         }\n\n\
         impl<'a> Operation<'a> {\n\
         /// The operation `method` names on the path whose segments after `/v1/` are\n\
         /// `segments`.\n\
         pub(in crate::api) fn find(\n\
         method: &Method,\n\
         segments: &[&'a str],\n\
         ) -> Result<Self, NoOperation> {\n\
         match (method.as_str(), segments) {\n",
    );
    for operation in &all {
        let fields: Vec<&str> = operation.parameters().collect();
        let value = if fields.is_empty() {
            format!("Self::{}", operation.variant)
        } else {
            format!("Self::{} {{ {} }}", operation.variant, fields.join(", "))
        };
        let _ = writeln!(
            out,
            "({}, &{}) => Ok({value}),",
            rust::string(operation.method),
            operation.pattern(true)
        );
    }
    // A set, not `dedup`: two operations of one path need not sit next to each other.
    let mut seen = std::collections::BTreeSet::new();
    let paths: Vec<String> = all
        .iter()
        .map(|operation| format!("&{}", operation.pattern(false)))
        .filter(|pattern| seen.insert(pattern.clone()))
        .collect();
    let _ = writeln!(
        out,
        "(_, {}) => Err(NoOperation::MethodNotAllowed),\n\
         _ => Err(NoOperation::NotFound),\n}}\n}}\n}}",
        paths.join(" | ")
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn facts(schemas: &Value) -> Facts {
        Facts::new(json!({"schemas": schemas, "operations": {}}), &[]).unwrap()
    }

    #[test]
    fn each_kind_of_property_is_recognised() {
        let facts = facts(&json!({
            "E": {"enum": ["a", "b"], "type": "string"},
            "TranslationConfig": {"type": "object", "properties": {}},
            "Other": {"type": "object", "properties": {}},
        }));
        let kind_of = |property: Value| kind(&facts, &property);
        assert_eq!(
            kind_of(json!({"type": "string", "format": "uuid"})).unwrap(),
            "Kind::Str"
        );
        assert_eq!(kind_of(json!({"type": "boolean"})).unwrap(), "Kind::Bool");
        assert_eq!(kind_of(json!({"type": "integer"})).unwrap(), "Kind::Int");
        assert_eq!(
            kind_of(json!({"type": "array", "items": {"type": "string"}})).unwrap(),
            "Kind::StrList"
        );
        assert_eq!(
            kind_of(json!({"$ref": "#/components/schemas/E"})).unwrap(),
            r#"Kind::Choice(&["a", "b"])"#
        );
        assert_eq!(
            kind_of(json!({"type": "string", "enum": ["x"]})).unwrap(),
            r#"Kind::Choice(&["x"])"#
        );
        assert_eq!(
            kind_of(json!({"$ref": "#/components/schemas/TranslationConfig"})).unwrap(),
            "Kind::Object(TRANSLATION)"
        );
        assert_eq!(
            kind_of(json!({"anyOf": [{"$ref": "#/components/schemas/Other"}, {"type": "string"}]}))
                .unwrap(),
            "Kind::StrOrObject"
        );
        let error = kind_of(json!({"$ref": "#/components/schemas/Other"})).unwrap_err();
        assert!(error.contains("no table"), "{error}");
        assert!(kind_of(json!({"type": "number"})).is_err());
        assert!(kind_of(json!({"type": "array", "items": {"type": "integer"}})).is_err());
    }

    #[test]
    fn fixed_segments_are_matched_before_parameters() {
        let facts = Facts::new(
            json!({"schemas": {}, "operations": {
                "GET /v1/files/{file_id}": {"operation_id": "get_file"},
                "GET /v1/files/count": {"operation_id": "get_files_count"},
                "DELETE /v1/files/{file_id}": {"operation_id": "delete_file"},
            }}),
            &[],
        )
        .unwrap();
        let text = operations(&facts).unwrap();
        let count = text.find(r#"("GET", &["files", "count"])"#).unwrap();
        let get = text.find(r#"("GET", &["files", file_id])"#).unwrap();
        assert!(count < get, "{text}");
        assert!(
            text.contains(r#"(_, &["files", "count"] | &["files", _])"#),
            "{text}"
        );
        let outside = Facts::new(
            json!({"schemas": {}, "operations": {"GET /v2/x": {"operation_id": "x"}}}),
            &[],
        )
        .unwrap();
        assert!(
            operations(&outside)
                .unwrap_err()
                .contains("not under `/v1/`")
        );
    }
}
