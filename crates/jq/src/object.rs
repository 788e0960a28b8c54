//! Object inputs ([`crate::ObjectInput`]) as jaq values, in the worker.
//!
//! String members are slices of the frame. A JSON-or-text member is parsed by
//! `serde_json` straight into jaq values, so what counts as JSON is exactly what
//! `serde_json::from_slice::<Value>` accepts, and the values are the ones jaq would read
//! from that `Value` written out: integers as machine or big integers, other numbers as
//! decimals in `serde_json`'s shortest form, strings without escapes borrowed.

use std::fmt;
use std::ops::Range;

use bytes::Bytes;
use jaq_json::{Map, Num, Val};
use serde::de::{DeserializeSeed, Deserializer, Error, MapAccess, SeqAccess, Visitor};

use crate::input::{JSON_OR_TEXT, STRING};

/// The object in `payload` (its kind byte first).
pub(crate) fn read_object(payload: &Bytes) -> Result<Val, String> {
    let mut at = 1;
    let count = length(payload, &mut at)?;
    let mut map = Map::with_capacity_and_hasher(count.min(payload.len() / 9), Default::default());
    for _ in 0..count {
        let kind = *payload.get(at).ok_or_else(malformed)?;
        at += 1;
        let name = field(payload, &mut at)?;
        let value = field(payload, &mut at)?;
        let value = match kind {
            STRING => Val::TStr(Box::new(payload.slice(value))),
            JSON_OR_TEXT => json_or_text(payload, value),
            _ => return Err(malformed()),
        };
        map.insert(Val::TStr(Box::new(payload.slice(name))), value);
    }
    Ok(Val::obj(map))
}

fn malformed() -> String {
    "a malformed object input".to_owned()
}

fn length(payload: &[u8], at: &mut usize) -> Result<usize, String> {
    let bytes: [u8; 4] = payload.get(*at..*at + 4).and_then(|b| b.try_into().ok()).ok_or_else(malformed)?;
    *at += 4;
    Ok(u32::from_le_bytes(bytes) as usize)
}

fn field(payload: &[u8], at: &mut usize) -> Result<Range<usize>, String> {
    let len = length(payload, at)?;
    let range = *at..*at + len;
    if range.end > payload.len() {
        return Err(malformed());
    }
    *at = range.end;
    Ok(range)
}

fn json_or_text(payload: &Bytes, range: Range<usize>) -> Val {
    let bytes = &payload[range.clone()];
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = Seed { base: payload }.deserialize(&mut de).and_then(|value| de.end().map(|()| value));
    match parsed {
        Ok(value) => value,
        Err(_) if std::str::from_utf8(bytes).is_ok() => Val::TStr(Box::new(payload.slice(range))),
        Err(_) => Val::utf8_str(String::from_utf8_lossy(bytes).into_owned()),
    }
}

/// Reads any JSON value (`deserialize_any` at every level, as `Value` does) as a jaq value.
#[derive(Clone, Copy)]
struct Seed<'a> {
    /// The frame: borrowed strings are slices of it.
    base: &'a Bytes,
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Val;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Val, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Val;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: Error>(self, b: bool) -> Result<Val, E> {
        Ok(Val::Bool(b))
    }
    fn visit_i64<E: Error>(self, i: i64) -> Result<Val, E> {
        Ok(Val::Num(Num::from_integral(i)))
    }
    fn visit_u64<E: Error>(self, u: u64) -> Result<Val, E> {
        Ok(Val::Num(Num::from_integral(u)))
    }
    fn visit_f64<E: Error>(self, f: f64) -> Result<Val, E> {
        // As written by serde_json (`Value` holds finite numbers only), read by jaq.
        match serde_json::Number::from_f64(f) {
            Some(number) => Ok(Val::Num(Num::Dec(number.to_string().into()))),
            None => Ok(Val::Null),
        }
    }
    fn visit_borrowed_str<E: Error>(self, s: &'de str) -> Result<Val, E> {
        Ok(Val::TStr(Box::new(self.base.slice_ref(s.as_bytes()))))
    }
    fn visit_str<E: Error>(self, s: &str) -> Result<Val, E> {
        Ok(Val::utf8_str(s.as_bytes().to_vec()))
    }
    fn visit_unit<E: Error>(self) -> Result<Val, E> {
        Ok(Val::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Val, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Val::Arr(items.into()))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Val, A::Error> {
        let mut map = Map::default();
        while let Some(key) = access.next_key_seed(self)? {
            let value = access.next_value_seed(self)?;
            map.insert(key, value);
        }
        Ok(Val::obj(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ObjectInput;

    /// What the worker read before object inputs: serde_json's value written out, then
    /// parsed by jaq.
    fn through_value(data: &[u8]) -> Val {
        match serde_json::from_slice::<serde_json::Value>(data) {
            Ok(value) => jaq_json::read::parse_single(value.to_string().as_bytes()).unwrap(),
            Err(_) => Val::utf8_str(String::from_utf8_lossy(data).into_owned()),
        }
    }

    fn data_of(data: &[u8]) -> Val {
        let mut input = ObjectInput::with_capacity(0);
        input.json_or_text("data", data);
        let Ok(Val::Obj(map)) = read_object(&Bytes::from(input.into_payload())) else { panic!("not an object") };
        map.get(&Val::utf8_str(&b"data"[..])).cloned().unwrap()
    }

    #[test]
    fn json_or_text_reads_what_value_reads() {
        let deep = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
        for data in [
            r#"{"a": [1, 2.5, -3, 1e3, 1.50, "\u00e9\n", true, null], "a": {"b": 18446744073709551615}}"#,
            "-9223372036854775808",
            "123456789012345678901234567890",
            "0.1",
            "-0.0",
            "\"plain\"",
            "{oops",
            "1e400",
            r#""\ud800""#,
            "[1,]",
            "NaN",
            "# comment\n1",
            "1 2",
            "",
            &deep(128),
            &deep(129),
        ] {
            let (ours, theirs) = (data_of(data.as_bytes()), through_value(data.as_bytes()));
            assert_eq!(format!("{ours:?}"), format!("{theirs:?}"), "{data}");
        }
        let invalid_utf8 = b"\"\xff\"";
        assert_eq!(data_of(invalid_utf8), through_value(invalid_utf8));
    }

    #[test]
    fn members_keep_their_order_and_strings_share_the_frame() {
        let mut input = ObjectInput::with_capacity(64);
        input.string("id", "1\"é");
        input.json_or_text("data", b"{\"k\": \"v\"}");
        input.string("id", "2");
        let payload = Bytes::from(input.into_payload());
        let object = read_object(&payload).unwrap();
        let expected = jaq_json::read::parse_single(r#"{"id": "2", "data": {"k": "v"}}"#.as_bytes()).unwrap();
        assert_eq!(object, expected);
        assert_eq!(read_object(&payload.slice(..payload.len() - 1)), Err(malformed()));
    }
}
