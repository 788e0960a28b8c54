//! The event as expressions see it, the same for JavaScript, jq and JSONPath.

use fnmesh_runtime::binding::has_json_data;
use fnmesh_runtime::cloudevents::event::{ExtensionValue, SpecVersion};
use fnmesh_runtime::{AttributesReader, IncomingEvent, rfc3339};
use std::borrow::Cow;

use fnmesh_js::{EventData, EventInput, Reads, is_json, object_members};
use serde_json::{Map, Value};

/// `{"specversion", "id", "source", "type", "time"?, "subject"?, "datacontenttype"?,
/// "dataschema"?, <extensions>..., "data"?}`, as filter-nodejs binds `event`: every
/// attribute and extension as a string (`time` in RFC 3339, UTC), and `data` parsed
/// when it is JSON (no `datacontenttype` counts as JSON), else as text. No data, no
/// `data` member.
pub fn event_view(incoming: &IncomingEvent) -> Value {
    let mut view = Map::new();
    attributes(incoming, &Reads::WHOLE, |name, value| {
        view.insert(name.to_owned(), Value::String(value.into_owned()));
    });
    if let Some(data) = &incoming.wire_data {
        let parsed = has_json_data(&incoming.event).then(|| serde_json::from_slice::<Value>(data).ok()).flatten();
        let data = parsed.unwrap_or_else(|| Value::String(String::from_utf8_lossy(data).into_owned()));
        view.insert("data".into(), data);
    }
    Value::Object(view)
}

/// The same view for the JavaScript engine, member by member, with only the members
/// the expression `reads` (see [`Reads`]): the data goes as its JSON text when
/// [`event_view`] would parse it (the engine parses it to the same value), else as text;
/// nothing is parsed or written here but the check that it is JSON. When the expression
/// reads the data by member only (`event.data.message`) and the data is a JSON object,
/// only those members go, each as its JSON text.
pub fn js_event(incoming: &IncomingEvent, reads: &Reads) -> EventInput {
    let mut members = Vec::with_capacity(8);
    attributes(incoming, reads, |name, value| members.push((name.to_owned(), value.into_owned())));
    let data =
        incoming.wire_data.as_ref().filter(|_| reads.wants("data")).map(|data| match std::str::from_utf8(data) {
            Ok(text) if has_json_data(&incoming.event) => {
                match reads.data_members().and_then(|n| object_members(text, n)) {
                    Some(members) => EventData::Object(members),
                    None if is_json(data) => EventData::Json(text.to_owned()),
                    None => EventData::Text(text.to_owned()),
                }
            }
            _ => EventData::Text(String::from_utf8_lossy(data).into_owned()),
        });
    EventInput { members, data }
}

/// The attributes and extensions of the view that `reads` wants, in its order, as strings
/// (borrowed from the event, but `time` and extensions that are not strings, which are
/// written out only when wanted). [`Reads::WHOLE`]: every one.
pub(crate) fn attributes<'a>(incoming: &'a IncomingEvent, reads: &Reads, mut put: impl FnMut(&'a str, Cow<'a, str>)) {
    let event = &incoming.event;
    let mut put = |name: &'a str, value: &dyn Fn() -> Cow<'a, str>| {
        if reads.wants(name) {
            put(name, value());
        }
    };
    // `SpecVersion::as_str` borrows the value `specversion()` returns: not for long enough.
    let specversion = match event.specversion() {
        SpecVersion::V03 => "0.3",
        SpecVersion::V10 => "1.0",
    };
    put("specversion", &|| Cow::Borrowed(specversion));
    put("id", &|| Cow::Borrowed(event.id()));
    put("source", &|| Cow::Borrowed(event.source()));
    put("type", &|| Cow::Borrowed(event.ty()));
    if let Some(time) = event.time() {
        put("time", &|| Cow::Owned(rfc3339::format(time)));
    }
    if let Some(subject) = event.subject() {
        put("subject", &|| Cow::Borrowed(subject));
    }
    if let Some(content_type) = event.datacontenttype() {
        put("datacontenttype", &|| Cow::Borrowed(content_type));
    }
    if let Some(schema) = event.dataschema() {
        put("dataschema", &|| Cow::Borrowed(schema.as_str()));
    }
    for (name, value) in event.iter_extensions() {
        put(name, &|| match value {
            ExtensionValue::String(text) => Cow::Borrowed(text),
            other => Cow::Owned(other.to_string()),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fnmesh_runtime::binding::decode;
    use http::HeaderMap;

    fn incoming(headers: &[(&str, &str)], body: &str) -> IncomingEvent {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        decode(&map, body.to_owned().into()).unwrap()
    }

    const BASE: [(&str, &str); 4] = [("ce-specversion", "1.0"), ("ce-id", "1"), ("ce-source", "/s"), ("ce-type", "t")];

    #[test]
    fn attributes_extensions_and_json_data() {
        let mut headers = BASE.to_vec();
        headers.extend([
            ("ce-time", "2020-09-14T14:50:00.5+02:00"),
            ("ce-myext", "42"),
            ("content-type", "application/json"),
        ]);
        let view = event_view(&incoming(&headers, r#"{"a": [1]}"#));
        assert_eq!(
            view,
            serde_json::json!({"specversion": "1.0", "id": "1", "source": "/s", "type": "t",
                "time": "2020-09-14T12:50:00.5Z", "datacontenttype": "application/json", "myext": "42", "data": {"a": [1]}})
        );
    }

    #[test]
    fn text_invalid_json_and_no_data() {
        let mut text = BASE.to_vec();
        text.push(("content-type", "text/plain"));
        assert_eq!(event_view(&incoming(&text, "{\"a\":1}"))["data"], "{\"a\":1}");
        assert_eq!(event_view(&incoming(&BASE, "{oops"))["data"], "{oops");
        assert!(event_view(&incoming(&BASE, "")).get("data").is_none());
    }

    #[test]
    fn js_event_sends_json_data_that_value_parses_and_text_otherwise() {
        let json = |body: &str| js_event(&incoming(&BASE, body), &Reads::WHOLE).data;
        assert_eq!(json(r#"{"a": [1, 2.5, "\u00e9"]}"#), Some(EventData::Json(r#"{"a": [1, 2.5, "\u00e9"]}"#.into())));
        // What serde_json refuses as a Value is text, in the view and here alike.
        for body in ["{oops", "1e400", r#""\ud800""#, "[1,]", &format!("{}1{}", "[".repeat(200), "]".repeat(200))] {
            assert_eq!(json(body), Some(EventData::Text(body.to_owned())), "{body}");
            assert_eq!(event_view(&incoming(&BASE, body))["data"], Value::String(body.to_owned()), "{body}");
        }
        let mut text = BASE.to_vec();
        text.push(("content-type", "text/plain"));
        assert_eq!(js_event(&incoming(&text, "{}"), &Reads::WHOLE).data, Some(EventData::Text("{}".into())));
        assert_eq!(js_event(&incoming(&BASE, ""), &Reads::WHOLE).data, None);
        let members = js_event(&incoming(&BASE, ""), &Reads::WHOLE).members;
        assert_eq!(members[..2], [("specversion".into(), "1.0".into()), ("id".into(), "1".into())]);
    }

    #[test]
    fn js_event_holds_only_what_the_expression_reads() {
        let mut headers = BASE.to_vec();
        headers.extend([("ce-time", "2020-09-14T14:50:00Z"), ("ce-myext", "42"), ("content-type", "application/json")]);
        let event = incoming(&headers, r#"{"a": 1}"#);
        let time = js_event(&event, &Reads::of("event.time + event.myext + event.subject"));
        assert_eq!(time.members, [("time".into(), "2020-09-14T14:50:00Z".into()), ("myext".into(), "42".into())]);
        assert_eq!(time.data, None);
        let data = js_event(&event, &Reads::of("event.data.a"));
        assert_eq!((data.members, data.data), (vec![], Some(EventData::Object(vec![("a".into(), "1".into())]))));
        let whole = js_event(&event, &Reads::of("event.data.a + JSON.stringify(event.data)"));
        assert_eq!(whole.data, Some(EventData::Json(r#"{"a": 1}"#.into())));
    }

    #[test]
    fn data_read_by_member_goes_member_by_member_when_it_is_an_object() {
        let reads = Reads::of("event.data.a + event.data.message + event.data.none");
        let data = |body: &str| js_event(&incoming(&BASE, body), &reads).data;
        let object = |members: &[(&str, &str)]| {
            Some(EventData::Object(members.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()))
        };
        let body = r#"{"a": 1, "mess\u0061ge": {"b": [1, "x"]}, "other": [1e3, null], "a": "last"}"#;
        assert_eq!(data(body), object(&[("message", r#"{"b": [1, "x"]}"#), ("a", r#""last""#)]));
        assert_eq!(data("{}"), object(&[]));
        // Not an object: the whole data, as before; not JSON: text.
        assert_eq!(data("[1, 2]"), Some(EventData::Json("[1, 2]".into())));
        assert_eq!(data(r#""s""#), Some(EventData::Json(r#""s""#.into())));
        assert_eq!(data(r#"{"a": 1e400}"#), Some(EventData::Text(r#"{"a": 1e400}"#.into())));
    }
}
