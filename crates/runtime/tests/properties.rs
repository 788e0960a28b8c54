//! Properties of the HTTP binding: no request makes the decoder panic, and every valid
//! event survives encoding and decoding, in both modes.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use bytes::Bytes;
use fnmesh_runtime::binding::{Encoding, decode, encode};
use fnmesh_runtime::{EventBuilder, EventBuilderV10};
use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn any_request_decodes_or_fails_cleanly(
        headers in proptest::collection::vec(("(ce-[a-z]{1,6}|content-type)", "[ -~]{0,30}"), 0..8),
        body in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
                map.append(name, value);
            }
        }
        let _ = decode(&map, Bytes::from(body));
    }

    #[test]
    fn valid_events_round_trip(
        id in "[a-zA-Z0-9-]{1,20}",
        ty in "[a-z.]{1,20}",
        subject in proptest::option::of("[ -~]{1,20}"),
        ext in "[ -~\u{e9}\u{4e2d}]{0,20}",
        // Non-empty: in binary mode an empty body is "no data" (the binding cannot tell them apart).
        data in proptest::option::of("[ -~]{1,40}"),
        structured in any::<bool>(),
    ) {
        let mut builder = EventBuilderV10::new().id(id).ty(ty).source("/s").extension("ext", ext);
        if let Some(subject) = subject {
            builder = builder.subject(subject);
        }
        let mut event = builder.build().unwrap();
        if let Some(data) = data {
            event.set_data("text/plain", data.into_bytes());
        }
        let encoding = if structured { Encoding::Structured } else { Encoding::Binary };
        let encoded = encode(&event, encoding);
        let decoded = decode(&encoded.headers, encoded.body).unwrap();
        prop_assert_eq!(decoded.event, event);
    }
}
