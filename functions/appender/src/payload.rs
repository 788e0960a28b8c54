//! The appender's data, `{"id": <int>, "message": <string>}`, decoded and encoded as
//! the Go original does with the CloudEvents SDK's data codecs and `encoding/json`.

use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};

use fnmesh_runtime::binding::go_media_type;

use crate::gofmt;

/// The Go struct `payload{Sequence int "id"; Message string "message"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Payload {
    /// `id`.
    pub sequence: i64,
    /// `message`.
    pub message: String,
}

impl Payload {
    /// The data of a CloudEvent with this `datacontenttype`, as Go's `event.DataAs`
    /// decodes it: no data is the zero payload; JSON for no content type,
    /// `application/json`, `text/json` and any `+json` suffix; anything else is refused.
    /// The error is the Go SDK's wording, which the appender logs and answers.
    pub fn from_data(data: Option<&[u8]>, content_type: Option<&str>) -> Result<Self, String> {
        let Some(data) = data.filter(|d| !d.is_empty()) else { return Ok(Self::default()) };
        let media = go_media_type(content_type);
        match codec(media) {
            Codec::Json => serde_json::from_slice::<GoPayload>(data).map(|p| p.0).map_err(|err| {
                format!("[json] found bytes \"{}\", but failed to unmarshal: {err}", String::from_utf8_lossy(data))
            }),
            Codec::Text => Err("text.Decode out: want *string, got *main.payload".into()),
            Codec::Xml => Err(format!("[decode] XML data is not supported by fnmesh: {}", gofmt::quote(media))),
            Codec::Unsupported => Err(format!("[decode] unsupported content type: {}", gofmt::quote(media))),
        }
    }

    /// `json.Marshal(payload)`: `{"id":0,"message":"..."}`.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(24 + self.message.len() + self.message.len() / 8);
        out.push_str("{\"id\":");
        push_i64(&mut out, self.sequence);
        out.push_str(",\"message\":");
        gofmt::json_string(&mut out, &self.message);
        out.push('}');
        out
    }
}

impl Payload {
    /// Appends `fmt.Sprintf("%+v", &payload)`, as [`fmt::Display`] writes it, without
    /// the formatting machinery.
    pub(crate) fn write_go(&self, out: &mut String) {
        out.push_str("&{Sequence:");
        push_i64(out, self.sequence);
        out.push_str(" Message:");
        out.push_str(&self.message);
        out.push('}');
    }
}

/// `n` in decimal, as `{}` writes it.
fn push_i64(out: &mut String, n: i64) {
    let mut digits = [0u8; 20];
    let (mut rest, mut at) = (n.unsigned_abs(), digits.len());
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if n < 0 {
        out.push('-');
    }
    out.extend(digits[at..].iter().map(|&d| char::from(d)));
}

/// `fmt.Sprintf("%+v", &payload)`: `&{Sequence:0 Message:hello}`.
impl fmt::Display for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "&{{Sequence:{} Message:{}}}", self.sequence, self.message)
    }
}

enum Codec {
    Json,
    Text,
    Xml,
    Unsupported,
}

/// Go's `datacodec.Decode` lookup: exact media types, then the `+suffix`.
fn codec(media: &str) -> Codec {
    match media {
        "" | "application/json" | "text/json" => Codec::Json,
        "application/xml" | "text/xml" => Codec::Xml,
        "text/plain" => Codec::Text,
        _ => match media.rsplit_once('+').map(|(_, suffix)| suffix) {
            Some("json") => Codec::Json,
            Some("xml") => Codec::Xml,
            _ => Codec::Unsupported,
        },
    }
}

/// `json.Unmarshal` into the Go struct: keys match case-insensitively, a later key
/// wins, unknown keys and `null` are ignored, the top level must be an object or `null`.
struct GoPayload(Payload);

impl<'de> de::Deserialize<'de> for GoPayload {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        de.deserialize_any(TopLevel)
    }
}

fn type_error<E: de::Error>(found: &str, field: Option<(&str, &str)>) -> E {
    match field {
        None => E::custom(format!("json: cannot unmarshal {found} into Go value of type main.payload")),
        Some((name, ty)) => {
            E::custom(format!("json: cannot unmarshal {found} into Go struct field payload.{name} of type {ty}"))
        }
    }
}

struct TopLevel;

impl<'de> Visitor<'de> for TopLevel {
    type Value = GoPayload;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_unit<E: de::Error>(self) -> Result<GoPayload, E> {
        Ok(GoPayload(Payload::default()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<GoPayload, A::Error> {
        let mut payload = Payload::default();
        // Keys borrowed from the input when they have no escapes: no allocation per key.
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            if key.eq_ignore_ascii_case("id") {
                if let Some(id) = map.next_value::<Field<i64>>()?.0 {
                    payload.sequence = id;
                }
            } else if key.eq_ignore_ascii_case("message") {
                if let Some(message) = map.next_value::<Field<String>>()?.0 {
                    payload.message = message;
                }
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(GoPayload(payload))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<GoPayload, E> {
        Err(type_error("bool", None))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<GoPayload, E> {
        Err(type_error("number", None))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<GoPayload, E> {
        Err(type_error("number", None))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<GoPayload, E> {
        Err(type_error("number", None))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<GoPayload, E> {
        Err(type_error("string", None))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<GoPayload, A::Error> {
        Err(type_error("array", None))
    }
}

/// An object key, borrowed from the input when it has no escapes: no allocation per key
/// (serde's `Cow<str>` always copies).
struct Key<'de>(std::borrow::Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(v.to_owned())))
            }
        }
        de.deserialize_str(KeyVisitor)
    }
}

/// A struct field's value: `None` for JSON `null` (Go leaves the field alone).
struct Field<T>(Option<T>);

impl<'de> de::Deserialize<'de> for Field<i64> {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        de.deserialize_any(FieldVisitor { name: "id", ty: "int", parse: |v| v.as_i64() })
    }
}

impl<'de> de::Deserialize<'de> for Field<String> {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        de.deserialize_any(FieldVisitor { name: "message", ty: "string", parse: |v| v.as_str().map(str::to_owned) })
    }
}

/// Accepts `null` or the one JSON kind `parse` takes; everything else is Go's type error.
struct FieldVisitor<T> {
    name: &'static str,
    ty: &'static str,
    parse: fn(&serde_json::Value) -> Option<T>,
}

impl<T> FieldVisitor<T> {
    fn take<E: de::Error>(self, value: serde_json::Value, kind: &str) -> Result<Field<T>, E> {
        match (self.parse)(&value) {
            Some(v) => Ok(Field(Some(v))),
            None if kind == "number" => Err(type_error(&format!("number {value}"), Some((self.name, self.ty)))),
            None => Err(type_error(kind, Some((self.name, self.ty)))),
        }
    }
}

impl<'de, T> Visitor<'de> for FieldVisitor<T> {
    type Value = Field<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a Go {}", self.ty)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Field<T>, E> {
        Ok(Field(None))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Field<T>, E> {
        self.take(v.into(), "bool")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Field<T>, E> {
        self.take(v.into(), "number")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Field<T>, E> {
        self.take(v.into(), "number")
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Field<T>, E> {
        self.take(v.into(), "number")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Field<T>, E> {
        self.take(v.into(), "string")
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Field<T>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Err(type_error("array", Some((self.name, self.ty))))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Field<T>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Err(type_error("object", Some((self.name, self.ty))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(data: &str) -> Result<Payload, String> {
        Payload::from_data(Some(data.as_bytes()), Some("application/json"))
    }

    fn payload(sequence: i64, message: &str) -> Payload {
        Payload { sequence, message: message.into() }
    }

    #[test]
    fn decodes_like_go_unmarshal() {
        assert_eq!(json(r#"{"id": 3, "message": "hi"}"#).unwrap(), payload(3, "hi"));
        assert_eq!(json(r#"{"ID": 3, "Message": "hi", "extra": [1, {"a": 2}]}"#).unwrap(), payload(3, "hi"));
        assert_eq!(json(r#"{"id": 1, "ID": 2}"#).unwrap(), payload(2, ""));
        assert_eq!(json(r#"{"id": null, "message": null}"#).unwrap(), payload(0, ""));
        assert_eq!(json("null").unwrap(), Payload::default());
        assert_eq!(json("{}").unwrap(), Payload::default());
        assert_eq!(json(r#"{"id": -9223372036854775808}"#).unwrap(), payload(i64::MIN, ""));
    }

    #[test]
    fn no_data_is_the_zero_payload_whatever_the_content_type() {
        assert_eq!(Payload::from_data(None, Some("text/plain")).unwrap(), Payload::default());
        assert_eq!(Payload::from_data(Some(b""), Some("application/xml")).unwrap(), Payload::default());
    }

    #[test]
    fn wrong_types_are_go_errors() {
        let err = json("[1]").unwrap_err();
        assert!(err.contains("json: cannot unmarshal array into Go value of type main.payload"), "{err}");
        let err = json(r#""text""#).unwrap_err();
        assert!(err.contains("cannot unmarshal string into Go value of type main.payload"), "{err}");
        let err = json(r#"{"id": "1"}"#).unwrap_err();
        assert!(err.contains("cannot unmarshal string into Go struct field payload.id of type int"), "{err}");
        let err = json(r#"{"id": 1.5}"#).unwrap_err();
        assert!(err.contains("cannot unmarshal number 1.5 into Go struct field payload.id of type int"), "{err}");
        let err = json(r#"{"id": 18446744073709551615}"#).unwrap_err();
        assert!(err.contains("payload.id of type int"), "{err}");
        let err = json(r#"{"message": {"a": 1}}"#).unwrap_err();
        assert!(err.contains("cannot unmarshal object into Go struct field payload.message of type string"), "{err}");
        assert!(err.starts_with(r#"[json] found bytes "{"message": {"a": 1}}", but failed to unmarshal: "#), "{err}");
    }

    #[test]
    fn invalid_json_is_refused() {
        for bad in ["{", "nope", r#"{"id": 1} trailing"#, "{\"id\":1,}"] {
            assert!(json(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn content_types_as_the_go_sdk_picks_codecs() {
        let data = Some(br#"{"id":1}"#.as_slice());
        for ct in [
            None,
            Some("application/json"),
            Some("text/json"),
            Some("application/vnd.x+json"),
            Some("application/json; charset=utf-8"),
            Some("+json"),
        ] {
            assert_eq!(Payload::from_data(data, ct).unwrap(), payload(1, ""), "{ct:?}");
        }
        assert_eq!(
            Payload::from_data(data, Some("text/plain")).unwrap_err(),
            "text.Decode out: want *string, got *main.payload"
        );
        assert_eq!(
            Payload::from_data(data, Some("Application/JSON")).unwrap_err(),
            r#"[decode] unsupported content type: "Application/JSON""#
        );
        assert_eq!(
            Payload::from_data(data, Some("application/octet-stream")).unwrap_err(),
            r#"[decode] unsupported content type: "application/octet-stream""#
        );
        assert!(Payload::from_data(data, Some("application/xml")).unwrap_err().contains("XML"));
    }

    #[test]
    fn encodes_and_prints_like_go() {
        let p = payload(7, "a <b> & \"c\"\n");
        assert_eq!(p.to_json(), r#"{"id":7,"message":"a \u003cb\u003e \u0026 \"c\"\n"}"#);
        assert_eq!(
            payload(0, "hello, world! - Handled by 0").to_string(),
            "&{Sequence:0 Message:hello, world! - Handled by 0}"
        );
        let back: serde_json::Value = serde_json::from_str(&p.to_json()).unwrap();
        assert_eq!(back["message"], "a <b> & \"c\"\n");
        for n in [0, 7, -1, 10, -10, 1_000_000_007, i64::MAX, i64::MIN] {
            let p = payload(n, "m");
            let mut written = String::new();
            p.write_go(&mut written);
            assert_eq!(written, p.to_string(), "{n}");
            assert_eq!(p.to_json(), format!(r#"{{"id":{n},"message":"m"}}"#), "{n}");
        }
    }
}
