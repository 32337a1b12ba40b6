//! One timeline for every helper: token times made safe to compute with.
//!
//! Network input may hold anything: tokens without timestamps, an end before its start, or
//! tokens out of order. Rather than trusting them, every timed helper reads times through a
//! [`Clock`] that never runs backwards, so segments and cues always come out in order and
//! inside the range of the tokens' own timestamps.

use super::is_spoken;
use crate::transcript::Token;

/// A running position on the audio timeline.
#[derive(Clone, Copy, Debug)]
pub(super) struct Clock {
    now: u64,
}

impl Clock {
    /// A clock that starts where the first timed spoken token starts (0 when none is timed),
    /// so untimed tokens at the start do not pull anything before the audio that was heard.
    pub(super) fn for_tokens(tokens: &[Token]) -> Self {
        let now = tokens
            .iter()
            .filter(|token| is_spoken(token))
            .find_map(raw_span)
            .map_or(0, |(start, _)| start);
        Self { now }
    }

    /// The span of a spoken token on this clock, which then moves to the span's end.
    ///
    /// A token starting before the clock is moved up to it, an end before the start becomes
    /// the start, and a token without timestamps gets an empty span at the current time.
    pub(super) fn place(&mut self, token: &Token) -> (u64, u64) {
        match raw_span(token) {
            Some((start, end)) => {
                let start = start.max(self.now);
                let end = end.max(start);
                self.now = end;
                (start, end)
            }
            None => (self.now, self.now),
        }
    }

    /// The current time.
    pub(super) fn now(self) -> u64 {
        self.now
    }
}

/// The token's own timestamps; a lone start or end stands for both.
fn raw_span(token: &Token) -> Option<(u64, u64)> {
    match (token.start_ms, token.end_ms) {
        (Some(start), Some(end)) => Some((start, end)),
        (Some(time), None) | (None, Some(time)) => Some((time, time)),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn untimed(text: &str) -> Token {
        let mut token = Token::spoken(text, 0, 0, 0.9);
        token.start_ms = None;
        token.end_ms = None;
        token
    }

    #[test]
    fn clock_starts_at_the_first_timed_spoken_token() {
        let tokens = [untimed("a"), Token::spoken("b", 500, 700, 0.9)];
        let mut clock = Clock::for_tokens(&tokens);
        assert_eq!(clock.place(&tokens[0]), (500, 500));
        assert_eq!(clock.place(&tokens[1]), (500, 700));
        assert_eq!(Clock::for_tokens(&[]).now(), 0);
    }

    #[test]
    fn clock_never_runs_backwards() {
        let mut clock = Clock::for_tokens(&[]);
        assert_eq!(clock.place(&Token::spoken("a", 100, 50, 0.9)), (100, 100));
        assert_eq!(clock.place(&Token::spoken("b", 80, 120, 0.9)), (100, 120));
        assert_eq!(clock.place(&untimed("c")), (120, 120));
        assert_eq!(
            clock.place(&Token::spoken("d", u64::MAX, 0, 0.9)),
            (u64::MAX, u64::MAX)
        );
    }

    #[test]
    fn a_lone_timestamp_stands_for_both() {
        let mut token = Token::spoken("a", 40, 0, 0.9);
        token.end_ms = None;
        assert_eq!(raw_span(&token), Some((40, 40)));
        token.start_ms = None;
        token.end_ms = Some(60);
        assert_eq!(raw_span(&token), Some((60, 60)));
    }
}
