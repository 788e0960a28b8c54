//! How results and event data enter the state data: merged (objects deeply, other
//! values replace), or put where `toStateData` points; and the errors of a step.

use serde_json::Value;

use crate::expr::ExprError;
use crate::services::CallError;

/// `result` merged into `data`: objects key by key (recursively), `null` changes
/// nothing, any other value replaces the data.
pub fn merge(data: &Value, result: &Value) -> Value {
    match (data, result) {
        (_, Value::Null) => data.clone(),
        (Value::Object(base), Value::Object(extra)) => {
            let mut merged = base.clone();
            for (key, value) in extra {
                let next = match merged.get(key) {
                    Some(old @ Value::Object(_)) if value.is_object() => merge(old, value),
                    _ => value.clone(),
                };
                merged.insert(key.clone(), next);
            }
            Value::Object(merged)
        }
        _ => result.clone(),
    }
}

/// What `after` changed or added to `before` (top-level keys of objects), so that the
/// outputs of actions or branches run on the same data merge without undoing each other.
pub fn changes(before: &Value, after: &Value) -> Value {
    match (before, after) {
        (Value::Object(old), Value::Object(new)) => Value::Object(
            new.iter().filter(|(k, v)| old.get(*k) != Some(*v)).map(|(k, v)| (k.clone(), v.clone())).collect(),
        ),
        _ => after.clone(),
    }
}

/// A failed step: its `code` is what `errors[].code` matches.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct StepError {
    /// An HTTP status (`"404"`), `connection`, `timeout`, `expression`, `workflow`.
    pub code: String,
    /// What happened.
    pub message: String,
}

impl StepError {
    /// An error with `code`.
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self { code: code.to_owned(), message: message.into() }
    }
}

impl From<ExprError> for StepError {
    fn from(e: ExprError) -> Self {
        Self::new("expression", e.to_string())
    }
}

impl From<CallError> for StepError {
    fn from(e: CallError) -> Self {
        Self { code: e.code, message: e.message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn objects_merge_deeply_and_other_values_replace() {
        let data = json!({"a": 1, "o": {"x": 1, "y": 2}});
        assert_eq!(merge(&data, &json!({"b": 2, "o": {"y": 3}})), json!({"a": 1, "b": 2, "o": {"x": 1, "y": 3}}));
        assert_eq!(merge(&data, &Value::Null), data);
        assert_eq!(merge(&data, &json!([1])), json!([1]));
    }
}
