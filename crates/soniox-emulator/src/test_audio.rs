//! Audio to submit in tests: the emulator reads a WAV header for the job's duration, so a
//! small generated WAV gives jobs a known `audio_duration_ms`.

use std::time::Duration;

const SAMPLE_RATE: u32 = 16_000;

/// A mono 16 kHz 16-bit PCM WAV lasting `length` (whole milliseconds), holding a quiet
/// sawtooth rather than silence so its bytes depend on its length.
///
/// ```
/// use std::time::Duration;
///
/// let audio = soniox_emulator::wav(Duration::from_millis(500));
/// assert_eq!(&audio[..4], b"RIFF");
/// assert_eq!(audio.len(), 44 + 16_000);
/// ```
pub fn wav(length: Duration) -> Vec<u8> {
    let millis = u32::try_from(length.as_millis()).unwrap_or(u32::MAX);
    // The data size field is 32 bits; longer audio is capped rather than wrapped.
    let samples = millis
        .saturating_mul(SAMPLE_RATE / 1000)
        .min((u32::MAX - 44) / 2);
    let data_len = samples * 2;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16_u32.to_le_bytes()); // size of the fmt chunk
    out.extend_from_slice(&1_u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1_u16.to_le_bytes()); // mono
    out.extend_from_slice(&SAMPLE_RATE.to_le_bytes());
    out.extend_from_slice(&(SAMPLE_RATE * 2).to_le_bytes()); // bytes per second
    out.extend_from_slice(&2_u16.to_le_bytes()); // bytes per frame
    out.extend_from_slice(&16_u16.to_le_bytes()); // bits per sample
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for i in 0..samples {
        let sample = i16::try_from(i % 64).unwrap_or(0) * 100;
        out.extend_from_slice(&sample.to_le_bytes());
    }
    out
}
