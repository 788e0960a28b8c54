//! Inputs as jaq values, parsed straight from the bytes they came in.
//!
//! The same grammar and the same values as `jaq_json::read::parse_single` (jaq's own
//! reader: JSON plus `#` comments, `NaN`, `Infinity` and `b"..."` byte strings; integers
//! as machine or big integers, other numbers as decimals kept as written), built for
//! less: a string without escapes is a slice of the input's [`Bytes`] (no copy), and an
//! array or object is collected on one stack and then built at its final size (no
//! growing and rehashing). Nesting is bounded by [`MAX_INPUT_DEPTH`].

use bytes::Bytes;
use hifijson::num::LexWrite as _;
use hifijson::token::{Expect, Lex};
use hifijson::{Error, Read as _, SliceLexer, Write as _, escape, str};
use jaq_json::{Map, Num, Val};

/// Deepest nesting of arrays and objects in an input (deeper would risk the stack).
pub(crate) const MAX_INPUT_DEPTH: usize = 1024;

/// The value of a frame's payload: JSON text or an object (see [`crate::input`]).
pub(crate) fn read_payload(payload: &Bytes) -> Result<Val, String> {
    match payload.first() {
        Some(&crate::input::JSON) => read(&payload.slice(1..)),
        Some(&crate::input::OBJECT) => crate::object::read_object(payload),
        _ => Err("an input of no known kind".to_owned()),
    }
}

/// Parses exactly one JSON value from `input`.
pub(crate) fn read(input: &Bytes) -> Result<Val, String> {
    let mut parser = Parser { base: input, stack: Vec::new(), depth: 0 };
    let mut lexer = SliceLexer::new(input);
    let parsed = lexer.exactly_one(ws_tk, |next, lexer| parser.value(next, lexer));
    parsed.map_err(|e| {
        let offset = lexer.as_slice().as_ptr() as usize - input.as_ptr() as usize;
        format!("the input is not JSON: byte offset {offset}: {e}")
    })
}

/// Eats whitespace and `#` comments, then peeks at the next byte (as jaq does).
fn ws_tk(lexer: &mut SliceLexer<'_>) -> Option<u8> {
    loop {
        lexer.eat_whitespace();
        match lexer.peek_next() {
            Some(b'#') => lexer.skip_until(|c| c == b'\n'),
            next => return next,
        }
    }
}

struct Parser<'a> {
    /// The input: strings without escapes are slices of it.
    base: &'a Bytes,
    /// Members of the arrays and objects being read (an object's as key, value, ...).
    stack: Vec<Val>,
    depth: usize,
}

impl Parser<'_> {
    /// The value that starts with `next` (peeked, not taken).
    fn value(&mut self, next: u8, lexer: &mut SliceLexer<'_>) -> Result<Val, Error> {
        Ok(match next {
            b'n' if lexer.strip_prefix(b"null") => Val::Null,
            b't' if lexer.strip_prefix(b"true") => Val::Bool(true),
            b'f' if lexer.strip_prefix(b"false") => Val::Bool(false),
            b'b' if lexer.strip_prefix(b"b\"") => Val::byte_str(escaped(lexer, Vec::new(), true)?),
            b'N' if lexer.strip_prefix(b"NaN") => Val::Num(Num::Float(f64::NAN)),
            b'I' if lexer.strip_prefix(b"Infinity") => Val::Num(Num::Float(f64::INFINITY)),
            b'0'..=b'9' | b'+' | b'-' => Val::Num(number(lexer)?),
            b'"' => self.string(lexer.discarded())?,
            b'[' => {
                let start = self.enter()?;
                lexer.discarded().seq(b']', ws_tk, |next, lexer| {
                    let item = self.value(next, lexer)?;
                    self.stack.push(item);
                    Ok::<_, Error>(())
                })?;
                self.depth -= 1;
                Val::Arr(self.stack.drain(start..).collect::<Vec<_>>().into())
            }
            b'{' => {
                let start = self.enter()?;
                lexer.discarded().seq(b'}', ws_tk, |next, lexer| {
                    let key = self.value(next, lexer)?;
                    lexer.expect(ws_tk, b':').ok_or(Expect::Colon)?;
                    let value = self.value(ws_tk(lexer).ok_or(Expect::Value)?, lexer)?;
                    self.stack.push(key);
                    self.stack.push(value);
                    Ok::<_, Error>(())
                })?;
                self.depth -= 1;
                let mut map = Map::with_capacity_and_hasher((self.stack.len() - start) / 2, Default::default());
                let mut members = self.stack.drain(start..);
                while let (Some(key), Some(value)) = (members.next(), members.next()) {
                    map.insert(key, value);
                }
                Val::obj(map)
            }
            _ => Err(Expect::Value)?,
        })
    }

    /// One level deeper; returns where this level's members start on the stack.
    fn enter(&mut self) -> Result<usize, Error> {
        self.depth += 1;
        if self.depth > MAX_INPUT_DEPTH {
            return Err(Error::Depth);
        }
        Ok(self.stack.len())
    }

    /// A text string, its opening quote taken: a slice of the input when it has no escape.
    fn string(&self, lexer: &mut SliceLexer<'_>) -> Result<Val, Error> {
        let mut chunk: &[u8] = &[];
        lexer.write_until(&mut chunk, string_end);
        match lexer.take_next() {
            Some(b'"') => Ok(Val::TStr(Box::new(self.base.slice_ref(chunk)))),
            Some(b'\\') => Ok(Val::utf8_str(escaped(lexer, chunk.to_vec(), false)?)),
            Some(_) => Err(Error::Str(str::Error::Control)),
            None => Err(Error::Str(str::Error::Eof)),
        }
    }
}

fn string_end(c: u8) -> bool {
    matches!(c, b'\\' | b'"' | 0..=0x1F)
}

/// The rest of a string after a backslash (taken), appended to `out`; `\xHH` escapes
/// only in byte strings, `\uHHHH` only in text strings (as jaq reads them).
fn escaped(lexer: &mut SliceLexer<'_>, mut out: Vec<u8>, bytes: bool) -> Result<Vec<u8>, Error> {
    let mut first = !bytes;
    loop {
        if first {
            first = false;
        } else {
            let mut chunk: &[u8] = &[];
            lexer.write_until(&mut chunk, string_end);
            out.extend_from_slice(chunk);
            match lexer.take_next() {
                Some(b'"') => return Ok(out),
                Some(b'\\') => {}
                Some(_) => return Err(Error::Str(str::Error::Control)),
                None => return Err(Error::Str(str::Error::Eof)),
            }
        }
        let escape = |e: escape::Error| Error::Str(str::Error::Escape(e));
        match lexer.take_next().ok_or(escape(escape::Error::Eof))? {
            b'u' if bytes => return Err(escape(escape::Error::InvalidKind(b'u'))),
            b'x' if bytes => out.push(escape::Lex::hex(lexer).map_err(escape)?),
            c => out.extend(escape::Lex::escape(lexer, c).map_err(escape)?.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
}

/// A number, as jaq reads it.
fn number(lexer: &mut SliceLexer<'_>) -> Result<Num, Error> {
    let (num, parts) = lexer.num_string_with(hifijson::num::Num::signed_digits()).unvalidated();
    Ok(match num {
        "+" if lexer.strip_prefix(b"Infinity") => Num::Float(f64::INFINITY),
        "-" if lexer.strip_prefix(b"Infinity") => Num::Float(f64::NEG_INFINITY),
        _ if num.ends_with(|c: char| c.is_ascii_digit()) => {
            if parts.is_int() {
                Num::from_str_radix(num, 10).ok_or(Error::Num(hifijson::num::Error::ExpectedDigit))?
            } else {
                Num::Dec(num.to_owned().into())
            }
        }
        _ => Err(hifijson::num::Error::ExpectedDigit)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same_as_jaq(text: &str) {
        let ours = read(&Bytes::copy_from_slice(text.as_bytes()));
        match jaq_json::read::parse_single(text.as_bytes()) {
            // Compared as Debug text: NaN is not equal to itself.
            Ok(theirs) => assert_eq!(format!("{ours:?}"), format!("{:?}", Ok::<_, String>(theirs)), "{text}"),
            Err(e) => assert_eq!(ours, Err(format!("the input is not JSON: {e}")), "{text}"),
        }
    }

    #[test]
    fn values_are_jaqs() {
        for text in [
            "null",
            " true ",
            "false",
            r#"{"id":"1","data":{"a":1,"b":[1,2.5,-3,1e3,1.50]},"s":"é\n\"x\" \u00e9 \ud83d\ude00","":""}"#,
            "18446744073709551615",
            "-9223372036854775808",
            "123456789012345678901234567890",
            "[[], {}, [[1]], {\"a\": {\"b\": null}}]",
            "{\"a\": 1, \"a\": 2, \"b\": 3}",
            "# a comment\n[1, # another\n 2]",
            "NaN",
            "[Infinity, -Infinity, +1]",
            r#"b"\x41\x42""#,
            "{1: 2}",
            "\"tab\\tand\\\\slash\\/\"",
        ] {
            same_as_jaq(text);
        }
    }

    #[test]
    fn errors_are_jaqs() {
        for text in [
            "",
            "{",
            "[1,",
            "[1 2]",
            "{\"a\" 1}",
            "\"open",
            "\"bad \\q\"",
            "\"\\u12\"",
            "\"ctl \u{1}\"",
            "1 2",
            "-",
            "nul",
            "[1,]",
            "\"\\ud800\"",
            r#"b"\u0041""#,
        ] {
            same_as_jaq(text);
        }
    }

    #[test]
    fn unescaped_strings_share_the_input() {
        let input = Bytes::from_static(br#"{"key":"value","esc":"a\nb"}"#);
        let Ok(Val::Obj(map)) = read(&input) else { panic!("not an object") };
        let Some(Val::TStr(value)) = map.get(&Val::utf8_str(&b"key"[..])) else { panic!("no key") };
        assert_eq!(value.as_ptr(), input[8..].as_ptr(), "a slice of the input");
        assert_eq!(map.get(&Val::utf8_str(&b"esc"[..])), Some(&Val::utf8_str(&b"a\nb"[..])));
    }

    #[test]
    fn nesting_is_bounded() {
        // On a stack the size of a worker's main thread (8 MiB), in a debug build.
        let deep = |n: usize| Bytes::from(format!("{}null{}", "[{\"a\":".repeat(n), "}]".repeat(n)));
        let parse = std::thread::Builder::new().stack_size(8 << 20).spawn(move || {
            assert!(read(&deep(MAX_INPUT_DEPTH / 2)).is_ok());
            read(&deep(MAX_INPUT_DEPTH / 2 + 1)).map(drop)
        });
        let err = parse.unwrap().join().unwrap().unwrap_err();
        assert!(err.starts_with("the input is not JSON"), "{err}");
    }
}
