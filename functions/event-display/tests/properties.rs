//! Properties: event-display renders any data, of any content type, without panicking,
//! and always starts with the header Go prints.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use bytes::Bytes;
use fnmesh_runtime::binding::decode;
use http::{HeaderMap, HeaderValue};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn any_data_renders(
        body in proptest::collection::vec(any::<u8>(), 0..300),
        json_like in "[\\[\\]{}\":, a-z0-9\\\\]{0,200}",
        content_type in "(application/json|text/plain|application/json; charset=utf-8|application/xml|)",
        use_json_like in any::<bool>(),
    ) {
        let mut headers = HeaderMap::new();
        for (name, value) in [("ce-specversion", "1.0"), ("ce-id", "1"), ("ce-source", "/s"), ("ce-type", "t")] {
            headers.insert(name, HeaderValue::from_static(value));
        }
        if !content_type.is_empty() {
            headers.insert("content-type", HeaderValue::from_str(&content_type).unwrap());
        }
        let body = if use_json_like { Bytes::from(json_like) } else { Bytes::from(body) };
        let incoming = decode(&headers, body).unwrap();
        let out = fnmesh_event_display::render(&incoming);
        prop_assert!(out.starts_with("☁️  cloudevents.Event\n".as_bytes()));
    }
}
