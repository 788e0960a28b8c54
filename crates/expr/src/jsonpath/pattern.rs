//! `match()` and `search()`: I-Regexp (RFC 9485) matching that stops at the deadline.
//!
//! A regular expression engine called once per text cannot be interrupted, and even one
//! that never backtracks takes time proportional to the text times the pattern's size
//! when its fast paths fail: `(?:a|b){1,5000}[^ab]` over an 800 KB string kept the
//! `regex` crate busy for 56 s. So the pattern runs as a lazy DFA (regex-automata's
//! hybrid engine) stepped here one byte at a time: each step costs at most the size of
//! the pattern's automaton, which is capped ([`NFA_BYTES`]), the states it learns live in
//! a cache of fixed size ([`CACHE_BYTES`], cleared when full), and the clock is read
//! every [`CLOCK_EVERY_BYTES`] bytes. A pattern too large for those is not valid here,
//! like one that does not parse: the function is false (`\p{L}{1,300}` is one; `\p{L}+`
//! is not).

use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::nfa::thompson;
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input};

use super::eval::{Budget, Stop};

/// Heap of a pattern's automaton; a larger pattern is not a valid one (the function is
/// false, as RFC 9535 says for patterns that are not I-Regexps).
const NFA_BYTES: usize = 256 * 1024;

/// Heap of the states one evaluation learns for one pattern, charged to its budget.
pub(crate) const CACHE_BYTES: usize = 2 * 1024 * 1024;

/// Bytes of text between two looks at the clock.
const CLOCK_EVERY_BYTES: usize = 64;

/// A compiled pattern.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    // Boxed: a DFA is large, and its address names the pattern's cache in an evaluation.
    dfa: Box<DFA>,
}

impl Pattern {
    /// `pattern` as `match()` (`whole`: the entire text) or `search()` (a substring) reads
    /// it; `None` when it is not a valid pattern or too large. As jsonpath-rust translates
    /// I-Regexps: `.` outside a class matches anything but `\n` and `\r`.
    pub(crate) fn new(pattern: &str, whole: bool) -> Option<Self> {
        let mut translated = String::with_capacity(pattern.len() + 8);
        let mut chars = pattern.chars();
        let mut in_class = false;
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    translated.push(c);
                    translated.extend(chars.next());
                }
                '[' if !in_class => {
                    in_class = true;
                    translated.push(c);
                }
                ']' if in_class => {
                    in_class = false;
                    translated.push(c);
                }
                '.' if !in_class => translated.push_str(r"[^\n\r]"),
                _ => translated.push(c),
            }
        }
        let translated = if whole { format!("^(?:{translated})$") } else { translated };
        let dfa = DFA::builder()
            .configure(DFA::config().cache_capacity(CACHE_BYTES).minimum_cache_clear_count(None))
            .syntax(syntax::Config::new())
            .thompson(thompson::Config::new().nfa_size_limit(Some(NFA_BYTES)))
            .build(&translated)
            .ok()?;
        Some(Self { dfa: Box::new(dfa) })
    }

    /// Tells this pattern from the others of a query while it lives.
    pub(crate) fn id(&self) -> usize {
        std::ptr::from_ref::<DFA>(&self.dfa).addr()
    }

    /// A cache for [`Self::is_match`], its capacity charged to `budget`.
    pub(crate) fn cache(&self, budget: &mut Budget) -> Result<Cache, Stop> {
        budget.spend(CACHE_BYTES)?;
        Ok(self.dfa.create_cache())
    }

    /// Whether the pattern matches `text` (anywhere, unless it was compiled `whole`).
    pub(crate) fn is_match(&self, cache: &mut Cache, text: &str, budget: &mut Budget) -> Result<bool, Stop> {
        let input = Input::new(text).anchored(Anchored::No);
        // Without a cache heuristic to give up on, the lazy DFA never fails: it clears its
        // cache when full and goes on. An error is then a pattern it cannot run: no match.
        let Ok(mut state) = self.dfa.start_state_forward(cache, &input) else { return Ok(false) };
        for (i, &byte) in text.as_bytes().iter().enumerate() {
            if i % CLOCK_EVERY_BYTES == 0 {
                budget.check_clock()?;
            }
            let Ok(next) = self.dfa.next_state(cache, state, byte) else { return Ok(false) };
            state = next;
            if state.is_tagged() {
                // A match state shows one byte late; a dead or quit state cannot match.
                if state.is_match() {
                    return Ok(true);
                }
                if state.is_dead() || state.is_quit() {
                    return Ok(false);
                }
            }
        }
        Ok(self.dfa.next_eoi_state(cache, state).is_ok_and(|state| state.is_match()))
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    fn matches(pattern: &str, whole: bool, text: &str) -> bool {
        let pattern = Pattern::new(pattern, whole).unwrap();
        let mut budget = Budget::unlimited();
        let mut cache = pattern.cache(&mut budget).unwrap();
        pattern.is_match(&mut cache, text, &mut budget).unwrap()
    }

    #[test]
    fn match_takes_the_whole_text_and_search_any_part() {
        assert!(matches("a.c", true, "abc"));
        assert!(!matches("a.c", true, "xabc"));
        assert!(matches("a.c", false, "xabcx"));
        assert!(!matches("a.c", false, "a\nc"), "`.` is not a line break");
        assert!(matches("a|b", true, "b") && !matches("a|b", true, "ab"));
        assert!(matches(r"\p{Lu}+", true, "ÉTÉ"));
        assert!(matches("", false, "") && matches("", true, ""));
        assert!(Pattern::new("a(", true).is_none(), "not a pattern");
        assert!(Pattern::new("(?:a|b){1,100000}", true).is_none(), "too large");
    }

    #[test]
    fn a_pattern_that_defeats_the_engine_stops_at_the_deadline() {
        // The `regex` crate spent 56 s on {1,5000} over 800 KB; this one, stepped here,
        // takes 60 ms over 800 KB in a release build: 600 ms over 8 MB, stopped at 20.
        let pattern = Pattern::new("(?:a|b){1,2000}[^ab]", false).unwrap();
        let mut budget = Budget::new(Instant::now() + Duration::from_millis(20), usize::MAX);
        let mut cache = pattern.cache(&mut budget).unwrap();
        assert_eq!(pattern.is_match(&mut cache, &"ab".repeat(4_000_000), &mut budget), Err(Stop::Timeout));
    }
}
