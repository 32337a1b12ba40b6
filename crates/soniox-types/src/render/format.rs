//! Writing cues as SubRip and WebVTT.

use std::fmt::Write as _;

use compact_str::CompactString;

use super::{
    cues::{Cue, cues, cues_with_labels},
    options::SubtitleOptions,
};
use crate::transcript::Token;

/// One track of `tokens` as SubRip (`.srt`) subtitles, split into [`cues`] by `options`.
///
/// Cues are numbered from 1 and separated by a blank line; times read `00:01:02,345`. With
/// speaker labels on, a cue whose tokens name a speaker starts with `Speaker N: `, and the
/// label counts towards the length of the first line. No cues give an empty string.
///
/// ```
/// use soniox_types::{SubtitleOptions, Token, render};
///
/// let tokens = [
///     Token::spoken("Hello.", 0, 500, 0.9).speaker("1"),
///     Token::spoken(" Hi.", 600, 900, 0.9).speaker("2"),
/// ];
/// let srt = render::srt(&tokens, &SubtitleOptions::default().speaker_labels(true));
/// assert_eq!(
///     srt,
///     "1\n00:00:00,000 --> 00:00:00,500\nSpeaker 1: Hello.\n\n\
///      2\n00:00:00,600 --> 00:00:00,900\nSpeaker 2: Hi.\n",
/// );
/// ```
pub fn srt(tokens: &[Token], options: &SubtitleOptions) -> String {
    let label_width = |speaker: Option<&CompactString>| match speaker {
        Some(speaker) if options.speaker_labels => SRT_LABEL_WIDTH + speaker.chars().count(),
        _ => 0,
    };
    let mut out = String::new();
    for (index, cue) in cues_with_labels(tokens, options, &label_width)
        .iter()
        .enumerate()
    {
        if index > 0 {
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "{}\n{} --> {}",
            index + 1,
            Timestamp(cue.start_ms, ','),
            Timestamp(cue.end_ms, ',')
        );
        if options.speaker_labels
            && let Some(speaker) = &cue.speaker
        {
            let _ = write!(out, "Speaker {}: ", single_line(speaker));
        }
        for line in &cue.lines {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The characters of `Speaker : ` around the speaker's name.
const SRT_LABEL_WIDTH: usize = "Speaker : ".len();

/// One track of `tokens` as WebVTT (`.vtt`) subtitles, split into [`cues`] by `options`.
///
/// The file starts with the `WEBVTT` header; times read `00:01:02.345`; `&`, `<` and `>` in
/// the text are escaped. With speaker labels on, a cue whose tokens name a speaker is wrapped
/// in a voice span, `<v Speaker N>`.
///
/// ```
/// use soniox_types::{SubtitleOptions, Token, render};
///
/// let tokens = [Token::spoken("1 < 2 & 3 > 2", 62_345, 63_000, 0.9).speaker("1")];
/// let vtt = render::vtt(&tokens, &SubtitleOptions::default().speaker_labels(true));
/// assert_eq!(
///     vtt,
///     "WEBVTT\n\n00:01:02.345 --> 00:01:03.000\n<v Speaker 1>1 &lt; 2 &amp; 3 &gt; 2\n",
/// );
/// assert_eq!(render::vtt(&[], &SubtitleOptions::default()), "WEBVTT\n");
/// ```
pub fn vtt(tokens: &[Token], options: &SubtitleOptions) -> String {
    let mut out = String::from("WEBVTT\n");
    for cue in cues(tokens, options) {
        let _ = writeln!(
            out,
            "\n{} --> {}",
            Timestamp(cue.start_ms, '.'),
            Timestamp(cue.end_ms, '.')
        );
        write_vtt_text(&mut out, &cue, options.speaker_labels);
    }
    out
}

fn write_vtt_text(out: &mut String, cue: &Cue, speaker_labels: bool) {
    if speaker_labels && let Some(speaker) = &cue.speaker {
        out.push_str("<v Speaker ");
        escape_vtt(out, &single_line(speaker));
        out.push('>');
    }
    for line in &cue.lines {
        escape_vtt(out, line);
        out.push('\n');
    }
}

/// Escapes the characters that WebVTT cue text reserves; this also rules out a stray `-->`.
fn escape_vtt(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
}

/// A speaker name from the network, kept on one line so it cannot break the file's layout.
fn single_line(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_whitespace() || c.is_control() {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// Milliseconds as `hh:mm:ss` plus the fraction after `separator`; hours grow past two
/// digits rather than wrap.
struct Timestamp(u64, char);

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self(ms, separator) = *self;
        let (hours, rest) = (ms / 3_600_000, ms % 3_600_000);
        let (minutes, rest) = (rest / 60_000, rest % 60_000);
        let (seconds, millis) = (rest / 1_000, rest % 1_000);
        write!(
            f,
            "{hours:02}:{minutes:02}:{seconds:02}{separator}{millis:03}"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_use_each_format_s_separator() {
        assert_eq!(Timestamp(0, ',').to_string(), "00:00:00,000");
        assert_eq!(Timestamp(62_345, ',').to_string(), "00:01:02,345");
        assert_eq!(Timestamp(3_723_004, '.').to_string(), "01:02:03.004");
        assert_eq!(
            Timestamp(u64::MAX, '.').to_string(),
            "5124095576030:25:51.615"
        );
    }

    #[test]
    fn speaker_names_stay_on_one_line() {
        let tokens = [Token::spoken("Hi", 0, 100, 0.9).speaker("a\n\nb<")];
        let options = SubtitleOptions::default().speaker_labels(true);
        assert_eq!(
            srt(&tokens, &options),
            "1\n00:00:00,000 --> 00:00:00,100\nSpeaker a  b<: Hi\n"
        );
        assert_eq!(
            vtt(&tokens, &options),
            "WEBVTT\n\n00:00:00,000 --> 00:00:00,100\n<v Speaker a  b&lt;>Hi\n".replace(',', ".")
        );
    }

    #[test]
    fn an_srt_label_counts_towards_the_first_line() {
        let tokens = [
            Token::spoken("abc", 0, 100, 0.9).speaker("1"),
            Token::spoken(" def", 100, 200, 0.9).speaker("1"),
        ];
        let options = SubtitleOptions::default()
            .max_chars_per_line(17)
            .speaker_labels(true);
        assert_eq!(
            srt(&tokens, &options),
            "1\n00:00:00,000 --> 00:00:00,200\nSpeaker 1: abc\ndef\n"
        );
        assert!(vtt(&tokens, &options).ends_with("<v Speaker 1>abc def\n"));
    }

    #[test]
    fn labels_are_off_by_default_and_absent_without_a_speaker() {
        let tokens = [Token::spoken("Hi", 0, 100, 0.9)];
        let labelled = SubtitleOptions::default().speaker_labels(true);
        let expect = "1\n00:00:00,000 --> 00:00:00,100\nHi\n";
        assert_eq!(srt(&tokens, &labelled), expect);
        let with_speaker = [Token::spoken("Hi", 0, 100, 0.9).speaker("1")];
        assert_eq!(srt(&with_speaker, &SubtitleOptions::default()), expect);
    }

    #[test]
    fn cues_are_numbered_and_separated_by_one_blank_line() {
        let tokens = [
            Token::spoken("One.", 0, 100, 0.9).speaker("1"),
            Token::spoken(" Two.", 100, 200, 0.9).speaker("2"),
            Token::spoken(" Three.", 200, 300, 0.9).speaker("1"),
        ];
        let srt = srt(&tokens, &SubtitleOptions::default());
        assert_eq!(
            srt,
            "1\n00:00:00,000 --> 00:00:00,100\nOne.\n\n\
             2\n00:00:00,100 --> 00:00:00,200\nTwo.\n\n\
             3\n00:00:00,200 --> 00:00:00,300\nThree.\n"
        );
        assert!(vtt(&tokens, &SubtitleOptions::default()).starts_with("WEBVTT\n\n00:00:00.000"));
    }

    #[test]
    fn empty_input_gives_an_empty_srt_and_a_bare_vtt_header() {
        assert_eq!(srt(&[], &SubtitleOptions::default()), "");
        assert_eq!(vtt(&[], &SubtitleOptions::default()), "WEBVTT\n");
    }
}
