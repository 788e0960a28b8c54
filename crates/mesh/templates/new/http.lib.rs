//! `{{name}}`: a plain HTTP function. `POST /` with a JSON body `{"name": ...}`
//! answers `{"message": "Hello, <name>"}`; anything else gets a JSON error.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `GREETING` | `Hello` | the word before the name |

use fnmesh_runtime::axum::Json;
use fnmesh_runtime::axum::routing::post;
use fnmesh_runtime::{ConfigError, Console, Env, Error, FunctionSpec, Router, ServeConfig};
use serde::Deserialize;

/// The function, for `fnmesh_runtime::run_function` (see `main.rs`) and `fnmesh run`.
pub const SPEC: FunctionSpec = FunctionSpec { name: "{{name}}", launch };

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
    console.log(&format!("{{name}} greets with {:?}", config.greeting));
    Ok(app(config))
}

/// The routes: `POST /` (other paths get a JSON `404`, other methods a `405`).
pub fn app(config: Config) -> Router {
    Router::new().route(
        "/",
        post(move |body: fnmesh_runtime::axum::body::Bytes| {
            let config = config.clone();
            async move { handle(&config, &body).map(Json) }
        }),
    )
}

/// The body a request must carry.
#[derive(Debug, Deserialize)]
struct Person {
    name: String,
}

/// The answer to `body`.
pub fn handle(config: &Config, body: &[u8]) -> Result<serde_json::Value, Error> {
    let person: Person =
        serde_json::from_slice(body).map_err(|e| Error::BadData(format!("the body is not {{\"name\": ...}}: {e}")))?;
    Ok(serde_json::json!({ "message": format!("{}, {}", config.greeting, person.name) }))
}
