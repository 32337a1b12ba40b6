//! Splitting a track into subtitle cues.

use std::borrow::Cow;

use compact_str::CompactString;

use super::{
    options::{SubtitleOptions, Track},
    pieces::{Piece, spoken_pieces, translation_pieces, words},
};
use crate::transcript::Token;

/// One subtitle: the lines shown from `start_ms` to `end_ms`.
///
/// ```
/// use soniox_types::{SubtitleOptions, Token, render};
///
/// let tokens = [
///     Token::spoken("Hi", 0, 300, 0.9).speaker("1"),
///     Token::spoken("!", 300, 350, 0.9).speaker("1"),
/// ];
/// let cue = &render::cues(&tokens, &SubtitleOptions::default())[0];
/// assert_eq!((cue.start_ms, cue.end_ms), (0, 350));
/// assert_eq!(cue.speaker.as_deref(), Some("1"));
/// assert_eq!(cue.lines, ["Hi!"]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Cue {
    /// When the cue appears, in milliseconds.
    pub start_ms: u64,
    /// When the cue disappears, in milliseconds; never before `start_ms`.
    pub end_ms: u64,
    /// Who speaks, with speaker diarization; a cue never holds two speakers.
    pub speaker: Option<CompactString>,
    /// The text, one entry per line; never empty, and no line is empty.
    pub lines: Vec<String>,
}

/// Splits one track of `tokens` into [`Cue`]s, following `options`.
///
/// Lines break between words, or between the tokens of a word too long for a line (text in
/// languages written without spaces is one long "word"); a token is never cut. Tokens without
/// timestamps add their text at the time the previous token ended, and cues of whitespace
/// only are left out. Cues come out in order and never overlap.
///
/// ```
/// use soniox_types::{SubtitleOptions, Token, render};
///
/// let tokens = [
///     Token::spoken("Hello.", 0, 500, 0.9).speaker("1"),
///     Token::spoken(" Hi.", 600, 900, 0.9).speaker("2"),
/// ];
/// let cues = render::cues(&tokens, &SubtitleOptions::default());
/// assert_eq!(cues.len(), 2);
/// assert_eq!((cues[1].start_ms, cues[1].lines[0].as_str()), (600, "Hi."));
/// ```
pub fn cues(tokens: &[Token], options: &SubtitleOptions) -> Vec<Cue> {
    cues_with_labels(tokens, options, &|_| 0)
}

/// [`cues`] with room kept at the start of each cue's first line for a speaker label as wide
/// as `label_width` says.
pub(super) fn cues_with_labels(
    tokens: &[Token],
    options: &SubtitleOptions,
    label_width: &dyn Fn(Option<&CompactString>) -> usize,
) -> Vec<Cue> {
    let pieces = match options.track {
        Track::Spoken => spoken_pieces(tokens),
        Track::Translation => translation_pieces(tokens),
    };
    let mut builder = Builder::new(options, label_width);
    for word in words(&pieces) {
        builder.add_word(word);
    }
    builder.finish()
}

/// Sentence-ending punctuation, including the full-width forms.
const SENTENCE_ENDS: &[char] = &['.', '?', '!', '…', '。', '？', '！'];

struct Builder<'o, 'a> {
    options: &'o SubtitleOptions,
    label_width: &'o dyn Fn(Option<&CompactString>) -> usize,
    cues: Vec<Cue>,
    open: Option<OpenCue<'a>>,
}

struct OpenCue<'a> {
    start: u64,
    end: u64,
    speaker: Option<&'a CompactString>,
    lines: Vec<String>,
    /// Characters taken on the first line by the speaker label.
    label_width: usize,
    /// Characters on the last line, kept to avoid recounting it for every word.
    last_width: usize,
    /// Characters of text in the whole cue, for the rule on sentence punctuation.
    chars: usize,
}

impl<'o, 'a> Builder<'o, 'a> {
    fn new(
        options: &'o SubtitleOptions,
        label_width: &'o dyn Fn(Option<&CompactString>) -> usize,
    ) -> Self {
        Self {
            options,
            label_width,
            cues: Vec::new(),
            open: None,
        }
    }

    fn add_word(&mut self, word: &[Piece<'a>]) {
        let (Some(first), Some(last)) = (word.first(), word.last()) else {
            return;
        };
        // A word that starts without a space (the first token of a translation run) still
        // needs one between it and the word before.
        let space = if first.starts_word && !first.text.starts_with(' ') {
            " "
        } else {
            ""
        };
        let text: String = std::iter::once(space)
            .chain(word.iter().map(|piece| piece.text.as_ref()))
            .collect();
        let too_wide = text.trim().chars().count() > self.options.line_width();
        let too_long = last.end.saturating_sub(first.start) > self.options.max_cue_duration_ms;
        if word.len() > 1 && (too_wide || too_long) {
            for (index, piece) in word.iter().enumerate() {
                let text = if index == 0 {
                    Cow::Owned(format!("{space}{}", piece.text))
                } else {
                    Cow::Borrowed(piece.text.as_ref())
                };
                self.add_unit(&text, piece.start, piece.end, piece.speaker);
            }
        } else {
            self.add_unit(&text, first.start, last.end, first.speaker);
        }
    }

    /// Adds text that is never broken: a word, or one token of a word too big to keep whole.
    fn add_unit(&mut self, text: &str, start: u64, end: u64, speaker: Option<&'a CompactString>) {
        if text.trim().is_empty() {
            return;
        }
        let width = text.chars().count();
        let line_width = self.options.line_width();
        if let Some(open) = &mut self.open {
            let fits_line = open.last_width + width <= line_width;
            let lines = open.lines.len() + usize::from(!fits_line);
            let keep = open.speaker == speaker
                && start.saturating_sub(open.end) <= self.options.max_pause_ms
                && end.saturating_sub(open.start) <= self.options.max_cue_duration_ms
                && lines <= self.options.line_count();
            if keep {
                open.push(text, width, fits_line);
                open.end = open.end.max(end);
            } else {
                self.flush();
            }
        }
        let label_width = self.label_width;
        let open = self.open.get_or_insert_with(|| OpenCue {
            start,
            end,
            speaker,
            lines: Vec::new(),
            label_width: label_width(speaker),
            last_width: 0,
            chars: 0,
        });
        if open.lines.is_empty() {
            open.push(text, width, false);
        }
        let sentence_end = text.trim_end().ends_with(SENTENCE_ENDS);
        if sentence_end && open.chars * 2 >= line_width {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if let Some(open) = self.open.take() {
            let lines: Vec<String> = open
                .lines
                .into_iter()
                .map(|line| line.trim_end().to_owned())
                .filter(|line| !line.is_empty())
                .collect();
            if !lines.is_empty() {
                self.cues.push(Cue {
                    start_ms: open.start,
                    end_ms: open.end,
                    speaker: open.speaker.cloned(),
                    lines,
                });
            }
        }
    }

    fn finish(mut self) -> Vec<Cue> {
        self.flush();
        self.cues
    }
}

impl OpenCue<'_> {
    fn push(&mut self, text: &str, width: usize, on_last_line: bool) {
        match self.lines.last_mut() {
            Some(line) if on_last_line => {
                line.push_str(text);
                self.last_width += width;
                self.chars += width;
            }
            _ => {
                let text = text.trim_start();
                let width = text.chars().count();
                self.last_width = width;
                if self.lines.is_empty() {
                    self.last_width += self.label_width;
                }
                self.lines.push(text.to_owned());
                self.chars += width;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> SubtitleOptions {
        SubtitleOptions::default()
    }

    /// Tokens of one speaker, 100 ms each, back to back.
    fn said(texts: &[&str]) -> Vec<Token> {
        (0u64..)
            .zip(texts)
            .map(|(i, text)| Token::spoken(*text, i * 100, i * 100 + 100, 0.9).speaker("1"))
            .collect()
    }

    #[track_caller]
    fn check(tokens: &[Token], options: &SubtitleOptions, expect: &[(u64, u64, &[&str])]) {
        let actual: Vec<_> = cues(tokens, options)
            .into_iter()
            .map(|cue| (cue.start_ms, cue.end_ms, cue.lines))
            .collect();
        let expect: Vec<_> = expect
            .iter()
            .map(|(start, end, lines)| {
                (*start, *end, lines.iter().map(|l| l.to_string()).collect())
            })
            .collect();
        assert_eq!(actual, expect);
    }

    #[test]
    fn a_speaker_change_ends_the_cue() {
        let tokens = [
            Token::spoken("Yes", 0, 100, 0.9).speaker("1"),
            Token::spoken(" no", 100, 200, 0.9).speaker("2"),
            Token::spoken("pe", 200, 300, 0.9).speaker("1"),
        ];
        check(
            &tokens,
            &options(),
            &[(0, 100, &["Yes"]), (100, 200, &["no"]), (200, 300, &["pe"])],
        );
        let speakers: Vec<_> = cues(&tokens, &options())
            .into_iter()
            .map(|c| c.speaker)
            .collect();
        assert_eq!(
            speakers,
            [Some("1".into()), Some("2".into()), Some("1".into())]
        );
    }

    #[test]
    fn words_wrap_onto_lines_and_full_cues_start_new_ones() {
        let tokens = said(&[
            "one", " two", " three", " four", " five", " six", " seven", " eight",
        ]);
        let options = options().max_chars_per_line(9);
        check(
            &tokens,
            &options,
            &[
                (0, 300, &["one two", "three"]),
                (300, 700, &["four five", "six seven"]),
                (700, 800, &["eight"]),
            ],
        );
    }

    #[test]
    fn a_word_stays_whole_across_its_tokens() {
        let tokens = said(&["Good", " morn", "ing", " all"]);
        check(
            &tokens,
            &options().max_chars_per_line(9),
            &[(0, 300, &["Good", "morning"]), (300, 400, &["all"])],
        );
    }

    #[test]
    fn a_token_longer_than_a_line_gets_a_line_of_its_own() {
        let tokens = said(&["a", " incomprehensibilities", " b"]);
        check(
            &tokens,
            &options().max_chars_per_line(5).max_lines(3),
            &[(0, 300, &["a", "incomprehensibilities", "b"])],
        );
    }

    #[test]
    fn a_word_longer_than_a_line_breaks_between_tokens() {
        let tokens = said(&["今日", "は", "いい", "天気", "です", "ね"]);
        check(
            &tokens,
            &options().max_chars_per_line(4),
            &[(0, 400, &["今日は", "いい天気"]), (400, 600, &["ですね"])],
        );
    }

    #[test]
    fn cues_last_no_longer_than_the_limit_unless_one_token_does() {
        let tokens = [
            Token::spoken("a", 0, 3_000, 0.9),
            Token::spoken(" b", 3_000, 7_000, 0.9),
            Token::spoken(" c", 7_000, 7_500, 0.9),
            Token::spoken(" d", 7_500, 20_000, 0.9),
        ];
        check(
            &tokens,
            &options(),
            &[
                (0, 7_000, &["a b"]),
                (7_000, 7_500, &["c"]),
                (7_500, 20_000, &["d"]),
            ],
        );
    }

    #[test]
    fn a_long_pause_ends_the_cue() {
        let tokens = [
            Token::spoken("a", 0, 100, 0.9),
            Token::spoken(" b", 2_100, 2_200, 0.9),
            Token::spoken(" c", 4_201, 4_300, 0.9),
        ];
        check(
            &tokens,
            &options(),
            &[(0, 2_200, &["a b"]), (4_201, 4_300, &["c"])],
        );
    }

    #[test]
    fn sentence_punctuation_ends_a_cue_once_it_holds_half_a_line() {
        let tokens = said(&["Hi.", " It", " is", " me.", " Bye", " now."]);
        check(
            &tokens,
            &options().max_chars_per_line(10),
            &[(0, 400, &["Hi. It is", "me."]), (400, 600, &["Bye now."])],
        );
    }

    #[test]
    fn translation_cues_take_their_times_from_the_spoken_tokens_they_follow() {
        let tokens = [
            Token::spoken("Good", 1_000, 1_400, 0.9).speaker("1"),
            Token::spoken(" morning.", 1_400, 2_000, 0.9).speaker("1"),
            Token::translation("Guten", "de", "en", 0.9),
            Token::translation(" Morgen.", "de", "en", 0.9),
            Token::spoken(" Hello.", 3_000, 3_500, 0.9).speaker("2"),
            Token::translation("Hallo.", "de", "en", 0.9),
        ];
        let options = options().track(Track::Translation);
        check(
            &tokens,
            &options,
            &[
                (1_000, 2_000, &["Guten Morgen."]),
                (3_000, 3_500, &["Hallo."]),
            ],
        );
        let speakers: Vec<_> = cues(&tokens, &options)
            .into_iter()
            .map(|c| c.speaker)
            .collect();
        assert_eq!(speakers, [Some("1".into()), Some("2".into())]);
    }

    #[test]
    fn translation_runs_are_spread_over_their_span_by_characters() {
        let tokens = [
            Token::spoken("Hello there.", 0, 1_000, 0.9),
            Token::translation("Hallo", "de", "en", 0.9),
            Token::translation(" zusammen.", "de", "en", 0.9),
        ];
        let options = options()
            .track(Track::Translation)
            .max_chars_per_line(6)
            .max_lines(1);
        check(
            &tokens,
            &options,
            &[(0, 333, &["Hallo"]), (333, 1_000, &["zusammen."])],
        );
    }

    #[test]
    fn consecutive_translation_runs_never_run_words_together() {
        let tokens = [
            Token::spoken("Hi", 0, 100, 0.9),
            Token::translation("Hallo", "de", "en", 0.9),
            Token::spoken(" you", 100, 200, 0.9),
            Token::translation("du", "de", "en", 0.9),
        ];
        check(
            &tokens,
            &options().track(Track::Translation),
            &[(0, 200, &["Hallo du"])],
        );
    }

    #[test]
    fn translation_tokens_do_not_show_on_the_spoken_track() {
        let tokens = [Token::translation("Nur", "de", "en", 0.9)];
        check(&tokens, &options(), &[]);
        check(
            &tokens,
            &options().track(Track::Translation),
            &[(0, 0, &["Nur"])],
        );
    }

    #[test]
    fn odd_input_gives_well_formed_cues() {
        let mut untimed = Token::spoken(" then", 0, 0, 0.9);
        untimed.start_ms = None;
        untimed.end_ms = None;
        let tokens = [
            Token::spoken("  ", 0, 50, 0.9),
            Token::spoken("zero", 100, 100, 0.9),
            Token::spoken(" back", 300, 200, 0.9),
            untimed,
            Token::spoken(" line\nbreak\r\n", 250, 400, 0.9),
            Token::spoken(" huge", u64::MAX - 1, u64::MAX, 0.9),
        ];
        check(
            &tokens,
            &options(),
            &[
                (0, 400, &["zero back then line break"]),
                (u64::MAX - 1, u64::MAX, &["huge"]),
            ],
        );
    }

    #[test]
    fn zeroed_public_fields_are_treated_as_one() {
        let mut options = options();
        options.max_chars_per_line = 0;
        options.max_lines = 0;
        options.max_cue_duration_ms = 0;
        check(
            &said(&["a", " b"]),
            &options,
            &[(0, 100, &["a"]), (100, 200, &["b"])],
        );
    }

    #[test]
    fn empty_input_gives_no_cues() {
        check(&[], &options(), &[]);
        check(&[], &options().track(Track::Translation), &[]);
    }
}
