//! OpenAPI 3 documents as far as a `rest` function needs them: the operation with an
//! `operationId`, its method, path, parameters (path, query, header) and whether it
//! takes a body, and the document's first server.

use serde_json::Value;

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamIn {
    /// `{name}` in the path.
    Path,
    /// `?name=`.
    Query,
    /// A header.
    Header,
}

/// One operation of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// `GET`, `POST`, ...
    pub method: String,
    /// `/subscription/{id}`.
    pub path: String,
    /// Declared parameters.
    pub params: Vec<(String, ParamIn)>,
    /// Whether it declares a `requestBody`.
    pub has_body: bool,
}

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// The operation `operation_id` of `document`.
pub fn find_operation(document: &Value, operation_id: &str) -> Option<Operation> {
    let paths = document.get("paths")?.as_object()?;
    for (path, item) in paths {
        for method in METHODS {
            let Some(operation) = item.get(method) else { continue };
            if operation.get("operationId").and_then(Value::as_str) != Some(operation_id) {
                continue;
            }
            let mut params = Vec::new();
            // Path-level parameters first, operation-level ones override.
            for list in [item.get("parameters"), operation.get("parameters")].into_iter().flatten() {
                for param in list.as_array().into_iter().flatten() {
                    let param = resolve_ref(document, param);
                    let (Some(name), Some(location)) =
                        (param.get("name").and_then(Value::as_str), param.get("in").and_then(Value::as_str))
                    else {
                        continue;
                    };
                    let location = match location {
                        "path" => ParamIn::Path,
                        "query" => ParamIn::Query,
                        "header" => ParamIn::Header,
                        _ => continue,
                    };
                    params.retain(|(n, _): &(String, ParamIn)| n != name);
                    params.push((name.to_owned(), location));
                }
            }
            return Some(Operation {
                method: method.to_ascii_uppercase(),
                path: path.clone(),
                params,
                has_body: operation.get("requestBody").is_some(),
            });
        }
    }
    None
}

/// The first `servers[].url`, if any.
pub fn first_server(document: &Value) -> Option<String> {
    document.get("servers")?.as_array()?.first()?.get("url")?.as_str().map(str::to_owned)
}

/// `value`, or what its local `$ref` (`#/components/parameters/x`) points at.
fn resolve_ref<'a>(document: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix('#')) {
        Some(pointer) => document.pointer(pointer).unwrap_or(value),
        None => value,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_operations_with_their_parameters() {
        let doc = json!({
            "servers": [{"url": "http://svc:1"}],
            "components": {"parameters": {"email": {"name": "email", "in": "query"}}},
            "paths": {
                "/s/{id}": {"parameters": [{"name": "id", "in": "path"}],
                    "delete": {"operationId": "del"}},
                "/s": {"post": {"operationId": "add", "requestBody": {}},
                    "get": {"operationId": "find", "parameters": [{"$ref": "#/components/parameters/email"}]}}
            }
        });
        let del = find_operation(&doc, "del").unwrap();
        assert_eq!((del.method.as_str(), del.path.as_str()), ("DELETE", "/s/{id}"));
        assert_eq!(del.params, vec![("id".to_owned(), ParamIn::Path)]);
        assert!(find_operation(&doc, "add").unwrap().has_body);
        assert_eq!(find_operation(&doc, "find").unwrap().params, vec![("email".to_owned(), ParamIn::Query)]);
        assert!(find_operation(&doc, "nope").is_none());
        assert_eq!(first_server(&doc).as_deref(), Some("http://svc:1"));
    }
}
