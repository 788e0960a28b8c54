//! `greeter`: a CloudEvents function. It answers each event with a greeting for the
//! `name` in its data, a new event of type `greeter.greeting`.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `GREETING` | `Hello` | the word before the name |

use fnmesh_runtime::{
    AttributesWriter, ConfigError, Console, Env, Error, Event, FunctionSpec, Router, ServeConfig, handler, json_data,
};
use serde::Deserialize;

/// The function, for `fnmesh_runtime::run_function` (see `main.rs`) and `fnmesh run`.
pub const SPEC: FunctionSpec = FunctionSpec { name: "greeter", launch };

/// Settings, read once from the environment at start (`GREETING` fills `greeting`).
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    /// `GREETING`: the word before the name.
    #[serde(default = "default_greeting")]
    pub greeting: String,
}

fn default_greeting() -> String {
    "Hello".to_owned()
}

fn launch(env: &Env, _serve: &ServeConfig, console: Console) -> Result<Router, ConfigError> {
    let config: Config = env.parse()?;
    console.log(&format!("greeter greets with {:?}", config.greeting));
    Ok(app(config))
}

/// The routes: every event posted to any path goes to [`handle`].
pub fn app(config: Config) -> Router {
    handler(move |event: Event| {
        let config = config.clone();
        async move { handle(&config, event) }
    })
}

/// The data an event must carry.
#[derive(Debug, Deserialize)]
struct Person {
    name: String,
}

/// The reply to `event`: `{"message": "Hello, <name>"}`. An event without a `name` is a
/// `400`: final, so Knative sends it to the dead letter sink rather than retrying.
pub fn handle(config: &Config, mut event: Event) -> Result<Event, Error> {
    let person: Person = json_data(&event)?;
    let message = serde_json::json!({ "message": format!("{}, {}", config.greeting, person.name) });
    event.set_type("greeter.greeting");
    event.set_data("application/json", message);
    Ok(event)
}
