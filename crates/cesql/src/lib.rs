//! CloudEvents SQL (CESQL) v1.0.0: parser and evaluator.
//!
//! ```
//! use std::collections::BTreeMap;
//! use fnmesh_cesql::{Expression, Value};
//!
//! let expr = Expression::parse("type LIKE 'com.example.%' AND INT(hop) < 10").unwrap();
//! let event = BTreeMap::from([
//!     ("type".to_owned(), Value::from("com.example.order")),
//!     ("hop".to_owned(), Value::from("3")),
//! ]);
//! let evaluation = expr.evaluate(&event);
//! assert_eq!(evaluation.value, Value::Boolean(true));
//! assert!(evaluation.errors.is_empty());
//! assert!(expr.matches(&event));
//! ```
//!
//! Evaluation follows the spec's "complete evaluation" mode: it always yields a value and
//! the list of errors met on the way (`5 / 0` is `0` with a math error). A filter passes
//! only when the value is `true` and there is no error ([`Expression::matches`]).
//! The behaviour is pinned by the spec's TCK (`tests/tck.rs`); where the TCK and
//! `cloudevents/sdk-go` (used by Knative) differ, the TCK wins — see the README.

mod ast;
mod attributes;
mod error;
mod eval;
mod functions;
mod lexer;
mod like;
mod parser;
mod value;

pub use attributes::Attributes;
pub use error::{ErrorKind, EvalError, ParseError};
pub use parser::{DEFAULT_MAX_DEPTH, DEPTH_CEILING};
pub use value::{AttributeRef, Type, Value};

/// A parsed CESQL expression, ready to evaluate against any number of events.
#[derive(Debug, Clone)]
pub struct Expression {
    root: ast::Node,
    source: String,
}

/// The result of an evaluation: a value, always, and the errors met on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// The value of the expression.
    pub value: Value,
    /// The errors, in the order they happened; empty when the evaluation went well.
    pub errors: Vec<EvalError>,
}

impl Expression {
    /// Parses `source`; the error says what is wrong and where (1-based column, and line
    /// when the expression spans several).
    pub fn parse(source: &str) -> Result<Self, ParseError> {
        Self::parse_nested(source, DEFAULT_MAX_DEPTH)
    }

    /// Parses `source`, refusing more than `max_depth` levels of nesting (parentheses,
    /// operators, arguments); `max_depth` itself is bounded by [`DEPTH_CEILING`].
    pub fn parse_nested(source: &str, max_depth: usize) -> Result<Self, ParseError> {
        let root = parser::parse_nested(source, max_depth)?;
        Ok(Self { root, source: source.to_owned() })
    }

    /// Evaluates the expression against an event's attributes.
    pub fn evaluate(&self, event: &(impl Attributes + ?Sized)) -> Evaluation {
        let mut errors = Vec::new();
        let value = eval::evaluate(&self.root, event, &mut errors);
        Evaluation { value, errors }
    }

    /// The filter rule of the spec (section 1.2): `true`, and no error.
    pub fn matches(&self, event: &(impl Attributes + ?Sized)) -> bool {
        let evaluation = self.evaluate(event);
        evaluation.errors.is_empty() && evaluation.value == Value::Boolean(true)
    }
}

impl std::fmt::Display for Expression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.source)
    }
}
