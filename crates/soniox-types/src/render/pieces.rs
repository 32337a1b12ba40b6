//! Tokens turned into pieces of text placed on the timeline, the input of cue layout.

use std::borrow::Cow;

use compact_str::CompactString;

use super::{is_spoken, timing::Clock};
use crate::transcript::Token;

/// A token's text placed on the timeline, ready for layout.
#[derive(Debug)]
pub(super) struct Piece<'a> {
    /// The text on one line, with any leading space.
    pub(super) text: Cow<'a, str>,
    pub(super) start: u64,
    pub(super) end: u64,
    pub(super) speaker: Option<&'a CompactString>,
    /// Whether a word boundary comes before this piece.
    pub(super) starts_word: bool,
}

/// The spoken track's pieces, timed by their own timestamps.
pub(super) fn spoken_pieces(tokens: &[Token]) -> Vec<Piece<'_>> {
    let mut clock = Clock::for_tokens(tokens);
    tokens
        .iter()
        .filter(|token| is_spoken(token))
        .map(|token| {
            let (start, end) = clock.place(token);
            let text = single_line(&token.text);
            Piece {
                starts_word: text.starts_with(' '),
                text,
                start,
                end,
                speaker: token.speaker.as_ref(),
            }
        })
        .collect()
}

/// Translation pieces, each run spread over the span of the spoken tokens before it in
/// proportion to the characters, since translation tokens have no timestamps of their own.
pub(super) fn translation_pieces(tokens: &[Token]) -> Vec<Piece<'_>> {
    let mut clock = Clock::for_tokens(tokens);
    let mut spoken: Option<(u64, u64, Option<&CompactString>)> = None;
    let mut pieces = Vec::new();
    let mut rest = tokens;
    while let Some((token, tail)) = rest.split_first() {
        if is_spoken(token) {
            let (start, end) = clock.place(token);
            spoken = Some(match spoken {
                Some((first_start, _, speaker)) => (first_start, end, speaker),
                None => (start, end, token.speaker.as_ref()),
            });
            rest = tail;
            continue;
        }
        let run_len = rest.iter().take_while(|t| !is_spoken(t)).count();
        let (run, tail) = rest.split_at(run_len);
        let (start, end, speaker) = spoken.take().unwrap_or((clock.now(), clock.now(), None));
        spread(run, start, end, speaker, &mut pieces);
        rest = tail;
    }
    pieces
}

/// Places one run of translation tokens between `start` and `end`.
fn spread<'a>(
    run: &'a [Token],
    start: u64,
    end: u64,
    speaker: Option<&'a CompactString>,
    pieces: &mut Vec<Piece<'a>>,
) {
    let texts: Vec<_> = run.iter().map(|token| single_line(&token.text)).collect();
    let total: usize = texts.iter().map(|text| text.chars().count()).sum();
    let at = |offset: usize| {
        let duration = u128::from(end.saturating_sub(start));
        let share = duration * offset as u128 / total.max(1) as u128;
        // `share <= duration`, so the conversion cannot fail.
        start.saturating_add(u64::try_from(share).unwrap_or(0))
    };
    let mut offset = 0;
    for (index, (token, text)) in run.iter().zip(texts).enumerate() {
        let piece_start = at(offset);
        offset += text.chars().count();
        pieces.push(Piece {
            starts_word: index == 0 || text.starts_with(' '),
            text,
            start: piece_start,
            end: at(offset),
            speaker: token.speaker.as_ref().or(speaker),
        });
    }
}

/// Token text with line breaks and other control characters turned into spaces, because
/// line breaks in subtitles are ours to place and a blank line would end the cue.
fn single_line(text: &str) -> Cow<'_, str> {
    let odd = |c: char| c != ' ' && (c.is_whitespace() || c.is_control());
    if text.contains(odd) {
        Cow::Owned(text.replace(odd, " "))
    } else {
        Cow::Borrowed(text)
    }
}

/// Pieces grouped into words: a word starts at a leading space or a change of speaker.
pub(super) fn words<'p, 'a>(pieces: &'p [Piece<'a>]) -> impl Iterator<Item = &'p [Piece<'a>]> {
    pieces.chunk_by(|previous, next| !next.starts_word && previous.speaker == next.speaker)
}
