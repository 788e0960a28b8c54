//! Building CloudEvent requests and reading a router's answer.

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// A CloudEvent HTTP request under construction. [`CeRequest::binary`] starts with the
/// required attributes (`id` `1`, `source` `/test`, `type` `test.event`).
#[derive(Debug, Clone)]
pub struct CeRequest {
    method: Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Bytes,
}

impl CeRequest {
    /// A binary-mode event with the required attributes and no data.
    pub fn binary() -> Self {
        Self::raw()
            .header("ce-specversion", "1.0")
            .header("ce-id", "1")
            .header("ce-source", "/test")
            .header("ce-type", "test.event")
    }

    /// A structured-mode event: `document` is the whole JSON body.
    pub fn structured(document: &serde_json::Value) -> Self {
        Self::raw().header("content-type", "application/cloudevents+json").body(document.to_string())
    }

    /// A `POST /` with no headers and no body.
    pub fn raw() -> Self {
        Self { method: Method::POST, path: "/".into(), headers: Vec::new(), body: Bytes::new() }
    }

    /// Sets (or replaces) a header.
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Removes a header.
    #[must_use]
    pub fn without(mut self, name: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self
    }

    /// JSON data with `content-type: application/json`.
    #[must_use]
    pub fn json(self, data: &serde_json::Value) -> Self {
        self.header("content-type", "application/json").body(data.to_string())
    }

    /// The body, as is.
    #[must_use]
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Adds a header, keeping any of the same name (for duplicate-header cases).
    #[must_use]
    pub fn header_append(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The headers, in order.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The body.
    pub fn body_bytes(&self) -> Bytes {
        self.body.clone()
    }

    /// The method.
    #[must_use]
    pub fn method(mut self, method: Method) -> Self {
        self.method = method;
        self
    }

    /// The path (default `/`).
    #[must_use]
    pub fn path(mut self, path: &str) -> Self {
        self.path = path.to_owned();
        self
    }

    /// The request for a router.
    pub fn build(&self) -> Request<Body> {
        let mut request = Request::builder().method(self.method.clone()).uri(self.path.as_str());
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        request.body(Body::from(self.body.clone())).unwrap()
    }

    /// Sends the request to a running server at `base` (e.g. `http://127.0.0.1:8080`).
    pub async fn send(&self, client: &reqwest::Client, base: &str) -> Answer {
        let mut request = client.request(self.method.clone(), format!("{base}{}", self.path));
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let response = request.body(self.body.clone()).send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.unwrap();
        Answer { status, headers, body }
    }
}

/// What a router or server answered.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl Answer {
    /// A header's value as text; panics when absent.
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).unwrap_or_else(|| panic!("no {name} header in {self:?}")).to_str().unwrap()
    }

    /// The body as UTF-8 text.
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.text()))
    }

    /// The `error` of a JSON error body; panics when the body is not one.
    pub fn error(&self) -> String {
        let json = self.json();
        json["error"].as_str().unwrap_or_else(|| panic!("no error member in {json}")).to_owned()
    }
}

/// Sends `request` through `router` once.
pub async fn call(router: &Router, request: &CeRequest) -> Answer {
    let response = router.clone().oneshot(request.build()).await.unwrap();
    let (parts, body) = response.into_parts();
    Answer { status: parts.status, headers: parts.headers, body: body.collect().await.unwrap().to_bytes() }
}

/// A malformed request every function must refuse with a JSON error, and keep serving.
#[derive(Debug, Clone)]
pub struct BrokenRequest {
    /// What is wrong, for assertion messages.
    pub name: &'static str,
    /// The request.
    pub request: CeRequest,
    /// The status a function answers when it reads events with the shared extractor.
    pub status: StatusCode,
    /// Words the error message must contain.
    pub mentions: &'static str,
}

/// The broken-request table. `limit` is the function's body limit in bytes.
pub fn broken_requests(limit: usize) -> Vec<BrokenRequest> {
    let event = serde_json::json!({"specversion": "1.0", "id": "1", "source": "/s", "type": "t"});
    vec![
        BrokenRequest {
            name: "no ce-id",
            request: CeRequest::binary().without("ce-id"),
            status: StatusCode::BAD_REQUEST,
            mentions: "id",
        },
        BrokenRequest {
            name: "wrong ce-specversion",
            request: CeRequest::binary().header("ce-specversion", "9.9"),
            status: StatusCode::BAD_REQUEST,
            mentions: "specversion",
        },
        BrokenRequest {
            name: "not a CloudEvent",
            request: CeRequest::raw().header("content-type", "application/json").body("{}"),
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            mentions: "CloudEvent",
        },
        BrokenRequest {
            name: "JSON content type, empty body, no CloudEvent headers",
            request: CeRequest::raw().header("content-type", "application/json"),
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            mentions: "ce-specversion",
        },
        BrokenRequest {
            name: "structured mode, empty body",
            request: CeRequest::raw().header("content-type", "application/cloudevents+json"),
            status: StatusCode::BAD_REQUEST,
            mentions: "empty",
        },
        BrokenRequest {
            name: "structured mode, broken JSON",
            request: CeRequest::raw().header("content-type", "application/cloudevents+json").body(r#"{"id": "#),
            status: StatusCode::BAD_REQUEST,
            mentions: "JSON",
        },
        BrokenRequest {
            name: "structured mode, no id",
            request: CeRequest::structured(&serde_json::json!({"specversion": "1.0", "source": "/s", "type": "t"})),
            status: StatusCode::BAD_REQUEST,
            mentions: "id",
        },
        BrokenRequest {
            name: "batch mode",
            request: CeRequest::raw()
                .header("content-type", "application/cloudevents-batch+json")
                .body(format!("[{event}]")),
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            mentions: "batch",
        },
        BrokenRequest {
            name: "body over the limit",
            request: CeRequest::binary().header("content-type", "text/plain").body(vec![b'x'; limit + 1]),
            status: StatusCode::PAYLOAD_TOO_LARGE,
            mentions: "limit",
        },
        BrokenRequest {
            name: "GET on /",
            request: CeRequest::binary().method(Method::GET),
            status: StatusCode::METHOD_NOT_ALLOWED,
            mentions: "GET",
        },
    ]
}
