//! The report of a run: what it ran on, then one markdown table of every figure.

use std::{fmt::Write as _, time::Duration};

use super::{
    figures::{Figure, Measured, Outcome, Target},
    machine::Machine,
};

/// A figure and the bench (`package/bench`) that recorded it.
pub(crate) struct Row {
    pub(crate) bench: String,
    pub(crate) figure: Figure,
}

/// Everything the report shows.
pub(crate) struct Report<'a> {
    pub(crate) quick: bool,
    pub(crate) machine: &'a Machine,
    /// How long building the benches took.
    pub(crate) build: Duration,
    /// How long running them took.
    pub(crate) run: Duration,
    pub(crate) rows: &'a [Row],
}

/// The report as markdown: the machine, then one table row per figure.
pub(crate) fn render(report: &Report<'_>) -> String {
    let machine = report.machine;
    let mode = if report.quick {
        "quick (`cargo xtask bench --quick`: shorter rounds, fewer samples and jobs)"
    } else {
        "full (`cargo xtask bench`)"
    };
    let mut out = String::from("# Benchmarks\n\n");
    for (label, value) in [
        ("Run", mode),
        ("Date", &machine.date),
        ("Commit", &machine.commit),
        ("CPU", &format!("{}, {} cores", machine.cpu, machine.cores)),
        ("Memory", &machine.memory),
        ("Kernel", &machine.kernel),
        ("Compiler", &machine.rustc),
        ("Load average at the start", &machine.load),
        (
            "Time",
            &format!(
                "{} to build, {} to run",
                duration(report.build),
                duration(report.run)
            ),
        ),
    ] {
        let _ = writeln!(out, "- {label}: {value}");
    }
    out.push_str(
        "\n| Bench | Figure | Value | Baseline | Ratio | Target |\n\
         |---|---|---|---|---|---|\n",
    );
    for row in report.rows {
        let cells = match &row.figure.outcome {
            Outcome::Measured(measured) => measured_cells(measured),
            Outcome::Skipped(why) => [
                format!("skipped: {why}"),
                String::new(),
                String::new(),
                String::new(),
            ],
            Outcome::Failed(why) => [
                format!("**FAILED**: {why}"),
                String::new(),
                String::new(),
                String::new(),
            ],
        };
        let _ = write!(out, "| {} | {} |", cell(&row.bench), cell(&row.figure.name));
        for text in cells {
            let _ = write!(out, " {} |", cell(&text));
        }
        out.push('\n');
    }
    out.push_str(
        "\nRatio: the figure over its baseline, both measured in the same run (where a bench \
         alternates rounds, the median of the per-round ratios). A target bounds the ratio \
         where there is one, else the figure.\n",
    );
    out
}

/// The value, baseline, ratio and target cells of a measured figure.
fn measured_cells(measured: &Measured) -> [String; 4] {
    let unit = &measured.unit;
    let (baseline, ratio) = match &measured.baseline {
        Some(baseline) => (
            format!("{}: {}", baseline.name, quantity(baseline.value, unit)),
            baseline
                .ratio
                .map_or_else(|| "n/a".to_owned(), |ratio| format!("{ratio:.2}")),
        ),
        None => (String::new(), String::new()),
    };
    let target = match measured.target {
        None => String::new(),
        Some(target) => {
            let (sign, bound) = match target {
                Target::AtLeast(bound) => ("≥", bound),
                Target::AtMost(bound) => ("≤", bound),
            };
            // A bound on the value is in its unit; a bound on a ratio has none.
            let bound = if measured.baseline.is_some() {
                format!("{bound}")
            } else {
                format!("{bound} {unit}").trim_end().to_owned()
            };
            let verdict = match measured.met() {
                Some(true) => "met",
                Some(false) => "**MISSED**",
                None => "n/a",
            };
            format!("{sign} {bound}: {verdict}")
        }
    };
    [quantity(measured.value, unit), baseline, ratio, target]
}

/// A value with its unit, to about three significant digits.
fn quantity(value: Option<f64>, unit: &str) -> String {
    let Some(value) = value else {
        return "n/a".to_owned();
    };
    let magnitude = value.abs();
    let decimals = if magnitude >= 100.0 || magnitude == 0.0 {
        0
    } else {
        // 2 for 1.23, 3 for 0.123, 4 for 0.0123 ...; at most 9.
        (2 - magnitude.log10().floor() as i32).clamp(1, 9) as usize
    };
    format!("{value:.decimals$} {unit}").trim_end().to_owned()
}

/// `3 min 12 s`, or `45 s` under a minute.
fn duration(duration: Duration) -> String {
    let seconds = duration.as_secs_f64().round() as u64;
    if seconds < 60 {
        format!("{seconds} s")
    } else {
        format!("{} min {} s", seconds / 60, seconds % 60)
    }
}

/// `text` as one table cell: a `|` would end it and a line break would end the row.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::figures::{self, Baseline};

    fn machine() -> Machine {
        Machine {
            cpu: "AMD EPYC 7B13".to_owned(),
            cores: "2".to_owned(),
            memory: "7.7 GiB".to_owned(),
            kernel: "6.1.0-28-cloud-amd64".to_owned(),
            rustc: "rustc 1.91.0 (f8297e351 2025-10-28)".to_owned(),
            date: "2026-12-01 05:10 UTC".to_owned(),
            commit: "c2b3048 with uncommitted changes".to_owned(),
            load: "6.49 3.00 1.35".to_owned(),
        }
    }

    fn rows(bench: &str, lines: &str) -> Vec<Row> {
        figures::parse(lines)
            .into_iter()
            .map(|figure| Row {
                bench: bench.to_owned(),
                figure,
            })
            .collect()
    }

    #[test]
    fn renders_machine_and_one_table() {
        let mut all = rows(
            "soniox-types/transcript_decode",
            r#"{"name":"typed","value":512.345,"unit":"MB/s","baseline":{"name":"parse_only","value":600.1},"ratio":0.8537,"target":{"at_least":0.8}}
{"name":"naive","value":95.25,"unit":"MB/s","baseline":{"name":"typed","value":512.345},"ratio":0.1859}"#,
        );
        all.extend(rows(
            "soniox-cli/cli",
            r#"{"name":"cold start | median","value":23.4,"unit":"ms","target":{"at_most":20}}
{"name":"webhook listen","skipped":"`wrk` is not installed"}
{"name":"held rounds","value":0.00123,"unit":"","baseline":{"name":"zero","value":0},"ratio":null,"target":{"at_least":1}}"#,
        ));
        all.push(Row {
            bench: "soniox-store/receiver_load".to_owned(),
            figure: Figure {
                name: "(the bench)".to_owned(),
                outcome: Outcome::Failed("exit status: 1\nsee above".to_owned()),
            },
        });
        let rendered = render(&Report {
            quick: true,
            machine: &machine(),
            build: Duration::from_secs(305),
            run: Duration::from_millis(44_600),
            rows: &all,
        });
        assert_eq!(
            rendered,
            "# Benchmarks

- Run: quick (`cargo xtask bench --quick`: shorter rounds, fewer samples and jobs)
- Date: 2026-12-01 05:10 UTC
- Commit: c2b3048 with uncommitted changes
- CPU: AMD EPYC 7B13, 2 cores
- Memory: 7.7 GiB
- Kernel: 6.1.0-28-cloud-amd64
- Compiler: rustc 1.91.0 (f8297e351 2025-10-28)
- Load average at the start: 6.49 3.00 1.35
- Time: 5 min 5 s to build, 45 s to run

| Bench | Figure | Value | Baseline | Ratio | Target |
|---|---|---|---|---|---|
| soniox-types/transcript_decode | typed | 512 MB/s | parse_only: 600 MB/s | 0.85 | ≥ 0.8: met |
| soniox-types/transcript_decode | naive | 95.2 MB/s | typed: 512 MB/s | 0.19 |  |
| soniox-cli/cli | cold start \\| median | 23.4 ms |  |  | ≤ 20 ms: **MISSED** |
| soniox-cli/cli | webhook listen | skipped: `wrk` is not installed |  |  |  |
| soniox-cli/cli | held rounds | 0.00123 | zero: 0 | n/a | ≥ 1: n/a |
| soniox-store/receiver_load | (the bench) | **FAILED**: exit status: 1 see above |  |  |  |

Ratio: the figure over its baseline, both measured in the same run (where a bench alternates \
rounds, the median of the per-round ratios). A target bounds the ratio where there is one, else \
the figure.
"
        );
    }

    #[test]
    fn quantities_keep_about_three_significant_digits() {
        for (value, expected) in [
            (Some(123_456.7), "123457 req/s"),
            (Some(100.0), "100 req/s"),
            (Some(99.96), "100.0 req/s"),
            (Some(12.34), "12.3 req/s"),
            (Some(1.234), "1.23 req/s"),
            (Some(0.1234), "0.123 req/s"),
            (Some(0.001_234), "0.00123 req/s"),
            (Some(0.0), "0 req/s"),
            (Some(-2.5), "-2.50 req/s"),
            (None, "n/a"),
        ] {
            assert_eq!(quantity(value, "req/s"), expected, "{value:?}");
        }
        assert_eq!(quantity(Some(3.0), ""), "3.00");
    }

    #[test]
    fn durations() {
        assert_eq!(duration(Duration::from_millis(400)), "0 s");
        assert_eq!(duration(Duration::from_secs(59)), "59 s");
        assert_eq!(duration(Duration::from_secs(192)), "3 min 12 s");
    }

    #[test]
    fn a_baseline_without_a_value_reads_as_not_available() {
        let measured = Measured {
            value: Some(5.0),
            unit: "ms".to_owned(),
            baseline: Some(Baseline {
                name: "bare".to_owned(),
                value: None,
                ratio: None,
            }),
            target: None,
        };
        assert_eq!(
            measured_cells(&measured),
            ["5.00 ms", "bare: n/a", "n/a", ""].map(str::to_owned)
        );
    }
}
