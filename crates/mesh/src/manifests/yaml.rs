//! The one place that touches the YAML crate (serde_yaml_ng): the documents of a
//! manifest file, other YAML files fnmesh reads (`--images`), and YAML it writes
//! (`fnmesh kn`). Typed reading of a spec is [`super::spec`]'s.

use serde::Serialize;
use serde::de::DeserializeOwned;
pub use serde_yaml_ng::{Mapping, Value};

/// Flow collections (`[`, `{`) open at once beyond which a file is refused unread: the
/// YAML parser takes time quadratic in that depth (20 000 levels: 0.7 s; 100 000: 16 s)
/// and refuses more than 128 levels anyway.
const MAX_FLOW_DEPTH: usize = 1000;

/// Every document of `text`, in order; an unparsable document gives its error (with line
/// and column) and ends the file, as YAML cannot resynchronise.
pub fn documents(text: &str) -> Vec<Result<Value, String>> {
    if let Some(line) = flow_too_deep(text) {
        return vec![Err(format!(
            "line {line}: more than {MAX_FLOW_DEPTH} flow collections ([ or {{) open at once; not read further"
        ))];
    }
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

/// A whole YAML text as a `T` (a file that is not a manifest, e.g. `--images`).
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_yaml_ng::from_str(text).map_err(|e| e.to_string())
}

/// `value` as YAML text.
pub fn to_string(value: &impl Serialize) -> Result<String, String> {
    serde_yaml_ng::to_string(value).map_err(|e| e.to_string())
}

/// The string at `key` of a mapping, if it is one.
pub fn str_at<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

/// The line where more than [`MAX_FLOW_DEPTH`] brackets are open, counting every `[`
/// and `{` against every `]` and `}` (quotes are not understood, which only matters for
/// text no manifest holds: a thousand unclosed brackets).
fn flow_too_deep(text: &str) -> Option<usize> {
    let (mut depth, mut line) = (0usize, 1usize);
    for byte in text.bytes() {
        match byte {
            b'\n' => line += 1,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_FLOW_DEPTH {
                    return Some(line);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_flow_nesting_is_refused_before_parsing() {
        let deep = format!("a: 1\nkind: {}x{}\n", "[".repeat(1001), "]".repeat(1001));
        let documents = documents(&deep);
        assert_eq!(documents.len(), 1);
        assert_eq!(
            documents[0].as_ref().unwrap_err(),
            "line 2: more than 1000 flow collections ([ or {) open at once; not read further"
        );
        // Within the bound, the parser speaks (its own limit is 128).
        let parsed = super::documents(&format!("k: {}x{}\n", "[".repeat(200), "]".repeat(200)));
        assert!(parsed[0].as_ref().unwrap_err().contains("recursion limit"), "{parsed:?}");
        assert!(super::documents("k: '[[[['\n").into_iter().all(|d| d.is_ok()));
    }
}
