//! How subtitles are split and labelled.

/// Which text a set of subtitles shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Track {
    /// The spoken words: original and untranslated tokens, timed by their own timestamps.
    #[default]
    Spoken,
    /// The translation tokens, timed by the spoken tokens each run of them follows.
    Translation,
}

/// Options for [`cues`](super::cues), [`srt`](super::srt) and [`vtt`](super::vtt).
///
/// Build them from [`Default`] with the setters. A cue ends at a speaker change, before text
/// that would not fit in its lines or duration, before a long pause, and after sentence
/// punctuation once it holds at least half a line of text. Lengths are counted in characters
/// (Unicode scalar values); an SRT speaker label counts towards its line, a WebVTT voice span
/// (which players do not show as text) does not.
///
/// ```
/// use soniox_types::{SubtitleOptions, Track};
///
/// let options = SubtitleOptions::default()
///     .max_chars_per_line(32)
///     .max_lines(1)
///     .speaker_labels(true)
///     .track(Track::Translation);
/// assert_eq!(options.max_cue_duration_ms, 7_000);
/// assert_eq!(options.max_chars_per_line, 32);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SubtitleOptions {
    /// The most characters on one line (42 by default); a single token longer than this gets
    /// a line of its own rather than being cut.
    pub max_chars_per_line: usize,
    /// The most lines in one cue (2 by default).
    pub max_lines: usize,
    /// The longest a cue may last, in milliseconds (7000 by default), unless a single token
    /// lasts longer.
    pub max_cue_duration_ms: u64,
    /// A silence longer than this, in milliseconds, ends the cue (2000 by default).
    pub max_pause_ms: u64,
    /// Whether to name the speaker: `Speaker 1: ` before an SRT cue, `<v Speaker 1>` in
    /// WebVTT (off by default).
    pub speaker_labels: bool,
    /// Which text to show ([`Track::Spoken`] by default).
    pub track: Track,
}

impl Default for SubtitleOptions {
    fn default() -> Self {
        Self {
            max_chars_per_line: 42,
            max_lines: 2,
            max_cue_duration_ms: 7_000,
            max_pause_ms: 2_000,
            speaker_labels: false,
            track: Track::Spoken,
        }
    }
}

impl SubtitleOptions {
    /// Sets the most characters on one line; 0 counts as 1.
    ///
    /// ```
    /// # use soniox_types::SubtitleOptions;
    /// assert_eq!(SubtitleOptions::default().max_chars_per_line(0).max_chars_per_line, 1);
    /// ```
    #[must_use]
    pub fn max_chars_per_line(mut self, chars: usize) -> Self {
        self.max_chars_per_line = chars.max(1);
        self
    }

    /// Sets the most lines in one cue; 0 counts as 1.
    ///
    /// ```
    /// # use soniox_types::SubtitleOptions;
    /// assert_eq!(SubtitleOptions::default().max_lines(3).max_lines, 3);
    /// ```
    #[must_use]
    pub fn max_lines(mut self, lines: usize) -> Self {
        self.max_lines = lines.max(1);
        self
    }

    /// Sets the longest a cue may last, in milliseconds.
    ///
    /// ```
    /// # use soniox_types::SubtitleOptions;
    /// assert_eq!(SubtitleOptions::default().max_cue_duration_ms(5_000).max_cue_duration_ms, 5_000);
    /// ```
    #[must_use]
    pub fn max_cue_duration_ms(mut self, ms: u64) -> Self {
        self.max_cue_duration_ms = ms;
        self
    }

    /// Sets the longest silence a cue may span, in milliseconds.
    ///
    /// ```
    /// # use soniox_types::SubtitleOptions;
    /// assert_eq!(SubtitleOptions::default().max_pause_ms(u64::MAX).max_pause_ms, u64::MAX);
    /// ```
    #[must_use]
    pub fn max_pause_ms(mut self, ms: u64) -> Self {
        self.max_pause_ms = ms;
        self
    }

    /// Sets whether cues name their speaker.
    ///
    /// ```
    /// # use soniox_types::SubtitleOptions;
    /// assert!(SubtitleOptions::default().speaker_labels(true).speaker_labels);
    /// ```
    #[must_use]
    pub fn speaker_labels(mut self, on: bool) -> Self {
        self.speaker_labels = on;
        self
    }

    /// Sets which text the subtitles show.
    ///
    /// ```
    /// # use soniox_types::{SubtitleOptions, Track};
    /// assert_eq!(SubtitleOptions::default().track(Track::Translation).track, Track::Translation);
    /// ```
    #[must_use]
    pub fn track(mut self, track: Track) -> Self {
        self.track = track;
        self
    }

    /// The line length actually used: the fields are public, so 0 is still possible here.
    pub(super) fn line_width(&self) -> usize {
        self.max_chars_per_line.max(1)
    }

    /// The line count actually used.
    pub(super) fn line_count(&self) -> usize {
        self.max_lines.max(1)
    }
}
