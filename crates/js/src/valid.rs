//! Whether a text is JSON as `serde_json::Value` reads it, without building the value:
//! what decides that an event's data goes to the engine as JSON (parsed there by
//! `JSON.parse`) and that a transformer's value is JSON the next function can read.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

/// Whether `serde_json::from_slice::<Value>` accepts `bytes`: the same parser, numbers
/// in range, escapes valid and the same depth limit.
pub fn is_json(bytes: &[u8]) -> bool {
    json_error(bytes).is_none()
}

/// Why `serde_json::from_slice::<Value>` refuses `bytes`, if it does.
pub(crate) fn json_error(bytes: &[u8]) -> Option<String> {
    serde_json::from_slice::<Valid>(bytes).err().map(|e| e.to_string())
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
}
