//! The prose-free snapshot of an OpenAPI document: the facts the project relies on, in a
//! canonical form so that two snapshots compare key by key and a diff in review is the API
//! change.
//!
//! Kept: operations (method and path) with their parameters, request bodies and response
//! status codes, and every component schema with its properties, types, nullability,
//! `required`, enum values, limits, patterns, formats and defaults. Dropped: descriptions,
//! summaries, titles, tags and examples.

use serde_json::{Map, Value, json};

/// The HTTP methods an OpenAPI path item may hold, in a fixed order.
const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "patch", "head", "options", "trace",
];

/// Schema keywords that carry a fact the project relies on. Everything else (title,
/// description, example, examples, …) is prose and dropped.
const SCHEMA_FACTS: &[&str] = &[
    "$ref",
    "type",
    "format",
    "enum",
    "const",
    "default",
    "required",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "uniqueItems",
    "pattern",
    "nullable",
];

/// Builds the snapshot of an OpenAPI 3.x document.
///
/// # Errors
/// When the document lacks `paths` or holds something other than objects where OpenAPI
/// requires them.
pub(crate) fn of_document(document: &Value) -> Result<Value, String> {
    let paths = document
        .get("paths")
        .and_then(Value::as_object)
        .ok_or("the document has no `paths` object; is it an OpenAPI document?")?;
    let mut operations = Map::new();
    for (path, item) in paths {
        let item = item
            .as_object()
            .ok_or_else(|| format!("path `{path}` is not an object"))?;
        let shared = item.get("parameters");
        for method in METHODS {
            if let Some(operation) = item.get(*method) {
                let key = format!("{} {path}", method.to_uppercase());
                operations.insert(key.clone(), operation_facts(&key, operation, shared)?);
            }
        }
    }
    let mut schemas = Map::new();
    if let Some(components) = document
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    {
        for (name, schema) in components {
            schemas.insert(name.clone(), schema_facts(schema));
        }
    }
    let version = document.pointer("/info/version").cloned();
    Ok(canonical(&json!({
        "openapi": document.get("openapi").cloned().unwrap_or(Value::Null),
        "version": version.unwrap_or(Value::Null),
        "operations": operations,
        "schemas": schemas,
    })))
}

/// Renders a snapshot as the committed file: two-space indents, sorted keys, a final newline.
pub(crate) fn render(snapshot: &Value) -> String {
    let mut text = serde_json::to_string_pretty(&canonical(snapshot))
        .unwrap_or_else(|error| unreachable!("a JSON value always serializes: {error}"));
    text.push('\n');
    text
}

fn operation_facts(key: &str, operation: &Value, shared: Option<&Value>) -> Result<Value, String> {
    let mut parameters = Map::new();
    let own = operation.get("parameters");
    for list in [shared, own].into_iter().flatten() {
        let list = list
            .as_array()
            .ok_or_else(|| format!("`{key}`: `parameters` is not an array"))?;
        for parameter in list {
            let (Some(location), Some(name)) = (
                parameter.get("in").and_then(Value::as_str),
                parameter.get("name").and_then(Value::as_str),
            ) else {
                return Err(format!("`{key}`: a parameter lacks `in` or `name`"));
            };
            parameters.insert(
                format!("{location}:{name}"),
                json!({
                    "required": parameter.get("required").and_then(Value::as_bool).unwrap_or(false),
                    "schema": parameter.get("schema").map_or(Value::Null, schema_facts),
                }),
            );
        }
    }
    let mut facts = Map::new();
    if let Some(id) = operation.get("operationId") {
        facts.insert("operation_id".into(), id.clone());
    }
    facts.insert("parameters".into(), Value::Object(parameters));
    if let Some(body) = operation.get("requestBody") {
        facts.insert(
            "request_body".into(),
            json!({
                "required": body.get("required").and_then(Value::as_bool).unwrap_or(false),
                "content": content_facts(body.get("content")),
            }),
        );
    }
    let mut responses = Map::new();
    if let Some(all) = operation.get("responses").and_then(Value::as_object) {
        for (status, response) in all {
            responses.insert(status.clone(), content_facts(response.get("content")));
        }
    }
    facts.insert("responses".into(), Value::Object(responses));
    Ok(Value::Object(facts))
}

/// Media type → schema facts of a request body's or response's `content`.
fn content_facts(content: Option<&Value>) -> Value {
    let mut media = Map::new();
    if let Some(content) = content.and_then(Value::as_object) {
        for (media_type, entry) in content {
            media.insert(
                media_type.clone(),
                entry.get("schema").map_or(Value::Null, schema_facts),
            );
        }
    }
    Value::Object(media)
}

/// The facts of one schema, recursively, with nullability made explicit: `anyOf: [X, null]`
/// and `type: [X, "null"]` both become X with `nullable: true`, so a field that becomes
/// nullable shows as one changed key rather than a restructured tree.
pub(crate) fn schema_facts(schema: &Value) -> Value {
    let Some(object) = schema.as_object() else {
        return schema.clone();
    };
    let mut facts = Map::new();
    for (key, value) in object {
        match key.as_str() {
            "properties" | "patternProperties" => {
                let properties = value
                    .as_object()
                    .map(|all| {
                        all.iter()
                            .map(|(name, schema)| (name.clone(), schema_facts(schema)))
                            .collect::<Map<_, _>>()
                    })
                    .unwrap_or_default();
                facts.insert(key.clone(), Value::Object(properties));
            }
            "items" | "additionalProperties" | "not" => {
                facts.insert(key.clone(), schema_facts(value));
            }
            "anyOf" | "oneOf" | "allOf" | "prefixItems" => {
                let members = value.as_array().map(Vec::as_slice).unwrap_or_default();
                facts.insert(
                    key.clone(),
                    Value::Array(members.iter().map(schema_facts).collect()),
                );
            }
            fact if SCHEMA_FACTS.contains(&fact) => {
                facts.insert(key.clone(), value.clone());
            }
            _ => {}
        }
    }
    make_nullability_explicit(&mut facts);
    Value::Object(facts)
}

fn make_nullability_explicit(facts: &mut Map<String, Value>) {
    if let Some(Value::Array(types)) = facts.get_mut("type") {
        let before = types.len();
        types.retain(|kind| kind != "null");
        if types.len() < before {
            if let [only] = types.as_slice() {
                let only = only.clone();
                facts.insert("type".into(), only);
            }
            facts.insert("nullable".into(), Value::Bool(true));
        }
    }
    for combinator in ["anyOf", "oneOf"] {
        let Some(Value::Array(members)) = facts.get_mut(combinator) else {
            continue;
        };
        let before = members.len();
        members.retain(|member| member.get("type").is_none_or(|kind| kind != "null"));
        if members.len() == before {
            continue;
        }
        facts.insert("nullable".into(), Value::Bool(true));
        if let Some(Value::Array(members)) = facts.get(combinator)
            && let [Value::Object(only)] = members.as_slice()
        {
            let only = only.clone();
            facts.remove(combinator);
            for (key, value) in only {
                facts.entry(key).or_insert(value);
            }
        }
    }
}

/// The value with every object's keys in sorted order, whatever map type serde_json was
/// built with (a `preserve_order` feature elsewhere in the workspace would otherwise keep the
/// document's order and make the snapshot depend on it).
fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(object) => {
            let mut keys: Vec<&String> = object.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|key| (key.clone(), canonical(&object[key])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prose_is_dropped_and_nullability_is_explicit() {
        let schema = json!({
            "title": "Cursor",
            "description": "Pagination cursor.",
            "example": "abc",
            "anyOf": [{"type": "string", "maxLength": 10}, {"type": "null"}],
        });
        assert_eq!(
            schema_facts(&schema),
            json!({"type": "string", "maxLength": 10, "nullable": true})
        );
    }

    #[test]
    fn a_union_with_null_keeps_its_other_members() {
        let schema = json!({"anyOf": [{"$ref": "#/x"}, {"type": "string"}, {"type": "null"}]});
        assert_eq!(
            schema_facts(&schema),
            json!({"anyOf": [{"$ref": "#/x"}, {"type": "string"}], "nullable": true})
        );
        let listed = json!({"type": ["integer", "null"], "minimum": 0});
        assert_eq!(
            schema_facts(&listed),
            json!({"type": "integer", "minimum": 0, "nullable": true})
        );
    }

    #[test]
    fn a_property_named_like_a_prose_keyword_is_kept() {
        let schema = json!({"type": "object", "properties": {"description": {"type": "string"}}});
        assert_eq!(schema_facts(&schema), schema);
    }

    #[test]
    fn the_rendering_does_not_depend_on_key_order() {
        let a: Value = serde_json::from_str(
            r#"{"paths": {"/b": {"get": {"responses": {"200": {}}}}, "/a": {"post": {}}}}"#,
        )
        .unwrap();
        let b: Value = serde_json::from_str(
            r#"{"paths": {"/a": {"post": {}}, "/b": {"get": {"responses": {"200": {}}}}}}"#,
        )
        .unwrap();
        let (a, b) = (of_document(&a).unwrap(), of_document(&b).unwrap());
        assert_eq!(render(&a), render(&b));
        assert!(render(&a).find("GET /b").unwrap() < render(&a).find("POST /a").unwrap());
    }

    #[test]
    fn a_document_without_paths_is_an_error() {
        let error = of_document(&json!({"openapi": "3.1.0"})).unwrap_err();
        assert!(error.contains("paths"), "{error}");
    }
}
