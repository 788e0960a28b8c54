//! The one place that reads YAML (serde_yaml_ng): documents of a file, and typed
//! values with the path of whatever does not fit.

use serde::de::DeserializeOwned;
pub use serde_yaml_ng::{Mapping, Value};

/// Every document of `text`, in order; an unparsable document gives its error (with line
/// and column) and ends the file, as YAML cannot resynchronise.
pub fn documents(text: &str) -> Vec<Result<Value, String>> {
    let mut out = Vec::new();
    for document in serde_yaml_ng::Deserializer::from_str(text) {
        match <Value as serde::Deserialize>::deserialize(document) {
            Ok(value) => out.push(Ok(value)),
            Err(e) => {
                out.push(Err(e.to_string()));
                break;
            }
        }
    }
    out
}

/// `value` as a `T`; the error gives the path (`spec.steps[1].ref`) and the problem.
pub fn typed<T: DeserializeOwned>(value: &Value) -> Result<T, (String, String)> {
    serde_path_to_error::deserialize(value.clone()).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        (if path == "." { String::new() } else { path }, message)
    })
}

/// The string at `key` of a mapping, if it is one.
pub fn str_at<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}
