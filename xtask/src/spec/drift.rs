//! Comparing two snapshots: every operation, schema, field, parameter or status code on one
//! side only, and every changed type, nullability, limit, enum, pattern or `required` list,
//! each explained or not by the checked-in deviation list.

use std::fmt;

use serde_json::Value;

/// What a difference is about, named for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    Operation,
    Schema,
    Field,
    Parameter,
    Status,
    MediaType,
    Type,
    Nullability,
    Required,
    Limit,
    Enum,
    Pattern,
    Default,
    Other,
}

impl Kind {
    /// The kind of an entry named `key` inside the object named `parent`.
    fn of_entry(parent: Option<&str>, key: &str) -> Self {
        match parent {
            Some("operations") => return Self::Operation,
            Some("schemas") => return Self::Schema,
            Some("properties") => return Self::Field,
            Some("parameters") => return Self::Parameter,
            Some("responses") => return Self::Status,
            Some("content") => return Self::MediaType,
            _ => {}
        }
        match key {
            "type" | "format" | "$ref" | "anyOf" | "oneOf" | "allOf" | "items" | "const" => {
                Self::Type
            }
            "nullable" => Self::Nullability,
            "required" => Self::Required,
            "minimum" | "maximum" | "exclusiveMinimum" | "exclusiveMaximum" | "minLength"
            | "maxLength" | "minItems" | "maxItems" | "uniqueItems" => Self::Limit,
            "enum" => Self::Enum,
            "pattern" => Self::Pattern,
            "default" => Self::Default,
            _ => Self::Other,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Operation => "operation",
            Self::Schema => "schema",
            Self::Field => "field",
            Self::Parameter => "parameter",
            Self::Status => "status code",
            Self::MediaType => "media type",
            Self::Type => "type",
            Self::Nullability => "nullability",
            Self::Required => "required",
            Self::Limit => "limit",
            Self::Enum => "enum",
            Self::Pattern => "pattern",
            Self::Default => "default",
            Self::Other => "other",
        }
    }
}

/// One difference between the committed snapshot and a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    pub(crate) kind: Kind,
    /// Where, e.g. `schemas.File.properties.size.maximum`.
    pub(crate) location: String,
    /// What changed, e.g. `only in the document` or `100 → 200`.
    pub(crate) detail: String,
}

/// A known, accepted difference between the spec and the project, with its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Deviation {
    /// The location it explains, and everything below it.
    pub(crate) location: String,
    pub(crate) reason: String,
    /// What the project holds at the location instead of the spec's value, when the
    /// difference changes a fact `cargo xtask codegen` generates from (a field the spec
    /// lacks, values of a plain string); `None` when the code only reads the spec differently.
    pub(crate) fact: Option<Value>,
}

impl Deviation {
    /// Reads `{"deviations": [{"location": …, "reason": …, "fact": …}, …]}` (`fact`
    /// optional).
    ///
    /// # Errors
    /// When an entry lacks its location or its reason: a deviation without a reason is not
    /// explained.
    pub(crate) fn read_list(list: &Value) -> Result<Vec<Self>, String> {
        let entries = list
            .get("deviations")
            .and_then(Value::as_array)
            .ok_or("the deviation list has no `deviations` array")?;
        entries
            .iter()
            .enumerate()
            .map(|(index, entry)| {
                let text = |key: &str| {
                    entry
                        .get(key)
                        .and_then(Value::as_str)
                        .filter(|text| !text.trim().is_empty())
                        .map(str::to_owned)
                        .ok_or_else(|| format!("deviation #{index} has no `{key}`"))
                };
                Ok(Self {
                    location: text("location")?,
                    reason: text("reason")?,
                    fact: entry.get("fact").cloned(),
                })
            })
            .collect()
    }

    fn explains(&self, finding: &Finding) -> bool {
        finding
            .location
            .strip_prefix(&self.location)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
    }
}

/// Every difference from `committed` to `document`, in location order.
pub(crate) fn findings(committed: &Value, document: &Value) -> Vec<Finding> {
    let mut found = Vec::new();
    compare(&mut found, &mut Vec::new(), committed, document);
    found.sort_by(|a, b| a.location.cmp(&b.location));
    found
}

fn compare(found: &mut Vec<Finding>, path: &mut Vec<String>, old: &Value, new: &Value) {
    match (old, new) {
        (Value::Object(old), Value::Object(new)) => {
            let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let parent = path.last().map(String::as_str);
                let kind = Kind::of_entry(parent, key);
                match (old.get(key), new.get(key)) {
                    (Some(old), Some(new)) => {
                        path.push(key.clone());
                        compare(found, path, old, new);
                        path.pop();
                    }
                    (Some(old), None) => found.push(Finding {
                        kind,
                        location: location(path, key),
                        detail: format!("only in the snapshot ({})", brief(old)),
                    }),
                    (None, Some(new)) => found.push(Finding {
                        kind,
                        location: location(path, key),
                        detail: format!("only in the document ({})", brief(new)),
                    }),
                    (None, None) => {}
                }
            }
        }
        (Value::Array(old_items), Value::Array(new_items))
            if old_items.len() == new_items.len()
                && old_items.iter().chain(new_items).any(Value::is_object) =>
        {
            for (index, (old, new)) in old_items.iter().zip(new_items).enumerate() {
                path.push(format!("[{index}]"));
                compare(found, path, old, new);
                path.pop();
            }
        }
        _ if old != new => {
            let (parent, key) = match path.as_slice() {
                [.., parent, key] => (Some(parent.as_str()), key.as_str()),
                [key] => (None, key.as_str()),
                [] => (None, ""),
            };
            let kind = Kind::of_entry(parent, key);
            let key = path.pop().unwrap_or_default();
            let at = location(path, &key);
            path.push(key);
            found.push(Finding {
                kind,
                location: at,
                detail: changed(old, new),
            });
        }
        _ => {}
    }
}

/// `operations[GET /v1/files].responses.200`: keys that are not plain words in brackets.
pub(crate) fn location(path: &[String], key: &str) -> String {
    let mut text = String::new();
    for segment in path.iter().map(String::as_str).chain([key]) {
        let plain = segment
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | ':' | '-'));
        if segment.starts_with('[') {
            text.push_str(segment);
        } else if plain {
            if !text.is_empty() {
                text.push('.');
            }
            text.push_str(segment);
        } else {
            text.push('[');
            text.push_str(segment);
            text.push(']');
        }
    }
    text
}

/// The keys of a location written by [`location`]: `operations[GET /v1/files].responses.200`
/// → `operations`, `GET /v1/files`, `responses`, `200`.
pub(crate) fn segments(location: &str) -> Vec<String> {
    let mut segments = Vec::new();
    let mut rest = location;
    while !rest.is_empty() {
        rest = rest.strip_prefix('.').unwrap_or(rest);
        let (segment, after) = match rest.strip_prefix('[') {
            Some(inner) => inner.split_once(']').unwrap_or((inner, "")),
            None => rest.split_at(rest.find(['.', '[']).unwrap_or(rest.len())),
        };
        segments.push(segment.to_owned());
        rest = after;
    }
    segments
}

/// `old → new`, or for two lists of values (enums, `required`) the values added and removed.
fn changed(old: &Value, new: &Value) -> String {
    if let (Value::Array(old), Value::Array(new)) = (old, new) {
        let added: Vec<String> = new.iter().filter(|v| !old.contains(v)).map(brief).collect();
        let removed: Vec<String> = old.iter().filter(|v| !new.contains(v)).map(brief).collect();
        let mut parts = Vec::new();
        if !added.is_empty() {
            parts.push(format!("added {}", added.join(", ")));
        }
        if !removed.is_empty() {
            parts.push(format!("removed {}", removed.join(", ")));
        }
        if !parts.is_empty() {
            return parts.join("; ");
        }
    }
    format!("{} → {}", brief(old), brief(new))
}

/// A one-line rendering of a value, shortened when long.
fn brief(value: &Value) -> String {
    const MAX: usize = 60;
    let text = value.to_string();
    if text.chars().count() <= MAX {
        text
    } else {
        let short: String = text.chars().take(MAX).collect();
        format!("{short}…")
    }
}

/// The findings, split into those the deviation list explains and the rest.
pub(crate) struct Report<'a> {
    explained: Vec<(Finding, &'a Deviation)>,
    unexplained: Vec<Finding>,
}

impl<'a> Report<'a> {
    pub(crate) fn new(mut found: Vec<Finding>, deviations: &'a [Deviation]) -> Self {
        // Stable, so the snapshot's finding at a location comes before the code's.
        found.sort_by(|a, b| a.location.cmp(&b.location));
        let mut explained = Vec::new();
        let mut unexplained = Vec::new();
        for finding in found {
            match deviations.iter().find(|known| known.explains(&finding)) {
                Some(known) => explained.push((finding, known)),
                None => unexplained.push(finding),
            }
        }
        Self {
            explained,
            unexplained,
        }
    }

    /// How many findings no deviation explains; the command fails when this is not zero.
    pub(crate) fn unexplained(&self) -> usize {
        self.unexplained.len()
    }

    #[cfg(test)]
    pub(crate) fn explained(&self) -> usize {
        self.explained.len()
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.unexplained.is_empty() && self.explained.is_empty() {
            return writeln!(f, "spec-drift: no differences");
        }
        if !self.unexplained.is_empty() {
            writeln!(f, "Unexplained differences ({}):", self.unexplained.len())?;
            for finding in &self.unexplained {
                writeln!(
                    f,
                    "  [{}] {}: {}",
                    finding.kind.name(),
                    finding.location,
                    finding.detail
                )?;
            }
        }
        if !self.explained.is_empty() {
            writeln!(
                f,
                "Explained by the deviation list ({}):",
                self.explained.len()
            )?;
            for (finding, known) in &self.explained {
                writeln!(
                    f,
                    "  [{}] {}: {}\n      because: {}",
                    finding.kind.name(),
                    finding.location,
                    finding.detail,
                    known.reason
                )?;
            }
        }
        writeln!(
            f,
            "spec-drift: {} unexplained, {} explained",
            self.unexplained.len(),
            self.explained.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use serde_json::json;

    use super::*;
    use crate::spec::snapshot;

    fn fixture(name: &str) -> Value {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/spec")
            .join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    fn snapshot_of(name: &str) -> Value {
        snapshot::of_document(&fixture(name)).unwrap()
    }

    fn summary(found: &[Finding]) -> Vec<(Kind, &str, &str)> {
        found
            .iter()
            .map(|f| (f.kind, f.location.as_str(), f.detail.as_str()))
            .collect()
    }

    #[test]
    fn a_document_matches_its_own_snapshot() {
        let base = snapshot_of("base.json");
        assert!(findings(&base, &base).is_empty());
    }

    #[test]
    fn each_kind_of_change_is_reported() {
        let found = findings(&snapshot_of("base.json"), &snapshot_of("newer.json"));
        assert_eq!(
            summary(&found),
            [
                (
                    Kind::Operation,
                    "operations[DELETE /v1/files/{file_id}]",
                    r#"only in the document ({"operation_id":"delete_file","parameters":{"path:file_id":{…)"#
                ),
                (
                    Kind::Status,
                    "operations[GET /v1/files].responses.404",
                    "only in the snapshot ({})"
                ),
                (
                    Kind::Limit,
                    "schemas.File.properties.filename.maxLength",
                    "256 → 512"
                ),
                (
                    Kind::Field,
                    "schemas.File.properties.size",
                    r#"only in the snapshot ({"minimum":0,"type":"integer"})"#
                ),
                (Kind::Required, "schemas.File.required", r#"removed "size""#),
                (Kind::Enum, "schemas.Status.enum", r#"added "cancelled""#),
                (
                    Kind::Nullability,
                    "schemas.Status.nullable",
                    "only in the document (true)"
                ),
                (
                    Kind::Type,
                    "schemas.Token.properties.start_ms.type",
                    r#""integer" → "number""#
                ),
            ]
        );
    }

    #[test]
    fn a_listed_deviation_explains_its_location_and_below() {
        let deviations = Deviation::read_list(&fixture("deviations.json")).unwrap();
        let found = findings(&snapshot_of("base.json"), &snapshot_of("newer.json"));
        let report = Report::new(found, &deviations);
        assert_eq!((report.explained(), report.unexplained()), (2, 6));
        let text = report.to_string();
        assert!(text.contains("Unexplained differences (6):"), "{text}");
        assert!(
            text.contains("[limit] schemas.File.properties.filename.maxLength: 256 → 512"),
            "{text}"
        );
        assert!(text.contains("because: "), "{text}");
        assert!(
            text.ends_with("spec-drift: 6 unexplained, 2 explained\n"),
            "{text}"
        );
    }

    #[test]
    fn a_location_prefix_explains_only_whole_segments() {
        let known = Deviation {
            location: "schemas.File".into(),
            reason: "r".into(),
            fact: None,
        };
        let at = |location: &str| Finding {
            kind: Kind::Other,
            location: location.into(),
            detail: String::new(),
        };
        assert!(known.explains(&at("schemas.File")));
        assert!(known.explains(&at("schemas.File.properties.size")));
        assert!(!known.explains(&at("schemas.FileList")));
    }

    #[test]
    fn a_location_splits_back_into_its_keys() {
        for keys in [
            &["operations", "GET /v1/files", "responses", "200"][..],
            &["schemas", "File", "properties", "size", "maximum"],
            &[
                "operations",
                "GET /v1/files",
                "parameters",
                "query:limit",
                "schema",
            ],
        ] {
            let keys: Vec<String> = keys.iter().map(|key| (*key).to_owned()).collect();
            let (last, parent) = keys.split_last().unwrap();
            assert_eq!(segments(&location(parent, last)), keys);
        }
    }

    #[test]
    fn a_deviation_without_a_reason_is_rejected() {
        let error = Deviation::read_list(&json!({"deviations": [{"location": "schemas.File"}]}))
            .unwrap_err();
        assert!(error.contains("reason"), "{error}");
        let error =
            Deviation::read_list(&json!({"deviations": [{"location": "x", "reason": " "}]}))
                .unwrap_err();
        assert!(error.contains("reason"), "{error}");
        assert!(Deviation::read_list(&json!([])).is_err());
    }
}
