//! Calling a function's routes in a unit test, in-process, as Knative would: an event
//! posted in binary mode through the same service a running function has (limits,
//! `/healthz`, JSON errors), and the answer decoded.
//!
//! ```no_run
//! # async fn example(router: fnmesh_runtime::Router) {
//! use fnmesh_runtime::{EventBuilder, EventBuilderV10, testing};
//!
//! let event = EventBuilderV10::new()
//!     .id("1")
//!     .ty("example")
//!     .source("/tests")
//!     .data("application/json", serde_json::json!({"name": "Ada"}))
//!     .build()
//!     .unwrap();
//! let answer = testing::post(router, &event).await;
//! assert_eq!(answer.status, 200);
//! let reply = answer.event().unwrap();
//! # }
//! ```

use axum::Router;
use bytes::Bytes;
use cloudevents::Event;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::binding::{Encoding, decode, encode};
use crate::{Error, ServeConfig, server};

/// A function's answer to one request.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The response status.
    pub status: StatusCode,
    /// The response headers.
    pub headers: HeaderMap,
    /// The response body.
    pub body: Bytes,
}

impl Answer {
    /// The reply event, when the answer carries one (binary or structured).
    pub fn event(&self) -> Option<Event> {
        if self.body.is_empty() && !self.headers.contains_key("ce-id") {
            return None;
        }
        decode(&self.headers, self.body.clone()).ok().map(|incoming| incoming.event)
    }

    /// The `error` of a JSON error answer.
    pub fn error(&self) -> Option<String> {
        serde_json::from_slice::<crate::error::ErrorBody>(&self.body).ok().map(|body| body.error)
    }
}

/// Posts `event` to `/` of `router` in binary mode, served as [`crate::run_function`]
/// serves it with the default settings.
pub async fn post(router: Router, event: &Event) -> Answer {
    post_as(router, event, Encoding::Binary).await
}

/// Posts `event` to `/` of `router` in `encoding`.
pub async fn post_as(router: Router, event: &Event, encoding: Encoding) -> Answer {
    let encoded = encode(event, encoding);
    let mut request = Request::post("/");
    if let Some(headers) = request.headers_mut() {
        headers.extend(encoded.headers);
    }
    send(router, request.body(axum::body::Body::from(encoded.body))).await
}

/// Sends any request (a `GET /healthz`, a body that is not an event) to `router`.
pub async fn send(router: Router, request: Result<Request<axum::body::Body>, http::Error>) -> Answer {
    let request = match request {
        Ok(request) => request,
        Err(e) => return failed(&format!("the test's request is invalid: {e}")),
    };
    let service = server::service(router, &ServeConfig::default());
    let response = match service.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let (parts, body) = response.into_parts();
    match body.collect().await {
        Ok(body) => Answer { status: parts.status, headers: parts.headers, body: body.to_bytes() },
        Err(e) => failed(&format!("the response body could not be read: {e}")),
    }
}

fn failed(message: &str) -> Answer {
    let error = Error::Internal(message.to_owned());
    let body = serde_json::json!({ "error": error.to_string() }).to_string();
    Answer { status: error.status(), headers: HeaderMap::new(), body: Bytes::from(body) }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a panic in a test is a failed assertion

    use cloudevents::{AttributesReader, EventBuilder, EventBuilderV10};

    use super::*;
    use crate::function::{handler, json_data};

    fn event(data: serde_json::Value) -> Event {
        EventBuilderV10::new().id("1").ty("t").source("/s").data("application/json", data).build().unwrap()
    }

    #[tokio::test]
    async fn a_handler_answers_events_no_events_and_errors() {
        let router = handler(|mut event: Event| async move {
            let data: serde_json::Value = json_data(&event)?;
            match data["n"].as_i64() {
                Some(0) => Ok(None),
                Some(n) if n < 0 => Err(Error::Status { status: StatusCode::CONFLICT, message: "negative".into() }),
                Some(n) => {
                    event.set_data("application/json", serde_json::json!({"n": n * 2}));
                    Ok(Some(event))
                }
                None => Err(Error::BadData("data.n: a number is required".into())),
            }
        });
        let answer = post(router.clone(), &event(serde_json::json!({"n": 21}))).await;
        assert_eq!(answer.status, 200);
        let reply = answer.event().unwrap();
        assert_eq!(reply.id(), "1");
        assert_eq!(json_data::<serde_json::Value>(&reply).unwrap(), serde_json::json!({"n": 42}));

        let structured = post_as(router.clone(), &event(serde_json::json!({"n": 1})), Encoding::Structured).await;
        assert_eq!(structured.headers["content-type"], "application/cloudevents+json");
        assert!(structured.event().is_some());

        let none = post(router.clone(), &event(serde_json::json!({"n": 0}))).await;
        assert_eq!((none.status.as_u16(), none.event()), (200, None));

        let conflict = post(router.clone(), &event(serde_json::json!({"n": -1}))).await;
        assert_eq!((conflict.status.as_u16(), conflict.error().as_deref()), (409, Some("negative")));

        let bad = post(router.clone(), &event(serde_json::json!({"m": 1}))).await;
        assert_eq!((bad.status.as_u16(), bad.error().as_deref()), (400, Some("data.n: a number is required")));

        let not_json = EventBuilderV10::new().id("2").ty("t").source("/s").data("text/plain", "hi").build().unwrap();
        let refused = post(router.clone(), &not_json).await;
        assert_eq!(refused.status, 400);
        assert!(refused.error().unwrap().starts_with("data (text/plain) is not the JSON"), "{:?}", refused.error());

        let health = send(router, Request::get("/healthz").body(axum::body::Body::empty())).await;
        assert_eq!(health.status, 204);
    }
}
