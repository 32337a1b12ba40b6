//! What the emulator learns about audio: whether it looks like audio at all, how long it is,
//! and its content hash (the key of scripted transcripts). Bytes are streamed to disk and
//! never held whole.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::files_dir::PartialFile;

/// How many leading bytes are kept for sniffing the format and reading a WAV header.
const HEAD_BYTES: usize = 64 * 1024;

/// Bytes per second assumed for compressed audio whose duration is not read from a header
/// (128 kbit/s).
const ESTIMATE_BYTES_PER_SECOND: u64 = 16_000;

/// What processing a job needs to know about its audio.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AudioFacts {
    pub(crate) sha256: [u8; 32],
    pub(crate) duration_ms: u64,
    pub(crate) is_audio: bool,
}

impl AudioFacts {
    /// Facts about audio of `size` bytes that starts with `head`. A WAV header whose format
    /// fields contradict each other makes the content undecodable, as it would be for the API.
    pub(crate) fn from_head(head: &[u8], size: u64, sha256: [u8; 32]) -> Self {
        let estimate = || size.saturating_mul(1000) / ESTIMATE_BYTES_PER_SECOND;
        let (is_audio, duration_ms) = match wav_duration_ms(head, size) {
            WavHeader::Duration(ms) => (true, ms),
            WavHeader::Malformed => (false, 0),
            WavHeader::Absent => (looks_like_audio(head), estimate()),
        };
        Self {
            sha256,
            duration_ms,
            is_audio,
        }
    }

    pub(crate) fn sha256_hex(&self) -> String {
        hex(&self.sha256)
    }
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

/// The SHA-256 of `bytes`, as scripted transcripts are keyed.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Why streaming audio to disk stopped.
#[derive(Debug, thiserror::Error)]
pub(crate) enum IngestError {
    #[error("the file is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("reading the body failed: {0}")]
    Body(String),
    #[error("writing the file failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Streams `body` into a new file at `path`, hashing it on the way and keeping only its head.
/// The file is removed again when anything fails, when this future is dropped before it
/// ends, and when the returned [`PartialFile`] is dropped without being kept.
///
/// # Errors
/// [`IngestError::TooLarge`] past `limit` bytes, or a body or disk failure.
pub(crate) async fn ingest<S, E>(
    body: S,
    path: PathBuf,
    limit: u64,
) -> Result<(PartialFile, u64, AudioFacts), IngestError>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: std::fmt::Display,
{
    let file = PartialFile::new(path);
    let (size, facts) = write_stream(body, file.path(), limit).await?;
    Ok((file, size, facts))
}

async fn write_stream<S, E>(
    body: S,
    path: &Path,
    limit: u64,
) -> Result<(u64, AudioFacts), IngestError>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: std::fmt::Display,
{
    let mut file = tokio::fs::File::create(path).await?;
    let mut hasher = Sha256::new();
    let mut head = Vec::new();
    let mut size = 0_u64;
    let mut body = std::pin::pin!(body);
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|error| IngestError::Body(error.to_string()))?;
        size += chunk.len() as u64;
        if size > limit {
            return Err(IngestError::TooLarge { limit });
        }
        if head.len() < HEAD_BYTES {
            let take = (HEAD_BYTES - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await?;
    }
    file.flush().await?;
    let facts = AudioFacts::from_head(&head, size, hasher.finalize().into());
    Ok((size, facts))
}

/// Whether `head` starts like one of the formats the API auto-detects.
fn looks_like_audio(head: &[u8]) -> bool {
    let starts = |magic: &[u8]| head.starts_with(magic);
    let at = |offset: usize, magic: &[u8]| head.get(offset..offset + magic.len()) == Some(magic);
    (starts(b"RIFF") && (at(8, b"WAVE") || at(8, b"AVI ")))
        || starts(b"ID3")
        || starts(b"fLaC")
        || starts(b"OggS")
        || starts(b"FORM")
        || starts(b"#!AMR")
        || starts(&[0x1A, 0x45, 0xDF, 0xA3])
        || starts(&[0x30, 0x26, 0xB2, 0x75])
        || at(4, b"ftyp")
        // MPEG audio and ADTS AAC frames start with an 11- or 12-bit sync word.
        || (head.len() >= 2 && head[0] == 0xFF && head[1] & 0xE0 == 0xE0)
}

/// What a WAV header says about the file's duration.
#[derive(Debug, PartialEq, Eq)]
enum WavHeader {
    /// Not a WAV file, or one whose header is cut off before its `data` chunk.
    Absent,
    /// A WAV file whose format fields contradict each other.
    Malformed,
    /// A WAV file of this many milliseconds.
    Duration(u64),
}

/// The fields of a WAV `fmt ` chunk that the duration depends on.
struct WavFormat {
    format_tag: u16,
    channels: u16,
    sample_rate: u32,
    byte_rate: u32,
    block_align: u16,
    bits_per_sample: u16,
}

/// The lowest sample rate accepted, in Hz.
const MIN_SAMPLE_RATE: u64 = 1_000;

/// Linear PCM, IEEE float, A-law, µ-law and the extensible header (which wraps them).
const UNCOMPRESSED_FORMATS: [u16; 5] = [1, 3, 6, 7, 0xFFFE];

impl WavFormat {
    fn parse(chunk: &[u8]) -> Option<Self> {
        let u16_at = |at: usize| Some(u16::from_le_bytes(chunk.get(at..at + 2)?.try_into().ok()?));
        let u32_at = |at: usize| Some(u32::from_le_bytes(chunk.get(at..at + 4)?.try_into().ok()?));
        Some(Self {
            format_tag: u16_at(0)?,
            channels: u16_at(2)?,
            sample_rate: u32_at(4)?,
            byte_rate: u32_at(8)?,
            block_align: u16_at(12)?,
            bits_per_sample: u16_at(14)?,
        })
    }

    /// The byte rate, when the fields agree with each other. The byte rate is the only one
    /// the duration uses, and the one a crafted header would set absurdly low: for
    /// uncompressed formats it must equal rate × channels × bytes per sample; a compressed
    /// format must still spend at least a bit per sample.
    fn consistent_byte_rate(&self) -> Option<u64> {
        let channels = u64::from(self.channels);
        let sample_rate = u64::from(self.sample_rate);
        let byte_rate = u64::from(self.byte_rate);
        // Below 1 kHz nothing is speech; it also keeps a compressed format's byte rate up.
        if channels == 0 || sample_rate < MIN_SAMPLE_RATE || byte_rate == 0 {
            return None;
        }
        if UNCOMPRESSED_FORMATS.contains(&self.format_tag) {
            let bytes_per_sample = u64::from(self.bits_per_sample).div_ceil(8);
            let block_align = u64::from(self.block_align);
            let agree = bytes_per_sample > 0
                && block_align == channels * bytes_per_sample
                && byte_rate == sample_rate * block_align;
            agree.then_some(byte_rate)
        } else {
            (byte_rate.saturating_mul(8) >= sample_rate * channels).then_some(byte_rate)
        }
    }
}

/// The duration of a WAV file from its `fmt ` and `data` chunks.
fn wav_duration_ms(head: &[u8], size: u64) -> WavHeader {
    if !head.starts_with(b"RIFF") || head.get(8..12) != Some(b"WAVE") {
        return WavHeader::Absent;
    }
    let mut offset = 12_usize;
    let mut byte_rate = None;
    while let Some(header) = head.get(offset..offset + 8) {
        let id = &header[..4];
        let chunk_len = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        let data_start = offset + 8;
        if id == b"fmt " {
            let chunk = head.get(data_start..).unwrap_or_default();
            let Some(format) = WavFormat::parse(chunk) else {
                return WavHeader::Absent;
            };
            match format.consistent_byte_rate() {
                Some(rate) => byte_rate = Some(rate),
                None => return WavHeader::Malformed,
            }
        } else if id == b"data" {
            let Some(rate) = byte_rate else {
                // Samples before their format: no decoder could read them.
                return WavHeader::Malformed;
            };
            // Streamed WAVs leave the length unset (0 or 0xFFFFFFFF): trust the file size then.
            let available = size.saturating_sub(data_start as u64);
            let declared = u64::from(chunk_len);
            let data_len = if declared == 0 || declared > available {
                available
            } else {
                declared
            };
            return WavHeader::Duration(data_len.saturating_mul(1000) / rate);
        }
        // Chunks are padded to an even length.
        let advance = usize::try_from(chunk_len)
            .ok()
            .and_then(|len| len.checked_add(len & 1))
            .and_then(|advance| data_start.checked_add(advance));
        match advance {
            Some(next) => offset = next,
            None => return WavHeader::Absent,
        }
    }
    WavHeader::Absent
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(sample_rate: u32, channels: u16, seconds_tenths: u32) -> Vec<u8> {
        let byte_rate = sample_rate * u32::from(channels) * 2;
        let data_len = byte_rate * seconds_tenths / 10;
        let mut out = Vec::new();
        out.extend_from_slice(b"RIFF");
        out.extend_from_slice(&(36 + data_len).to_le_bytes());
        out.extend_from_slice(b"WAVEfmt ");
        out.extend_from_slice(&16_u32.to_le_bytes());
        out.extend_from_slice(&1_u16.to_le_bytes());
        out.extend_from_slice(&channels.to_le_bytes());
        out.extend_from_slice(&sample_rate.to_le_bytes());
        out.extend_from_slice(&byte_rate.to_le_bytes());
        out.extend_from_slice(&(channels * 2).to_le_bytes());
        out.extend_from_slice(&16_u16.to_le_bytes());
        out.extend_from_slice(b"data");
        out.extend_from_slice(&data_len.to_le_bytes());
        out.resize(out.len() + data_len as usize, 0);
        out
    }

    #[track_caller]
    fn check(bytes: &[u8], expect_audio: bool, expect_ms: u64) {
        let facts = AudioFacts::from_head(bytes, bytes.len() as u64, [0; 32]);
        assert_eq!(
            (facts.is_audio, facts.duration_ms),
            (expect_audio, expect_ms)
        );
    }

    #[test]
    fn durations_and_formats() {
        check(&wav(16_000, 1, 25), true, 2_500);
        check(&wav(44_100, 2, 10), true, 1_000);
        check(b"ID3\x04rest", true, 0);
        check(&[0xFF, 0xFB, 0x90, 0x00], true, 0);
        check(&[b'x'; 32_000], false, 2_000);
        check(b"", false, 0);
        // Samples with no format before them cannot be decoded.
        check(b"RIFF\0\0\0\0WAVEdata\xff\xff\xff\xff", false, 0);
    }

    /// A 16 kHz mono 16-bit WAV with one field of its `fmt ` chunk overwritten.
    fn crafted(field_offset: usize, value: &[u8]) -> Vec<u8> {
        let mut bytes = wav(16_000, 1, 10);
        // The `fmt ` chunk's fields start after RIFF, its length, WAVE, `fmt ` and its length.
        let at = 20 + field_offset;
        bytes[at..at + value.len()].copy_from_slice(value);
        bytes
    }

    #[test]
    fn format_fields_must_agree() {
        check(&crafted(0, &[0, 0]), true, 1_000);
        // A byte rate of 1 once turned 32 KB into nine hours of audio.
        check(&crafted(8, &1_u32.to_le_bytes()), false, 0);
        check(&crafted(8, &31_999_u32.to_le_bytes()), false, 0);
        check(&crafted(2, &0_u16.to_le_bytes()), false, 0);
        check(&crafted(4, &0_u32.to_le_bytes()), false, 0);
        check(&crafted(4, &999_u32.to_le_bytes()), false, 0);
        check(&crafted(12, &1_u16.to_le_bytes()), false, 0);
        check(&crafted(14, &0_u16.to_le_bytes()), false, 0);
        // A compressed format (IMA ADPCM) may have any byte rate of at least a bit per sample.
        let mut adpcm = crafted(0, &0x11_u16.to_le_bytes());
        adpcm[28..32].copy_from_slice(&8_000_u32.to_le_bytes());
        check(&adpcm, true, 4_000);
        adpcm[28..32].copy_from_slice(&1_999_u32.to_le_bytes());
        check(&adpcm, false, 0);
    }

    #[test]
    fn truncated_headers_do_not_panic() {
        let full = wav(8_000, 1, 10);
        for len in 0..60 {
            let _ = AudioFacts::from_head(&full[..len], len as u64, [0; 32]);
        }
    }

    #[tokio::test]
    async fn a_failed_or_cancelled_ingest_leaves_no_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("upload");
        // A body that sends one chunk, says so, then never ends: dropped mid-upload.
        let (sent, first_sent) = tokio::sync::oneshot::channel::<()>();
        let mut sent = Some(sent);
        let body = futures_util::stream::poll_fn(move |_| match sent.take() {
            Some(sent) => {
                let _ = sent.send(());
                std::task::Poll::Ready(Some(Ok::<_, std::convert::Infallible>(Bytes::from_static(
                    b"RIFF",
                ))))
            }
            None => std::task::Poll::Pending,
        });
        let cancelled = ingest(body, path.clone(), 1_000);
        tokio::select! {
            _ = cancelled => panic!("the body never ends"),
            _ = first_sent => {}
        }
        assert!(!path.exists(), "a cancelled ingest left its partial file");

        let too_large = futures_util::stream::iter([Ok::<_, std::convert::Infallible>(
            Bytes::from_static(b"0123456789"),
        )]);
        assert!(matches!(
            ingest(too_large, path.clone(), 5).await,
            Err(IngestError::TooLarge { limit: 5 })
        ));
        assert!(!path.exists());

        let (file, size, _) = ingest(
            futures_util::stream::iter([Ok::<_, std::convert::Infallible>(Bytes::from_static(
                b"abc",
            ))]),
            path.clone(),
            5,
        )
        .await
        .expect("ingested");
        assert_eq!(size, 3);
        let kept = file.keep();
        assert_eq!(std::fs::read(kept).expect("kept"), b"abc");
    }

    #[test]
    fn hashes_are_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
