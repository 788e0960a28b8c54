//! What every fnmesh function shares.
//!
//! A function is a library that turns its typed config into an axum [`Router`]
//! (see [`FunctionSpec`]), usually a [`handler`] from an event to a reply (the
//! [`function`] module has a complete example), plus a one-line `main` that calls
//! [`run_function`]; [`testing`] posts events to it in a unit test. This crate owns
//! everything around that router:
//!
//! * configuration from `(key, value)` pairs ([`Env`]), parsed once with envy;
//! * the CloudEvents HTTP binding ([`binding`]): binary and structured mode, body
//!   limit, validation the SDK leaves out, and replies in the request's mode;
//! * errors as HTTP statuses with a JSON body ([`Error`]);
//! * `GET /healthz`, `traceparent`/`tracestate` on replies, graceful drain on
//!   SIGTERM/SIGINT ([`server`]);
//! * what clients may hold of a server: connections, idle and body time, and the bytes
//!   of bodies in flight, answered with JSON `408`s and `503`s ([`server::serve`]);
//! * where a function writes its output ([`Console`]), so a runner can capture it;
//! * the `K_SINK` sender for events a function emits on its own ([`sink`]), under the
//!   delivery engine the mesh uses too ([`delivery`]).
//! * the global allocator (mimalloc, feature `mimalloc`, on by default): a function
//!   allocates some 60 times per event, and the system's allocator (musl's, in the
//!   images) spent a quarter of its instructions on it.
//!
//! The CloudEvent model is the SDK's ([`cloudevents::Event`]); this crate re-exports it.

/// The allocator of every binary that links the runtime (see the crate's doc).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod binding;
mod budget;
mod config;
mod connections;
mod console;
pub mod delivery;
mod error;
mod exchange;
pub mod function;
mod guard;
mod launch;
pub mod ports;
pub mod rfc3339;
pub mod server;
pub mod sink;
pub mod telemetry;
pub mod testing;

pub use axum;
pub use axum::Router;
pub use binding::{Encoding, IncomingEvent, Reply};
pub use cloudevents;
pub use cloudevents::{AttributesReader, AttributesWriter, Data, Event, EventBuilder, EventBuilderV10};
pub use config::{ConfigError, Env, ServeConfig};
pub use console::{Capture, Console, Output};
pub use error::Error;
pub use function::{handler, json_data};
pub use launch::{FunctionSpec, run_function};
