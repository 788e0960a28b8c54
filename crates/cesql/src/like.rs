//! `LIKE` patterns (spec section 3.4.3): `%` any run of characters, `_` one character,
//! `\%` and `\_` the characters themselves; any other backslash is literal, as in
//! cloudevents/sdk-go. Matching is on Unicode characters and never backtracks more
//! than once per character pair (O(text x pattern) at worst).

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern(Vec<Part>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Char(char),
    One,
    Many,
}

impl Pattern {
    pub(crate) fn compile(pattern: &str) -> Self {
        let mut parts = Vec::new();
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            parts.push(match c {
                '\\' => match chars.peek() {
                    Some(&e @ ('%' | '_')) => {
                        chars.next();
                        Part::Char(e)
                    }
                    _ => Part::Char('\\'),
                },
                '%' => Part::Many,
                '_' => Part::One,
                c => Part::Char(c),
            });
        }
        Self(parts)
    }

    pub(crate) fn matches(&self, text: &str) -> bool {
        let text: Vec<char> = text.chars().collect();
        let pattern = &self.0;
        let (mut t, mut p) = (0, 0);
        // The last `%` seen, and the text position it is currently made to end at.
        let mut star: Option<(usize, usize)> = None;
        while t < text.len() {
            match pattern.get(p) {
                Some(Part::One) => (t, p) = (t + 1, p + 1),
                Some(Part::Char(c)) if *c == text[t] => (t, p) = (t + 1, p + 1),
                Some(Part::Many) => {
                    star = Some((p, t));
                    p += 1;
                }
                _ => match star {
                    Some((sp, st)) => {
                        star = Some((sp, st + 1));
                        (t, p) = (st + 1, sp + 1);
                    }
                    None => return false,
                },
            }
        }
        pattern[p..].iter().all(|part| *part == Part::Many)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn like(text: &str, pattern: &str) -> bool {
        Pattern::compile(pattern).matches(text)
    }

    #[test]
    fn wildcards() {
        assert!(like("abc", "a%"));
        assert!(like("abc", "%c"));
        assert!(like("abc", "%"));
        assert!(like("", "%"));
        assert!(!like("", "_"));
        assert!(like("abc", "a_c"));
        assert!(!like("abbc", "a_c"));
        assert!(like("aXbXbc", "a%bc"));
        assert!(like("ééé", "_é_"));
        assert!(!like("ab", "abc"));
        assert!(!like("abc", "ab"));
        assert!(like("", ""));
        assert!(!like("a", ""));
    }

    #[test]
    fn escapes() {
        assert!(like("a%c", r"a\%c"));
        assert!(!like("abc", r"a\%c"));
        assert!(like("a_c", r"a\_c"));
        assert!(!like("abc", r"a\_c"));
        assert!(like(r"a\c", r"a\c"));
        assert!(like(r"ab\", r"ab\"));
    }

    #[test]
    fn long_inputs_stay_fast() {
        let text = "a".repeat(5000);
        assert!(!like(&text, &format!("{}b", "%a".repeat(50))));
    }
}
