//! The text Go's `event_display` prints for one event: `☁️  cloudevents.Event\n` and
//! the SDK's `Event.String()`.

use fnmesh_runtime::binding::go_media_type;
use fnmesh_runtime::{AttributesReader, Event, IncomingEvent, rfc3339};

use crate::indent::indent;

/// The header line before every event (U+2601 U+FE0F and two spaces).
pub const BANNER: &str = "☁️  cloudevents.Event\n";

/// Everything printed for `incoming`, as one block of bytes.
pub fn render(incoming: &IncomingEvent) -> Vec<u8> {
    let event = &incoming.event;
    let mut out = String::with_capacity(512);
    out.push_str(BANNER);
    context_attributes(&mut out, event);
    let mut out = out.into_bytes();
    if let Some(data) = &incoming.wire_data {
        out.extend_from_slice(if incoming.data_base64 { b"Data (binary),\n  " } else { b"Data,\n  " });
        match indent_if_json(event, data) {
            Some(pretty) => out.extend_from_slice(&pretty),
            None => out.extend_from_slice(data),
        }
        out.push(b'\n');
    }
    out
}

/// Re-indented data when the media type is exactly `application/json` and the data is
/// valid JSON; `None` means print the bytes as they are.
fn indent_if_json(event: &Event, data: &[u8]) -> Option<Vec<u8>> {
    (go_media_type(event.datacontenttype()) == "application/json").then(|| indent(data, "  ", "  ").ok())?
}

/// `EventContextV1.String()`: attributes in a fixed order, then sorted extensions.
fn context_attributes(out: &mut String, event: &Event) {
    out.push_str("Context Attributes,\n");
    line(out, "specversion", "1.0");
    line(out, "type", event.ty());
    line(out, "source", event.source());
    if let Some(subject) = event.subject() {
        line(out, "subject", subject);
    }
    line(out, "id", event.id());
    if let Some(time) = event.time() {
        line(out, "time", &rfc3339::format(time));
    }
    if let Some(schema) = event.dataschema() {
        line(out, "dataschema", schema.as_str());
    }
    if let Some(content_type) = event.datacontenttype() {
        line(out, "datacontenttype", content_type);
    }
    let mut extensions: Vec<_> = event.iter_extensions().collect();
    if !extensions.is_empty() {
        out.push_str("Extensions,\n");
        extensions.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        for (name, value) in extensions {
            line(out, name, &value.to_string());
        }
    }
}

fn line(out: &mut String, name: &str, value: &str) {
    out.push_str("  ");
    out.push_str(name);
    out.push_str(": ");
    out.push_str(value);
    out.push('\n');
}
