//! [`IncomingEvent`] as an axum extractor: reads at most the body limit, refuses JSON
//! nested deeper than the depth limit, then decodes.

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use super::decode::decode_detected;
use super::{Encoding, IncomingEvent, detect, is_json_content_type};
use crate::Error;
use crate::config::{DEFAULT_BODY_LIMIT, MAX_JSON_DEPTH};

/// What the extractor accepts; a request extension set by [`crate::server::service`]
/// from `FNMESH_BODY_LIMIT` and `FNMESH_JSON_DEPTH`. Without it, the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLimits {
    /// The largest body, in bytes.
    pub body: usize,
    /// The deepest nesting of JSON (a structured envelope, or JSON data in binary mode).
    pub json_depth: usize,
    /// What sets `body`, for the `413` answer (`FNMESH_BODY_LIMIT`; `--body-limit` for
    /// the `fnmesh run` ingress).
    pub body_setting: &'static str,
}

impl Default for RequestLimits {
    fn default() -> Self {
        Self { body: DEFAULT_BODY_LIMIT, json_depth: MAX_JSON_DEPTH, body_setting: "FNMESH_BODY_LIMIT" }
    }
}

impl<S: Send + Sync> FromRequest<S> for IncomingEvent {
    type Rejection = Error;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Error> {
        let limits = req.extensions().get::<RequestLimits>().copied().unwrap_or_default();
        let (parts, body) = req.into_parts();
        // Refuse what is not a CloudEvent, or says it is too large, before reading it.
        let encoding = detect(&parts.headers)?;
        let declared = parts.headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|len| len > limits.body as u64) {
            return Err(Error::PayloadTooLarge { limit: limits.body, setting: limits.body_setting });
        }
        let bytes = read_limited(body, limits.body).await.map_err(|e| match e {
            Error::PayloadTooLarge { limit, .. } => Error::PayloadTooLarge { limit, setting: limits.body_setting },
            other => other,
        })?;
        let json = match encoding {
            Some(Encoding::Structured) => true,
            _ => is_json_content_type(parts.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok())),
        };
        if json && nests_deeper(&bytes, limits.json_depth) {
            return Err(Error::InvalidEvent(format!(
                "the JSON body nests deeper than {} levels (FNMESH_JSON_DEPTH)",
                limits.json_depth
            )));
        }
        decode_detected(&parts.headers, bytes, encoding)
    }
}

/// Whether JSON text opens more than `max` arrays and objects inside one another. A
/// scan of the bytes, strings skipped: nothing is parsed, so it is safe at any depth.
pub(crate) fn nests_deeper(json: &[u8], max: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &byte in json {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// Reads a body of at most `limit` bytes, however it is framed (chunked included).
pub(crate) async fn read_limited(body: Body, limit: usize) -> Result<bytes::Bytes, Error> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => {
            Err(Error::PayloadTooLarge { limit, setting: "FNMESH_BODY_LIMIT" })
        }
        Err(err) => Err(Error::InvalidEvent(format!("could not read the request body: {err}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::nests_deeper;

    #[test]
    fn depth_counts_arrays_and_objects_but_not_strings() {
        assert!(!nests_deeper(br#"{"a": [1, {"b": []}]}"#, 4));
        assert!(nests_deeper(br#"{"a": [1, {"b": []}]}"#, 3));
        assert!(!nests_deeper(br#"{"a": "[[[[[[[[\"[[[["}"#, 1));
        assert!(!nests_deeper(br#"["\\", "{{{{"]"#, 1));
        assert!(nests_deeper(&[b'['; 129], 128));
        assert!(!nests_deeper(&[b'['; 128], 128));
        assert!(!nests_deeper(b"", 1));
    }
}
