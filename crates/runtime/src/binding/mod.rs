//! The CloudEvents HTTP protocol binding (v1.0.2), as fnmesh functions speak it.
//!
//! We use the SDK's [`Event`] model but not its HTTP binding, which reads bodies with no
//! limit, answers plain-text 400s, accepts empty `id`/`source`/`type` and invalid
//! extension names, does not percent-decode `ce-*` values, matches the structured
//! content type case-sensitively and loses how the data arrived. Here:
//!
//! * [`decode`] turns headers + body into an [`IncomingEvent`], validating what the
//!   spec requires and naming the attribute at fault;
//! * [`encode`] writes an event in binary or structured mode, percent-encoding header
//!   values as the spec says;
//! * [`IncomingEvent`] is also an axum extractor with body and JSON depth limits, and [`Reply`] the
//!   responder that answers in the request's mode.

mod decode;
mod encode;
mod extract;
mod reply;

use bytes::Bytes;
use cloudevents::{AttributesReader, Event};

pub use decode::{decode, detect};
pub use encode::{Encoded, encode};
pub use extract::RequestLimits;
pub use reply::Reply;

/// `Content-Type` of a structured-mode CloudEvent in JSON.
pub const STRUCTURED_CONTENT_TYPE: &str = "application/cloudevents+json";
/// `Content-Type` of a batch of CloudEvents in JSON (not supported: one event per request).
pub const BATCH_CONTENT_TYPE: &str = "application/cloudevents-batch+json";

/// How an event travels in an HTTP message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// Attributes in `ce-*` headers, data as the body (what Knative dispatchers send).
    #[default]
    Binary,
    /// The whole event as one `application/cloudevents+json` document.
    Structured,
}

/// A CloudEvent received over HTTP, with the transport facts some functions need.
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingEvent {
    /// The event.
    pub event: Event,
    /// The mode it arrived in; a reply uses the same mode.
    pub encoding: Encoding,
    /// The data exactly as it arrived: the body in binary mode, the JSON text of `data`
    /// in structured mode (the decoded string when the data is not JSON), the decoded
    /// bytes of `data_base64`. `None` when the event has no data.
    pub wire_data: Option<Bytes>,
    /// The data arrived as `data_base64` (structured mode).
    pub data_base64: bool,
}

/// The media type of a content type, without parameters: `application/json; charset=utf-8`
/// gives `application/json`. Case is kept, as Go's SDK keeps it.
pub fn media_type(content_type: &str) -> &str {
    // A byte search, not `split(';')`: this runs on every event, and `;` is ASCII.
    let end = content_type.bytes().position(|b| b == b';').unwrap_or(content_type.len());
    content_type[..end].trim()
}

/// The media type of a `datacontenttype` exactly as Go's SDK computes it
/// (`EventContextV1.GetDataMediaType`): empty when absent, the part before `;` trimmed
/// when there are parameters, the value untouched otherwise. Case is kept. The Go
/// images compare this with exact strings, so drop-ins must too.
pub fn go_media_type(content_type: Option<&str>) -> &str {
    match content_type {
        None => "",
        Some(ct) => match ct.split_once(';') {
            Some((media, _)) => media.trim(),
            None => ct,
        },
    }
}

/// Whether data with this `datacontenttype` is JSON, as Go's SDK decides: absent or blank,
/// a `json` subtype (`application/json`, `text/json`) or a `+json` suffix.
pub fn is_json_content_type(content_type: Option<&str>) -> bool {
    // What nearly every event says, answered without taking it apart.
    if content_type == Some("application/json") {
        return true;
    }
    let Some(ct) = content_type.filter(|ct| !ct.trim().is_empty()) else { return true };
    // Without case, and without lowercasing a copy: this runs on every event.
    match media_type(ct).split_once('/') {
        Some((_, subtype)) => subtype.rsplit('+').next().is_some_and(|s| s.eq_ignore_ascii_case("json")),
        None => false,
    }
}

/// Whether `name` is a valid extension attribute name: lowercase ASCII letters and digits.
/// The spec's 20 characters is a SHOULD (CloudEvents 1.0.2, "Attribute Naming
/// Convention"), so longer names are accepted, as sdk-go accepts them.
pub fn is_valid_extension_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// Whether the event's `datacontenttype` says JSON (absent counts as JSON).
pub fn has_json_data(event: &Event) -> bool {
    is_json_content_type(event.datacontenttype())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types_as_go_sees_them() {
        for ct in [None, Some(""), Some("application/json"), Some("text/json"), Some("application/json; charset=utf-8")]
        {
            assert!(is_json_content_type(ct), "{ct:?}");
        }
        for ct in ["application/vnd.api+json", "Application/JSON", "application/cloudevents+json"] {
            assert!(is_json_content_type(Some(ct)), "{ct}");
        }
        for ct in ["text/plain", "application/xml", "application/octet-stream", "application/jsonx"] {
            assert!(!is_json_content_type(Some(ct)), "{ct}");
        }
    }

    #[test]
    fn media_type_drops_parameters_and_keeps_case() {
        assert_eq!(media_type("application/json; charset=utf-8"), "application/json");
        assert_eq!(media_type(" Application/JSON "), "Application/JSON");
        assert_eq!(media_type("text/plain;a=1;b=2"), "text/plain");
        assert_eq!(media_type("text/caf\u{e9}; charset=utf-8"), "text/caf\u{e9}");
    }

    #[test]
    fn go_media_type_trims_only_with_parameters() {
        assert_eq!(go_media_type(None), "");
        assert_eq!(go_media_type(Some("application/json")), "application/json");
        assert_eq!(go_media_type(Some(" application/json ")), " application/json ");
        assert_eq!(go_media_type(Some(" Application/JSON ; charset=utf-8")), "Application/JSON");
    }

    #[test]
    fn extension_names() {
        assert!(is_valid_extension_name("myext1"));
        for bad in ["", "myExt", "my-ext", "my_ext", "é"] {
            assert!(!is_valid_extension_name(bad), "{bad}");
        }
    }
}
