//! The one place where a failure becomes an HTTP status with a JSON body.
//!
//! Every handler answers `{"error": "<what is wrong>"}` with a status that tells the
//! sender (a Knative dispatcher, usually) what to do: 4xx are final and go to the
//! dead letter sink, 5xx are retried.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A request that cannot be answered with an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The request is not a CloudEvent at all (no `ce-specversion`, no structured
    /// content type), or uses a content mode we do not support. `415`.
    #[error("{0}")]
    NotCloudEvent(String),
    /// The request looks like a CloudEvent but is invalid or incomplete. `400`.
    #[error("{0}")]
    InvalidEvent(String),
    /// The body is larger than the configured limit. `413`.
    #[error("request body is larger than the limit of {limit} bytes ({setting})")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
        /// The setting that sets it (`FNMESH_BODY_LIMIT`, `--body-limit`).
        setting: &'static str,
    },
    /// The request's headers are over the configured count or size. `431`.
    #[error("{0}")]
    HeadersTooLarge(String),
    /// The request's body did not arrive in time (`FNMESH_BODY_TIMEOUT`). `408`.
    #[error("{0}")]
    RequestTimeout(String),
    /// The event is valid but its data cannot be used by this function. `400`.
    #[error("{0}")]
    BadData(String),
    /// The event is valid but the function refuses it for good (a business rule). `422`.
    #[error("{0}")]
    Unprocessable(String),
    /// The event carries something it may not (a forged or unsigned state). `403`: the
    /// same event fails the same way, so Knative does not retry it.
    #[error("{0}")]
    Forbidden(String),
    /// No route for this method; the allowed methods are given. `405`.
    #[error("method {method} is not allowed here; use {allow}")]
    MethodNotAllowed {
        /// The method of the request.
        method: String,
        /// The methods this path accepts, for the `Allow` header.
        allow: &'static str,
    },
    /// No route for this path. `404`.
    #[error("no route for {0}")]
    NotFound(String),
    /// The function could not finish in time or ran out of a resource; retrying may help. `503`.
    #[error("{0}")]
    Unavailable(String),
    /// What this server forwarded the request to answered badly or not at all. `502`.
    #[error("{0}")]
    BadGateway(String),
    /// A bug or an unexpected failure inside the function. `500`.
    #[error("{0}")]
    Internal(String),
    /// Any other status a function chooses, with what is wrong (`4xx` final, `5xx`
    /// retried by a Knative dispatcher).
    #[error("{message}")]
    Status {
        /// The status to answer with.
        status: StatusCode,
        /// What is wrong, in one sentence.
        message: String,
    },
}

impl Error {
    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotCloudEvent(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::InvalidEvent(_) | Self::BadData(_) => StatusCode::BAD_REQUEST,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::HeadersTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::BadGateway(_) => StatusCode::BAD_GATEWAY,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Status { status, .. } => *status,
        }
    }
}

/// The JSON body of every error reply.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct ErrorBody {
    /// What is wrong, in one sentence.
    pub error: String,
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(%status, error = %self, "request failed");
        } else {
            tracing::debug!(%status, error = %self, "request refused");
        }
        let allow = match &self {
            Self::MethodNotAllowed { allow, .. } => Some(*allow),
            _ => None,
        };
        let mut response = (status, Json(ErrorBody { error: self.to_string() })).into_response();
        if let Some(allow) = allow {
            response.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn errors_answer_json_with_their_status() {
        let cases = [
            (Error::NotCloudEvent("x".into()), 415),
            (Error::InvalidEvent("x".into()), 400),
            (Error::PayloadTooLarge { limit: 3, setting: "FNMESH_BODY_LIMIT" }, 413),
            (Error::HeadersTooLarge("x".into()), 431),
            (Error::RequestTimeout("x".into()), 408),
            (Error::BadData("x".into()), 400),
            (Error::Unprocessable("x".into()), 422),
            (Error::Forbidden("x".into()), 403),
            (Error::NotFound("/x".into()), 404),
            (Error::Unavailable("x".into()), 503),
            (Error::BadGateway("x".into()), 502),
            (Error::Internal("x".into()), 500),
            (Error::Status { status: StatusCode::TOO_MANY_REQUESTS, message: "slow down".into() }, 429),
        ];
        for (err, status) in cases {
            let text = err.to_string();
            let response = err.into_response();
            assert_eq!(response.status().as_u16(), status);
            assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
            let body = response.into_body().collect().await.unwrap().to_bytes();
            let parsed: ErrorBody = serde_json::from_slice(&body).unwrap();
            assert_eq!(parsed.error, text);
        }
    }

    #[test]
    fn method_not_allowed_sets_allow() {
        let response = Error::MethodNotAllowed { method: "GET".into(), allow: "POST" }.into_response();
        assert_eq!(response.status(), 405);
        assert_eq!(response.headers()[header::ALLOW], "POST");
    }
}
