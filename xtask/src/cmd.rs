//! Running external commands with echo and a readable failure.

use std::process::Command;

use crate::project_root;

/// A command to run from the workspace root.
pub(crate) struct Step {
    command: Command,
    shown: String,
}

impl Step {
    /// `program` with `args`, run from the workspace root.
    pub(crate) fn new(program: &str, args: &[&str]) -> Self {
        let mut command = Command::new(program);
        command.args(args).current_dir(project_root());
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
        let tail = lines[lines.len().saturating_sub(12)..].join("\n    ");
        Err(format!(
            "`{}` failed ({}):\n    {tail}",
            self.shown, output.status
        ))
    }
}
