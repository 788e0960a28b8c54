//! `event-display`: a drop-in for Knative eventing's `cmd/event_display` image.
//!
//! Every valid event is printed to stdout exactly as the Go image prints it (see
//! [`display`]), one block per event, through the function's [`Console`] so that
//! `fnmesh run` can capture it. Replies are `200` with an empty body; requests that
//! are not valid CloudEvents get the runtime's JSON errors. No configuration.

mod display;
mod indent;

use fnmesh_runtime::{ConfigError, Console, Env, Error, FunctionSpec, IncomingEvent, Router, ServeConfig, handler};

pub use display::{BANNER, render};

/// event-display, for [`fnmesh_runtime::run_function`] and `fnmesh run`.
pub const SPEC: FunctionSpec = FunctionSpec { name: "event-display", launch };

fn launch(_env: &Env, _serve: &ServeConfig, console: Console) -> Result<Router, ConfigError> {
    Ok(app(console))
}

/// The routes: `POST` an event to any path; it is printed to `console.out`.
pub fn app(console: Console) -> Router {
    handler(move |incoming: IncomingEvent| {
        let console = console.clone();
        async move {
            console.print(&render(&incoming));
            Ok::<_, Error>(())
        }
    })
}
