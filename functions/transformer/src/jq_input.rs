//! The event as the jq program sees it, handed to the workers member by member.
//!
//! The object is `fnmesh_expr::event_view`'s (its attributes and extensions as strings,
//! in its order, then `data`: parsed when its content type is JSON and `serde_json`
//! reads it, else a string), but nothing is built or written as JSON here: the strings
//! are borrowed from the event, and the data goes as it came, for the worker to parse
//! once (see `fnmesh_jq::ObjectInput`). The order and the names follow `event_view`'s;
//! a test checks that the worker sees the same value.

use fnmesh_jq::ObjectInput;
use fnmesh_runtime::binding::has_json_data;
use fnmesh_runtime::cloudevents::event::ExtensionValue;
use fnmesh_runtime::{AttributesReader, IncomingEvent, rfc3339};

/// The input for `incoming`.
pub(crate) fn jq_input(incoming: &IncomingEvent) -> ObjectInput {
    let event = &incoming.event;
    let data = incoming.wire_data.as_deref().unwrap_or_default();
    let mut input = ObjectInput::with_capacity(192 + data.len());
    input.string("specversion", event.specversion().as_str());
    input.string("id", event.id());
    input.string("source", event.source());
    input.string("type", event.ty());
    if let Some(time) = event.time() {
        input.string("time", &rfc3339::format(time));
    }
    if let Some(subject) = event.subject() {
        input.string("subject", subject);
    }
    if let Some(content_type) = event.datacontenttype() {
        input.string("datacontenttype", content_type);
    }
    if let Some(schema) = event.dataschema() {
        input.string("dataschema", schema.as_str());
    }
    for (name, value) in event.iter_extensions() {
        match value {
            ExtensionValue::String(text) => input.string(name, text),
            other => input.string(name, &other.to_string()),
        }
    }
    if let Some(data) = &incoming.wire_data {
        if has_json_data(event) {
            input.json_or_text("data", data);
        } else {
            input.string("data", &String::from_utf8_lossy(data));
        }
    }
    input
}
