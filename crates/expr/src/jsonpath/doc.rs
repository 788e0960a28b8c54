//! The document a query reads: the event view of [`crate::event_view`], with its strings
//! borrowed from the event where they can be.
//!
//! `serde_json::Value` was most of a small event's cost: an owned `String` per attribute,
//! key and string, and an `IndexMap` (a hash table, SipHash) per object, all made and
//! dropped per event (hack/bench's event: 22 k instructions of 77 k, the query 3 k).
//! [`Json`] takes the same values from the same parser, but strings without escapes are
//! borrowed from the event, and an object is its list of members: looked up by a scan
//! while it is small, by binary search over its names once it has more than [`SCAN`]
//! members, so no lookup costs more than it did with a hash table by more than a log.
//! What a query sees is the same: [`Json::to_value`] gives `event_view`'s value, repeated
//! names included (first place, last value, as `serde_json::Map` keeps them).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use fnmesh_js::Reads;
use fnmesh_runtime::IncomingEvent;
use fnmesh_runtime::binding::has_json_data;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Members up to which an object is searched member by member.
const SCAN: usize = 8;

/// A JSON value as queries read it.
#[derive(Debug, Clone)]
pub(crate) enum Json<'a> {
    Null,
    Bool(bool),
    Number(Number),
    String(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    Object(Object<'a>),
}

/// An object's members in document order, each name once.
#[derive(Debug, Clone, Default)]
pub(crate) struct Object<'a> {
    members: Vec<(Cow<'a, str>, Json<'a>)>,
    /// With more than [`SCAN`] members: their indexes in the order of their names.
    by_name: Vec<usize>,
}

impl<'a> Object<'a> {
    /// `members` as JSON text had them: a name seen again keeps its first place and takes
    /// the last value, as `serde_json::Map` does.
    pub(crate) fn new(mut members: Vec<(Cow<'a, str>, Json<'a>)>) -> Self {
        if members.len() <= SCAN {
            let repeated = (1..members.len()).any(|i| members[..i].iter().any(|(name, _)| *name == members[i].0));
            if repeated {
                members = first_place_last_value(members);
            }
            return Self { members, by_name: Vec::new() };
        }
        let mut by_name: Vec<usize> = (0..members.len()).collect();
        by_name.sort_by(|&a, &b| members[a].0.cmp(&members[b].0));
        if by_name.windows(2).any(|pair| members[pair[0]].0 == members[pair[1]].0) {
            members = first_place_last_value(members);
            by_name = (0..members.len()).collect();
            by_name.sort_by(|&a, &b| members[a].0.cmp(&members[b].0));
        }
        Self { members, by_name }
    }

    /// The value of the member `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&Json<'a>> {
        if self.by_name.is_empty() {
            return self.members.iter().find(|(key, _)| key == name).map(|(_, value)| value);
        }
        let at = self.by_name.binary_search_by(|&i| self.members[i].0.as_ref().cmp(name)).ok()?;
        Some(&self.members[self.by_name[at]].1)
    }

    /// The members, in document order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &Json<'a>)> {
        self.members.iter().map(|(name, value)| (name.as_ref(), value))
    }

    /// The values, in document order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &Json<'a>> {
        self.members.iter().map(|(_, value)| value)
    }

    pub(crate) fn len(&self) -> usize {
        self.members.len()
    }

    /// The members, taken apart.
    #[cfg(test)]
    pub(crate) fn into_members(self) -> Vec<(Cow<'a, str>, Json<'a>)> {
        self.members
    }
}

/// Members with repeated names merged (a rare case: a hash set is fine).
fn first_place_last_value<'a>(members: Vec<(Cow<'a, str>, Json<'a>)>) -> Vec<(Cow<'a, str>, Json<'a>)> {
    let mut place: HashMap<Cow<'a, str>, usize> = HashMap::with_capacity(members.len());
    let mut merged: Vec<(Cow<'a, str>, Json<'a>)> = Vec::with_capacity(members.len());
    for (name, value) in members {
        match place.get(&name) {
            Some(&at) => merged[at].1 = value,
            None => {
                place.insert(name.clone(), merged.len());
                merged.push((name, value));
            }
        }
    }
    merged
}

impl<'a> Json<'a> {
    /// Parses JSON text as `serde_json::from_slice::<Value>` does (the same parser, the
    /// same errors and depth limit), borrowing strings without escapes.
    pub(crate) fn parse(text: &'a [u8]) -> serde_json::Result<Self> {
        serde_json::from_slice(text)
    }

    /// `value`, its strings borrowed.
    pub(crate) fn from_value<'v>(value: &'v Value) -> Json<'v> {
        match value {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Number(n) => Json::Number(n.clone()),
            Value::String(s) => Json::String(Cow::Borrowed(s)),
            Value::Array(items) => Json::Array(items.iter().map(Json::from_value).collect()),
            Value::Object(members) => Json::Object(Object::new(
                members.iter().map(|(name, value)| (Cow::Borrowed(name.as_str()), Json::from_value(value))).collect(),
            )),
        }
    }

    /// `value`, owned.
    pub(crate) fn owned(value: Value) -> Json<'static> {
        match value {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(b),
            Value::Number(n) => Json::Number(n),
            Value::String(s) => Json::String(Cow::Owned(s)),
            Value::Array(items) => Json::Array(items.into_iter().map(Self::owned).collect()),
            Value::Object(members) => Json::Object(Object::new(
                members.into_iter().map(|(name, value)| (Cow::Owned(name), Self::owned(value))).collect(),
            )),
        }
    }

    /// The same value as a `serde_json::Value`.
    pub(crate) fn to_value(&self) -> Value {
        match self {
            Self::Null => Value::Null,
            Self::Bool(b) => Value::Bool(*b),
            Self::Number(n) => Value::Number(n.clone()),
            Self::String(s) => Value::String(s.as_ref().to_owned()),
            Self::Array(items) => Value::Array(items.iter().map(Self::to_value).collect()),
            Self::Object(object) => {
                let mut members = Map::with_capacity(object.len());
                for (name, value) in object.iter() {
                    members.insert(name.to_owned(), value.to_value());
                }
                Value::Object(members)
            }
        }
    }
}

/// [`crate::event_view`] as a [`Json`]: the attributes borrowed from the event (`time`
/// and non-string extensions written out), the data parsed when it is JSON, else text;
/// only the members named in `reads`, when it names them (see `eval::reads`).
pub(crate) fn event_doc<'a>(incoming: &'a IncomingEvent, reads: Option<&[String]>) -> Json<'a> {
    let read = |name: &str| reads.is_none_or(|names| names.iter().any(|n| n == name));
    let mut members = Vec::with_capacity(reads.map_or(10, <[String]>::len));
    if reads.is_none_or(|names| names.iter().any(|n| n != "data")) {
        crate::view::attributes(incoming, &Reads::WHOLE, |name, value| {
            if read(name) {
                members.push((Cow::Borrowed(name), Json::String(value)));
            }
        });
    }
    if let Some(data) = incoming.wire_data.as_ref().filter(|_| read("data")) {
        let parsed = has_json_data(&incoming.event).then(|| Json::parse(data).ok()).flatten();
        members.push((Cow::Borrowed("data"), parsed.unwrap_or_else(|| Json::String(String::from_utf8_lossy(data)))));
    }
    Json::Object(Object::new(members))
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        de.deserialize_any(JsonVisitor)
    }
}

/// `serde_json::Value`'s visitor, with borrowed strings.
struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any valid JSON value")
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(b))
    }
    fn visit_i64<E: de::Error>(self, i: i64) -> Result<Json<'de>, E> {
        Ok(Json::Number(i.into()))
    }
    fn visit_u64<E: de::Error>(self, u: u64) -> Result<Json<'de>, E> {
        Ok(Json::Number(u.into()))
    }
    fn visit_f64<E: de::Error>(self, f: f64) -> Result<Json<'de>, E> {
        Ok(Number::from_f64(f).map_or(Json::Null, Json::Number))
    }
    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Borrowed(s)))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(s.to_owned())))
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(s)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, de: D) -> Result<Json<'de>, D::Error> {
        Deserialize::deserialize(de)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some((Name(name), value)) = map.next_entry()? {
            members.push((name, value));
        }
        Ok(Json::Object(Object::new(members)))
    }
}

/// A member's name, borrowed when it has no escapes.
struct Name<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl<'de> Visitor<'de> for NameVisitor {
            type Value = Name<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(s)))
            }
        }
        de.deserialize_str(NameVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn same_as_value(text: &str) {
        let value = serde_json::from_str::<Value>(text).map_err(|e| e.to_string());
        let json = Json::parse(text.as_bytes()).map(|json| json.to_value()).map_err(|e| e.to_string());
        assert_eq!(json, value, "{text}");
    }

    #[test]
    fn parses_what_value_parses_and_refuses_what_it_refuses() {
        for text in [
            r#"{"id":0,"message":"hello","items":[{"id":1,"qty":2},{"id":2,"qty":1}]}"#,
            r#"{"a": 1, "b": 2, "a": 3}"#,
            r#"{"\u0061": 1, "a": 2, "b\n": "\u00e9\ud83d\ude00", "c": [true, false, null, -1, 1.5, 1e2, 18446744073709551615, -9223372036854775808]}"#,
            r#""just a string""#,
            "12345678901234567890123",
            "1e400",
            "[1,]",
            "{oops",
            r#""\ud800""#,
            "",
            "  [] ",
            &format!("{}1{}", "[".repeat(127), "]".repeat(127)),
            &format!("{}1{}", "[".repeat(200), "]".repeat(200)),
        ] {
            same_as_value(text);
        }
    }

    #[test]
    fn objects_keep_the_first_place_and_the_last_value_of_a_name_at_any_size() {
        for size in [3, SCAN, SCAN + 1, 40] {
            let mut members: Vec<String> = (0..size).map(|i| format!("\"k{}\": {i}", size - i)).collect();
            members.push(format!("\"k{size}\": \"again\""));
            members.push("\"k1\": \"last\"".into());
            let text = format!("{{{}}}", members.join(", "));
            same_as_value(&text);
            let json = Json::parse(text.as_bytes()).unwrap();
            let Json::Object(object) = &json else { panic!("{text}") };
            assert_eq!(object.len(), size);
            assert_eq!(object.get("k1").map(Json::to_value), Some(json!("last")));
            assert_eq!(object.get(&format!("k{size}")).map(Json::to_value), Some(json!("again")));
            assert_eq!(object.get("k2").map(Json::to_value), Some(json!(size - 2)), "{text}");
            assert!(object.get("k0").is_none() && object.get("zz").is_none());
        }
    }

    fn incoming(headers: &[(&str, &str)], body: &str) -> IncomingEvent {
        let mut map = http::HeaderMap::new();
        for (name, value) in headers {
            map.insert(http::HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
        }
        fnmesh_runtime::binding::decode(&map, body.to_owned().into()).unwrap()
    }

    #[test]
    fn the_event_document_is_the_event_view() {
        let binary = [
            ("ce-specversion", "1.0"),
            ("ce-id", "1"),
            ("ce-source", "/s"),
            ("ce-type", "t"),
            ("ce-time", "2020-09-14T14:50:00.5+02:00"),
            ("ce-subject", "sub"),
            ("ce-dataschema", "https://example.com/schema"),
            ("ce-myext", "caf%C3%A9"),
        ];
        let json = [&binary[..], &[("content-type", "application/json")]].concat();
        let text = [&binary[..], &[("content-type", "text/plain")]].concat();
        let structured = [("content-type", "application/cloudevents+json")];
        let events = [
            incoming(&json, r#"{"id":0,"items":[{"id":1},{"id":2}],"id":"again","s":"\u00e9"}"#),
            incoming(&json, "{oops"),
            incoming(&json, ""),
            incoming(&text, "{\"a\": 1}"),
            incoming(&binary, "[1, 2]"),
            incoming(
                &structured,
                r#"{"specversion":"1.0","id":"2","source":"/s","type":"t","flag":true,"n":7,"data":{"a":[1]}}"#,
            ),
            incoming(&structured, r#"{"specversion":"1.0","id":"3","source":"/s","type":"t","data_base64":"/w=="}"#),
        ];
        for event in &events {
            assert_eq!(event_doc(event, None).to_value(), crate::event_view(event), "{event:?}");
            let view = crate::event_view(event);
            let only = |names: &[&str]| {
                let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
                event_doc(event, Some(&names)).to_value()
            };
            let kept = |names: &[&str]| {
                let mut view = view.as_object().unwrap().clone();
                view.retain(|name, _| names.contains(&name.as_str()));
                Value::Object(view)
            };
            for names in [&["data"][..], &["type", "data", "nope"], &["time", "myext", "n"], &[]] {
                assert_eq!(only(names), kept(names), "{names:?}");
            }
        }
    }

    #[test]
    fn strings_without_escapes_are_borrowed() {
        let json = Json::parse(br#"{"plain": "text", "esc\u0061ped": "a\nb"}"#).unwrap();
        let Json::Object(object) = &json else { panic!() };
        let members: Vec<_> = object.members.iter().map(|(name, value)| (name, value)).collect();
        assert!(matches!(members[0], (Cow::Borrowed("plain"), Json::String(Cow::Borrowed("text")))));
        assert!(matches!(members[1], (Cow::Owned(_), Json::String(Cow::Owned(_)))));
        assert_eq!(Json::from_value(&json.to_value()).to_value(), json.to_value());
        assert_eq!(Json::owned(json.to_value()).to_value(), json.to_value());
    }
}
