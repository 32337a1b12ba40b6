//! One module per subcommand.

pub(crate) mod account;
pub(crate) mod batch;
pub(crate) mod emulator;
pub(crate) mod files;
pub(crate) mod transcribe;
pub(crate) mod transcriptions;
pub(crate) mod webhook;
