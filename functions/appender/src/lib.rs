//! `appender`: a drop-in for Knative eventing's `cmd/appender` image.
//!
//! Each event's data is `{"id": <int>, "message": <string>}`; the reply is a clone of the
//! event whose message has `MESSAGE` appended (and whose type is `TYPE`, when set).
//! Stderr gets the same Go `log` lines as the original, so Sequence demos read the same.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `MESSAGE` | `boring default msg, change me with env[MESSAGE]` | text appended to `message` |
//! | `TYPE` | unset | when set and not empty, the reply's `type` |
//!
//! Replies: `200` with the new event (binary mode, or structured when the request was);
//! `400` with `{"error": ...}` when the data is not such an object.

mod gofmt;
mod payload;

use std::sync::Arc;

use fnmesh_runtime::{
    AttributesReader, AttributesWriter, ConfigError, Console, Env, Error, Event, FunctionSpec, IncomingEvent, Reply,
    Router, ServeConfig, handler, rfc3339,
};
use serde::Deserialize;

pub use payload::Payload;

/// The appender, for [`fnmesh_runtime::run_function`] and `fnmesh run`.
pub const SPEC: FunctionSpec = FunctionSpec { name: "appender", launch };

/// The appender's settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Config {
    /// `MESSAGE`: appended to each event's message.
    #[serde(default = "default_message")]
    pub message: String,
    /// `TYPE`: the reply's type; unset or empty keeps the event's type.
    #[serde(rename = "type", default)]
    pub ty: Option<String>,
}

/// The original's default `MESSAGE`.
pub const DEFAULT_MESSAGE: &str = "boring default msg, change me with env[MESSAGE]";

fn default_message() -> String {
    DEFAULT_MESSAGE.to_owned()
}

fn launch(env: &Env, serve: &ServeConfig, console: Console) -> Result<Router, ConfigError> {
    let config: Config = env.parse()?;
    console.log(&format!("listening on {}, appending {} to events", serve.port, gofmt::quote(&config.message)));
    Ok(app(config, console))
}

/// The appender's routes: `POST` an event to any path.
pub fn app(config: Config, console: Console) -> Router {
    let appender = Arc::new(Appender { message: config.message, ty: config.ty.filter(|t| !t.is_empty()), console });
    handler(move |incoming: IncomingEvent| {
        let appender = appender.clone();
        async move { appender.handle(incoming) }
    })
}

struct Appender {
    message: String,
    ty: Option<String>,
    console: Console,
}

impl Appender {
    fn handle(&self, incoming: IncomingEvent) -> Result<Reply, Error> {
        let IncomingEvent { event, encoding, wire_data, .. } = incoming;
        let mut payload = match Payload::from_data(wire_data.as_deref(), event.datacontenttype()) {
            Ok(payload) => payload,
            Err(why) => {
                self.console.log(&format!("Got error while unmarshalling data: {why}"));
                return Err(Error::BadData(format!("got error while unmarshalling data: {why}")));
            }
        };
        let received = log_line(&event, &payload);

        payload.message.push_str(&self.message);
        let mut output = event;
        output.set_data("application/json", payload.to_json().into_bytes());
        if let Some(ty) = &self.ty {
            output.set_type(ty.as_str());
        }
        // The Go appender's four lines, in one write: nothing can fail between them.
        let transformed = log_line(&output, &payload);
        self.console.log_lines(&["Received a new event: ", &received, "Transform the event to: ", &transformed]);
        Ok(Reply::event(output, encoding))
    }
}

/// `[<time>] <source> <type>: &{Sequence:N Message:M}`, with Go's `time.Time` format
/// (the zero time when the event has none).
fn log_line(event: &Event, payload: &Payload) -> String {
    // Pushed piece by piece: `format!` with `Display` impls was a tenth of the
    // appender's instructions per event.
    let (source, ty) = (event.source().as_str(), event.ty());
    let mut line = String::with_capacity(64 + source.len() + ty.len() + payload.message.len());
    line.push('[');
    match event.time() {
        Some(time) => line.push_str(&rfc3339::format_go_string(time)),
        None => line.push_str("0001-01-01 00:00:00 +0000 UTC"),
    }
    line.push_str("] ");
    line.push_str(source);
    line.push(' ');
    line.push_str(ty);
    line.push_str(": ");
    payload.write_go(&mut line);
    line
}

#[cfg(test)]
mod tests;
