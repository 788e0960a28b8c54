//! jaq values as JSON, the way the worker sends outputs back.
//!
//! Strings that are not valid UTF-8 (and jaq's byte strings) are written with the
//! replacement character; `nan` and `±infinite` become `null`; integers too big for 64
//! bits become the nearest float; an object key that is not a string becomes its JSON
//! text. Nesting deeper than [`MAX_DEPTH`] levels is refused.

use std::io;

use jaq_json::{Num, Val};
use serde::ser::{Error as _, SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use crate::protocol::MAX_DEPTH;

/// Why one output could not be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WriteError {
    /// The byte budget ran out.
    TooLarge,
    /// Arrays and objects nest deeper than [`MAX_DEPTH`].
    TooDeep,
}

/// Appends `val` as compact JSON to `buf`, keeping `buf` at most `limit` bytes long.
pub(crate) fn write(buf: &mut Vec<u8>, limit: usize, val: &Val) -> Result<(), WriteError> {
    let start = buf.len();
    let result = serde_json::to_writer(Capped { buf: &mut *buf, limit }, &Json { val, depth: 0 });
    result.map_err(|e| {
        buf.truncate(start);
        if e.is_io() { WriteError::TooLarge } else { WriteError::TooDeep }
    })
}

struct Capped<'a> {
    buf: &'a mut Vec<u8>,
    limit: usize,
}

impl io::Write for Capped<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.buf.len() + bytes.len() > self.limit {
            return Err(io::Error::other("output limit"));
        }
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct Json<'a> {
    val: &'a Val,
    depth: usize,
}

impl Json<'_> {
    fn inner<'b>(&self, val: &'b Val) -> Json<'b> {
        Json { val, depth: self.depth + 1 }
    }
}

impl Serialize for Json<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if matches!(self.val, Val::Arr(_) | Val::Obj(_)) && self.depth >= MAX_DEPTH {
            return Err(S::Error::custom("too deep"));
        }
        match self.val {
            Val::Null => s.serialize_unit(),
            Val::Bool(b) => s.serialize_bool(*b),
            Val::Num(n) => number(n, s),
            Val::BStr(b) | Val::TStr(b) => s.serialize_str(&String::from_utf8_lossy(b)),
            Val::Arr(a) => {
                let mut seq = s.serialize_seq(Some(a.len()))?;
                for v in a.iter() {
                    seq.serialize_element(&self.inner(v))?;
                }
                seq.end()
            }
            Val::Obj(o) => {
                let mut map = s.serialize_map(Some(o.len()))?;
                for (k, v) in o.iter() {
                    let key = match k {
                        Val::BStr(b) | Val::TStr(b) => String::from_utf8_lossy(b).into_owned(),
                        other => other.to_string(),
                    };
                    map.serialize_entry(&key, &self.inner(v))?;
                }
                map.end()
            }
        }
    }
}

fn number<S: Serializer>(n: &Num, s: S) -> Result<S::Ok, S::Error> {
    match n {
        Num::Int(i) => s.serialize_i64(*i as i64),
        Num::Float(f) => s.serialize_f64(*f),
        Num::BigInt(_) | Num::Dec(_) => {
            let text = n.to_string();
            if let Ok(i) = text.parse::<i64>() {
                s.serialize_i64(i)
            } else if let Ok(u) = text.parse::<u64>() {
                s.serialize_u64(u)
            } else {
                s.serialize_f64(text.parse::<f64>().unwrap_or(f64::NAN))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &[u8]) -> Result<Val, String> {
        crate::read::read(&bytes::Bytes::copy_from_slice(text))
    }

    fn json(input: &str) -> String {
        let mut buf = Vec::new();
        write(&mut buf, usize::MAX, &read(input.as_bytes()).unwrap()).unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn json_goes_through_unchanged() {
        for text in [
            "null",
            "true",
            r#"{"id":"1","data":{"a":1,"b":[1,2.5,-3]},"s":"é\n\"x\""}"#,
            "18446744073709551615",
            "-9223372036854775808",
            "1.0",
            "[]",
            "{}",
        ] {
            assert_eq!(json(text), text);
        }
    }

    #[test]
    fn values_outside_json_become_json() {
        let mut buf = Vec::new();
        write(&mut buf, usize::MAX, &Val::from(f64::NAN)).unwrap();
        assert_eq!(buf, b"null");
        assert_eq!(json("1e1000"), "null");
        let big: f64 = json("123456789012345678901234567890").parse().unwrap();
        assert_eq!(big, 1.2345678901234568e29);
    }

    #[test]
    fn limits_are_kept() {
        let mut buf = b"[".to_vec();
        assert_eq!(write(&mut buf, 5, &read(br#""abcdef""#).unwrap()), Err(WriteError::TooLarge));
        assert_eq!(buf, b"[", "a refused output leaves nothing behind");
        let deep = |n: usize| read(format!("{}{}", "[".repeat(n), "]".repeat(n)).as_bytes()).unwrap();
        assert_eq!(write(&mut buf, usize::MAX, &deep(MAX_DEPTH)), Ok(()));
        assert_eq!(write(&mut buf, usize::MAX, &deep(MAX_DEPTH + 1)), Err(WriteError::TooDeep));
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(read(b"{").unwrap_err().starts_with("the input is not JSON"));
    }
}
