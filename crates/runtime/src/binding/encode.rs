//! CloudEvent -> HTTP headers + body, in binary or structured mode.
//!
//! Header values are percent-encoded as the HTTP binding requires (space, `"`, `%`,
//! controls and everything outside ASCII), `time` is written as Go writes it, and JSON
//! data held as bytes (an appender's reply, say) is written into structured mode as
//! JSON, not as `data_base64`, so its exact text survives.

use base64::Engine as _;
use bytes::Bytes;
use cloudevents::event::ExtensionValue;
use cloudevents::{AttributesReader, Data, Event};
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderName, HeaderValue};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde_json::{Map, Value};

use super::{Encoding, STRUCTURED_CONTENT_TYPE, is_json_content_type};
use crate::rfc3339;

/// Bytes of a header value that the HTTP binding says must be percent-encoded
/// (non-ASCII bytes are always encoded).
const HEADER_VALUE_ESCAPES: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b'%');

/// An event written as HTTP headers and a body.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    /// `ce-*` headers and `Content-Type` (binary), or just `Content-Type` (structured).
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

/// Writes `event` in the given mode.
pub fn encode(event: &Event, encoding: Encoding) -> Encoded {
    match encoding {
        Encoding::Binary => binary(event),
        Encoding::Structured => structured(event),
    }
}

/// The names of the context attributes' headers, made once.
const CE_SPECVERSION: HeaderName = HeaderName::from_static("ce-specversion");
const CE_ID: HeaderName = HeaderName::from_static("ce-id");
const CE_SOURCE: HeaderName = HeaderName::from_static("ce-source");
const CE_TYPE: HeaderName = HeaderName::from_static("ce-type");
const CE_SUBJECT: HeaderName = HeaderName::from_static("ce-subject");
const CE_TIME: HeaderName = HeaderName::from_static("ce-time");
const CE_DATASCHEMA: HeaderName = HeaderName::from_static("ce-dataschema");

/// `value` percent-encoded as a header value. Most values need no escape: they are
/// copied as they are, without the formatting machinery of the encoder.
fn header_value(value: &str) -> Option<HeaderValue> {
    // The bytes of HEADER_VALUE_ESCAPES, and everything outside ASCII.
    let escape = |b: &u8| !b.is_ascii() || b.is_ascii_control() || matches!(b, b' ' | b'"' | b'%');
    if !value.as_bytes().iter().any(escape) {
        return HeaderValue::from_str(value).ok();
    }
    HeaderValue::try_from(utf8_percent_encode(value, HEADER_VALUE_ESCAPES).to_string()).ok()
}

fn binary(event: &Event) -> Encoded {
    let mut headers = HeaderMap::with_capacity(8 + event.iter_extensions().count());
    // Names are valid by construction (validated attribute names), values are
    // percent-encoded ASCII.
    let mut put = |name: HeaderName, value: &str| {
        if let Some(value) = header_value(value) {
            headers.insert(name, value);
        }
    };
    put(CE_SPECVERSION, "1.0");
    put(CE_ID, event.id());
    put(CE_SOURCE, event.source());
    put(CE_TYPE, event.ty());
    if let Some(subject) = event.subject() {
        put(CE_SUBJECT, subject);
    }
    if let Some(time) = event.time() {
        put(CE_TIME, &rfc3339::format(time));
    }
    if let Some(schema) = event.dataschema() {
        put(CE_DATASCHEMA, schema.as_str());
    }
    let mut name = String::with_capacity(24);
    for (extension, value) in event.iter_extensions() {
        name.clear();
        name.push_str("ce-");
        name.push_str(extension);
        let Ok(name) = HeaderName::try_from(name.as_str()) else { continue };
        match value {
            ExtensionValue::String(text) => put(name, text),
            ExtensionValue::Boolean(b) => put(name, if *b { "true" } else { "false" }),
            ExtensionValue::Integer(i) => put(name, &i.to_string()),
        }
    }
    if let Some(ct) = event.datacontenttype().and_then(|ct| HeaderValue::try_from(ct).ok()) {
        headers.insert(CONTENT_TYPE, ct);
    }
    let body = match event.data() {
        None => Bytes::new(),
        Some(Data::Binary(bytes)) => Bytes::copy_from_slice(bytes),
        Some(Data::String(text)) => Bytes::copy_from_slice(text.as_bytes()),
        Some(Data::Json(value)) => Bytes::from(serde_json::to_vec(value).unwrap_or_default()),
    };
    Encoded { headers, body }
}

fn structured(event: &Event) -> Encoded {
    let mut doc = Map::new();
    let text = |s: &str| Value::String(s.to_owned());
    doc.insert("specversion".into(), text("1.0"));
    doc.insert("id".into(), text(event.id()));
    doc.insert("source".into(), text(event.source()));
    doc.insert("type".into(), text(event.ty()));
    if let Some(subject) = event.subject() {
        doc.insert("subject".into(), text(subject));
    }
    if let Some(time) = event.time() {
        doc.insert("time".into(), Value::String(rfc3339::format(time)));
    }
    if let Some(schema) = event.dataschema() {
        doc.insert("dataschema".into(), text(schema.as_str()));
    }
    if let Some(ct) = event.datacontenttype() {
        doc.insert("datacontenttype".into(), text(ct));
    }
    let mut extensions: Vec<_> = event.iter_extensions().collect();
    extensions.sort_by_key(|(name, _)| *name);
    for (name, value) in extensions {
        let value = match value {
            ExtensionValue::String(s) => Value::String(s.clone()),
            ExtensionValue::Boolean(b) => Value::Bool(*b),
            ExtensionValue::Integer(i) => Value::from(*i),
        };
        doc.insert(name.to_owned(), value);
    }
    // JSON bytes go in as they are (their exact text is kept); other bytes as base64.
    let mut raw_json_data = None;
    match event.data() {
        None => {}
        Some(Data::Json(value)) => {
            doc.insert("data".into(), value.clone());
        }
        Some(Data::String(s)) => {
            doc.insert("data".into(), text(s));
        }
        Some(Data::Binary(bytes)) => {
            if is_json_content_type(event.datacontenttype())
                && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
            {
                raw_json_data = Some(bytes.as_slice());
            } else {
                doc.insert(
                    "data_base64".into(),
                    Value::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
                );
            }
        }
    }
    let mut body = serde_json::to_vec(&Value::Object(doc)).unwrap_or_default();
    if let Some(raw) = raw_json_data {
        // Replace the closing brace with `,"data":<raw>}`; the document is never empty.
        body.pop();
        body.extend_from_slice(b",\"data\":");
        body.extend_from_slice(trim_json_whitespace(raw));
        body.push(b'}');
    }
    let mut headers = HeaderMap::with_capacity(1);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(STRUCTURED_CONTENT_TYPE));
    Encoded { headers, body: Bytes::from(body) }
}

fn trim_json_whitespace(bytes: &[u8]) -> &[u8] {
    let ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    let start = bytes.iter().position(|b| !ws(b)).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|b| !ws(b)).map_or(start, |i| i + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binding::decode;
    use cloudevents::{AttributesWriter, EventBuilder, EventBuilderV10};

    /// The event's data as bytes, as they would travel in a binary-mode body.
    fn data_bytes(event: &Event) -> Option<Vec<u8>> {
        Some(match event.data()? {
            Data::Binary(bytes) => bytes.clone(),
            Data::String(text) => text.as_bytes().to_vec(),
            Data::Json(value) => serde_json::to_vec(value).unwrap_or_default(),
        })
    }

    fn event() -> Event {
        let mut e = EventBuilderV10::new()
            .id("id 1")
            .source("/apis/v1/namespaces/default/pingsources/ping-source")
            .ty("dev.knative.sources.ping")
            .subject("caf\u{e9} \"quoted\" 100%")
            .time("2020-09-14T14:50:00.000345656Z")
            .extension("myext", "hello")
            .extension("count", 3i64)
            .extension("flag", true)
            .build()
            .unwrap();
        e.set_dataschema(Some(url::Url::parse("http://example.com/schema").unwrap()));
        e
    }

    #[test]
    fn header_values_escape_every_byte_as_the_encoder_does() {
        let all: Vec<String> = (0u8..128).map(|b| char::from(b).to_string()).chain(["é ☁️".into()]).collect();
        for value in all.iter().map(String::as_str).chain(["plain", "a b", "100%"]) {
            let expected = utf8_percent_encode(value, HEADER_VALUE_ESCAPES).to_string();
            assert_eq!(header_value(value).unwrap().to_str().unwrap(), expected, "{value:?}");
        }
    }

    #[test]
    fn binary_headers_are_percent_encoded() {
        let mut e = event();
        e.set_data("application/json", Data::Binary(br#"{"id":0}"#.to_vec()));
        let encoded = encode(&e, Encoding::Binary);
        let h = &encoded.headers;
        assert_eq!(h["ce-specversion"], "1.0");
        assert_eq!(h["ce-id"], "id%201");
        assert_eq!(h["ce-subject"], "caf%C3%A9%20%22quoted%22%20100%25");
        assert_eq!(h["ce-time"], "2020-09-14T14:50:00.000345656Z");
        assert_eq!(h["ce-count"], "3");
        assert_eq!(h["content-type"], "application/json");
        assert_eq!(encoded.body, &br#"{"id":0}"#[..]);
    }

    #[test]
    fn binary_and_structured_round_trip() {
        for data in [
            None,
            Some(("application/json", Data::Binary(br#"{"message":"a\u003cb"}"#.to_vec()))),
            Some(("application/json", Data::Json(serde_json::json!({"z": 1, "a": [true]})))),
            Some(("text/plain", Data::String("h\u{e9}llo".into()))),
            Some(("application/octet-stream", Data::Binary(vec![0, 159, 255]))),
        ] {
            let mut e = event();
            if let Some((ct, d)) = data.clone() {
                e.set_data(ct, d);
            }
            for mode in [Encoding::Binary, Encoding::Structured] {
                let Encoded { headers, body } = encode(&e, mode);
                let back = decode(&headers, body).unwrap();
                assert_eq!(back.encoding, mode);
                assert_eq!(back.event.id(), e.id());
                assert_eq!(back.event.subject(), e.subject());
                assert_eq!(back.event.time(), e.time());
                assert_eq!(back.event.dataschema(), e.dataschema());
                assert_eq!(back.event.datacontenttype(), e.datacontenttype());
                let mut ext: Vec<_> =
                    back.event.iter_extensions().map(|(k, v)| (k.to_owned(), v.to_string())).collect();
                ext.sort();
                assert_eq!(
                    ext,
                    [("count".into(), "3".into()), ("flag".into(), "true".into()), ("myext".into(), "hello".into())]
                );
                assert_eq!(back.wire_data.map(|b| b.to_vec()), data_bytes(&e), "{mode:?} {data:?}");
            }
        }
    }

    #[test]
    fn structured_keeps_json_bytes_as_json() {
        let mut e = event();
        e.set_data("application/json", Data::Binary(br#"{"id":0,"message":"\u003c"}"#.to_vec()));
        let body = encode(&e, Encoding::Structured).body;
        let text = std::str::from_utf8(&body).unwrap();
        assert!(text.ends_with(r#","data":{"id":0,"message":"\u003c"}}"#), "{text}");
        assert!(!text.contains("data_base64"));
    }
}
