//! The functions a workflow calls, resolved once at start into [`Callable`]s, and
//! the HTTP calls that run them.
//!
//! | operation | call |
//! |---|---|
//! | `specs/x.yaml#opId` (`rest`) | the OpenAPI operation; base URL from `quarkus.rest-client.x_yaml.url` (application.properties beside the definition, or `QUARKUS_REST_CLIENT_X_YAML_URL`), else the document's first server |
//! | `rest:METHOD:URL` (`custom`) | `METHOD URL`, `{name}` in the URL from the arguments, the arguments as JSON body (as query for `GET`/`DELETE`) |
//! | `knative:services.v1.serving.knative.dev/[NS/]NAME?path=/p[&method=GET]` (`custom`) | `POST http://NAME.NS.svc.cluster.local/p` with the arguments as JSON; NS from `WORKFLOW_NAMESPACE` (default `default`) |
//! | a jq program (`expression`) | evaluated in-process over the action's input (see `engine`) |
//!
//! A URL on a `*.svc.cluster.local` host is sent through `FNMESH_INGRESS` when it is set
//! (`fnmesh run`'s ingress, which routes `/.fnmesh/hosts/<host>/<path>`), as the mesh
//! does for `K_SINK`. A failed call is a [`CallError`] whose code is the HTTP status
//! (`"404"`), or `"connection"` when nothing answered.

pub mod openapi;
pub mod properties;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use fnmesh_runtime::Env;
use serde_json::Value;
use url::Url;

use crate::definition::{FunctionDef, FunctionType, Workflow, load};
use openapi::{Operation, ParamIn};
use properties::Properties;

/// A resolved function.
#[derive(Debug, Clone)]
pub enum Callable {
    /// A jq expression.
    Expression(String),
    /// An HTTP call: the method, the URL template (`{name}` placeholders), and where
    /// the arguments go.
    Http {
        /// `GET`, ...
        method: String,
        /// The URL, with `{param}` placeholders.
        url: String,
        /// Declared parameters; the other arguments are the body.
        params: Vec<(String, ParamIn)>,
        /// Whether the remaining arguments are sent as a JSON body.
        body: bool,
    },
}

/// Why a call failed; `code` is what `errors[].code` matches.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CallError {
    /// HTTP status (`"404"`), `connection`, `timeout`, `expression`.
    pub code: String,
    /// What happened.
    pub message: String,
}

impl CallError {
    /// An error with `code`.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { code: code.into(), message: message.into() }
    }
}

/// Service-resolution settings.
#[derive(Debug, Clone, Default)]
pub struct Resolution {
    /// `WORKFLOW_NAMESPACE`.
    pub namespace: String,
    /// `FNMESH_INGRESS`.
    pub ingress: Option<String>,
}

/// Resolves every function of `workflow` (files relative to `dir`); errors carry the
/// function's path (`functions[1].operation: ...`).
pub fn resolve_all(
    workflow: &Workflow,
    dir: &Path,
    env: &Env,
    resolution: &Resolution,
) -> Result<BTreeMap<String, Callable>, Vec<String>> {
    let properties = match Properties::read(&dir.join("application.properties")) {
        Ok(properties) => properties,
        Err(e) => return Err(vec![e]),
    };
    let mut documents: BTreeMap<String, Value> = BTreeMap::new();
    let mut callables = BTreeMap::new();
    let mut errors = Vec::new();
    for (i, function) in workflow.functions.iter().enumerate() {
        match resolve(function, dir, env, resolution, &properties, &mut documents) {
            Ok(callable) => {
                callables.insert(function.name.clone(), callable);
            }
            Err(e) => errors.push(format!("functions[{i}].operation: {e}")),
        }
    }
    if errors.is_empty() { Ok(callables) } else { Err(errors) }
}

fn resolve(
    function: &FunctionDef,
    dir: &Path,
    env: &Env,
    resolution: &Resolution,
    properties: &Properties,
    documents: &mut BTreeMap<String, Value>,
) -> Result<Callable, String> {
    let operation = function.operation.trim();
    match function.ty {
        FunctionType::Expression => Ok(Callable::Expression(crate::expr::program_of(operation).to_owned())),
        FunctionType::Rest => {
            let (file, operation_id) =
                operation.split_once('#').ok_or_else(|| format!("{operation:?} is not <file>#<operationId>"))?;
            if !documents.contains_key(file) {
                let document = load::read_document(&load::resolve(dir, file))?;
                documents.insert(file.to_owned(), document);
            }
            let document = &documents[file];
            let Operation { method, path, params, has_body } = openapi::find_operation(document, operation_id)
                .ok_or_else(|| format!("{file} has no operation with operationId {operation_id:?}"))?;
            let key = format!("quarkus.rest-client.{}.url", properties::file_id(file));
            let base = properties.get(&key, env).or_else(|| openapi::first_server(document)).ok_or_else(|| {
                format!(
                    "no URL for {file}: set {key} in application.properties or {} (or servers in the document)",
                    properties::env_name(&key)
                )
            })?;
            let base = knative_url(&base, resolution)?.unwrap_or(base);
            let url = format!("{}{path}", base.trim_end_matches('/'));
            Ok(Callable::Http { method, url, params, body: has_body })
        }
        FunctionType::Custom => {
            if let Some(rest) = operation.strip_prefix("rest:") {
                let (method, url) =
                    rest.split_once(':').ok_or_else(|| format!("{operation:?} is not rest:<method>:<url>"))?;
                let method = method.to_ascii_uppercase();
                let url = knative_url(url, resolution)?.unwrap_or_else(|| url.to_owned());
                let body = !matches!(method.as_str(), "GET" | "DELETE" | "HEAD");
                let params = url_params(&url, body);
                return Ok(Callable::Http { method, url, params, body });
            }
            if operation.starts_with("knative:") {
                let (target, query) = operation.split_once('?').unwrap_or((operation, ""));
                let mut path = "/".to_owned();
                let mut method = "POST".to_owned();
                for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
                    match key.as_ref() {
                        "path" => path = value.into_owned(),
                        "method" => method = value.to_ascii_uppercase(),
                        _ => {}
                    }
                }
                let base = knative_url(target, resolution)?.unwrap_or_default();
                let url = format!("{}{path}", base.trim_end_matches('/'));
                let body = method != "GET";
                let params = url_params(&url, body);
                return Ok(Callable::Http { method, url, params, body });
            }
            Err(format!(
                "{operation:?}: custom functions are rest:<method>:<url> or knative:services.v1.serving.knative.dev/<name>"
            ))
        }
        other => Err(format!("functions of type {other:?} are not supported (rest, expression, custom are)")),
    }
}

/// `{name}` placeholders of a URL as path parameters; without a body, the other
/// arguments go in the query (an empty list marks "the rest").
fn url_params(url: &str, _body: bool) -> Vec<(String, ParamIn)> {
    let mut params = Vec::new();
    let mut rest = url;
    while let Some(start) = rest.find('{') {
        let Some(end) = rest[start..].find('}') else { break };
        params.push((rest[start + 1..start + end].to_owned(), ParamIn::Path));
        rest = &rest[start + end + 1..];
    }
    params
}

/// The URL of `knative:services.v1.serving.knative.dev/[NS/]NAME`; `None` for other text.
fn knative_url(text: &str, resolution: &Resolution) -> Result<Option<String>, String> {
    let Some(rest) = text.strip_prefix("knative:") else { return Ok(None) };
    let name = rest.split_once('/').map(|(_, name)| name).unwrap_or(rest);
    let (namespace, name) = match name.split_once('/') {
        Some((ns, name)) => (ns, name),
        None => (resolution.namespace.as_str(), name),
    };
    if name.is_empty() {
        return Err(format!("{text:?} names no service"));
    }
    Ok(Some(format!("http://{name}.{namespace}.svc.cluster.local")))
}

/// What a path parameter's value escapes: all but RFC 3986's unreserved characters.
const PATH_SEGMENT: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Calls `callable` with `arguments` (a JSON object, or null).
pub async fn call(
    client: &reqwest::Client,
    resolution: &Resolution,
    callable: &Callable,
    arguments: &Value,
    timeout: Option<Duration>,
) -> Result<Value, CallError> {
    let Callable::Http { method, url, params, body } = callable else {
        return Err(CallError::new("internal", "an expression function is not an HTTP call"));
    };
    let mut args = arguments.as_object().cloned().unwrap_or_default();
    let mut url = url.clone();
    let mut query = Vec::new();
    let mut headers = Vec::new();
    for (name, location) in params {
        let Some(value) = args.remove(name) else { continue };
        let text = match &value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        match location {
            ParamIn::Path => {
                let encoded = percent_encoding::utf8_percent_encode(&text, PATH_SEGMENT);
                url = url.replace(&format!("{{{name}}}"), &encoded.to_string());
            }
            ParamIn::Query => query.push((name.clone(), text)),
            ParamIn::Header => headers.push((name.clone(), text)),
        }
    }
    if !*body {
        for (name, value) in std::mem::take(&mut args) {
            let text = match value {
                Value::String(s) => s,
                other => other.to_string(),
            };
            query.push((name, text));
        }
    }
    let mut url = Url::parse(&url).map_err(|e| CallError::new("connection", format!("{url}: invalid URL: {e}")))?;
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(query);
    }
    let url = through_ingress(url, resolution);
    let method = reqwest::Method::from_bytes(method.as_bytes())
        .map_err(|e| CallError::new("internal", format!("method {method}: {e}")))?;
    let mut request = client.request(method.clone(), url.clone()).header("accept", "application/json");
    for (name, value) in headers {
        request = request.header(name, value);
    }
    if *body {
        request = request.json(&Value::Object(args));
    }
    if let Some(timeout) = timeout {
        request = request.timeout(timeout);
    }
    let response = request.send().await.map_err(|e| {
        let code = if e.is_timeout() { "timeout" } else { "connection" };
        CallError::new(code, format!("{method} {url}: {e}"))
    })?;
    let status = response.status();
    let bytes = response.bytes().await.map_err(|e| CallError::new("connection", format!("{method} {url}: {e}")))?;
    if !status.is_success() {
        let text: String = String::from_utf8_lossy(&bytes).chars().take(200).collect();
        return Err(CallError::new(status.as_u16().to_string(), format!("{method} {url} answered {status}: {text}")));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    Ok(serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned())))
}

/// `url` through the mesh ingress, for an in-cluster host, when there is one.
pub fn through_ingress(url: Url, resolution: &Resolution) -> Url {
    let (Some(ingress), Some(host)) = (&resolution.ingress, url.host_str()) else { return url };
    if !host.ends_with(".svc.cluster.local") {
        return url;
    }
    let rewritten =
        format!("{}/.fnmesh/hosts/{host}{}", ingress.trim_end_matches('/'), &url[url::Position::BeforePath..]);
    Url::parse(&rewritten).unwrap_or(url)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn knative_names_resolve_in_the_namespace_and_through_the_ingress() {
        let resolution = Resolution { namespace: "ns".into(), ingress: Some("http://127.0.0.1:9".into()) };
        let url = knative_url("knative:services.v1.serving.knative.dev/greeter", &resolution).unwrap().unwrap();
        assert_eq!(url, "http://greeter.ns.svc.cluster.local");
        let url = knative_url("knative:services.v1.serving.knative.dev/other/greeter", &resolution).unwrap().unwrap();
        assert_eq!(url, "http://greeter.other.svc.cluster.local");
        let routed = through_ingress(Url::parse("http://greeter.ns.svc.cluster.local/p?q=1").unwrap(), &resolution);
        assert_eq!(routed.as_str(), "http://127.0.0.1:9/.fnmesh/hosts/greeter.ns.svc.cluster.local/p?q=1");
        let direct = through_ingress(Url::parse("http://localhost:1/p").unwrap(), &resolution);
        assert_eq!(direct.as_str(), "http://localhost:1/p");
    }
}
