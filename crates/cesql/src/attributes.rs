//! Where an expression reads attribute values: a CloudEvent, or a map (for tests and
//! for events that are not `cloudevents::Event`s).

use std::collections::{BTreeMap, HashMap};

use cloudevents::event::{ExtensionValue, SpecVersion};
use cloudevents::{AttributesReader, Event};

use crate::{AttributeRef, Value};

/// An event's context attributes and extensions, by lower-case name.
pub trait Attributes {
    /// The value of the attribute or extension `name`; `None` when the event has none.
    fn attribute(&self, name: &str) -> Option<Value>;

    /// The same value, its text borrowed when the event holds it as it is: evaluation
    /// reads attributes this way. By default, [`Self::attribute`]'s value.
    fn attribute_ref(&self, name: &str) -> Option<AttributeRef<'_>> {
        self.attribute(name).map(AttributeRef::Value)
    }
}

impl Attributes for Event {
    fn attribute(&self, name: &str) -> Option<Value> {
        self.attribute_ref(name).map(AttributeRef::into_value)
    }

    fn attribute_ref(&self, name: &str) -> Option<AttributeRef<'_>> {
        let text = |s| Some(AttributeRef::Text(s));
        match name {
            // `SpecVersion::as_str` borrows the value `specversion()` returns.
            "specversion" => text(match self.specversion() {
                SpecVersion::V03 => "0.3",
                SpecVersion::V10 => "1.0",
            }),
            "id" => text(self.id()),
            "source" => text(self.source().as_str()),
            "type" => text(self.ty()),
            "subject" => self.subject().and_then(text),
            "datacontenttype" => self.datacontenttype().and_then(text),
            "dataschema" => self.dataschema().and_then(|u| text(u.as_str())),
            // The SDK keeps times in UTC: an offset that came in is not kept.
            "time" => self.time().map(|t| AttributeRef::Value(Value::String(rfc3339(t)))),
            _ => self.extension(name).map(|value| match value {
                ExtensionValue::String(s) => AttributeRef::Text(s),
                ExtensionValue::Boolean(b) => AttributeRef::Value(Value::Boolean(*b)),
                ExtensionValue::Integer(i) => {
                    AttributeRef::Value(i32::try_from(*i).map_or_else(|_| Value::String(i.to_string()), Value::Integer))
                }
            }),
        }
    }
}

/// Go's `time.RFC3339Nano`, which Knative's filters print: `Z` for UTC, and the
/// fraction of a second without trailing zeros.
fn rfc3339(time: &chrono::DateTime<chrono::Utc>) -> String {
    use chrono::Timelike;
    let mut text = time.format("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = time.nanosecond() % 1_000_000_000;
    if nanos != 0 {
        text.push_str(format!(".{nanos:09}").trim_end_matches('0'));
    }
    text.push('Z');
    text
}

/// A value of a map, its text borrowed.
fn borrowed(value: &Value) -> AttributeRef<'_> {
    match value {
        Value::String(text) => AttributeRef::Text(text),
        other => AttributeRef::Value(other.clone()),
    }
}

impl<S: std::hash::BuildHasher> Attributes for HashMap<String, Value, S> {
    fn attribute(&self, name: &str) -> Option<Value> {
        self.get(name).cloned()
    }

    fn attribute_ref(&self, name: &str) -> Option<AttributeRef<'_>> {
        self.get(name).map(borrowed)
    }
}

impl Attributes for BTreeMap<String, Value> {
    fn attribute(&self, name: &str) -> Option<Value> {
        self.get(name).cloned()
    }

    fn attribute_ref(&self, name: &str) -> Option<AttributeRef<'_>> {
        self.get(name).map(borrowed)
    }
}

#[cfg(test)]
mod tests {
    use cloudevents::EventBuilder;
    use cloudevents::EventBuilderV10;

    use super::*;

    #[test]
    fn events_expose_attributes_and_extensions() {
        let event = EventBuilderV10::new()
            .id("1")
            .source("/src")
            .ty("t")
            .subject("s")
            .time("2018-04-26T14:48:09.120+02:00")
            .extension("flag", true)
            .extension("count", 7_i64)
            .extension("big", 1_i64 << 40)
            .extension("name", "x")
            .build()
            .unwrap();
        assert_eq!(event.attribute("specversion"), Some(Value::from("1.0")));
        assert_eq!(event.attribute("id"), Some(Value::from("1")));
        assert_eq!(event.attribute("source"), Some(Value::from("/src")));
        assert_eq!(event.attribute("type"), Some(Value::from("t")));
        assert_eq!(event.attribute("subject"), Some(Value::from("s")));
        assert_eq!(event.attribute("time"), Some(Value::from("2018-04-26T12:48:09.12Z")));
        assert_eq!(event.attribute("flag"), Some(Value::Boolean(true)));
        assert_eq!(event.attribute("count"), Some(Value::Integer(7)));
        assert_eq!(event.attribute("big"), Some(Value::from("1099511627776")));
        assert_eq!(event.attribute("name"), Some(Value::from("x")));
        assert_eq!(event.attribute("dataschema"), None);
        assert_eq!(event.attribute("nope"), None);
        // Evaluation reads the same values, text borrowed where the event holds it.
        assert_eq!(event.attribute_ref("type"), Some(AttributeRef::Text("t")));
        assert_eq!(event.attribute_ref("name"), Some(AttributeRef::Text("x")));
        assert_eq!(event.attribute_ref("specversion"), Some(AttributeRef::Text("1.0")));
        assert_eq!(event.attribute_ref("count"), Some(AttributeRef::Value(Value::Integer(7))));
        assert_eq!(event.attribute_ref("time"), Some(AttributeRef::Value(Value::from("2018-04-26T12:48:09.12Z"))));
        assert_eq!(event.attribute_ref("nope"), None);
    }
}
