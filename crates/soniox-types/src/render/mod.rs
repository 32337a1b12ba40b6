//! Transcript helpers: plain text, speaker segments, the spoken/translated split, and SRT and
//! WebVTT subtitles.
//!
//! Every helper is a pure function over a slice of [`Token`]s, so it works on a whole
//! [`Transcript`] (through the methods below) as well as on any part of one. None of them
//! panics, whatever the tokens hold: empty input, tokens without timestamps, zero-length tokens,
//! an end before its start, or timestamps near [`u64::MAX`].
//!
//! Spoken text is every token that is not a translation (`translation_status` absent, `none`
//! or `original`); translated text is the tokens whose status is `translation`. Translation
//! tokens carry no timestamps, so wherever a time is needed they take it from the spoken tokens
//! they follow.
//!
//! ```
//! use soniox_types::{SubtitleOptions, Token, Transcript, TranscriptionId, TranslationStatus};
//!
//! let original = TranslationStatus::Original;
//! let transcript = Transcript::new(
//!     TranscriptionId::new("t1"),
//!     "",
//!     vec![
//!         Token::spoken("Good", 0, 300, 0.9).speaker("1").language("en").translation_status(original.clone()),
//!         Token::spoken(" morning.", 300, 800, 0.9).speaker("1").language("en").translation_status(original),
//!         Token::translation("Guten", "de", "en", 0.9),
//!         Token::translation(" Morgen.", "de", "en", 0.9),
//!     ],
//! );
//! assert_eq!(transcript.spoken_text(), "Good morning.");
//! assert_eq!(transcript.translated_text(), "Guten Morgen.");
//! assert_eq!(
//!     transcript.to_srt(&SubtitleOptions::default()),
//!     "1\n00:00:00,000 --> 00:00:00,800\nGood morning.\n",
//! );
//! ```

mod cues;
mod format;
mod options;
mod pieces;
mod segments;
mod text;
mod timing;

pub use self::{
    cues::{Cue, cues},
    format::{srt, vtt},
    options::{SubtitleOptions, Track},
    segments::{Segment, segments},
    text::{Tracks, split_tracks, spoken_text, translated_text},
};
use crate::transcript::{Token, Transcript};

impl Transcript {
    /// The spoken text: every token that is not a translation, concatenated and trimmed.
    ///
    /// ```
    /// use soniox_types::{Token, Transcript, TranscriptionId};
    ///
    /// let transcript = Transcript::new(
    ///     TranscriptionId::new("t1"),
    ///     "",
    ///     vec![Token::spoken("Hello", 0, 400, 0.9), Token::spoken(" world", 400, 800, 0.9)],
    /// );
    /// assert_eq!(transcript.spoken_text(), "Hello world");
    /// ```
    pub fn spoken_text(&self) -> String {
        spoken_text(&self.tokens)
    }

    /// The translated text: the translation tokens, concatenated and trimmed.
    ///
    /// See [`translated_text`] for how separate translation runs are joined.
    ///
    /// ```
    /// use soniox_types::{Token, Transcript, TranscriptionId};
    ///
    /// let transcript = Transcript::new(
    ///     TranscriptionId::new("t1"),
    ///     "",
    ///     vec![Token::spoken("Hi", 0, 400, 0.9), Token::translation("Hallo", "de", "en", 0.9)],
    /// );
    /// assert_eq!(transcript.translated_text(), "Hallo");
    /// ```
    pub fn translated_text(&self) -> String {
        translated_text(&self.tokens)
    }

    /// The tokens split into the spoken track and the translation track.
    ///
    /// ```
    /// use soniox_types::{Token, Transcript, TranscriptionId};
    ///
    /// let transcript = Transcript::new(
    ///     TranscriptionId::new("t1"),
    ///     "",
    ///     vec![Token::spoken("Hi", 0, 400, 0.9), Token::translation("Hallo", "de", "en", 0.9)],
    /// );
    /// let tracks = transcript.split_tracks();
    /// assert_eq!((tracks.spoken.len(), tracks.translation.len()), (1, 1));
    /// ```
    pub fn split_tracks(&self) -> Tracks<'_> {
        split_tracks(&self.tokens)
    }

    /// The spoken text grouped into [`Segment`]s by speaker and language.
    ///
    /// ```
    /// use soniox_types::{Token, Transcript, TranscriptionId};
    ///
    /// let transcript = Transcript::new(
    ///     TranscriptionId::new("t1"),
    ///     "",
    ///     vec![
    ///         Token::spoken("Hi.", 0, 400, 0.9).speaker("1"),
    ///         Token::spoken(" Hello.", 500, 900, 0.9).speaker("2"),
    ///     ],
    /// );
    /// let segments = transcript.segments();
    /// assert_eq!(segments[1].speaker.as_deref(), Some("2"));
    /// assert_eq!((segments[1].start_ms, segments[1].text.as_str()), (500, "Hello."));
    /// ```
    pub fn segments(&self) -> Vec<Segment> {
        segments(&self.tokens)
    }

    /// The subtitle cues for one track, split as `options` asks.
    ///
    /// ```
    /// use soniox_types::{SubtitleOptions, Token, Transcript, TranscriptionId};
    ///
    /// let transcript = Transcript::new(
    ///     TranscriptionId::new("t1"),
    ///     "",
    ///     vec![Token::spoken("Hi", 0, 400, 0.9), Token::spoken(" there.", 400, 900, 0.9)],
    /// );
    /// let cues = transcript.subtitle_cues(&SubtitleOptions::default());
    /// assert_eq!(cues[0].lines, ["Hi there."]);
    /// ```
    pub fn subtitle_cues(&self, options: &SubtitleOptions) -> Vec<Cue> {
        cues(&self.tokens, options)
    }

    /// The transcript as SubRip (`.srt`) subtitles.
    ///
    /// ```
    /// use soniox_types::{SubtitleOptions, Token, Transcript, TranscriptionId};
    ///
    /// let transcript = Transcript::new(
    ///     TranscriptionId::new("t1"),
    ///     "",
    ///     vec![Token::spoken("Hi.", 62_345, 62_900, 0.9).speaker("1")],
    /// );
    /// let options = SubtitleOptions::default().speaker_labels(true);
    /// assert_eq!(
    ///     transcript.to_srt(&options),
    ///     "1\n00:01:02,345 --> 00:01:02,900\nSpeaker 1: Hi.\n",
    /// );
    /// ```
    pub fn to_srt(&self, options: &SubtitleOptions) -> String {
        srt(&self.tokens, options)
    }

    /// The transcript as WebVTT (`.vtt`) subtitles.
    ///
    /// ```
    /// use soniox_types::{SubtitleOptions, Token, Transcript, TranscriptionId};
    ///
    /// let transcript = Transcript::new(
    ///     TranscriptionId::new("t1"),
    ///     "",
    ///     vec![Token::spoken("Hi.", 62_345, 62_900, 0.9).speaker("1")],
    /// );
    /// let options = SubtitleOptions::default().speaker_labels(true);
    /// assert_eq!(
    ///     transcript.to_vtt(&options),
    ///     "WEBVTT\n\n00:01:02.345 --> 00:01:02.900\n<v Speaker 1>Hi.\n",
    /// );
    /// ```
    pub fn to_vtt(&self, options: &SubtitleOptions) -> String {
        vtt(&self.tokens, options)
    }
}

/// Whether `token` belongs to the spoken track.
fn is_spoken(token: &Token) -> bool {
    !token.is_translation()
}
