//! The tokens of an expression, for `straight`'s check: a JavaScript tokenizer for the
//! plain part of the language, that gives up (`None`) on whatever it does not read
//! exactly as QuickJS does, so that a token it reports is one QuickJS sees.
//!
//! Given up on: regular expression literals (a `/` where a value cannot end, so that
//! `a / b` is read and `/re/` is not), BigInt literals, escapes outside strings (`\u` in
//! names), any non-ASCII character outside strings, templates and comments (names,
//! spaces and line ends beyond ASCII), U+2028 and U+2029 anywhere (they end a `//`
//! comment), HTML-like comments (`<!--`, `-->`, which QuickJS reads as comments in a
//! script), `#` and `@`, and unterminated strings, templates or comments.

/// One token. Strings keep their text between the quotes, escapes unread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Token<'a> {
    /// A name or a keyword.
    Name(&'a str),
    /// A number literal.
    Number,
    /// A string literal's text between its quotes.
    Str(&'a str),
    /// A template's text up to its first `${` (the expressions follow, each closed by
    /// [`Token::TemplateNext`]).
    TemplateStart,
    /// A template's text after a `}`, up to the next `${` (`ends` false) or its end.
    TemplateNext { ends: bool },
    /// A template with no `${`.
    Template,
    /// Punctuation: `(`, `?.`, `===`, ...
    Punct(&'static str),
}

/// Whether a value can end with the last of `read`, so that a `/` after it divides and a
/// `[` after it reads a member: a name (but a keyword that an expression may follow,
/// unless it is a member name, `a.in`), a literal, a template's end, `)`, `]`, `}`.
pub(crate) fn ends_value(read: &[Token<'_>]) -> bool {
    match read {
        [.., Token::Punct("." | "?."), Token::Name(_)] => true,
        [.., Token::Name(name)] => !OPERATOR_WORDS.contains(name),
        [.., Token::Number | Token::Str(_) | Token::Template | Token::TemplateNext { ends: true }] => true,
        [.., Token::Punct(p)] => matches!(*p, ")" | "]" | "}"),
        _ => false,
    }
}

/// The words after which an expression may start (a `/` there starts a regular
/// expression): every reserved word but `this`, `super`, `null`, `true` and `false`,
/// and the contextual ones that can be operators.
const OPERATOR_WORDS: [&str; 36] = [
    "await",
    "break",
    "case",
    "catch",
    "class",
    "const",
    "continue",
    "debugger",
    "default",
    "delete",
    "do",
    "else",
    "enum",
    "export",
    "extends",
    "finally",
    "for",
    "function",
    "if",
    "import",
    "in",
    "instanceof",
    "let",
    "new",
    "of",
    "return",
    "static",
    "switch",
    "throw",
    "try",
    "typeof",
    "var",
    "void",
    "while",
    "with",
    "yield",
];

/// Punctuators, longest first (`?.` and `.` apart, see [`punctuator`]).
const PUNCTUATORS: [&str; 50] = [
    ">>>=", "...", "===", "!==", "**=", "<<=", ">>=", ">>>", "&&=", "||=", "??=", "=>", "==", "!=", "<=", ">=", "&&",
    "||", "??", "++", "--", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "**", "<<", ">>", "{", "}", "(", ")", "[",
    "]", ";", ",", "<", ">", "+", "-", "*", "/", "%", "&", "|", "^",
];

/// The single-character punctuators not in [`PUNCTUATORS`].
const SINGLE: [&str; 5] = ["!", "~", "?", ":", "="];

/// The tokens of `source`, or `None` where it leaves the plain language (see above).
pub(crate) fn tokens(source: &str) -> Option<Vec<Token<'_>>> {
    if source.contains(['\u{2028}', '\u{2029}']) || source.contains("<!--") || source.contains("-->") {
        return None;
    }
    let text = source.as_bytes();
    let mut out: Vec<Token<'_>> = Vec::new();
    // Open `{`s: `false` for an object literal, `true` for a template's `${`.
    let mut braces: Vec<bool> = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let byte = text[i];
        match byte {
            b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => i += 1,
            b'/' if text.get(i + 1) == Some(&b'/') => {
                i = text[i..].iter().position(|b| *b == b'\n' || *b == b'\r').map_or(text.len(), |n| i + n);
            }
            b'/' if text.get(i + 1) == Some(&b'*') => {
                let end = source[i + 2..].find("*/")?;
                i += 2 + end + 2;
            }
            b'/' if !ends_value(&out) => return None,
            b'\'' | b'"' => {
                let end = string_end(text, i + 1, byte)?;
                out.push(Token::Str(&source[i + 1..end]));
                i = end + 1;
            }
            b'`' => {
                let (end, opens) = template_end(text, i + 1)?;
                if opens {
                    braces.push(true);
                    out.push(Token::TemplateStart);
                } else {
                    out.push(Token::Template);
                }
                i = end;
            }
            b'}' if braces.last() == Some(&true) => {
                braces.pop();
                let (end, opens) = template_end(text, i + 1)?;
                if opens {
                    braces.push(true);
                }
                out.push(Token::TemplateNext { ends: !opens });
                i = end;
            }
            b'0'..=b'9' => {
                i = number_end(text, i)?;
                out.push(Token::Number);
            }
            b'.' if text.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                i = number_end(text, i)?;
                out.push(Token::Number);
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' | b'$' => {
                let end = text[i..].iter().position(|b| !is_name(*b)).map_or(text.len(), |n| i + n);
                if text.get(end).is_some_and(|b| !b.is_ascii() || *b == b'\\') {
                    return None;
                }
                out.push(Token::Name(&source[i..end]));
                i = end;
            }
            _ => {
                let punct = punctuator(&text[i..])?;
                match punct {
                    "{" => braces.push(false),
                    "}" => drop(braces.pop()?),
                    _ => {}
                }
                out.push(Token::Punct(punct));
                i += punct.len();
            }
        }
    }
    braces.is_empty().then_some(out)
}

/// A name's characters (ASCII only; anything else ends the tokenizer's reading).
fn is_name(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'$'
}

/// The punctuator at the start of `rest`: `?.` only when no digit follows (`a?.5:1` is a
/// conditional), `.` alone, or the longest of the others.
fn punctuator(rest: &[u8]) -> Option<&'static str> {
    if rest.starts_with(b"?.") && !rest.get(2).is_some_and(u8::is_ascii_digit) {
        return Some("?.");
    }
    if rest.starts_with(b".") && !rest.starts_with(b"...") {
        return Some(".");
    }
    PUNCTUATORS.iter().chain(SINGLE.iter()).find(|p| rest.starts_with(p.as_bytes())).copied()
}

/// Where the string opened before `start` with `quote` ends (the closing quote).
fn string_end(text: &[u8], start: usize, quote: u8) -> Option<usize> {
    let mut i = start;
    loop {
        match *text.get(i)? {
            b'\\' => i += 2,
            b'\n' | b'\r' => return None,
            b if b == quote => return Some(i),
            _ => i += 1,
        }
    }
}

/// Where the template text from `start` ends: after its closing backtick (`false`) or
/// after a `${` (`true`).
fn template_end(text: &[u8], start: usize) -> Option<(usize, bool)> {
    let mut i = start;
    loop {
        match *text.get(i)? {
            b'\\' => i += 2,
            b'`' => return Some((i + 1, false)),
            b'$' if text.get(i + 1) == Some(&b'{') => return Some((i + 2, true)),
            _ => i += 1,
        }
    }
}

/// Where the number literal at `start` ends: `0x..`, `0o..`, `0b..`, or decimal digits
/// with `_`, a fraction and an exponent. `None` for a BigInt (`1n`) or a name or digit
/// right after it (`1in`, `08.5`-like forms are read as QuickJS would refuse them).
fn number_end(text: &[u8], start: usize) -> Option<usize> {
    let digits = |mut i: usize, ok: fn(&u8) -> bool| {
        while text.get(i).is_some_and(|b| ok(b) || *b == b'_') {
            i += 1;
        }
        i
    };
    let prefixed = text[start] == b'0' && text.get(start + 1).is_some_and(|b| b"xXoObB".contains(b));
    let end = if prefixed {
        digits(start + 2, u8::is_ascii_hexdigit)
    } else {
        let mut i = digits(start, u8::is_ascii_digit);
        if text.get(i) == Some(&b'.') {
            i = digits(i + 1, u8::is_ascii_digit);
        }
        if text.get(i).is_some_and(|b| *b == b'e' || *b == b'E') {
            i += 1;
            if text.get(i).is_some_and(|b| *b == b'+' || *b == b'-') {
                i += 1;
            }
            i = digits(i, u8::is_ascii_digit);
        }
        i
    };
    if text.get(end).is_some_and(|b| is_name(*b) || !b.is_ascii() || *b == b'\\') {
        return None;
    }
    Some(end)
}

#[cfg(test)]
mod tests {
    use super::Token::*;
    use super::*;

    #[test]
    fn the_plain_language_is_read() {
        let read = tokens("Math.round(Date.parse(event.time) / 60000) % 2 === 0").unwrap();
        assert_eq!(read.len(), 19);
        assert_eq!(read[..4], [Name("Math"), Punct("."), Name("round"), Punct("(")]);
        assert_eq!(read[12..14], [Punct("/"), Number]);
        assert_eq!(tokens("1..toString()").unwrap()[..3], [Number, Punct("."), Name("toString")]);
        assert_eq!(tokens("a?.5:1").unwrap()[..3], [Name("a"), Punct("?"), Number]);
        assert_eq!(tokens("a?.b").unwrap(), [Name("a"), Punct("?."), Name("b")]);
        assert_eq!(tokens("x // c /\n + 'it''s' /* ' */").unwrap(), [Name("x"), Punct("+"), Str("it"), Str("s")]);
        let template = tokens("`a${ {b: `c${d}`} }e` + 1").unwrap();
        assert_eq!(
            template,
            [
                TemplateStart,
                Punct("{"),
                Name("b"),
                Punct(":"),
                TemplateStart,
                Name("d"),
                TemplateNext { ends: true },
                Punct("}"),
                TemplateNext { ends: true },
                Punct("+"),
                Number
            ]
        );
        assert_eq!(tokens("0x1F + 1_000.5e-3 + .5").unwrap(), [Number, Punct("+"), Number, Punct("+"), Number]);
        assert_eq!(tokens("a>>>=b").unwrap()[1], Punct(">>>="));
        assert_eq!(tokens("'\\u0041\\''").unwrap(), [Str("\\u0041\\'")]);
        assert_eq!(tokens("x.in / 2").unwrap()[3], Punct("/"));
    }

    #[test]
    fn what_is_not_read_exactly_is_given_up() {
        for source in [
            "/re/.test(x)",
            "typeof /re/",
            "typeof / 2",
            "x = /re/",
            "1n",
            "0x1fn",
            "1in x",
            "ev\\u0065nt",
            "eventé",
            "a\u{a0}+ b",
            "'a\u{2028}'",
            "x <!-- y",
            "x --> y",
            "#x",
            "'open",
            "`open",
            "`${a`",
            "/* open",
            "'a\nb'",
            "{",
            "}",
        ] {
            assert_eq!(tokens(source), None, "{source}");
        }
    }
}
