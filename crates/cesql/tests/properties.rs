//! Properties: no input makes the parser or the evaluator panic, and literals read back
//! as the values they spell.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::collections::BTreeMap;

use fnmesh_cesql::{Expression, Value};
use proptest::prelude::*;

fn event() -> BTreeMap<String, Value> {
    [("id", "1"), ("type", "t"), ("source", "/s"), ("n", "42")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), Value::from(v)))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_text_parses_or_fails_cleanly(text in ".{0,80}") {
        if let Ok(expression) = Expression::parse(&text) {
            let _ = expression.evaluate(&event());
        }
    }

    #[test]
    fn expression_shaped_text_evaluates_without_panicking(
        text in "(NOT |-|\\(|\\)|[a-z]{1,3}|[0-9]{1,10}|'[a-z%_\\\\]{0,4}'| AND | OR | XOR | = | <> | < | \\+ | \\* | / | % | LIKE | IN \\(1, 'a'\\)|EXISTS [a-z]|ABS\\(|LENGTH\\(|SUBSTRING\\(|, ){1,12}"
    ) {
        if let Ok(expression) = Expression::parse(&text) {
            let _ = expression.evaluate(&event());
        }
    }

    #[test]
    fn integer_literals_read_back(n in any::<i32>()) {
        let evaluation = Expression::parse(&n.to_string()).unwrap().evaluate(&event());
        prop_assert_eq!(evaluation.value, Value::Integer(n));
    }

    #[test]
    fn string_literals_read_back(s in "[^\\\\]{0,20}") {
        let quoted = format!("'{}'", s.replace('\'', "\\'"));
        let evaluation = Expression::parse(&quoted).unwrap().evaluate(&event());
        prop_assert_eq!(evaluation.value, Value::String(s));
    }
}
