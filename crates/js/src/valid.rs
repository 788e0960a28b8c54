//! Whether a text is JSON as `serde_json::Value` reads it, without building the value:
//! what decides that an event's data goes to the engine as JSON (parsed there by
//! `JSON.parse`) and that a transformer's value is JSON the next function can read; and
//! the members of a data object that an expression reads (see `Reads`).

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// Whether `serde_json::from_slice::<Value>` accepts `bytes`: the same parser, numbers
/// in range, escapes valid and the same depth limit.
pub fn is_json(bytes: &[u8]) -> bool {
    json_error(bytes).is_none()
}

/// Why `serde_json::from_slice::<Value>` refuses `bytes`, if it does.
pub(crate) fn json_error(bytes: &[u8]) -> Option<String> {
    serde_json::from_slice::<Valid>(bytes).err().map(|e| e.to_string())
}

/// The members `names` of `json` when it is an object that `serde_json::Value` reads
/// (the whole text is checked, in the same pass), each as its JSON text; the last of
/// repeated members, as `JSON.parse` keeps it. `None` when it is not an object, or not
/// JSON: [`is_json`] tells which.
pub fn object_members(json: &str, names: &[String]) -> Option<Vec<(String, String)>> {
    let mut de = serde_json::Deserializer::from_str(json);
    let members = Pick(names).deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(members)
}

/// Reads a JSON object as `Value` would, keeping the members of these names as text.
struct Pick<'n>(&'n [String]);

impl<'de> DeserializeSeed<'de> for Pick<'_> {
    type Value = Vec<(String, String)>;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Pick<'_> {
    type Value = Vec<(String, String)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut kept: Vec<(String, String)> = Vec::with_capacity(self.0.len());
        while let Some(Key(name)) = map.next_key()? {
            let Some(name) = self.0.iter().find(|n| **n == name) else {
                map.next_value::<Valid>()?;
                continue;
            };
            let value: &'de serde_json::value::RawValue = map.next_value()?;
            // Checked inside an array: as deep as inside the object, for the depth limit.
            if !is_json(format!("[{}]", value.get()).as_bytes()) {
                return Err(de::Error::custom("not JSON as serde_json::Value reads it"));
            }
            kept.retain(|(k, _)| k != name);
            kept.push((name.clone(), value.get().to_owned()));
        }
        Ok(kept)
    }
}

/// A member name, borrowed from the text unless it has escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        de.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }
    fn visit_borrowed_str<E: de::Error>(self, name: &'de str) -> Result<Key<'de>, E> {
        Ok(Key(name.into()))
    }
    fn visit_str<E: de::Error>(self, name: &str) -> Result<Key<'de>, E> {
        Ok(Key(name.to_owned().into()))
    }
}

/// Any JSON value, read as `Value` reads it (`deserialize_any` at every level), kept nowhere.
struct Valid;

impl<'de> Deserialize<'de> for Valid {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        de.deserialize_any(Valid)
    }
}

impl<'de> Visitor<'de> for Valid {
    type Value = Valid;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Valid, E> {
        Ok(Valid)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Valid, E> {
        Ok(Valid)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Valid, E> {
        Ok(Valid)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Valid, E> {
        Ok(Valid)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Valid, E> {
        Ok(Valid)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Valid, E> {
        Ok(Valid)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Valid, A::Error> {
        while seq.next_element::<Valid>()?.is_some() {}
        Ok(Valid)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Valid, A::Error> {
        while map.next_entry::<Valid, Valid>()?.is_some() {}
        Ok(Valid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_value_refuses_is_not_json() {
        let value = |text: &str| serde_json::from_str::<serde_json::Value>(text).is_ok();
        let nested = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        for text in [r#"{"a": [1, 2.5, "\u00e9"]}"#, "1e308", "{oops", "1e400", r#""\ud800""#, "[1,]", &nested] {
            assert_eq!(is_json(text.as_bytes()), value(text), "{text}");
        }
        assert!(json_error(b"1e400").is_some_and(|e| e.contains("out of range")));
    }

    #[test]
    fn an_objects_members_are_picked_when_value_would_read_it() {
        let names = ["a".to_owned(), "message".to_owned()];
        let members = |text: &str| object_members(text, &names);
        let body = r#"{"a": 1, "mess\u0061ge": {"b": [1, "x"]}, "other": [1e3, null], "a": "last"}"#;
        let expected = [("message", r#"{"b": [1, "x"]}"#), ("a", r#""last""#)];
        assert_eq!(members(body), Some(expected.map(|(k, v)| (k.to_owned(), v.to_owned())).to_vec()));
        assert_eq!(members("{}"), Some(vec![]));
        let deep = |n: usize| format!(r#"{{"a": {}1{}}}"#, "[".repeat(n), "]".repeat(n));
        for text in ["[1]", "1", r#"{"a": 1e400}"#, r#"{"other": 1e400}"#, r#"{"a": 1} x"#, &deep(127), &deep(130)] {
            let value = serde_json::from_str::<serde_json::Value>(text);
            assert_eq!(members(text).is_some(), value.is_ok_and(|v| v.is_object()), "{text}");
        }
    }
}
