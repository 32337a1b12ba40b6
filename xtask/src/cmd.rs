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
}
