//! What the figures were measured on: CPU, memory, kernel, compiler, date and commit. Each
//! part reads as `unknown` when it cannot be found, rather than failing the report.

use std::{
    fs,
    time::{SystemTime, UNIX_EPOCH},
};

use crate::cmd::Step;

/// The machine and the code a run measured.
pub(crate) struct Machine {
    pub(crate) cpu: String,
    /// Logical cores.
    pub(crate) cores: String,
    pub(crate) memory: String,
    pub(crate) kernel: String,
    pub(crate) rustc: String,
    /// When the run started, UTC.
    pub(crate) date: String,
    pub(crate) commit: String,
    /// The load average when the run started: on a shared machine, how busy the neighbours
    /// were.
    pub(crate) load: String,
}

const UNKNOWN: &str = "unknown";

impl Machine {
    /// Reads this machine and checkout; a part it cannot read is `unknown`.
    pub(crate) fn detect() -> Self {
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let cores = std::thread::available_parallelism()
            .map(|cores| cores.to_string())
            .unwrap_or_else(|_| UNKNOWN.to_owned());
        Self {
            cpu: cpu_model(&cpuinfo).unwrap_or_else(|| UNKNOWN.to_owned()),
            cores,
            memory: memory(&meminfo).unwrap_or_else(|| UNKNOWN.to_owned()),
            kernel: read_trimmed("/proc/sys/kernel/osrelease"),
            rustc: output(Step::new(
                &std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned()),
                &["--version"],
            )),
            date: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|since| utc(since.as_secs()))
                .unwrap_or_else(|_| UNKNOWN.to_owned()),
            commit: commit(),
            load: load(&fs::read_to_string("/proc/loadavg").unwrap_or_default()),
        }
    }
}

/// The first `model name` of `/proc/cpuinfo`.
fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "model name").then(|| value.trim().to_owned())
    })
}

/// `MemTotal` of `/proc/meminfo`, in GiB.
fn memory(meminfo: &str) -> Option<String> {
    let kib: u64 = meminfo.lines().find_map(|line| {
        line.strip_prefix("MemTotal:")?
            .trim()
            .strip_suffix("kB")?
            .trim()
            .parse()
            .ok()
    })?;
    Some(format!("{:.1} GiB", kib as f64 / f64::from(1 << 20)))
}

/// The 1, 5 and 15 minute load averages of `/proc/loadavg`.
fn load(loadavg: &str) -> String {
    let averages: Vec<&str> = loadavg.split_whitespace().take(3).collect();
    if averages.len() == 3 {
        averages.join(" ")
    } else {
        UNKNOWN.to_owned()
    }
}

/// The commit checked out, and whether the tree differs from it.
fn commit() -> String {
    let head = output(Step::new("git", &["rev-parse", "HEAD"]));
    let changed = Step::new("git", &["status", "--porcelain", "--untracked-files=no"])
        .capture()
        .is_ok_and(|status| !status.is_empty());
    if changed {
        format!("{head} with uncommitted changes")
    } else {
        head
    }
}

fn read_trimmed(path: &str) -> String {
    fs::read_to_string(path)
        .map(|text| text.trim().to_owned())
        .unwrap_or_else(|_| UNKNOWN.to_owned())
}

fn output(step: Step) -> String {
    step.capture()
        .ok()
        .map(|stdout| String::from_utf8_lossy(&stdout).trim().to_owned())
        .filter(|text| !text.is_empty())
        .unwrap_or_else(|| UNKNOWN.to_owned())
}

/// `seconds` since the Unix epoch as `YYYY-MM-DD HH:MM UTC`.
fn utc(seconds: u64) -> String {
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    // Howard Hinnant's `civil_from_days`: the proleptic Gregorian date of a day count, by
    // 400-year eras of 146,097 days, with years starting in March so that leap days come last.
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rest / 3_600,
        rest % 3_600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        for (seconds, expected) in [
            (0, "1970-01-01 00:00 UTC"),
            (951_782_400, "2000-02-29 00:00 UTC"),
            (951_868_799, "2000-02-29 23:59 UTC"),
            (1_709_251_199, "2024-02-29 23:59 UTC"),
            (1_796_094_600, "2026-12-01 03:10 UTC"),
            (4_107_542_400, "2100-03-01 00:00 UTC"),
        ] {
            assert_eq!(utc(seconds), expected, "{seconds}");
        }
    }

    #[test]
    fn proc_files() {
        let cpuinfo = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n\
                       processor\t: 1\nmodel name\t: AMD EPYC 7B13\n";
        assert_eq!(cpu_model(cpuinfo).as_deref(), Some("AMD EPYC 7B13"));
        assert_eq!(cpu_model("processor : 0\n"), None);
        assert_eq!(
            memory("MemTotal:        8029664 kB\nMemFree:  1 kB\n").as_deref(),
            Some("7.7 GiB")
        );
        assert_eq!(memory("MemFree: 1 kB\n"), None);
        assert_eq!(load("6.49 3.00 1.35 7/207 1896\n"), "6.49 3.00 1.35");
        assert_eq!(load(""), UNKNOWN);
    }
}
