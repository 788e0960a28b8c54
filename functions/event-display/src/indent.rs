//! Go's `json.Indent`, byte for byte, for event-display's `Data,` section.
//!
//! Go validates while it indents and the original prints the raw bytes when that
//! fails, so this is a validator too, with Go's scanner rules: tokens are copied
//! verbatim (strings are not re-escaped, invalid UTF-8 inside strings is accepted),
//! whitespace between tokens is dropped, whitespace after the top-level value is kept,
//! `{}` and `[]` stay compact, nesting deeper than 10000 is an error.

/// Go's `maxNestingDepth`.
const MAX_DEPTH: usize = 10_000;

/// Why a document is not valid JSON (the caller only needs to know that it is not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invalid;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Container {
    Object,
    Array,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// A value (after `:` or `,` in an array, or at the top level).
    Value,
    /// A value or `]` (just after `[`).
    ValueOrEnd,
    /// A key (after `,` in an object).
    Key,
    /// A key or `}` (just after `{`).
    KeyOrEnd,
    /// `,` or the end of the container, or the end of input at the top level.
    Next,
}

/// `json.Indent(dst, src, prefix, indent)`: `src` re-indented, or [`Invalid`].
pub fn indent(src: &[u8], prefix: &str, indent: &str) -> Result<Vec<u8>, Invalid> {
    let mut w = Writer { out: Vec::with_capacity(src.len() * 2), prefix, indent, depth: 0, need_indent: false };
    let mut stack: Vec<Container> = Vec::new();
    let mut expect = Expect::Value;
    let mut i = skip_space(src, 0);
    loop {
        if expect == Expect::Next && stack.is_empty() {
            // Top-level value done: only whitespace may follow, and Go keeps it.
            return if src[i..].iter().all(|&c| is_space(c)) {
                w.out.extend_from_slice(&src[i..]);
                Ok(w.out)
            } else {
                Err(Invalid)
            };
        }
        let &c = src.get(i).ok_or(Invalid)?;
        match (expect, c) {
            (Expect::ValueOrEnd, b']') | (Expect::KeyOrEnd, b'}') => {
                stack.pop();
                w.close(c);
                i += 1;
                expect = Expect::Next;
            }
            (Expect::Next, b',') => {
                w.out.push(b',');
                w.newline();
                i += 1;
                expect = if stack.last() == Some(&Container::Object) { Expect::Key } else { Expect::Value };
            }
            (Expect::Next, b'}' | b']') => {
                let closing = if c == b'}' { Container::Object } else { Container::Array };
                if stack.pop() != Some(closing) {
                    return Err(Invalid);
                }
                w.close(c);
                i += 1;
            }
            (Expect::Key | Expect::KeyOrEnd, b'"') => {
                w.open_pending();
                i = copy_string(src, i, &mut w.out)?;
                i = skip_space(src, i);
                if src.get(i) != Some(&b':') {
                    return Err(Invalid);
                }
                w.out.extend_from_slice(b": ");
                i += 1;
                expect = Expect::Value;
            }
            (Expect::Value | Expect::ValueOrEnd, _) => {
                w.open_pending();
                match c {
                    b'{' | b'[' => {
                        if stack.len() >= MAX_DEPTH {
                            return Err(Invalid);
                        }
                        stack.push(if c == b'{' { Container::Object } else { Container::Array });
                        w.out.push(c);
                        w.need_indent = true;
                        i += 1;
                        expect = if c == b'{' { Expect::KeyOrEnd } else { Expect::ValueOrEnd };
                        i = skip_space(src, i);
                        continue;
                    }
                    b'"' => i = copy_string(src, i, &mut w.out)?,
                    b'-' | b'0'..=b'9' => i = copy_number(src, i, &mut w.out)?,
                    b't' => i = copy_literal(src, i, b"true", &mut w.out)?,
                    b'f' => i = copy_literal(src, i, b"false", &mut w.out)?,
                    b'n' => i = copy_literal(src, i, b"null", &mut w.out)?,
                    _ => return Err(Invalid),
                }
                expect = Expect::Next;
            }
            _ => return Err(Invalid),
        }
        if !(expect == Expect::Next && stack.is_empty()) {
            i = skip_space(src, i);
        }
    }
}

struct Writer<'a> {
    out: Vec<u8>,
    prefix: &'a str,
    indent: &'a str,
    depth: usize,
    /// An object or array was opened and nothing is in it yet (Go delays the
    /// newline so that empty ones print as `{}` and `[]`).
    need_indent: bool,
}

impl Writer<'_> {
    fn newline(&mut self) {
        self.out.push(b'\n');
        self.out.extend_from_slice(self.prefix.as_bytes());
        for _ in 0..self.depth {
            self.out.extend_from_slice(self.indent.as_bytes());
        }
    }

    /// The first member of a container: now the delayed newline is due.
    fn open_pending(&mut self) {
        if self.need_indent {
            self.need_indent = false;
            self.depth += 1;
            self.newline();
        }
    }

    fn close(&mut self, c: u8) {
        if self.need_indent {
            self.need_indent = false;
        } else {
            self.depth -= 1;
            self.newline();
        }
        self.out.push(c);
    }
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn skip_space(src: &[u8], mut i: usize) -> usize {
    while src.get(i).is_some_and(|&c| is_space(c)) {
        i += 1;
    }
    i
}

/// Copies the string starting at `src[start] == '"'`; returns the index after it.
fn copy_string(src: &[u8], start: usize, out: &mut Vec<u8>) -> Result<usize, Invalid> {
    let mut i = start + 1;
    loop {
        match *src.get(i).ok_or(Invalid)? {
            b'"' => break,
            b'\\' => match *src.get(i + 1).ok_or(Invalid)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                b'u' => {
                    let hex = src.get(i + 2..i + 6).ok_or(Invalid)?;
                    if !hex.iter().all(u8::is_ascii_hexdigit) {
                        return Err(Invalid);
                    }
                    i += 6;
                }
                _ => return Err(Invalid),
            },
            c if c < 0x20 => return Err(Invalid),
            _ => i += 1,
        }
    }
    out.extend_from_slice(&src[start..=i]);
    Ok(i + 1)
}

/// Copies `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`; returns the index after it.
fn copy_number(src: &[u8], start: usize, out: &mut Vec<u8>) -> Result<usize, Invalid> {
    let digits = |mut i: usize| -> Result<usize, Invalid> {
        if !src.get(i).is_some_and(u8::is_ascii_digit) {
            return Err(Invalid);
        }
        while src.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        Ok(i)
    };
    let mut i = start;
    if src[i] == b'-' {
        i += 1;
    }
    i = if src.get(i) == Some(&b'0') { i + 1 } else { digits(i)? };
    if src.get(i) == Some(&b'.') {
        i = digits(i + 1)?;
    }
    if matches!(src.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(src.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        i = digits(i)?;
    }
    out.extend_from_slice(&src[start..i]);
    Ok(i)
}

fn copy_literal(src: &[u8], start: usize, literal: &[u8], out: &mut Vec<u8>) -> Result<usize, Invalid> {
    if src.get(start..start + literal.len()) != Some(literal) {
        return Err(Invalid);
    }
    out.extend_from_slice(literal);
    Ok(start + literal.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn go(src: &str) -> Option<String> {
        indent(src.as_bytes(), "  ", "  ").ok().map(|v| String::from_utf8(v).unwrap())
    }

    #[test]
    fn objects_and_arrays_like_go() {
        assert_eq!(go(r#"{"id":0,"message":"hi"}"#).unwrap(), "{\n    \"id\": 0,\n    \"message\": \"hi\"\n  }");
        assert_eq!(
            go(r#"[1, [2, {"a" : []}], {}]"#).unwrap(),
            "[\n    1,\n    [\n      2,\n      {\n        \"a\": []\n      }\n    ],\n    {}\n  ]"
        );
        assert_eq!(go("{}").unwrap(), "{}");
        assert_eq!(go("[ ]").unwrap(), "[]");
        assert_eq!(go("{ }").unwrap(), "{}");
    }

    #[test]
    fn tokens_are_copied_verbatim() {
        assert_eq!(
            go(r#"{"a\u00e9\n":"x y\/","n":-1.50e+03,"t":true,"f":false,"z":null}"#).unwrap(),
            "{\n    \"a\\u00e9\\n\": \"x y\\/\",\n    \"n\": -1.50e+03,\n    \"t\": true,\n    \"f\": false,\n    \"z\": null\n  }"
        );
        // Lone surrogate escapes and invalid UTF-8 inside strings are accepted, as in Go.
        assert_eq!(indent(b"\"\\ud800\xff\"", "", "").unwrap(), b"\"\\ud800\xff\"");
    }

    #[test]
    fn whitespace_before_is_dropped_after_is_kept() {
        assert_eq!(go(" \n{\"a\" :\t1 }\n").unwrap(), "{\n    \"a\": 1\n  }\n");
        assert_eq!(go("  42  ").unwrap(), "42  ");
        assert_eq!(go("\"s\"").unwrap(), "\"s\"");
    }

    #[test]
    fn invalid_documents_are_refused() {
        for bad in [
            "",
            " ",
            "{",
            "}",
            "[1,]",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "{1:2}",
            "01",
            "1.",
            ".5",
            "1e",
            "-",
            "+1",
            "tru",
            "nul",
            "True",
            "\"\\x\"",
            "\"\\u12g4\"",
            "\"a\nb\"",
            "\"open",
            "[1 2]",
            "{} {}",
            "1 x",
            "[}",
            "{]",
            "{\"a\":}",
            "[,1]",
        ] {
            assert_eq!(go(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn nesting_is_limited_like_go() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(indent(ok.as_bytes(), "", "").is_ok());
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(indent(deep.as_bytes(), "", "").is_err());
    }
}
