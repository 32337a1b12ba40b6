//! What the generators read: the committed snapshot with every deviation's `fact` put in
//! place, looked up by the locations spec-drift prints.

use std::path::Path;

use serde_json::{Map, Value};

use crate::spec::{
    DEVIATIONS, SNAPSHOT,
    drift::{Deviation, segments},
    read_json,
};

/// The snapshot as the project follows it.
pub(crate) struct Facts {
    snapshot: Value,
}

impl Facts {
    /// Reads the snapshot and the deviation list under `root`.
    pub(crate) fn read(root: &Path) -> Result<Self, String> {
        let snapshot = read_json(&root.join(SNAPSHOT))?;
        let deviations = Deviation::read_list(&read_json(&root.join(DEVIATIONS))?)?;
        Self::new(snapshot, &deviations)
    }

    /// `snapshot` with each deviation's fact written at its location (replacing what the spec
    /// says there, or adding what it lacks).
    pub(crate) fn new(mut snapshot: Value, deviations: &[Deviation]) -> Result<Self, String> {
        for deviation in deviations {
            let Some(fact) = &deviation.fact else {
                continue;
            };
            let keys = segments(&deviation.location);
            let (last, parents) = keys
                .split_last()
                .ok_or_else(|| format!("deviation `{}` has no location", deviation.location))?;
            let mut at = &mut snapshot;
            for key in parents {
                at = at.get_mut(key.as_str()).ok_or_else(|| {
                    format!(
                        "deviation `{}`: the snapshot has no `{key}` there",
                        deviation.location
                    )
                })?;
            }
            let Value::Object(parent) = at else {
                return Err(format!(
                    "deviation `{}`: its parent is not an object",
                    deviation.location
                ));
            };
            parent.insert(last.clone(), fact.clone());
        }
        Ok(Self { snapshot })
    }

    /// The value at `location`.
    pub(crate) fn at(&self, location: &str) -> Result<&Value, String> {
        segments(location)
            .iter()
            .try_fold(&self.snapshot, |value, key| value.get(key.as_str()))
            .ok_or_else(|| format!("{SNAPSHOT} has nothing at `{location}`"))
    }

    /// The whole number at `location`.
    pub(crate) fn number(&self, location: &str) -> Result<u64, String> {
        self.at(location)?
            .as_u64()
            .ok_or_else(|| format!("`{location}` is not a whole number"))
    }

    /// The strings of the list at `location`, in the spec's order.
    pub(crate) fn strings(&self, location: &str) -> Result<Vec<&str>, String> {
        self.at(location)?
            .as_array()
            .and_then(|items| items.iter().map(Value::as_str).collect())
            .ok_or_else(|| format!("`{location}` is not a list of strings"))
    }

    /// The schema named `name`.
    pub(crate) fn schema(&self, name: &str) -> Result<&Map<String, Value>, String> {
        self.at(&format!("schemas.{name}"))?
            .as_object()
            .ok_or_else(|| format!("schema `{name}` is not an object"))
    }

    /// The operations, keyed `METHOD /path`.
    pub(crate) fn operations(&self) -> Result<&Map<String, Value>, String> {
        self.at("operations")?
            .as_object()
            .ok_or_else(|| "`operations` is not an object".to_owned())
    }
}

/// The property names of an object schema, in the order `preferred` gives them, then the rest
/// in name order: the spec's own order is lost in the snapshot (its keys are sorted), and the
/// order is the consumer's choice (the order the API writes or checks the fields).
///
/// # Errors
/// When `preferred` names a property the schema does not have: the table must follow the spec.
pub(crate) fn ordered_properties<'a>(
    schema_name: &str,
    schema: &'a Map<String, Value>,
    preferred: &[&str],
) -> Result<Vec<&'a str>, String> {
    let properties = schema
        .get("properties")
        .and_then(Value::as_object)
        .ok_or_else(|| format!("schema `{schema_name}` has no properties"))?;
    let mut names = Vec::new();
    for field in preferred {
        let (name, _) = properties.get_key_value(*field).ok_or_else(|| {
            format!(
                "schema `{schema_name}` has no property `{field}` any more; remove it from the \
                 codegen table"
            )
        })?;
        names.push(name.as_str());
    }
    let mut rest: Vec<&str> = properties
        .keys()
        .map(String::as_str)
        .filter(|name| !preferred.contains(name))
        .collect();
    rest.sort_unstable();
    names.extend(rest);
    Ok(names)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn deviation(location: &str, fact: Option<Value>) -> Deviation {
        Deviation {
            location: location.into(),
            reason: "r".into(),
            fact,
        }
    }

    #[test]
    fn a_deviation_fact_replaces_or_adds_and_others_change_nothing() {
        let snapshot = json!({"schemas": {"S": {"properties": {"a": {"type": "string"}}}}});
        let facts = Facts::new(
            snapshot,
            &[
                deviation("schemas.S.properties.b", Some(json!({"type": "integer"}))),
                deviation("schemas.S.properties.a.enum", Some(json!(["x", "y"]))),
                deviation("schemas.S.required", None),
            ],
        )
        .unwrap();
        assert_eq!(
            facts.at("schemas.S.properties").unwrap(),
            &json!({"a": {"type": "string", "enum": ["x", "y"]}, "b": {"type": "integer"}})
        );
        assert_eq!(
            facts.strings("schemas.S.properties.a.enum").unwrap(),
            ["x", "y"]
        );
        let error = Facts::new(
            json!({}),
            &[deviation("schemas.Gone.properties.b", Some(json!(1)))],
        )
        .err()
        .unwrap();
        assert!(error.contains("no `schemas`"), "{error}");
    }

    #[test]
    fn properties_follow_the_preferred_order_then_their_names() {
        let schema = json!({"properties": {"d": {}, "c": {}, "b": {}, "a": {}}});
        let schema = schema.as_object().unwrap();
        assert_eq!(
            ordered_properties("S", schema, &["c", "a"]).unwrap(),
            ["c", "a", "b", "d"]
        );
        let error = ordered_properties("S", schema, &["gone"]).unwrap_err();
        assert!(error.contains("no property `gone`"), "{error}");
    }
}
