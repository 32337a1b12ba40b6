//! Spoken text grouped into segments by speaker and language.

use compact_str::CompactString;

use super::{
    text::{join_run, trimmed},
    timing::Clock,
};
use crate::transcript::Token;

/// A stretch of speech by one speaker in one language, with the translation that follows it.
///
/// ```
/// use soniox_types::{Token, render};
///
/// let tokens = [
///     Token::spoken("Hello", 0, 400, 0.9).speaker("1").language("en"),
///     Token::spoken(" there.", 400, 900, 0.9).speaker("1").language("en"),
///     Token::translation("Hallo.", "de", "en", 0.9),
/// ];
/// let segment = &render::segments(&tokens)[0];
/// assert_eq!(segment.speaker.as_deref(), Some("1"));
/// assert_eq!(segment.language.as_deref(), Some("en"));
/// assert_eq!((segment.start_ms, segment.end_ms), (0, 900));
/// assert_eq!(segment.text, "Hello there.");
/// assert_eq!(segment.translation.as_deref(), Some("Hallo."));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Segment {
    /// Who spoke, with speaker diarization.
    pub speaker: Option<CompactString>,
    /// The spoken language, with language identification or translation.
    pub language: Option<CompactString>,
    /// Where the first token starts, in milliseconds.
    pub start_ms: u64,
    /// Where the last token ends, in milliseconds; never before `start_ms`.
    pub end_ms: u64,
    /// The spoken text, trimmed.
    pub text: String,
    /// The text of the translation tokens that follow this segment's tokens, trimmed; `None`
    /// when there are none.
    pub translation: Option<String>,
}

/// Groups the spoken tokens of `tokens` into [`Segment`]s.
///
/// Consecutive spoken tokens with the same speaker and language form one segment. Translation
/// tokens never end a segment: each run of them is added to the translation of the segment
/// whose tokens it follows, or of the first segment if it comes before any speech.
///
/// Times come from the tokens' timestamps, read so that they never run backwards: a token
/// without timestamps takes the time the previous one ended. A segment whose text is
/// whitespace only, and that has no translation, is left out.
///
/// ```
/// use soniox_types::{Token, render};
///
/// let tokens = [
///     Token::spoken("Hi.", 0, 400, 0.9).speaker("1"),
///     Token::translation("Hallo.", "de", "en", 0.9),
///     Token::spoken(" How", 500, 700, 0.9).speaker("1"),
///     Token::spoken(" Fine.", 900, 1300, 0.9).speaker("2"),
/// ];
/// let texts: Vec<_> = render::segments(&tokens).into_iter().map(|s| s.text).collect();
/// assert_eq!(texts, ["Hi. How", "Fine."]);
/// ```
pub fn segments(tokens: &[Token]) -> Vec<Segment> {
    let mut clock = Clock::for_tokens(tokens);
    let mut segments: Vec<Segment> = Vec::new();
    let mut leading_translation = String::new();
    let mut previous_was_translation = false;
    for token in tokens {
        if token.is_translation() {
            let translation = match segments.last_mut() {
                Some(segment) => segment.translation.get_or_insert_with(String::new),
                None => &mut leading_translation,
            };
            if !previous_was_translation {
                join_run(translation, &token.text);
            }
            translation.push_str(&token.text);
            previous_was_translation = true;
            continue;
        }
        previous_was_translation = false;
        let (start, end) = clock.place(token);
        match segments.last_mut() {
            Some(segment)
                if segment.speaker == token.speaker && segment.language == token.language =>
            {
                segment.text.push_str(&token.text);
                segment.end_ms = end;
            }
            _ => segments.push(Segment {
                speaker: token.speaker.clone(),
                language: token.language.clone(),
                start_ms: start,
                end_ms: end,
                text: token.text.to_string(),
                translation: None,
            }),
        }
    }
    if !leading_translation.is_empty() {
        attach_leading_translation(&mut segments, leading_translation, clock.now());
    }
    segments.into_iter().filter_map(finished).collect()
}

/// Gives translation text that came before any speech to the first segment, or to a segment
/// of its own when there is no speech at all.
fn attach_leading_translation(segments: &mut Vec<Segment>, mut leading: String, now: u64) {
    match segments.first_mut() {
        Some(segment) => {
            if let Some(rest) = segment.translation.take() {
                join_run(&mut leading, &rest);
                leading.push_str(&rest);
            }
            segment.translation = Some(leading);
        }
        None => segments.push(Segment {
            speaker: None,
            language: None,
            start_ms: now,
            end_ms: now,
            text: String::new(),
            translation: Some(leading),
        }),
    }
}

/// Trims a segment's texts, or drops it when nothing is left.
fn finished(mut segment: Segment) -> Option<Segment> {
    segment.text = trimmed(segment.text);
    segment.translation = segment
        .translation
        .map(trimmed)
        .filter(|translation| !translation.is_empty());
    (!segment.text.is_empty() || segment.translation.is_some()).then_some(segment)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spoken(text: &str, start: u64, end: u64, speaker: &str, language: &str) -> Token {
        Token::spoken(text, start, end, 0.9)
            .speaker(speaker)
            .language(language)
    }

    fn de(text: &str) -> Token {
        Token::translation(text, "de", "en", 0.9)
    }

    /// Speaker, start, end, text and translation of one segment.
    type Expected<'a> = (Option<&'a str>, u64, u64, &'a str, Option<&'a str>);

    #[track_caller]
    fn check(tokens: &[Token], expect: &[Expected<'_>]) {
        let actual: Vec<_> = segments(tokens)
            .into_iter()
            .map(|s| {
                let speaker = s.speaker.map(String::from);
                (speaker, s.start_ms, s.end_ms, s.text, s.translation)
            })
            .collect();
        let expect: Vec<_> = expect
            .iter()
            .map(|&(speaker, start, end, text, translation)| {
                let speaker = speaker.map(String::from);
                (
                    speaker,
                    start,
                    end,
                    text.to_owned(),
                    translation.map(String::from),
                )
            })
            .collect();
        assert_eq!(actual, expect);
    }

    #[test]
    fn speaker_change_starts_a_segment() {
        check(
            &[
                spoken("Hi", 0, 200, "1", "en"),
                spoken(" you.", 200, 400, "1", "en"),
                spoken(" Hey.", 600, 900, "2", "en"),
                spoken(" Again.", 1000, 1200, "1", "en"),
            ],
            &[
                (Some("1"), 0, 400, "Hi you.", None),
                (Some("2"), 600, 900, "Hey.", None),
                (Some("1"), 1000, 1200, "Again.", None),
            ],
        );
    }

    #[test]
    fn language_change_starts_a_segment() {
        let segments = segments(&[
            spoken("Hello.", 0, 200, "1", "en"),
            spoken(" Hallo.", 300, 500, "1", "de"),
        ]);
        let languages: Vec<_> = segments.iter().map(|s| s.language.as_deref()).collect();
        assert_eq!(languages, [Some("en"), Some("de")]);
    }

    #[test]
    fn translation_tokens_neither_break_nor_time_a_segment() {
        check(
            &[
                spoken("Good", 0, 200, "1", "en"),
                spoken(" morning.", 200, 600, "1", "en"),
                de("Guten"),
                de(" Morgen."),
                spoken(" Bye.", 700, 900, "1", "en"),
                de("Tschüss."),
                spoken(" Ciao.", 1000, 1100, "2", "en"),
                de("Ciao."),
            ],
            &[
                (
                    Some("1"),
                    0,
                    900,
                    "Good morning. Bye.",
                    Some("Guten Morgen. Tschüss."),
                ),
                (Some("2"), 1000, 1100, "Ciao.", Some("Ciao.")),
            ],
        );
    }

    #[test]
    fn translation_before_any_speech_goes_to_the_first_segment() {
        check(
            &[
                de("Vorab."),
                spoken("Hi.", 100, 200, "1", "en"),
                de("Hallo."),
            ],
            &[(Some("1"), 100, 200, "Hi.", Some("Vorab. Hallo."))],
        );
    }

    #[test]
    fn only_translation_tokens_make_one_segment_without_speech() {
        check(
            &[de("Nur"), de(" das.")],
            &[(None, 0, 0, "", Some("Nur das."))],
        );
    }

    #[test]
    fn empty_and_whitespace_only_input_give_no_segments() {
        check(&[], &[]);
        check(&[spoken("  ", 0, 100, "1", "en")], &[]);
    }

    #[test]
    fn untimed_and_backwards_tokens_keep_times_in_order() {
        let mut untimed = spoken(" so", 0, 0, "1", "en");
        untimed.start_ms = None;
        untimed.end_ms = None;
        check(
            &[
                spoken("Well", 500, 400, "1", "en"),
                untimed,
                spoken(" yes.", 300, 800, "2", "en"),
            ],
            &[
                (Some("1"), 500, 500, "Well so", None),
                (Some("2"), 500, 800, "yes.", None),
            ],
        );
    }
}
