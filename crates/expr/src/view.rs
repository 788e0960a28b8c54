//! The event as expressions see it, the same for JavaScript, jq and JSONPath.

use fnmesh_runtime::binding::has_json_data;
use fnmesh_runtime::{AttributesReader, IncomingEvent, rfc3339};
use serde_json::{Map, Value};

/// `{"specversion", "id", "source", "type", "time"?, "subject"?, "datacontenttype"?,
/// "dataschema"?, <extensions>..., "data"?}`, as filter-nodejs binds `event`: every
/// attribute and extension as a string (`time` in RFC 3339, UTC), and `data` parsed
/// when it is JSON (no `datacontenttype` counts as JSON), else as text. No data, no
/// `data` member.
pub fn event_view(incoming: &IncomingEvent) -> Value {
    let event = &incoming.event;
    let mut view = Map::new();
    let mut put = |name: &str, value: String| {
        view.insert(name.to_owned(), Value::String(value));
    };
    put("specversion", event.specversion().to_string());
    put("id", event.id().to_owned());
    put("source", event.source().clone());
    put("type", event.ty().to_owned());
    if let Some(time) = event.time() {
        put("time", rfc3339::format(time));
    }
    if let Some(subject) = event.subject() {
        put("subject", subject.to_owned());
    }
    if let Some(content_type) = event.datacontenttype() {
        put("datacontenttype", content_type.to_owned());
    }
    if let Some(schema) = event.dataschema() {
        put("dataschema", schema.to_string());
    }
    for (name, value) in event.iter_extensions() {
        put(name, value.to_string());
    }
    if let Some(data) = &incoming.wire_data {
        let parsed = has_json_data(event).then(|| serde_json::from_slice::<Value>(data).ok()).flatten();
        let data = parsed.unwrap_or_else(|| Value::String(String::from_utf8_lossy(data).into_owned()));
        view.insert("data".into(), data);
    }
    Value::Object(view)
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
}
