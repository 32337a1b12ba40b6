//! Fuzzes `Transcript::from_json` against `serde_json::from_slice::<Transcript>`.
//!
//! `from_json` reads the usual transcript shapes itself and hands everything else to serde;
//! its contract is to give exactly serde's result. Values are compared by their JSON encoding
//! (which tells `-0.0` from `0.0`), errors by their message.

#![no_main]

use libfuzzer_sys::fuzz_target;
use soniox_types::Transcript;

fn outcome(result: Result<Transcript, serde_json::Error>) -> Result<String, String> {
    result
        .map(|transcript| serde_json::to_string(&transcript).unwrap_or_default())
        .map_err(|error| error.to_string())
}

fuzz_target!(|data: &[u8]| {
    assert_eq!(
        outcome(Transcript::from_json(data)),
        outcome(serde_json::from_slice(data)),
        "input: {}",
        String::from_utf8_lossy(data)
    );
});
