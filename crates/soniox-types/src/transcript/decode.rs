//! [`Transcript::from_json`]: the fast way from response bytes to a [`Transcript`].
//!
//! A transcript is mostly tokens, and a token is a small object of known keys with short
//! strings and plain numbers. Reading those with [`Cursor`] skips serde's per-field dispatch;
//! anything the cursor does not read (or finds invalid) is handed to `serde_json`, so the
//! result is always the one the serde implementation gives.

use compact_str::CompactString;

use super::{Token, Transcript, TranslationStatus, json_cursor::Cursor};
use crate::{
    generated::transcript_keys::{TOKEN_KEYS, TRANSCRIPT_KEYS, token_key, transcript_key},
    ids::TranscriptionId,
};

impl Transcript {
    /// Decodes a transcript from the JSON the API returns; the client uses this.
    ///
    /// The result is exactly what `serde_json::from_slice::<Transcript>` gives — the same value,
    /// or an error — but several times faster on long transcripts: the usual shape of a token
    /// is read straight from the bytes, with no allocation per field. Input in another shape
    /// (escaped keys, numbers with exponents, ...) is still decoded, by `serde_json`.
    ///
    /// ```
    /// use soniox_types::Transcript;
    ///
    /// let transcript = Transcript::from_json(
    ///     br#"{"id":"t1","text":"Hi there","tokens":[
    ///         {"text":"Hi","start_ms":0,"end_ms":300,"confidence":0.98,"speaker":"1"},
    ///         {"text":" there","start_ms":320,"end_ms":700,"confidence":0.95,"speaker":"1"}]}"#,
    /// )?;
    /// assert_eq!(transcript.tokens[1].text, " there");
    ///
    /// let error = Transcript::from_json(br#"{"id":"t1","text":"Hi"}"#).unwrap_err();
    /// assert!(error.to_string().contains("missing field `tokens`"));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    ///
    /// # Errors
    /// The `serde_json` error for input that is not JSON or not a transcript.
    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        match std::str::from_utf8(bytes).ok().and_then(read_transcript) {
            Some(transcript) => Ok(transcript),
            None => serde_json::from_slice(bytes),
        }
    }
}

/// Reads a whole transcript, or gives up.
fn read_transcript(json: &str) -> Option<Transcript> {
    let mut cursor = Cursor::new(json);
    let mut scratch = String::new();
    // Struct literals here and in `BLANK_TOKEN` name every field, so a field added to either
    // type fails to compile until this reader reads it too.
    let mut transcript = Transcript {
        id: TranscriptionId::new(String::new()),
        text: String::new(),
        tokens: Vec::new(),
    };
    cursor.whitespace();
    // The key lists are generated from the spec, in the order the API writes the keys; the
    // index modules say which is which.
    let present = cursor.object(&TRANSCRIPT_KEYS, |cursor, key| match key {
        Some(transcript_key::ID) => {
            set(&mut transcript.id, cursor.str(&mut scratch).map(Into::into))
        }
        Some(transcript_key::TEXT) => set(
            &mut transcript.text,
            cursor.str(&mut scratch).map(Into::into),
        ),
        Some(transcript_key::TOKENS) => {
            set(&mut transcript.tokens, read_tokens(cursor, &mut scratch))
        }
        _ => cursor.skip_value(&mut scratch),
    })?;
    // Every field is required.
    let all = 1 << transcript_key::ID | 1 << transcript_key::TEXT | 1 << transcript_key::TOKENS;
    (present & all == all && cursor.at_end()).then_some(transcript)
}

fn read_tokens(cursor: &mut Cursor<'_>, scratch: &mut String) -> Option<Vec<Token>> {
    let start = cursor.remaining();
    let mut tokens = Vec::new();
    cursor.array(|cursor| {
        if tokens.len() == tokens.capacity() && tokens.len() >= SAMPLE_TOKENS {
            tokens.reserve(room_for_rest(tokens.len(), start, cursor.remaining()));
        }
        // Filled in place: building a token elsewhere and moving it in costs a copy per token.
        tokens.push(BLANK_TOKEN);
        read_token(cursor, scratch, tokens.last_mut()?)
    })?;
    Some(tokens)
}

/// How many tokens are read, the vector growing as usual, before it is sized from what they
/// took.
const SAMPLE_TOKENS: usize = 256;

/// How many times its length a full vector may grow by at once.
const MAX_GROWTH: usize = 8;

/// How much room to add to a full token vector: enough for the rest of the input at the size
/// the tokens so far took, and an eighth more, so a long transcript's vector moves a few times
/// while it is small and then not at all. The input after the tokens may be large too (an
/// unknown field, whitespace), so one step never adds more than [`MAX_GROWTH`] times the
/// tokens already read: memory stays within a constant factor of what the tokens need.
fn room_for_rest(read: usize, start: usize, remaining: usize) -> usize {
    let per_token = (start - remaining) / read;
    let rest = remaining / per_token.max(1);
    (rest + rest / 8).min(read * MAX_GROWTH)
}

/// A token before any field is read: what each field defaults to.
const BLANK_TOKEN: Token = Token {
    text: CompactString::const_new(""),
    start_ms: None,
    end_ms: None,
    confidence: 0.0,
    speaker: None,
    language: None,
    translation_status: None,
    source_language: None,
    is_audio_event: None,
};

/// Reads one token object into `token`, which starts blank. Defaults and `null` handling
/// follow the serde attributes on [`Token`]: only `text` is required, and `confidence` may be
/// absent but not `null`.
fn read_token(cursor: &mut Cursor<'_>, scratch: &mut String, token: &mut Token) -> Option<()> {
    let present = cursor.object(&TOKEN_KEYS, |cursor, key| match key {
        Some(token_key::TEXT) => set(&mut token.text, cursor.str(scratch).map(CompactString::new)),
        Some(token_key::START_MS) => set(&mut token.start_ms, cursor.nullable(Cursor::u64)),
        Some(token_key::END_MS) => set(&mut token.end_ms, cursor.nullable(Cursor::u64)),
        Some(token_key::CONFIDENCE) => set(&mut token.confidence, cursor.f64()),
        Some(token_key::SPEAKER) => set(&mut token.speaker, compact(cursor, scratch)),
        Some(token_key::LANGUAGE) => set(&mut token.language, compact(cursor, scratch)),
        Some(token_key::TRANSLATION_STATUS) => set(
            &mut token.translation_status,
            cursor.nullable(|cursor| cursor.str(scratch).map(TranslationStatus::from)),
        ),
        Some(token_key::SOURCE_LANGUAGE) => {
            set(&mut token.source_language, compact(cursor, scratch))
        }
        Some(token_key::IS_AUDIO_EVENT) => {
            set(&mut token.is_audio_event, cursor.nullable(Cursor::bool))
        }
        _ => cursor.skip_value(scratch),
    })?;
    // `text` is the one required field.
    (present & 1 << token_key::TEXT != 0).then_some(())
}

/// Stores a field's value, if it was read.
#[inline(always)]
fn set<T>(slot: &mut T, value: Option<T>) -> Option<()> {
    *slot = value?;
    Some(())
}

/// An optional string field: `null` or a string.
#[inline(always)]
fn compact(cursor: &mut Cursor<'_>, scratch: &mut String) -> Option<Option<CompactString>> {
    cursor.nullable(|cursor| cursor.str(scratch).map(CompactString::new))
}

#[cfg(test)]
mod tests;
