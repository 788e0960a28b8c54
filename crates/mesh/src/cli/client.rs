//! `fnmesh send`: one CloudEvent posted to a running `fnmesh run` on its ingress port, to
//! a target written as `KIND/NAME` or a URL ([`locate`]). `fnmesh get` is [`super::get`].

use std::fmt::Write as _;

use fnmesh_runtime::binding::{Encoding, decode, encode};
use fnmesh_runtime::{AttributesReader, EventBuilder, EventBuilderV10};
use http::HeaderValue;

use crate::error::{Error, Result};
use crate::plan::address::receiver;

/// What to send, from the command line.
#[derive(Debug, Clone, Default)]
pub struct SendArgs {
    /// `KIND/NAME` (sequence, parallel, broker, channel, ksvc) or a URL.
    pub target: String,
    /// JSON data, sent as `application/json`; `None` sends an event without data.
    pub data: Option<String>,
    /// The event's `type`.
    pub ty: String,
    /// The event's `source`.
    pub source: String,
    /// The event's `id`; `None` makes a new UUID.
    pub id: Option<String>,
    /// Extension attributes, each `name=value`.
    pub extensions: Vec<String>,
    /// The ingress port of the running mesh, on 127.0.0.1.
    pub port: u16,
    /// The namespace of a `KIND/NAME` target.
    pub namespace: String,
}

/// Where `target` is: the URL to connect to and the `Host` header.
pub fn locate(target: &str, port: u16, namespace: &str) -> Result<(String, Option<String>)> {
    let local = format!("http://127.0.0.1:{port}");
    if target.starts_with("http://") || target.starts_with("https://") {
        let url = url::Url::parse(target).map_err(|e| Error::Usage(format!("{target:?}: {e}")))?;
        let host = url.host_str().unwrap_or_default().to_owned();
        if host.ends_with(".svc.cluster.local") || host.ends_with(".svc") {
            let path = &url[url::Position::BeforePath..];
            return Ok((format!("{local}{path}"), Some(host)));
        }
        return Ok((target.to_owned(), None));
    }
    let (host, path) = receiver(target, namespace).map_err(Error::Usage)?;
    Ok((format!("{local}{path}"), Some(host)))
}

/// Sends the event; returns what to print.
pub async fn send(args: &SendArgs) -> Result<String> {
    let (url, host) = locate(&args.target, args.port, &args.namespace)?;
    let mut builder = EventBuilderV10::new()
        .id(args.id.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string()))
        .ty(args.ty.as_str())
        .source(args.source.as_str())
        .time(chrono::Utc::now());
    for pair in &args.extensions {
        let (name, value) =
            pair.split_once('=').ok_or_else(|| Error::Usage(format!("--ext {pair:?}: write name=value")))?;
        if !fnmesh_runtime::binding::is_valid_extension_name(name) {
            return Err(Error::Usage(format!(
                "--ext {name}: extension names are lowercase letters and digits (a-z, 0-9)"
            )));
        }
        builder = builder.extension(name, value);
    }
    let mut event = builder.build().map_err(|e| Error::Usage(e.to_string()))?;
    if let Some(data) = &args.data {
        serde_json::from_str::<serde_json::Value>(data)
            .map_err(|e| Error::Usage(format!("--data is not JSON: {e}")))?;
        event.set_data("application/json", data.clone().into_bytes());
    }
    let encoded = encode(&event, Encoding::Binary);
    let mut headers = encoded.headers;
    if let Some(host) = host.as_deref().and_then(|h| HeaderValue::from_str(h).ok()) {
        headers.insert(http::header::HOST, host);
    }
    let response = reqwest::Client::new().post(&url).headers(headers).body(encoded.body).send().await.map_err(|e| {
        Error::Remote(format!("cannot reach {url}: {e} (is `fnmesh run` running with --port {}?)", args.port))
    })?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await.map_err(|e| Error::Remote(e.to_string()))?;
    let mut text = format!("sent {} to {}: {status}\n", event.id(), args.target);
    match decode(&headers, body.clone()) {
        Ok(reply) => {
            let _ = writeln!(text, "reply: {} {} from {}", reply.event.ty(), reply.event.id(), reply.event.source());
            if let Some(data) = reply.wire_data {
                let _ = writeln!(text, "{}", String::from_utf8_lossy(&data));
            }
        }
        Err(_) if !body.is_empty() => {
            let _ = writeln!(text, "{}", String::from_utf8_lossy(&body));
        }
        Err(_) => {}
    }
    if status.is_success() { Ok(text) } else { Err(Error::Remote(text.trim_end().to_owned())) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::address::BROKER_INGRESS_HOST;

    #[test]
    fn targets_are_the_in_cluster_addresses() {
        let at = |t: &str| locate(t, 8080, "default").unwrap();
        assert_eq!(
            at("sequence/sequence"),
            (
                "http://127.0.0.1:8080/".into(),
                Some("sequence-kn-sequence-0-kn-channel.default.svc.cluster.local".into())
            )
        );
        assert_eq!(at("parallel/p").1.unwrap(), "p-kn-parallel-kn-channel.default.svc.cluster.local");
        assert_eq!(
            at("broker/default"),
            ("http://127.0.0.1:8080/default/default".into(), Some(BROKER_INGRESS_HOST.into()))
        );
        assert_eq!(at("ksvc/first").1.unwrap(), "first.default.svc.cluster.local");
        assert_eq!(
            at("http://first.default.svc.cluster.local/x"),
            ("http://127.0.0.1:8080/x".into(), Some("first.default.svc.cluster.local".into()))
        );
        assert_eq!(at("http://127.0.0.1:9/"), ("http://127.0.0.1:9/".into(), None));
        assert!(locate("deployment/x", 8080, "default").is_err());
    }
}
