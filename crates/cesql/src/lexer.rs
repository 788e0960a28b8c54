//! Splits an expression into tokens, each with its byte offset (spec section 2, and the
//! `CESQLLexer.g4` grammar of cloudevents/spec).

use crate::error::ParseError;

/// A token and where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: Tok,
    pub offset: usize,
}

/// The tokens of CESQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    LParen,
    RParen,
    Comma,
    Star,
    Slash,
    Percent,
    Plus,
    Minus,
    Eq,
    NotEq,
    LtGt,
    Lt,
    Le,
    Gt,
    Ge,
    /// A string literal, unescaped.
    Str(String),
    /// Decimal digits (the sign is the parser's business).
    Digits(String),
    /// Letters, digits and `_`: a keyword, an attribute or a function name.
    Word(String),
    Eof,
}

impl Tok {
    /// How an error message names the token.
    pub fn describe(&self) -> String {
        match self {
            Self::LParen => "'('".into(),
            Self::RParen => "')'".into(),
            Self::Comma => "','".into(),
            Self::Star => "'*'".into(),
            Self::Slash => "'/'".into(),
            Self::Percent => "'%'".into(),
            Self::Plus => "'+'".into(),
            Self::Minus => "'-'".into(),
            Self::Eq => "'='".into(),
            Self::NotEq => "'!='".into(),
            Self::LtGt => "'<>'".into(),
            Self::Lt => "'<'".into(),
            Self::Le => "'<='".into(),
            Self::Gt => "'>'".into(),
            Self::Ge => "'>='".into(),
            Self::Str(_) => "a string literal".into(),
            Self::Digits(d) => format!("'{d}'"),
            Self::Word(w) => format!("'{w}'"),
            Self::Eof => "the end of the expression".into(),
        }
    }
}

/// The tokens of `source`, ending with [`Tok::Eof`].
pub(crate) fn tokenize(source: &str) -> Result<Vec<Token>, ParseError> {
    let mut tokens = Vec::new();
    let mut chars = source.char_indices().peekable();
    while let Some(&(offset, c)) = chars.peek() {
        let single = match c {
            ' ' | '\t' | '\r' | '\n' => {
                chars.next();
                continue;
            }
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            ',' => Some(Tok::Comma),
            '*' => Some(Tok::Star),
            '/' => Some(Tok::Slash),
            '%' => Some(Tok::Percent),
            '+' => Some(Tok::Plus),
            '-' => Some(Tok::Minus),
            '=' => Some(Tok::Eq),
            _ => None,
        };
        if let Some(kind) = single {
            chars.next();
            tokens.push(Token { kind, offset });
            continue;
        }
        let kind = match c {
            '!' | '<' | '>' => {
                chars.next();
                let next = chars.peek().map(|&(_, n)| n);
                let (kind, two) = match (c, next) {
                    ('!', Some('=')) => (Tok::NotEq, true),
                    ('<', Some('>')) => (Tok::LtGt, true),
                    ('<', Some('=')) => (Tok::Le, true),
                    ('>', Some('=')) => (Tok::Ge, true),
                    ('<', _) => (Tok::Lt, false),
                    ('>', _) => (Tok::Gt, false),
                    _ => return Err(ParseError::at(source, offset, "unexpected '!' (did you mean '!='?)")),
                };
                if two {
                    chars.next();
                }
                kind
            }
            '\'' | '"' => {
                chars.next();
                Tok::Str(string(source, offset, c, &mut chars)?)
            }
            c if c.is_ascii_alphanumeric() || c == '_' => {
                let mut word = String::new();
                while let Some(&(_, w)) = chars.peek().filter(|(_, w)| w.is_ascii_alphanumeric() || *w == '_') {
                    word.push(w);
                    chars.next();
                }
                if word.bytes().all(|b| b.is_ascii_digit()) { Tok::Digits(word) } else { Tok::Word(word) }
            }
            other => return Err(ParseError::at(source, offset, format!("unexpected character {other:?}"))),
        };
        tokens.push(Token { kind, offset });
    }
    tokens.push(Token { kind: Tok::Eof, offset: source.len() });
    Ok(tokens)
}

/// The rest of a string literal opened by `quote` at `start`. As in the grammar, a
/// backslash takes the next character with it; only `\'` (in `'...'`) and `\"` (in
/// `"..."`) lose their backslash, so `'a\_b'` keeps `\_` for LIKE.
fn string(
    source: &str,
    start: usize,
    quote: char,
    chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
) -> Result<String, ParseError> {
    let mut text = String::new();
    while let Some((_, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, q)) if q == quote => text.push(q),
                Some((_, other)) => {
                    text.push('\\');
                    text.push(other);
                }
                None => break,
            },
            c if c == quote => return Ok(text),
            c => text.push(c),
        }
    }
    Err(ParseError::at(source, start, "unterminated string literal"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(source: &str) -> Vec<Tok> {
        tokenize(source).unwrap().into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn operators_words_and_literals() {
        assert_eq!(
            kinds("a<>1 != b<=c>=(d,'x')"),
            vec![
                Tok::Word("a".into()),
                Tok::LtGt,
                Tok::Digits("1".into()),
                Tok::NotEq,
                Tok::Word("b".into()),
                Tok::Le,
                Tok::Word("c".into()),
                Tok::Ge,
                Tok::LParen,
                Tok::Word("d".into()),
                Tok::Comma,
                Tok::Str("x".into()),
                Tok::RParen,
                Tok::Eof
            ]
        );
    }

    #[test]
    fn strings_unescape_only_their_own_quote() {
        assert_eq!(kinds(r#"'a"b\'c'"#)[0], Tok::Str("a\"b'c".into()));
        assert_eq!(kinds(r#""a'b\"c""#)[0], Tok::Str("a'b\"c".into()));
        assert_eq!(kinds(r"'a\_b\%\\'")[0], Tok::Str(r"a\_b\%\\".into()));
        assert_eq!(kinds("'é'")[0], Tok::Str("é".into()));
    }

    #[test]
    fn errors_say_where() {
        assert_eq!(tokenize("a = 'x").unwrap_err().to_string(), "unterminated string literal at column 5");
        assert_eq!(tokenize("a ! b").unwrap_err().to_string(), "unexpected '!' (did you mean '!='?) at column 3");
        assert_eq!(tokenize("a ; b").unwrap_err().to_string(), "unexpected character ';' at column 3");
    }
}
