//! [`Reply`]: what a function answers to an event.

use axum::response::{IntoResponse, Response};
use cloudevents::Event;
use http::StatusCode;

use super::{Encoding, encode};

/// The answer to an event: a new event, or none.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `200` with this event, written in `encoding` (the request's mode).
    Event {
        /// The reply event.
        event: Box<Event>,
        /// Binary unless the request was structured.
        encoding: Encoding,
    },
    /// `200` with an empty body: handled, nothing to send on (a filter rejecting).
    NoEvent,
    /// `202` with an empty body: accepted, nothing to send on.
    Accepted,
}

impl Reply {
    /// `200` with `event`, in `encoding`.
    pub fn event(event: Event, encoding: Encoding) -> Self {
        Self::Event { event: Box::new(event), encoding }
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        match self {
            Self::Event { event, encoding } => {
                let encoded = encode(&event, encoding);
                // A `Body`, not `Bytes`: axum would add `content-type: application/octet-stream`
                // to an event without data. The encoded headers become the response's as
                // they are: `(headers, body).into_response()` would insert them one by one.
                let mut response = axum::body::Body::from(encoded.body).into_response();
                *response.headers_mut() = encoded.headers;
                response
            }
            Self::NoEvent => StatusCode::OK.into_response(),
            Self::Accepted => StatusCode::ACCEPTED.into_response(),
        }
    }
}
