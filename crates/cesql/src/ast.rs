//! The parsed form of an expression.

use crate::functions::Function;
use crate::like::Pattern;
use crate::value::{Type, Value};

/// One node of the expression tree.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Literal(Value),
    /// An attribute or extension, by its lower-case name.
    Attribute(String),
    /// `EXISTS name`.
    Exists(String),
    /// `NOT x`.
    Not(Box<Node>),
    /// `-x`.
    Negate(Box<Node>),
    Binary(BinaryOp, Box<Node>, Box<Node>),
    Like {
        operand: Box<Node>,
        pattern: Pattern,
        negated: bool,
    },
    In {
        operand: Box<Node>,
        set: Vec<Node>,
        negated: bool,
    },
    /// A function call; `function` is `None` when no built-in has that name and arity
    /// (a missingFunction error at evaluation, as the spec wants).
    Call {
        name: String,
        function: Option<&'static Function>,
        args: Vec<Node>,
    },
}

/// The binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinaryOp {
    Mul,
    Div,
    Rem,
    Add,
    Sub,
    Eq,
    NotEq,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
    Xor,
}

impl Node {
    /// The type the node evaluates to; Boolean when it cannot be known (an attribute, an
    /// unknown function), as spec section 3.2 says.
    pub(crate) fn kind(&self) -> Type {
        match self {
            Self::Literal(value) => value.kind(),
            Self::Negate(_) => Type::Integer,
            Self::Binary(op, ..) => match op {
                BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem | BinaryOp::Add | BinaryOp::Sub => Type::Integer,
                _ => Type::Boolean,
            },
            Self::Call { function: Some(function), .. } => function.returns,
            Self::Attribute(_)
            | Self::Exists(_)
            | Self::Not(_)
            | Self::Like { .. }
            | Self::In { .. }
            | Self::Call { function: None, .. } => Type::Boolean,
        }
    }
}
