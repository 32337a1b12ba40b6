//! The figures a bench records: one JSON object per line, written by
//! `crates/soniox-emulator/benches/support/bench_report.rs`.
//!
//! ```text
//! {"name":"typed","value":512.3,"unit":"MB/s","baseline":{"name":"parse_only","value":600.1},"ratio":0.85,"target":{"at_least":0.8}}
//! {"name":"PostgreSQL","skipped":"SONIOX_TEST_POSTGRES_URL is not set"}
//! {"name":"Receiver + SqliteStore","failed":"a round failed"}
//! ```
//!
//! `value`, the baseline's `value` and `ratio` are `null` when they are not finite. A target
//! bounds the ratio when the figure has a baseline, else the value.

use serde_json::Value;

/// One line of a bench's figures.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Figure {
    pub(crate) name: String,
    pub(crate) outcome: Outcome,
}

/// What a bench said of one figure: measured, skipped or failed, with why.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Outcome {
    Measured(Measured),
    /// Not measured, and why: a missing tool or server.
    Skipped(String),
    /// Measuring failed, and how.
    Failed(String),
}

/// A measured value, with what it is compared against.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Measured {
    pub(crate) value: Option<f64>,
    pub(crate) unit: String,
    pub(crate) baseline: Option<Baseline>,
    pub(crate) target: Option<Target>,
}

/// The figure a measured value is compared with, measured in the same run.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Baseline {
    pub(crate) name: String,
    pub(crate) value: Option<f64>,
    /// The figure over the baseline, or what the bench computed instead (a median of
    /// per-round ratios).
    pub(crate) ratio: Option<f64>,
}

/// The bound a figure (or its ratio to its baseline) should keep.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Target {
    AtLeast(f64),
    AtMost(f64),
}

impl Measured {
    /// What the target bounds: the ratio when there is a baseline, else the value.
    pub(crate) fn judged(&self) -> Option<f64> {
        match &self.baseline {
            Some(baseline) => baseline.ratio,
            None => self.value,
        }
    }

    /// Whether the target is met; `None` without a target or a number to judge.
    pub(crate) fn met(&self) -> Option<bool> {
        let judged = self.judged()?;
        match self.target? {
            Target::AtLeast(bound) => Some(judged >= bound),
            Target::AtMost(bound) => Some(judged <= bound),
        }
    }
}

/// Every line of `text`; a line that cannot be read becomes a failed figure saying so, so
/// that nothing a bench wrote goes missing from the report.
pub(crate) fn parse(text: &str) -> Vec<Figure> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            parse_line(line).unwrap_or_else(|error| Figure {
                name: "(unreadable figure)".to_owned(),
                outcome: Outcome::Failed(format!("{error}: {line}")),
            })
        })
        .collect()
}

fn parse_line(line: &str) -> Result<Figure, String> {
    let object: Value = serde_json::from_str(line).map_err(|error| error.to_string())?;
    let name = text(&object, "name")?.ok_or("no `name`")?;
    let outcome = if let Some(why) = text(&object, "skipped")? {
        Outcome::Skipped(why)
    } else if let Some(why) = text(&object, "failed")? {
        Outcome::Failed(why)
    } else {
        Outcome::Measured(measured(&object)?)
    };
    Ok(Figure { name, outcome })
}

fn measured(object: &Value) -> Result<Measured, String> {
    let baseline = match object.get("baseline") {
        None | Some(Value::Null) => None,
        Some(baseline) => Some(Baseline {
            name: text(baseline, "name")?.ok_or("no `baseline.name`")?,
            value: number(baseline, "value")?,
            ratio: number(object, "ratio")?,
        }),
    };
    let target = match object.get("target") {
        None | Some(Value::Null) => None,
        Some(target) => Some(
            match (number(target, "at_least")?, number(target, "at_most")?) {
                (Some(bound), None) => Target::AtLeast(bound),
                (None, Some(bound)) => Target::AtMost(bound),
                _ => {
                    return Err("`target` needs exactly one of `at_least` and `at_most`".to_owned());
                }
            },
        ),
    };
    Ok(Measured {
        value: number(object, "value")?,
        unit: text(object, "unit")?.unwrap_or_default(),
        baseline,
        target,
    })
}

/// The string at `key`, if any.
fn text(object: &Value, key: &str) -> Result<Option<String>, String> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(other) => Err(format!("`{key}` is not a string: {other}")),
    }
}

/// The number at `key`, if any; `null` is a figure that was not finite.
fn number(object: &Value, key: &str) -> Result<Option<f64>, String> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value
            .as_f64()
            .map(Some)
            .ok_or_else(|| format!("`{key}` is not a number: {value}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(line: &str, expected: Outcome) {
        let outcomes: Vec<Outcome> = parse(line)
            .into_iter()
            .map(|figure| figure.outcome)
            .collect();
        assert_eq!(outcomes, [expected]);
    }

    fn failed(why: &str) -> Outcome {
        Outcome::Failed(why.to_owned())
    }

    #[test]
    fn reads_every_kind_of_line() {
        check(
            r#"{"name":"typed","value":512.5,"unit":"MB/s","baseline":{"name":"parse_only","value":600},"ratio":0.85,"target":{"at_least":0.8}}"#,
            Outcome::Measured(Measured {
                value: Some(512.5),
                unit: "MB/s".to_owned(),
                baseline: Some(Baseline {
                    name: "parse_only".to_owned(),
                    value: Some(600.0),
                    ratio: Some(0.85),
                }),
                target: Some(Target::AtLeast(0.8)),
            }),
        );
        check(
            r#"{"name":"cold start","value":12,"unit":"ms","target":{"at_most":20}}"#,
            Outcome::Measured(Measured {
                value: Some(12.0),
                unit: "ms".to_owned(),
                baseline: None,
                target: Some(Target::AtMost(20.0)),
            }),
        );
        check(
            r#"{"name":"ratio to nothing","value":3,"unit":"x","baseline":{"name":"zero","value":0},"ratio":null}"#,
            Outcome::Measured(Measured {
                value: Some(3.0),
                unit: "x".to_owned(),
                baseline: Some(Baseline {
                    name: "zero".to_owned(),
                    value: Some(0.0),
                    ratio: None,
                }),
                target: None,
            }),
        );
        check(
            r#"{"name":"PostgreSQL","skipped":"no server"}"#,
            Outcome::Skipped("no server".to_owned()),
        );
        check(
            r#"{"name":"Receiver","failed":"a round failed"}"#,
            failed("a round failed"),
        );
    }

    #[test]
    fn a_bad_line_is_a_failed_figure_not_a_missing_one() {
        check(
            "not json",
            failed("expected ident at line 1 column 2: not json"),
        );
        check(r#"{"value":1}"#, failed(r#"no `name`: {"value":1}"#));
        check(
            r#"{"name":"x","value":"fast"}"#,
            failed(r#"`value` is not a number: "fast": {"name":"x","value":"fast"}"#),
        );
        check(
            r#"{"name":"x","value":1,"baseline":{"value":2}}"#,
            failed(r#"no `baseline.name`: {"name":"x","value":1,"baseline":{"value":2}}"#),
        );
        check(
            r#"{"name":"x","value":1,"target":{"at_least":1,"at_most":2}}"#,
            failed(
                r#"`target` needs exactly one of `at_least` and `at_most`: {"name":"x","value":1,"target":{"at_least":1,"at_most":2}}"#,
            ),
        );
    }

    #[test]
    fn blank_lines_are_ignored_and_order_is_kept() {
        let figures =
            parse("{\"name\":\"a\",\"skipped\":\"x\"}\n\n{\"name\":\"b\",\"failed\":\"y\"}\n");
        let names: Vec<&str> = figures.iter().map(|figure| figure.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
    }

    #[test]
    fn a_target_bounds_the_ratio_when_there_is_a_baseline_else_the_value() {
        let measured = |value, ratio: Option<f64>, target| Measured {
            value: Some(value),
            unit: String::new(),
            baseline: ratio.map(|ratio| Baseline {
                name: "base".to_owned(),
                value: Some(1.0),
                ratio: Some(ratio),
            }),
            target: Some(target),
        };
        assert_eq!(measured(10.0, None, Target::AtMost(20.0)).met(), Some(true));
        assert_eq!(
            measured(30.0, None, Target::AtMost(20.0)).met(),
            Some(false)
        );
        assert_eq!(
            measured(1000.0, Some(0.9), Target::AtLeast(0.85)).met(),
            Some(true)
        );
        assert_eq!(
            measured(1000.0, Some(0.8), Target::AtLeast(0.85)).met(),
            Some(false)
        );
        let mut no_ratio = measured(1000.0, Some(0.8), Target::AtLeast(0.85));
        if let Some(baseline) = &mut no_ratio.baseline {
            baseline.ratio = None;
        }
        assert_eq!(no_ratio.met(), None);
    }
}
