//! The three transformer dialects, chosen and compiled once at start.

use fnmesh_expr::jsonpath::{Bounded, Template, jsonpath_error};
use fnmesh_expr::{EvalConfig, js_error, js_event, one_of, start_js};
use fnmesh_jq::{JqError, JqPool, WORKER_ARG, WorkerCommand};
use fnmesh_js::{EventData, EventInput, JsPool};
use fnmesh_runtime::{ConfigError, Env, Error, IncomingEvent};
use serde_json::Value;

/// The variables that choose a dialect; exactly one must be set.
pub const VARS: [&str; 3] = ["TRANSFORMER", "TRANSFORMER_JQ", "TRANSFORMER_JSONPATH"];

/// A compiled transformation.
#[derive(Debug)]
pub enum Transform {
    /// `TRANSFORMER`: JavaScript.
    Js(JsPool),
    /// `TRANSFORMER_JQ`: a jq program, run by jaq in sandboxed worker processes.
    Jq(JqPool),
    /// `TRANSFORMER_JSONPATH`: a JSON template with JSONPath queries, filled on threads of
    /// its own within the eval limits.
    JsonPath(Bounded<Template>),
}

impl Transform {
    /// The dialect `env` chooses, compiled; errors name the variable and the position.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let limits = EvalConfig::from_env(env)?;
        match one_of(env, &VARS)? {
            ("TRANSFORMER", source) => {
                start_js("TRANSFORMER", source, env, &serde_json::json!([]), &limits).map(Self::Js)
            }
            ("TRANSFORMER_JQ", source) => {
                let limits = fnmesh_jq::Limits {
                    timeout: limits.timeout,
                    // The worker's address space holds its code too: give it room.
                    memory_bytes: limits.memory_bytes as u64 + JQ_CODE_ROOM,
                    workers: limits.workers,
                    ..fnmesh_jq::Limits::default()
                };
                JqPool::new(source, limits, jq_worker(env)?).map(Self::Jq).map_err(|e| match e {
                    JqError::Compile(message) => ConfigError::invalid("TRANSFORMER_JQ", message),
                    other => ConfigError::invalid("TRANSFORMER_JQ", other),
                })
            }
            (_, source) => Template::parse(source)
                .and_then(|template| Bounded::start(template, limits.jsonpath_limits()))
                .map(Self::JsonPath)
                .map_err(|e| ConfigError::invalid("TRANSFORMER_JSONPATH", e)),
        }
    }

    /// The new data for `incoming`; `None` removes the data.
    pub async fn apply(&self, incoming: &IncomingEvent) -> Result<Option<NewData>, Error> {
        match self {
            Self::Js(pool) => pool.value(js_event(incoming)).await.map(|v| v.map(NewData::Value)).map_err(js_error),
            Self::Jq(pool) => {
                let outputs = pool.run_json(jq_input(incoming)).await.map_err(jq_error)?;
                match outputs.into_single() {
                    Ok(json) => Ok(Some(NewData::Json(json))),
                    Err(n) => Err(Error::Unprocessable(format!(
                        "TRANSFORMER_JQ: the program gave {n} outputs for this event; it must give exactly one \
                         (wrap several in [...])"
                    ))),
                }
            }
            Self::JsonPath(template) => template
                .render_event(incoming)
                .await
                .map(|v| Some(NewData::Value(v)))
                .map_err(|e| jsonpath_error("TRANSFORMER_JSONPATH", e)),
        }
    }
}

/// The new data of an event.
#[derive(Debug, Clone, PartialEq)]
pub enum NewData {
    /// A value, to be written as JSON.
    Value(Value),
    /// JSON text, as a jq worker wrote it.
    Json(Vec<u8>),
}

/// The event as the jq program sees it, as JSON text: the object `fnmesh_expr::event_view`
/// builds (attributes and extensions as strings, then `data`: parsed when its content type
/// is JSON and it parses, else a string), written straight from the event's parts rather
/// than built as values and written out.
fn jq_input(incoming: &IncomingEvent) -> Vec<u8> {
    let EventInput { members, data } = js_event(incoming);
    let data_len = match &data {
        Some(EventData::Json(text) | EventData::Text(text)) => text.len(),
        None => 0,
    };
    let mut json =
        Vec::with_capacity(members.iter().map(|(n, v)| n.len() + v.len() + 6).sum::<usize>() + data_len + 16);
    json.push(b'{');
    for (name, value) in &members {
        json_string(&mut json, name);
        json.push(b':');
        json_string(&mut json, value);
        json.push(b',');
    }
    match &data {
        Some(EventData::Json(text)) => {
            json.extend_from_slice(br#""data":"#);
            json.extend_from_slice(text.as_bytes());
        }
        Some(EventData::Text(text)) => {
            json.extend_from_slice(br#""data":"#);
            json_string(&mut json, text);
        }
        None => {
            json.pop_if(|&mut last| last == b',');
        }
    }
    json.push(b'}');
    json
}

/// `text` as a JSON string.
fn json_string(json: &mut Vec<u8>, text: &str) {
    // Writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *json, text);
}

/// Address space a jq worker gets on top of `FNMESH_EVAL_MEMORY`, for its code and stack.
const JQ_CODE_ROOM: u64 = 64 * 1024 * 1024;

/// The program that runs jq workers: `FNMESH_JQ_WORKER` when set (tests and benches
/// point it at a built `transformer`), else this very executable.
fn jq_worker(env: &Env) -> Result<WorkerCommand, ConfigError> {
    let program = match env.get("FNMESH_JQ_WORKER").filter(|p| !p.is_empty()) {
        Some(path) => std::path::PathBuf::from(path),
        None => std::env::current_exe()
            .map_err(|e| ConfigError::invalid("TRANSFORMER_JQ", format!("cannot find this executable: {e}")))?,
    };
    Ok(WorkerCommand::new(program).arg(WORKER_ARG))
}

/// The HTTP error for a failed jq evaluation: the program failed or exhausted its
/// memory or outputs for this event (`422`: retrying cannot help), ran over time (`503`),
/// or its worker misbehaved (`500`).
fn jq_error(error: JqError) -> Error {
    let message = format!("TRANSFORMER_JQ: {error}");
    match error {
        JqError::Runtime(_) | JqError::ResourceExhausted(_) => Error::Unprocessable(message),
        JqError::Timeout(_) => Error::Unavailable(message),
        JqError::Compile(_) | JqError::Config(_) | JqError::Worker(_) => Error::Internal(message),
    }
}

#[cfg(test)]
mod tests {
    use fnmesh_expr::event_view;
    use fnmesh_runtime::binding::decode;
    use http::{HeaderMap, HeaderName};

    use super::*;

    fn incoming(headers: &[(&str, &str)], body: &str) -> IncomingEvent {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
        }
        decode(&map, body.to_owned().into()).unwrap()
    }

    /// The text the workers get is the view the other dialects see, written out.
    #[test]
    fn the_jq_input_is_the_event_view() {
        let base = [("ce-specversion", "1.0"), ("ce-id", "1\"é"), ("ce-source", "/s"), ("ce-type", "t")];
        let mut full = base.to_vec();
        full.extend([("ce-time", "2020-09-14T14:50:00Z"), ("ce-myext", "a\\b"), ("ce-subject", "s")]);
        let mut text = base.to_vec();
        text.push(("content-type", "text/plain"));
        let mut json = full.clone();
        json.push(("content-type", "application/json"));
        let deep = format!("{}1{}", "[".repeat(120), "]".repeat(120));
        for (headers, body) in [
            (&json, "{\n  \"a\": [1, 2.5, \"\\u00e9\"],\n  \"data\": null\n}"),
            (&json, "{oops"),
            (&json, "1e400"),
            (&json, deep.as_str()),
            (&json, ""),
            (&text, "{\"a\": 1}\nline\t\"two\""),
            (&full, "[1]"),
            (&base.to_vec(), ""),
        ] {
            let event = incoming(headers, body);
            let sent = jq_input(&event);
            let read: Value = serde_json::from_slice(&sent).unwrap_or_else(|e| panic!("{body}: {e}"));
            assert_eq!(read, event_view(&event), "{body}");
        }
    }
}
