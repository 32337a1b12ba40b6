//! Running external commands with echo and a readable failure.

use std::process::{Command, Stdio};

use crate::project_root;

/// A command to run from the workspace root.
pub(crate) struct Step {
    command: Command,
    shown: String,
}

impl Step {
    /// `program` with `args`, run from the workspace root, without the variables `cargo run`
    /// set for xtask itself.
    pub(crate) fn new(program: &str, args: &[&str]) -> Self {
        let mut command = Command::new(program);
        command.args(args).current_dir(project_root());
        // Build scripts (ring's, through `cc`) ask to rerun when `CARGO_PKG_NAME` and its
        // like change; inherited from `cargo xtask`, they would make a nested cargo rebuild
        // what a plain `cargo` in the shell had built, and the next plain `cargo` rebuild it
        // back.
        for (key, _) in std::env::vars_os() {
            if key.to_str().is_some_and(set_by_cargo_run) {
                command.env_remove(key);
            }
        }
        Self {
            command,
            shown: format!("{program} {}", args.join(" ")),
        }
    }

    /// Sets an environment variable for the command.
    pub(crate) fn env(mut self, key: &str, value: &str) -> Self {
        self.command.env(key, value);
        self.shown = format!("{key}={value} {}", self.shown);
        self
    }

    /// Runs the command, inheriting stdio; an unsuccessful exit is an error naming the command.
    pub(crate) fn run(mut self) -> Result<(), String> {
        eprintln!("$ {}", self.shown);
        let status = self
            .command
            .status()
            .map_err(|error| format!("cannot run `{}`: {error}", self.shown))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("`{}` failed ({status})", self.shown))
        }
    }

    /// Runs the command, echoed, with its stderr on the terminal (cargo's progress, say), and
    /// returns its stdout; an unsuccessful exit is an error naming the command.
    pub(crate) fn stdout(mut self) -> Result<Vec<u8>, String> {
        eprintln!("$ {}", self.shown);
        self.command.stderr(Stdio::inherit());
        self.capture()
    }

    /// Runs the command and returns its stdout; an unsuccessful exit is an error naming the
    /// command, with the last lines of its stderr.
    pub(crate) fn capture(mut self) -> Result<Vec<u8>, String> {
        let output = self
            .command
            .output()
            .map_err(|error| format!("cannot run `{}`: {error}", self.shown))?;
        if output.status.success() {
            return Ok(output.stdout);
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        if lines.is_empty() {
            // Inherited by `stdout`: already on the terminal.
            return Err(format!("`{}` failed ({})", self.shown, output.status));
        }
        let tail = lines[lines.len().saturating_sub(12)..].join("\n    ");
        Err(format!(
            "`{}` failed ({}):\n    {tail}",
            self.shown, output.status
        ))
    }
}

/// Whether `cargo run` sets the variable `key` for the program it runs (its package's
/// metadata), as opposed to the user's environment.
fn set_by_cargo_run(key: &str) -> bool {
    key.starts_with("CARGO_PKG_")
        || matches!(
            key,
            "CARGO_MANIFEST_DIR" | "CARGO_MANIFEST_PATH" | "CARGO_CRATE_NAME" | "CARGO_BIN_NAME"
        )
}

#[cfg(test)]
mod tests {
    use super::set_by_cargo_run;

    #[test]
    fn only_the_packages_metadata_is_dropped() {
        for key in [
            "CARGO_PKG_NAME",
            "CARGO_PKG_VERSION_MAJOR",
            "CARGO_MANIFEST_DIR",
        ] {
            assert!(set_by_cargo_run(key), "{key}");
        }
        for key in [
            "CARGO_TARGET_DIR",
            "CARGO_HOME",
            "CARGO",
            "RUSTFLAGS",
            "PATH",
        ] {
            assert!(!set_by_cargo_run(key), "{key}");
        }
    }
}
