//! Our own cases for every operator and function, with the errors they report; they
//! run everywhere (the TCK test needs `../shared/`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::collections::BTreeMap;

use fnmesh_cesql::{ErrorKind, Expression, Value};

fn event() -> BTreeMap<String, Value> {
    [
        ("specversion", Value::from("1.0")),
        ("id", Value::from("e-1")),
        ("source", Value::from("https://example.com/orders")),
        ("type", Value::from("com.example.order.created")),
        ("subject", Value::from("Order 42")),
        ("hop", Value::from("3")),
        ("ttl", Value::from("10")),
        ("flag", Value::Boolean(true)),
        ("count", Value::Integer(7)),
        ("word", Value::from("Straße")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// `(expression, value, errors)`: the value and the error kinds, in order.
fn check(cases: &[(&str, Value, &[ErrorKind])]) {
    let event = event();
    for (source, value, errors) in cases {
        let expression = Expression::parse(source).unwrap_or_else(|e| panic!("{source}: {e}"));
        let evaluation = expression.evaluate(&event);
        let kinds: Vec<ErrorKind> = evaluation.errors.iter().map(|e| e.kind).collect();
        assert_eq!((&evaluation.value, kinds.as_slice()), (value, *errors), "{source}: {:?}", evaluation.errors);
    }
}

const NONE: &[ErrorKind] = &[];
const MATH: &[ErrorKind] = &[ErrorKind::Math];
const CAST: &[ErrorKind] = &[ErrorKind::Cast];
const MISSING: &[ErrorKind] = &[ErrorKind::MissingAttribute];
const FUNCTION: &[ErrorKind] = &[ErrorKind::FunctionEvaluation];
const NO_FUNCTION: &[ErrorKind] = &[ErrorKind::MissingFunction];

fn b(v: bool) -> Value {
    Value::Boolean(v)
}

fn i(v: i32) -> Value {
    Value::Integer(v)
}

fn s(v: &str) -> Value {
    Value::from(v)
}

#[test]
fn arithmetic_is_32_bit_and_checked() {
    check(&[
        ("7 / 2", i(3), NONE),
        ("-7 / 2", i(-3), NONE),
        ("-7 % 3", i(-1), NONE),
        ("7 % -3", i(1), NONE),
        ("2147483647 + 1", i(0), MATH),
        ("-2147483648 - 1", i(0), MATH),
        ("65536 * 65536", i(0), MATH),
        ("-2147483648 / -1", i(0), MATH),
        ("-2147483648 % -1", i(0), NONE),
        ("-(-2147483648)", i(0), MATH),
        ("1 % 0", i(0), MATH),
        ("hop * ttl", i(30), NONE),
        ("'x' + 1", i(1), CAST),
        ("(1 / 0) + 5", i(0), MATH),
        ("count + flag", i(8), NONE),
    ]);
}

#[test]
fn comparisons_cast_the_left_side_to_the_right_type() {
    check(&[
        ("hop < ttl", b(true), NONE),
        ("hop = 3", b(true), NONE),
        ("3 = hop", b(true), NONE),
        ("count = '7'", b(true), NONE),
        ("flag = 'TRUE'", b(false), NONE),
        ("'TRUE' = flag", b(true), NONE),
        ("flag = 1", b(true), NONE),
        ("1 = flag", b(false), CAST),
        ("'abc' < 1", b(true), CAST),
        ("subject >= 0", b(true), CAST),
        ("subject = 'Order 42'", b(true), NONE),
        ("subject = 'order 42'", b(false), NONE),
        ("subject <> 'x' AND subject != 'y'", b(true), NONE),
    ]);
}

#[test]
fn logic_short_circuits_and_groups_right() {
    check(&[
        ("FALSE AND nope = 1", b(false), NONE),
        ("TRUE OR nope = 1", b(true), NONE),
        ("TRUE AND nope = 1", b(false), MISSING),
        ("nope = 1 OR TRUE", b(false), MISSING),
        ("TRUE XOR nope = 1", b(false), MISSING),
        ("'true' AND 'FALSE'", b(false), NONE),
        ("TRUE AND 1", b(false), CAST),
        // One level, grouping right: TRUE OR (FALSE AND FALSE), FALSE AND (FALSE OR TRUE).
        ("TRUE OR FALSE AND FALSE", b(true), NONE),
        ("FALSE AND FALSE OR TRUE", b(false), NONE),
        ("(FALSE AND FALSE) OR TRUE", b(true), NONE),
        ("TRUE XOR TRUE XOR TRUE", b(true), NONE),
    ]);
}

#[test]
fn not_negate_exists() {
    check(&[
        ("NOT flag", b(false), NONE),
        ("NOT NOT 'true'", b(true), NONE),
        ("NOT 'maybe'", b(true), CAST),
        ("NOT (NOT 1)", b(false), CAST),
        ("-hop", i(-3), NONE),
        ("- - hop", i(3), NONE),
        ("-'x'", i(0), CAST),
        ("EXISTS subject AND EXISTS hop", b(true), NONE),
        ("EXISTS dataschema", b(false), NONE),
        ("EXISTS HOP", b(true), NONE),
        ("NOT EXISTS nope", b(true), NONE),
    ]);
}

#[test]
fn like_and_in() {
    check(&[
        ("type LIKE 'com.example.%'", b(true), NONE),
        ("type NOT LIKE '%.deleted'", b(true), NONE),
        ("word LIKE 'Stra_e'", b(true), NONE),
        ("subject LIKE 'Order __'", b(true), NONE),
        ("subject LIKE 'order%'", b(false), NONE),
        ("count LIKE '7'", b(true), NONE),
        ("nope LIKE '%'", b(false), MISSING),
        ("hop IN (1, 2, 3)", b(true), NONE),
        ("hop IN ('1', '2')", b(false), NONE),
        ("count IN ('7')", b(true), NONE),
        ("hop NOT IN (ttl, 4)", b(true), NONE),
        ("hop IN (nope, 3)", b(false), MISSING),
        ("hop IN (3, nope)", b(true), NONE),
        ("1 IN ('x', 1)", b(true), CAST),
    ]);
}

#[test]
fn string_functions() {
    check(&[
        ("LENGTH(word)", i(6), NONE),
        ("length(count)", i(1), NONE),
        ("CONCAT(id, '/', count, flag)", s("e-1/7true"), NONE),
        ("CONCAT_WS('-', 'a', 1, TRUE)", s("a-1-true"), NONE),
        ("LOWER(subject)", s("order 42"), NONE),
        ("UPPER(word)", s("STRASSE"), NONE),
        ("TRIM('  x  ')", s("x"), NONE),
        ("LEFT(subject, 5)", s("Order"), NONE),
        ("LEFT(subject, '5')", s("Order"), NONE),
        ("LEFT(subject, 'five')", s(""), CAST),
        ("RIGHT(subject, 2)", s("42"), NONE),
        ("RIGHT(subject, -1)", s("Order 42"), FUNCTION),
        ("SUBSTRING(word, 5)", s("ße"), NONE),
        ("SUBSTRING(word, -2, 1)", s("ß"), NONE),
        ("SUBSTRING(word, 7)", s(""), FUNCTION),
        ("SUBSTRING(word, 2, -1)", s(""), FUNCTION),
        ("LENGTH(nope)", i(0), MISSING),
        ("LENGTH(nope) + 1", i(0), MISSING),
        ("UPPER(LEFT('abc', -1))", s(""), FUNCTION),
    ]);
}

#[test]
fn casting_and_math_functions() {
    check(&[
        ("INT(hop) + INT('+4')", i(7), NONE),
        ("INT('2147483648')", i(0), CAST),
        ("BOOL('False')", b(false), NONE),
        ("BOOL(2)", b(true), NONE),
        ("STRING(-5)", s("-5"), NONE),
        ("IS_INT(hop) AND NOT IS_INT(subject)", b(true), NONE),
        ("IS_BOOL('true') AND NOT IS_BOOL('yes')", b(true), NONE),
        ("ABS(-5) + ABS(5)", i(10), NONE),
        ("ABS(-2147483648) + 0", i(0), MATH),
    ]);
}

#[test]
fn unknown_functions_are_evaluation_errors() {
    check(&[
        ("NOPE(1)", b(false), NO_FUNCTION),
        ("LENGTH()", b(false), NO_FUNCTION),
        ("SUBSTRING('a', 1, 1, 1)", b(false), NO_FUNCTION),
        ("NOT NOPE()", b(false), NO_FUNCTION),
    ]);
    let evaluation = Expression::parse("ABS(1, 2)").unwrap().evaluate(&event());
    assert_eq!(evaluation.errors[0].message, "the function ABS does not take 2 argument(s)");
    let evaluation = Expression::parse("nope_fn()").unwrap().evaluate(&event());
    assert_eq!(evaluation.errors[0].message, "there is no function NOPE_FN");
}

#[test]
fn filters_pass_only_true_without_errors() {
    let event = event();
    let matches = |source: &str| Expression::parse(source).unwrap().matches(&event);
    assert!(matches("type LIKE 'com.example.%'"));
    assert!(!matches("type LIKE 'org.%'"));
    assert!(!matches("'true'"));
    assert!(!matches("1"));
    assert!(!matches("ABS(-2147483648) = 2147483647"));
    assert!(!matches("NOT 10"));
    assert_eq!(Expression::parse("a = 1").unwrap().to_string(), "a = 1");
}

#[test]
fn parse_errors_are_reported_with_positions() {
    let err = Expression::parse("type LIKE 'x' AND").unwrap_err();
    assert_eq!(err.to_string(), "expected a value, found the end of the expression at column 18");
    assert_eq!((err.line, err.column, err.kind()), (1, 18, ErrorKind::Parse));
}
