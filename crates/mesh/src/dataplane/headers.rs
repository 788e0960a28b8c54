//! The headers that travel with an event from hop to hop: what Knative passes on, and
//! the mesh's own carrier of the broker TTL.

use http::HeaderMap;

/// The TTL an event had at its last broker, carried by the mesh through a trigger's flow
/// to the next broker (see [`super::brokers`]); only between the mesh's own hosts.
pub const HOPS_HEADER: http::HeaderName = http::HeaderName::from_static("fnmesh-broker-ttl");

/// The mesh's own hops (a channel's reply to the next channel, a trigger's reply to its
/// broker) carry this header with a secret made at start, so that the ingress tells them
/// from requests from outside: only they may carry [`HOPS_HEADER`], and only they are
/// let in while the mesh drains.
pub const INTERNAL_HEADER: http::HeaderName = http::HeaderName::from_static("fnmesh-internal");

/// W3C trace context: the trace and the span a request belongs to.
pub const TRACEPARENT: http::HeaderName = http::HeaderName::from_static("traceparent");

/// W3C trace context: vendors' state, passed on as it is.
pub const TRACESTATE: http::HeaderName = http::HeaderName::from_static("tracestate");

/// The headers Knative passes from a request or a reply to the next hop, and the mesh's
/// own TTL carrier ([`HOPS_HEADER`]).
pub fn pass_through(headers: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in headers {
        let n = name.as_str();
        if matches!(n, "traceparent" | "tracestate" | "baggage" | "x-request-id" | "retry-after")
            || name == HOPS_HEADER
            || n.starts_with("knative-")
            || n.starts_with("x-b3-")
        {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// The trace of `request` carried on to a reply that names none: upstream's dispatcher
/// sends the reply within the span of the request (its tracing transport writes
/// `traceparent` from the context), whatever the subscriber answered.
pub fn continue_trace(request: &HeaderMap, reply: &mut HeaderMap) {
    if reply.contains_key(&TRACEPARENT) {
        return;
    }
    for name in [TRACEPARENT, TRACESTATE] {
        if let Some(value) = request.get(&name) {
            reply.insert(name, value.clone());
        }
    }
}

/// `headers` with a `traceparent` when they have none: a new trace, sampled, as a
/// tracing-enabled ingress starts one; the journey of the event is that trace.
pub fn ensure_trace(headers: &mut HeaderMap) {
    if headers.contains_key(&TRACEPARENT) {
        return;
    }
    let mut trace = [0; uuid::fmt::Simple::LENGTH];
    let trace = uuid::Uuid::new_v4().simple().encode_lower(&mut trace);
    if let Some(value) = traceparent("00", trace, "01") {
        headers.insert(TRACEPARENT, value);
    }
}

/// A `traceparent` of `version`, `trace` and `flags` with a new span id (built without
/// the formatting machinery: it is made on every hop).
pub fn traceparent(version: &str, trace: &str, flags: &str) -> Option<http::HeaderValue> {
    let mut value = Vec::with_capacity(version.len() + trace.len() + flags.len() + 19);
    value.extend_from_slice(version.as_bytes());
    value.push(b'-');
    value.extend_from_slice(trace.as_bytes());
    value.push(b'-');
    value.extend_from_slice(&span_id());
    value.push(b'-');
    value.extend_from_slice(flags.as_bytes());
    http::HeaderValue::from_maybe_shared(bytes::Bytes::from(value)).ok()
}

/// A new span id: 16 random lowercase hex digits (a v4 UUID's halves, XORed: its fixed
/// version and variant bits are in one half each, so every bit of the id is random).
fn span_id() -> [u8; 16] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let (high, low) = uuid::Uuid::new_v4().as_u64_pair();
    let id = high ^ low;
    std::array::from_fn(|i| HEX[((id >> ((15 - i) * 4)) & 0xf) as usize])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traceparent_keeps_the_trace_and_gets_a_new_random_span() {
        let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
        let first = traceparent("00", trace, "01").unwrap();
        let second = traceparent("00", trace, "01").unwrap();
        let parts: Vec<&str> = first.to_str().unwrap().split('-').collect();
        assert_eq!((parts[0], parts[1], parts[3]), ("00", trace, "01"));
        assert_eq!(parts[2].len(), 16);
        assert!(parts[2].bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{first:?}");
        assert_ne!(first, second, "each hop its own span");
        let mut headers = HeaderMap::new();
        ensure_trace(&mut headers);
        let made = headers[&TRACEPARENT].to_str().unwrap().to_owned();
        assert_eq!(made.len(), 55, "{made}");
        ensure_trace(&mut headers);
        assert_eq!(headers[&TRACEPARENT], made.as_str(), "an existing trace is kept");
    }
}
