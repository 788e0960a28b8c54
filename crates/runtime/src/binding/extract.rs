//! [`IncomingEvent`] as an axum extractor: reads at most the body limit, then decodes.

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use http::header::CONTENT_LENGTH;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use super::{IncomingEvent, decode, detect};
use crate::Error;
use crate::config::DEFAULT_BODY_LIMIT;

/// The largest body the extractor reads, in bytes; a request extension set by
/// [`crate::server::service`]. Without it the limit is 1 MiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimit(pub usize);

impl Default for BodyLimit {
    fn default() -> Self {
        Self(DEFAULT_BODY_LIMIT)
    }
}

impl<S: Send + Sync> FromRequest<S> for IncomingEvent {
    type Rejection = Error;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Error> {
        let limit = req.extensions().get::<BodyLimit>().copied().unwrap_or_default().0;
        let (parts, body) = req.into_parts();
        // Refuse what is not a CloudEvent, or says it is too large, before reading it.
        detect(&parts.headers)?;
        let declared = parts.headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|len| len > limit as u64) {
            return Err(Error::PayloadTooLarge { limit });
        }
        let bytes = read_limited(body, limit).await?;
        decode(&parts.headers, bytes)
    }
}

/// Reads a body of at most `limit` bytes, however it is framed (chunked included).
pub(crate) async fn read_limited(body: Body, limit: usize) -> Result<bytes::Bytes, Error> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => Err(Error::PayloadTooLarge { limit }),
        Err(err) => Err(Error::InvalidEvent(format!("could not read the request body: {err}"))),
    }
}
