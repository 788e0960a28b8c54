//! HTTP message -> CloudEvent, in binary and structured mode, with every check the
//! spec asks for and an error that names the attribute (and header) at fault.

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use cloudevents::event::ExtensionValue;
use cloudevents::{AttributesWriter, Data, Event, EventBuilder, EventBuilderV10};
use http::HeaderMap;
use http::header::CONTENT_TYPE;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::{
    BATCH_CONTENT_TYPE, Encoding, IncomingEvent, STRUCTURED_CONTENT_TYPE, is_json_content_type,
    is_valid_extension_name, media_type,
};
use crate::Error;

const SPEC_VERSION: &str = "1.0";

/// Which mode a message uses: `Ok(None)` when it carries no CloudEvent at all
/// (no `ce-*` headers, no CloudEvents content type).
pub fn detect(headers: &HeaderMap) -> Result<Option<Encoding>, Error> {
    if let Some(ct) = headers.get(CONTENT_TYPE) {
        // Compared without case, and lowercased only for an error: no allocation per event.
        let media = media_type(ct.to_str().unwrap_or_default());
        if media.eq_ignore_ascii_case(STRUCTURED_CONTENT_TYPE) {
            return Ok(Some(Encoding::Structured));
        }
        if media.eq_ignore_ascii_case(BATCH_CONTENT_TYPE) {
            return Err(Error::NotCloudEvent(format!(
                "batched CloudEvents ({BATCH_CONTENT_TYPE}) are not supported: send one event per request"
            )));
        }
        const FORMATS: &str = "application/cloudevents+";
        if media.get(..FORMATS.len()).is_some_and(|start| start.eq_ignore_ascii_case(FORMATS)) {
            let media = media.to_ascii_lowercase();
            return Err(Error::NotCloudEvent(format!(
                "unsupported event format {media}: structured mode must be {STRUCTURED_CONTENT_TYPE}"
            )));
        }
    }
    if headers.contains_key(CE_SPECVERSION) {
        return Ok(Some(Encoding::Binary));
    }
    if headers.keys().any(|name| name.as_str().starts_with("ce-")) {
        return Err(Error::InvalidEvent(
            "incomplete CloudEvent: missing required attribute specversion (header ce-specversion)".into(),
        ));
    }
    Ok(None)
}

/// `ce-specversion`, made once (a `&str` key is parsed on every lookup).
const CE_SPECVERSION: http::HeaderName = http::HeaderName::from_static("ce-specversion");

/// Decodes the CloudEvent in an HTTP message (a request, or a reply to one).
pub fn decode(headers: &HeaderMap, body: Bytes) -> Result<IncomingEvent, Error> {
    decode_detected(headers, body, detect(headers)?)
}

/// [`decode`] once [`detect`] has said which mode the message uses.
pub(crate) fn decode_detected(
    headers: &HeaderMap,
    body: Bytes,
    encoding: Option<Encoding>,
) -> Result<IncomingEvent, Error> {
    match encoding {
        Some(Encoding::Binary) => decode_binary(headers, body),
        Some(Encoding::Structured) => decode_structured(&body),
        None => Err(Error::NotCloudEvent(format!(
            "not a CloudEvent: expected a ce-specversion header (binary mode) or Content-Type \
             {STRUCTURED_CONTENT_TYPE} (structured mode)"
        ))),
    }
}

fn decode_binary(headers: &HeaderMap, body: Bytes) -> Result<IncomingEvent, Error> {
    let mut draft = Draft::new(Encoding::Binary);
    // A header's values come one after another: a name seen twice in a row appears
    // more than once (checked before its value, as a lookup of all its values would).
    let mut all = headers.iter().peekable();
    while let Some((name, value)) = all.next() {
        let Some(attribute) = name.as_str().strip_prefix("ce-") else { continue };
        if all.peek().is_some_and(|(next, _)| *next == name) {
            return Err(Error::InvalidEvent(format!("header {name} appears more than once")));
        }
        let bytes = value.as_bytes();
        let text = if bytes.contains(&b'%') {
            // `percent_decode` keeps a stray `%` as it is; the binding says values are
            // percent-encoded, so `%` must start an escape.
            let stray = bytes.iter().enumerate().any(|(i, b)| {
                *b == b'%'
                    && !(bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                        && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
            });
            if stray {
                return Err(Error::InvalidEvent(format!(
                    "header {name} has an invalid percent-encoding (a % not followed by two hex digits)"
                )));
            }
            percent_encoding::percent_decode(bytes).decode_utf8().map(Cow::into_owned)
        } else {
            std::str::from_utf8(bytes).map(str::to_owned)
        };
        let text =
            text.map_err(|_| Error::InvalidEvent(format!("header {name} is not UTF-8 after percent-decoding")))?;
        draft.set(attribute, Value::Text(text))?;
    }
    if let Some(ct) = headers.get(CONTENT_TYPE) {
        let ct = ct.to_str().map_err(|_| Error::InvalidEvent("Content-Type is not ASCII".into()))?;
        if !ct.trim().is_empty() {
            draft.datacontenttype = Some(ct.to_owned());
        }
    }
    let data = (!body.is_empty()).then(|| Data::Binary(body.to_vec()));
    let wire_data = (!body.is_empty()).then_some(body);
    Ok(IncomingEvent { event: draft.build(data)?, encoding: Encoding::Binary, wire_data, data_base64: false })
}

fn decode_structured(body: &Bytes) -> Result<IncomingEvent, Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::InvalidEvent(format!(
            "empty body: a structured-mode CloudEvent ({STRUCTURED_CONTENT_TYPE}) is a JSON object"
        )));
    }
    let Members(members) = serde_json::from_slice(body)
        .map_err(|e| Error::InvalidEvent(format!("structured-mode body is not a valid JSON object: {e}")))?;

    let mut draft = Draft::new(Encoding::Structured);
    let (mut data, mut data_base64) = (None, None);
    for (index, (name, raw)) in members.iter().enumerate() {
        if members[..index].iter().any(|(seen, _)| seen == name) {
            return Err(Error::InvalidEvent(format!("member {name:?} appears more than once")));
        }
        match name.as_ref() {
            "data" => data = Some(*raw),
            "data_base64" => data_base64 = Some(*raw),
            _ => draft.set(name, Value::Json(raw))?,
        }
    }
    let is_null = |raw: &&RawValue| raw.get() == "null";
    let (data, wire_data, base64) = match (data.filter(|r| !is_null(r)), data_base64.filter(|r| !is_null(r))) {
        (Some(_), Some(_)) => {
            return Err(Error::InvalidEvent("an event cannot have both data and data_base64".into()));
        }
        (None, None) => (None, None, false),
        (Some(raw), None) if is_json_content_type(draft.datacontenttype.as_deref()) => {
            let value = serde_json::from_str(raw.get())
                .map_err(|e| Error::InvalidEvent(format!("data is not valid JSON: {e}")))?;
            (Some(Data::Json(value)), Some(Bytes::copy_from_slice(raw.get().as_bytes())), false)
        }
        (Some(raw), None) => {
            let text: String = serde_json::from_str(raw.get()).map_err(|_| {
                Error::InvalidEvent(format!(
                    "data must be a JSON string when datacontenttype is {:?} (use data_base64 for bytes)",
                    draft.datacontenttype.as_deref().unwrap_or_default()
                ))
            })?;
            let wire = Bytes::from(text.clone().into_bytes());
            (Some(Data::String(text)), Some(wire), false)
        }
        (None, Some(raw)) => {
            let text: String = serde_json::from_str(raw.get())
                .map_err(|_| Error::InvalidEvent("data_base64 must be a string".into()))?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|e| Error::InvalidEvent(format!("data_base64 is not valid base64: {e}")))?;
            let wire = Bytes::from(bytes.clone());
            (Some(Data::Binary(bytes)), Some(wire), true)
        }
    };
    Ok(IncomingEvent { event: draft.build(data)?, encoding: Encoding::Structured, wire_data, data_base64: base64 })
}

/// A structured-mode body: the members of one JSON object, in order, values unparsed.
struct Members<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> serde::Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct MembersVisitor;
        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(entry) = map.next_entry::<Cow<'de, str>, &'de RawValue>()? {
                    members.push(entry);
                }
                Ok(Members(members))
            }
        }
        de.deserialize_map(MembersVisitor)
    }
}

/// An attribute value as it arrived: header text, or a JSON value in structured mode.
enum Value<'a> {
    Text(String),
    Json(&'a RawValue),
}

/// The attributes of an event being decoded, before validation.
struct Draft {
    encoding: Encoding,
    specversion: Option<String>,
    id: Option<String>,
    source: Option<String>,
    ty: Option<String>,
    subject: Option<String>,
    time: Option<DateTime<Utc>>,
    dataschema: Option<url::Url>,
    datacontenttype: Option<String>,
    extensions: Vec<(String, ExtensionValue)>,
}

impl Draft {
    fn new(encoding: Encoding) -> Self {
        Self {
            encoding,
            specversion: None,
            id: None,
            source: None,
            ty: None,
            subject: None,
            time: None,
            dataschema: None,
            datacontenttype: None,
            extensions: Vec::new(),
        }
    }

    /// ` (header ce-id)` in binary mode, nothing in structured mode.
    fn place(&self, name: &str) -> String {
        match self.encoding {
            Encoding::Binary => format!(" (header ce-{name})"),
            Encoding::Structured => String::new(),
        }
    }

    fn invalid(&self, name: &str, why: impl fmt::Display) -> Error {
        Error::InvalidEvent(format!("invalid attribute {name}{}: {why}", self.place(name)))
    }

    /// A string attribute; JSON `null` means absent.
    fn text(&self, name: &str, value: Value<'_>) -> Result<Option<String>, Error> {
        match value {
            Value::Text(text) => Ok(Some(text)),
            Value::Json(raw) if raw.get() == "null" => Ok(None),
            Value::Json(raw) => serde_json::from_str::<String>(raw.get())
                .map(Some)
                .map_err(|_| self.invalid(name, format!("must be a string, found {}", raw.get()))),
        }
    }

    fn set(&mut self, name: &str, value: Value<'_>) -> Result<(), Error> {
        match name {
            "specversion" => self.specversion = self.text(name, value)?,
            "id" => self.id = self.text(name, value)?,
            "source" => self.source = self.text(name, value)?,
            "type" => self.ty = self.text(name, value)?,
            "subject" => self.subject = self.text(name, value)?,
            "datacontenttype" => self.datacontenttype = self.text(name, value)?,
            "time" => {
                self.time = match self.text(name, value)? {
                    None => None,
                    Some(text) => Some(
                        DateTime::parse_from_rfc3339(text.trim())
                            .map_err(|e| self.invalid(name, format!("{text:?} is not an RFC 3339 timestamp ({e})")))?
                            .with_timezone(&Utc),
                    ),
                }
            }
            "dataschema" => {
                self.dataschema = match self.text(name, value)? {
                    None => None,
                    Some(text) => Some(
                        url::Url::parse(&text)
                            .map_err(|e| self.invalid(name, format!("{text:?} is not an absolute URI ({e})")))?,
                    ),
                }
            }
            _ => self.set_extension(name, value)?,
        }
        Ok(())
    }

    fn set_extension(&mut self, name: &str, value: Value<'_>) -> Result<(), Error> {
        if !is_valid_extension_name(name) {
            return Err(Error::InvalidEvent(format!(
                "invalid extension name {name:?}{}: names are lowercase letters a-z and digits 0-9",
                self.place(name)
            )));
        }
        let value = match value {
            Value::Text(text) => ExtensionValue::String(text),
            Value::Json(raw) => match serde_json::from_str::<serde_json::Value>(raw.get()) {
                Ok(serde_json::Value::Null) => return Ok(()),
                Ok(serde_json::Value::String(s)) => ExtensionValue::String(s),
                Ok(serde_json::Value::Bool(b)) => ExtensionValue::Boolean(b),
                Ok(serde_json::Value::Number(n)) => match n.as_i64().filter(|i| i32::try_from(*i).is_ok()) {
                    Some(i) => ExtensionValue::Integer(i),
                    None => {
                        return Err(self.invalid(name, format!("{n} is not a 32-bit integer")));
                    }
                },
                _ => {
                    return Err(self.invalid(name, "an extension is a string, an integer or a boolean"));
                }
            },
        };
        self.extensions.push((name.to_owned(), value));
        Ok(())
    }

    fn required(&self, name: &str, value: Option<String>) -> Result<String, Error> {
        match value {
            Some(v) if !v.is_empty() => Ok(v),
            Some(_) => Err(self.invalid(name, "must not be empty")),
            None => Err(self.missing(name)),
        }
    }

    fn missing(&self, name: &str) -> Error {
        Error::InvalidEvent(format!("missing required attribute {name}{}", self.place(name)))
    }

    fn build(mut self, data: Option<Data>) -> Result<Event, Error> {
        match self.specversion.take().as_deref() {
            Some(SPEC_VERSION) => {}
            None => return Err(self.missing("specversion")),
            Some(other) => {
                return Err(
                    self.invalid("specversion", format!("{other:?} is not supported; fnmesh speaks {SPEC_VERSION}"))
                );
            }
        }
        let (id, source, ty) = (self.id.take(), self.source.take(), self.ty.take());
        let id = self.required("id", id)?;
        let source = self.required("source", source)?;
        let ty = self.required("type", ty)?;
        if self.subject.as_deref() == Some("") {
            return Err(self.invalid("subject", "must not be empty when present"));
        }
        let mut builder = EventBuilderV10::new().id(id).source(source).ty(ty);
        if let Some(time) = self.time {
            builder = builder.time(time);
        }
        if let Some(subject) = self.subject {
            builder = builder.subject(subject);
        }
        for (name, value) in self.extensions {
            builder = builder.extension(&name, value);
        }
        let mut event = builder.build().map_err(|e| Error::InvalidEvent(e.to_string()))?;
        event.set_datacontenttype(self.datacontenttype);
        event.set_dataschema(self.dataschema);
        if let Some(data) = data {
            event.set_data_unchecked(data);
        }
        Ok(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cloudevents::AttributesReader;
    use http::HeaderValue;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(http::HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        map
    }

    fn minimal() -> Vec<(&'static str, &'static str)> {
        vec![("ce-specversion", "1.0"), ("ce-id", "1"), ("ce-source", "/s"), ("ce-type", "t")]
    }

    fn error(result: Result<IncomingEvent, Error>) -> Error {
        result.expect_err("decoding should fail")
    }

    #[test]
    fn binary_mode_keeps_every_attribute_and_the_body() {
        let mut h = minimal();
        h.extend([
            ("ce-time", "2020-03-02T20:52:00.0004957Z"),
            ("ce-subject", "sub"),
            ("ce-dataschema", "http://example.com/schema"),
            ("ce-myext", "hello%20world"),
            ("content-type", "application/json"),
        ]);
        let incoming = decode(&headers(&h), Bytes::from_static(b"{\"a\": 1}")).unwrap();
        let e = &incoming.event;
        assert_eq!(incoming.encoding, Encoding::Binary);
        assert_eq!((e.id(), e.source().as_str(), e.ty()), ("1", "/s", "t"));
        assert_eq!(e.subject(), Some("sub"));
        assert_eq!(e.dataschema().unwrap().as_str(), "http://example.com/schema");
        assert_eq!(e.datacontenttype(), Some("application/json"));
        assert_eq!(e.time().unwrap().timestamp_subsec_nanos(), 495_700);
        assert_eq!(e.extension("myext").unwrap().to_string(), "hello world");
        assert_eq!(e.data(), Some(&Data::Binary(b"{\"a\": 1}".to_vec())));
        assert_eq!(incoming.wire_data.as_deref(), Some(&b"{\"a\": 1}"[..]));
        assert!(!incoming.data_base64);
    }

    #[test]
    fn binary_mode_errors_name_the_header() {
        let without_id: Vec<_> = minimal().into_iter().filter(|(k, _)| *k != "ce-id").collect();
        assert_eq!(
            error(decode(&headers(&without_id), Bytes::new())).to_string(),
            "missing required attribute id (header ce-id)"
        );
        let mut wrong_version = minimal();
        wrong_version[0] = ("ce-specversion", "0.2");
        assert_eq!(
            error(decode(&headers(&wrong_version), Bytes::new())).to_string(),
            "invalid attribute specversion (header ce-specversion): \"0.2\" is not supported; fnmesh speaks 1.0"
        );
        let mut empty_type = minimal();
        empty_type[3] = ("ce-type", "");
        assert!(
            error(decode(&headers(&empty_type), Bytes::new()))
                .to_string()
                .contains("type (header ce-type): must not be empty")
        );
        let mut bad_time = minimal();
        bad_time.push(("ce-time", "yesterday"));
        assert!(error(decode(&headers(&bad_time), Bytes::new())).to_string().contains("ce-time"));
        let mut bad_ext = minimal();
        bad_ext.push(("ce-my-ext", "x"));
        assert!(error(decode(&headers(&bad_ext), Bytes::new())).to_string().contains("\"my-ext\""));
        let mut twice = minimal();
        twice.push(("ce-id", "2"));
        assert_eq!(error(decode(&headers(&twice), Bytes::new())).to_string(), "header ce-id appears more than once");
    }

    #[test]
    fn detection() {
        assert_eq!(
            detect(&headers(&[("content-type", "Application/CloudEvents+JSON; charset=utf-8")])).unwrap(),
            Some(Encoding::Structured)
        );
        assert_eq!(detect(&headers(&[("ce-specversion", "1.0")])).unwrap(), Some(Encoding::Binary));
        assert_eq!(detect(&headers(&[("content-type", "application/json")])).unwrap(), None);
        let batch = detect(&headers(&[("content-type", BATCH_CONTENT_TYPE)])).unwrap_err();
        assert_eq!(batch.status(), 415);
        let partial = detect(&headers(&[("ce-id", "1")])).unwrap_err();
        assert_eq!(partial.status(), 400);
        assert_eq!(error(decode(&HeaderMap::new(), Bytes::new())).status(), 415);
    }

    fn structured(body: &str) -> Result<IncomingEvent, Error> {
        decode(&headers(&[("content-type", STRUCTURED_CONTENT_TYPE)]), Bytes::from(body.to_owned()))
    }

    #[test]
    fn structured_json_data_keeps_its_text() {
        let incoming = structured(
            r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"b": 1.50, "a": [1]},"n":7,"flag":true,"x":null}"#,
        )
        .unwrap();
        assert_eq!(incoming.encoding, Encoding::Structured);
        assert_eq!(incoming.wire_data.as_deref(), Some(&br#"{"b": 1.50, "a": [1]}"#[..]));
        assert!(matches!(incoming.event.data(), Some(Data::Json(_))));
        assert_eq!(incoming.event.extension("n"), Some(&ExtensionValue::Integer(7)));
        assert_eq!(incoming.event.extension("flag"), Some(&ExtensionValue::Boolean(true)));
        assert_eq!(incoming.event.extension("x"), None);
    }

    #[test]
    fn structured_text_and_base64_data() {
        let text = structured(r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"text/plain","data":"hi\nthere"}"#).unwrap();
        assert_eq!(text.event.data(), Some(&Data::String("hi\nthere".into())));
        assert_eq!(text.wire_data.as_deref(), Some(&b"hi\nthere"[..]));

        let b64 =
            structured(r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","data_base64":"AAEC"}"#).unwrap();
        assert_eq!(b64.event.data(), Some(&Data::Binary(vec![0, 1, 2])));
        assert!(b64.data_base64);
    }

    #[test]
    fn structured_errors() {
        let cases = [
            ("", "empty body"),
            ("{\"specversion\":", "not a valid JSON object"),
            ("[1]", "not a valid JSON object"),
            (r#"{"id":"1","source":"/s","type":"t"}"#, "missing required attribute specversion"),
            (r#"{"specversion":"1.0","id":1,"source":"/s","type":"t"}"#, "invalid attribute id: must be a string"),
            (r#"{"specversion":"1.0","id":"1","id":"2","source":"/s","type":"t"}"#, "appears more than once"),
            (
                r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","myExt":"x"}"#,
                "invalid extension name \"myExt\"",
            ),
            (r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","e":{"a":1}}"#, "invalid attribute e"),
            (
                r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","data":1,"data_base64":"AA=="}"#,
                "both data and data_base64",
            ),
            (
                r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"text/plain","data":{}}"#,
                "must be a JSON string",
            ),
            (r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","data_base64":"%%%"}"#, "not valid base64"),
        ];
        for (body, expected) in cases {
            let err = error(structured(body));
            assert_eq!(err.status(), 400, "{body}");
            assert!(err.to_string().contains(expected), "{body}: {err}");
        }
    }
}
