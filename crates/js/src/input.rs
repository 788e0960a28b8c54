//! The event an evaluation gets, as the engine thread turns it into the expression's
//! `event` object.
//!
//! [`EventInput`] carries the attributes as strings and the data as JSON text (or as a
//! string): the engine builds the object with QuickJS values directly and parses only
//! the data, so that no JSON text of the whole event is written on the request's thread
//! and parsed again by `JSON.parse` on the engine's. The object is new for each
//! evaluation, as the one `JSON.parse` made was: nothing is shared between events.

use rquickjs::object::Property;
use rquickjs::{Ctx, Object, Value};

/// The `event` binding, member by member.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventInput {
    /// Attributes and extensions, in the order the object lists them, as strings.
    pub members: Vec<(String, String)>,
    /// The `data` member, last; none when the event has no data.
    pub data: Option<EventData>,
}

/// The `data` member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventData {
    /// JSON text, valid (the caller checked it): parsed in the engine, as `JSON.parse` does.
    Json(String),
    /// A JSON object given by some of its members only (the ones the expression reads, see
    /// [`crate::Reads::data_members`]), each value as JSON text, valid.
    Object(Vec<(String, String)>),
    /// A string.
    Text(String),
}

/// What an evaluation is given: an [`EventInput`], or a whole event as JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The event as one JSON object.
    Json(String),
    /// The event member by member.
    Event(EventInput),
}

impl From<String> for Input {
    fn from(json: String) -> Self {
        Self::Json(json)
    }
}

impl From<EventInput> for Input {
    fn from(event: EventInput) -> Self {
        Self::Event(event)
    }
}

impl Input {
    /// The object in `ctx`: each member an own, writable, enumerable, configurable data
    /// property, as `JSON.parse` defines them (defined, not assigned: no setter of
    /// `Object.prototype` runs).
    pub(crate) fn to_js<'js>(&self, ctx: &Ctx<'js>) -> rquickjs::Result<Value<'js>> {
        let event = match self {
            Self::Json(text) => return ctx.json_parse(text.as_bytes()),
            Self::Event(event) => event,
        };
        let object = Object::new(ctx.clone())?;
        let member = |value| Property::from(value).writable().enumerable().configurable();
        for (name, value) in &event.members {
            let value = rquickjs::String::from_str(ctx.clone(), value)?.into_value();
            object.prop(name.as_str(), member(value))?;
        }
        match &event.data {
            None => {}
            Some(EventData::Json(text)) => object.prop("data", member(ctx.json_parse(text.as_bytes())?))?,
            Some(EventData::Object(members)) => {
                let data = Object::new(ctx.clone())?;
                for (name, value) in members {
                    data.prop(name.as_str(), member(json_value(ctx, value)?))?;
                }
                object.prop("data", member(data.into_value()))?;
            }
            Some(EventData::Text(text)) => {
                object.prop("data", member(rquickjs::String::from_str(ctx.clone(), text)?.into_value()))?;
            }
        }
        Ok(object.into_value())
    }
}

/// The value of `json` (valid JSON), as `JSON.parse` makes it; a string without escapes
/// and a small integer (not `-0`) made directly, without the parser.
fn json_value<'js>(ctx: &Ctx<'js>, json: &str) -> rquickjs::Result<Value<'js>> {
    if let Some(text) = json.strip_prefix('"').and_then(|rest| rest.strip_suffix('"'))
        && !text.contains('\\')
    {
        return Ok(rquickjs::String::from_str(ctx.clone(), text)?.into_value());
    }
    if !json.starts_with("-0")
        && let Ok(n) = json.parse::<i32>()
    {
        return Ok(Value::new_int(ctx.clone(), n));
    }
    ctx.json_parse(json.as_bytes())
}
