//! The API for writing a function of your own: a handler from an event to a reply.
//!
//! A function is a library crate with a [`FunctionSpec`](crate::FunctionSpec) and a
//! one-line `main`. Its `launch` parses the function's typed config from the
//! environment once (with [`Env::parse`](crate::Env::parse), so a bad value stops the
//! function at start with the variable's name) and returns [`handler`]`(...)`: an async
//! closure from an [`Event`] (or an [`IncomingEvent`], for the wire details) to
//!
//! * `Ok(event)`: `200` with the reply event, in the request's mode (binary or
//!   structured), which Knative sends on (a Sequence's next step, a Trigger's reply);
//! * `Ok(None)` or `Ok(())`: `200` with no event (handled, nothing to send on);
//! * `Err(`[`Error`]`)`: the error's status with `{"error": "..."}`. 4xx are final (a
//!   dispatcher sends the event to the dead letter sink), 5xx are retried;
//!   [`Error::status`] lists them, and [`Error::Status`] takes any status.
//!
//! Everything around the handler is the runtime's, the same for the built-in functions
//! (which use this API): the CloudEvents binding and its limits, JSON errors, `GET
//! /healthz`, graceful drain on `SIGTERM`, `RUST_LOG` tracing, and the `K_SINK` sender
//! ([`Sink`](crate::sink::Sink)) for events a function emits on its own.
//!
//! ```no_run
//! use fnmesh_runtime::{
//!     AttributesWriter, ConfigError, Console, Env, Error, Event, FunctionSpec, Router, ServeConfig, handler,
//! };
//! use serde::Deserialize;
//!
//! /// For `fnmesh_runtime::run_function(greeter::SPEC)` in `main.rs`, and `fnmesh run`.
//! pub const SPEC: FunctionSpec = FunctionSpec { name: "greeter", launch };
//!
//! /// Settings, from the environment (envy: `GREETING` fills `greeting`).
//! #[derive(Debug, Clone, Deserialize)]
//! pub struct Config {
//!     #[serde(default = "hello")]
//!     pub greeting: String,
//! }
//!
//! fn hello() -> String {
//!     "Hello".into()
//! }
//!
//! fn launch(env: &Env, _serve: &ServeConfig, console: Console) -> Result<Router, ConfigError> {
//!     let config: Config = env.parse()?;
//!     console.log(&format!("greeting with {:?}", config.greeting));
//!     Ok(handler(move |event: Event| {
//!         let config = config.clone();
//!         async move { greet(&config, event) }
//!     }))
//! }
//!
//! /// `{"name": "Ada"}` becomes `{"message": "Hello, Ada"}`, of type `greeting`.
//! pub fn greet(config: &Config, mut event: Event) -> Result<Event, Error> {
//!     let data: serde_json::Value = fnmesh_runtime::function::json_data(&event)?;
//!     let Some(name) = data.get("name").and_then(|n| n.as_str()) else {
//!         return Err(Error::BadData("data.name: a string is required".into()));
//!     };
//!     let message = serde_json::json!({"message": format!("{}, {name}", config.greeting)});
//!     event.set_type("greeting");
//!     event.set_data("application/json", message);
//!     Ok(event)
//! }
//! ```

use std::future::Future;

use axum::Router;
use cloudevents::{AttributesReader, Data, Event};
use serde::de::DeserializeOwned;

use crate::Error;
use crate::binding::{Encoding, IncomingEvent, Reply};
use crate::server::{any_path, ce_post};

/// What a handler takes: the [`Event`], or the [`IncomingEvent`] with its wire details.
pub trait FromIncoming: Send + 'static {
    /// Takes what this handler needs from the received event.
    fn from_incoming(incoming: IncomingEvent) -> Self;
}

impl FromIncoming for Event {
    fn from_incoming(incoming: IncomingEvent) -> Self {
        incoming.event
    }
}

impl FromIncoming for IncomingEvent {
    fn from_incoming(incoming: IncomingEvent) -> Self {
        incoming
    }
}

/// What a handler answers: an event, no event, or a [`Reply`] of its choosing.
pub trait IntoReply {
    /// The reply, written in `encoding` (the request's mode) when it is an event.
    fn into_reply(self, encoding: Encoding) -> Reply;
}

impl IntoReply for Event {
    fn into_reply(self, encoding: Encoding) -> Reply {
        Reply::event(self, encoding)
    }
}

impl IntoReply for Option<Event> {
    fn into_reply(self, encoding: Encoding) -> Reply {
        self.map_or(Reply::NoEvent, |event| Reply::event(event, encoding))
    }
}

impl IntoReply for () {
    fn into_reply(self, _encoding: Encoding) -> Reply {
        Reply::NoEvent
    }
}

impl IntoReply for Reply {
    fn into_reply(self, _encoding: Encoding) -> Reply {
        self
    }
}

/// The routes of a function that answers events posted to any path with `handle`
/// (Knative posts to `/`); other methods get a JSON `405`. Requests that are not valid
/// CloudEvents never reach `handle`: they get the binding's JSON `4xx`.
pub fn handler<I, H, Fut, R>(handle: H) -> Router
where
    I: FromIncoming,
    H: Fn(I) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<R, Error>> + Send + 'static,
    R: IntoReply,
{
    any_path(ce_post(move |incoming: IncomingEvent| {
        let handle = handle.clone();
        async move {
            let encoding = incoming.encoding;
            handle(I::from_incoming(incoming)).await.map(|reply| reply.into_reply(encoding))
        }
    }))
}

/// The event's data parsed as JSON into `T`; a `400` naming the problem otherwise (no
/// data, data that is not JSON, or JSON of another shape).
pub fn json_data<T: DeserializeOwned>(event: &Event) -> Result<T, Error> {
    let parsed = match event.data() {
        None => return Err(Error::BadData("the event has no data; JSON data is required".into())),
        Some(Data::Json(value)) => serde_json::from_value(value.clone()),
        Some(Data::String(text)) => serde_json::from_str(text),
        Some(Data::Binary(bytes)) => serde_json::from_slice(bytes),
    };
    parsed.map_err(|e| {
        let content_type = event.datacontenttype().unwrap_or("no datacontenttype");
        Error::BadData(format!("data ({content_type}) is not the JSON this function takes: {e}"))
    })
}
