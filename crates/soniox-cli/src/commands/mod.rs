//! One module per subcommand.

pub(crate) mod emulator;
pub(crate) mod transcribe;
