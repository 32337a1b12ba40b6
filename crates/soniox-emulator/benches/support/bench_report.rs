//! Figures for the report of `cargo xtask bench`. Shared by path (`#[path]`) by every bench of
//! the workspace.
//!
//! A bench prints its figures as it always has and also hands each one to [`Figure::report`]
//! (or a missing one to [`skipped`] or [`failed`]). `cargo xtask bench` names a file in
//! `SONIOX_BENCH_FIGURES`; each figure is appended to it as one JSON line, and xtask gathers
//! the lines of every bench into one table. Without the variable nothing is written, so a bench
//! run on its own behaves as it always has.
//!
//! `SONIOX_BENCH_QUICK=1` (`cargo xtask bench --quick`) asks for a short run: fewer rounds,
//! samples and jobs ([`full_or_quick`]), so that every bench fits in a few minutes on a small
//! machine. Variables a bench documents for its own sizes still win over both.
//!
//! xtask reads the lines in `xtask/src/bench/figures.rs`; the format is defined there.

// Each bench uses a different part of this module.
#![allow(dead_code)]

use std::{
    cell::RefCell,
    fmt,
    hint::black_box,
    io::Write as _,
    time::{Duration, Instant},
};

/// The file figures are appended to.
const FIGURES_VARIABLE: &str = "SONIOX_BENCH_FIGURES";
/// Set to `1` for a short run.
const QUICK_VARIABLE: &str = "SONIOX_BENCH_QUICK";

/// Whether this is a short run.
pub(crate) fn quick() -> bool {
    std::env::var(QUICK_VARIABLE).is_ok_and(|value| value == "1")
}

/// `full` for a full run, `quick` for a short one.
pub(crate) fn full_or_quick<T>(full: T, quick: T) -> T {
    if self::quick() { quick } else { full }
}

/// What a figure's target bounds: its ratio to the baseline when it has one, else its value.
#[derive(Clone, Copy)]
enum Target {
    AtLeast(f64),
    AtMost(f64),
}

/// One measured figure, in the unit the bench prints it in.
#[must_use = "a figure is only recorded by `report`"]
pub(crate) struct Figure {
    name: String,
    value: f64,
    unit: String,
    baseline: Option<(String, f64)>,
    ratio: Option<f64>,
    target: Option<Target>,
}

impl Figure {
    /// A figure named `name`: `value` in `unit`, with no baseline or target yet.
    pub(crate) fn new(name: impl Into<String>, value: f64, unit: &str) -> Self {
        Self {
            name: name.into(),
            value,
            unit: unit.to_owned(),
            baseline: None,
            ratio: None,
            target: None,
        }
    }

    /// The figure it is compared with, in the same unit; the ratio is `value / baseline`
    /// unless [`Self::ratio`] gives another.
    pub(crate) fn baseline(mut self, name: impl Into<String>, value: f64) -> Self {
        self.baseline = Some((name.into(), value));
        self
    }

    /// The ratio to the baseline when it is not `value / baseline`: the median of per-round
    /// ratios, say, each round against the baseline's round beside it.
    pub(crate) fn ratio(mut self, ratio: f64) -> Self {
        self.ratio = Some(ratio);
        self
    }

    /// The least the ratio (or, without a baseline, the value) should reach.
    pub(crate) fn at_least(mut self, target: f64) -> Self {
        self.target = Some(Target::AtLeast(target));
        self
    }

    /// The most the ratio (or, without a baseline, the value) should reach.
    pub(crate) fn at_most(mut self, target: f64) -> Self {
        self.target = Some(Target::AtMost(target));
        self
    }

    /// Records the figure for `cargo xtask bench`.
    pub(crate) fn report(self) {
        // serde_json writes what JSON cannot hold (a ratio to a zero baseline) as `null`.
        let mut line = serde_json::json!({
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
        });
        if let Some((name, value)) = &self.baseline {
            line["baseline"] = serde_json::json!({ "name": name, "value": value });
            line["ratio"] = serde_json::json!(self.ratio.unwrap_or(self.value / value));
        }
        if let Some(target) = self.target {
            line["target"] = match target {
                Target::AtLeast(target) => serde_json::json!({ "at_least": target }),
                Target::AtMost(target) => serde_json::json!({ "at_most": target }),
            };
        }
        append(&line.to_string());
    }
}

/// Records that the figure `name` was not measured, and why (a missing tool or server).
pub(crate) fn skipped(name: &str, why: &str) {
    append(&serde_json::json!({ "name": name, "skipped": why }).to_string());
}

/// Records that measuring the figure `name` failed, and how.
pub(crate) fn failed(name: &str, why: &str) {
    append(&serde_json::json!({ "name": name, "failed": why }).to_string());
}

/// Appends one line to the figures file, when there is one. A line is written by one call, so
/// lines from several threads do not interleave.
fn append(line: &str) {
    let Some(path) = std::env::var_os(FIGURES_VARIABLE) else {
        return;
    };
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut file| file.write_all(format!("{line}\n").as_bytes()));
    if let Err(error) = written {
        // The figures printed on the terminal still stand; xtask reports the bench as missing
        // figures.
        let _ = writeln!(
            std::io::stderr(),
            "cannot record a figure in {}: {error}",
            std::path::Path::new(&path).display()
        );
    }
}

/// Times per iteration of one criterion benchmark, gathered from its samples through
/// `iter_custom`, so that the bench can report a figure of its own beside criterion's.
#[derive(Default)]
pub(crate) struct Samples(RefCell<Vec<Duration>>);

impl Samples {
    /// Runs `routine` `iterations` times and returns the time it took, as `iter_custom`
    /// wants; keeps the time per iteration.
    pub(crate) fn time<T>(&self, iterations: u64, mut routine: impl FnMut() -> T) -> Duration {
        let start = Instant::now();
        for _ in 0..iterations {
            black_box(routine());
        }
        let elapsed = start.elapsed();
        self.push(elapsed.div_f64(iterations.max(1) as f64));
        elapsed
    }

    /// Keeps the time of one iteration measured elsewhere.
    pub(crate) fn push(&self, per_iteration: Duration) {
        self.0.borrow_mut().push(per_iteration);
    }

    /// The fastest iteration: on a shared machine other work only ever slows a sample down,
    /// so the fastest is the steadiest figure to compare runs by.
    pub(crate) fn fastest(&self) -> Option<Duration> {
        self.0.borrow().iter().min().copied()
    }

    /// The median iteration (the upper one of an even count).
    pub(crate) fn median(&self) -> Option<Duration> {
        let mut samples = self.0.borrow().clone();
        samples.sort_unstable();
        samples.get(samples.len() / 2).copied()
    }
}

/// The median of `values`: the middle one, or the mean of the middle two of an even count
/// (of 2 rounds, their mean rather than the better one); `None` for no values.
pub(crate) fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    match values.len() {
        0 => None,
        len if len % 2 == 0 => Some((values[middle - 1] + values[middle]) / 2.0),
        _ => Some(values[middle]),
    }
}

/// Per-round ratios of a variant's figure to its baseline's in the same round: their median
/// and range. Pairing rounds keeps most of a shared machine's drift out of the ratio.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ratios {
    pub(crate) median: f64,
    pub(crate) lowest: f64,
    pub(crate) highest: f64,
}

impl Ratios {
    /// `None` for no ratios.
    pub(crate) fn of(ratios: Vec<f64>) -> Option<Self> {
        let lowest = ratios.iter().copied().reduce(f64::min)?;
        let highest = ratios.iter().copied().reduce(f64::max)?;
        Some(Self {
            median: median(ratios)?,
            lowest,
            highest,
        })
    }
}

impl fmt::Display for Ratios {
    /// `87.5% (rounds 86–89%)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:.1}% (rounds {:.0}–{:.0}%)",
            100.0 * self.median,
            100.0 * self.lowest,
            100.0 * self.highest
        )
    }
}
