//! Evaluation (spec section 3): every operator casts its operands, collects errors and
//! still yields a value.
//!
//! An error poisons every expression above the one where it happened: they give the
//! zero value of their type (spec 3.2: `1 / missing` is `0` with a missingAttribute
//! error and no math error; `true AND (1 != 1 / 0)` is `false` with a math error). The
//! expression where it happened keeps its own result: a failed cast gives the zero
//! value of the target type and the operator goes on with it (`NOT 10` is `true` with a
//! cast error, `ABS(-2147483648)` is `2147483647` with a math error), as the TCK wants.
//! `AND` and `OR` do not evaluate their right side when the left side decides (spec
//! 3.4.2).
//!
//! Strings are read where they are, in the expression and in the event ([`Val`]): a
//! filter such as `type = 'x' AND myext = 'y'` copies nothing.

use std::borrow::Cow;

use crate::Attributes;
use crate::ast::{BinaryOp, Node};
use crate::error::{ErrorKind, EvalError};
use crate::functions::Param;
use crate::value::{AttributeRef, Type, Value};

/// The value of `node`, its zero value when an error below it poisoned it.
pub(crate) fn evaluate(node: &Node, event: &(impl Attributes + ?Sized), errors: &mut Vec<EvalError>) -> Value {
    let mut evaluator = Evaluator { event, errors };
    evaluator.eval(node).map_or_else(|| node.kind().zero(), Val::into_value)
}

/// A [`Value`] whose string may be borrowed from the expression or the event.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Val<'a> {
    Boolean(bool),
    Integer(i32),
    String(Cow<'a, str>),
}

impl<'a> Val<'a> {
    fn of(value: &'a Value) -> Self {
        match value {
            Value::Boolean(b) => Self::Boolean(*b),
            Value::Integer(i) => Self::Integer(*i),
            Value::String(s) => Self::String(Cow::Borrowed(s)),
        }
    }

    fn owned(value: Value) -> Self {
        match value {
            Value::Boolean(b) => Self::Boolean(b),
            Value::Integer(i) => Self::Integer(i),
            Value::String(s) => Self::String(Cow::Owned(s)),
        }
    }

    fn into_value(self) -> Value {
        match self {
            Self::Boolean(b) => Value::Boolean(b),
            Self::Integer(i) => Value::Integer(i),
            Self::String(s) => Value::String(s.into_owned()),
        }
    }

    fn kind(&self) -> Type {
        match self {
            Self::Boolean(_) => Type::Boolean,
            Self::Integer(_) => Type::Integer,
            Self::String(_) => Type::String,
        }
    }

    /// [`Value::coerce`]; a value of the target type stays as it is (borrowed).
    fn coerce(self, target: Type) -> Result<Self, EvalError> {
        if self.kind() == target { Ok(self) } else { self.into_value().coerce(target).map(Self::owned) }
    }
}

struct Evaluator<'a, A: Attributes + ?Sized> {
    event: &'a A,
    errors: &'a mut Vec<EvalError>,
}

/// `None`: poisoned by an error below (the error is already recorded).
type Out<'a> = Option<Val<'a>>;

impl<'a, A: Attributes + ?Sized> Evaluator<'a, A> {
    fn fail(&mut self, kind: ErrorKind, message: String) {
        self.errors.push(EvalError::new(kind, message));
    }

    /// The implicit cast of an operand; on failure, the zero value and a cast error.
    fn coerce(&mut self, value: Val<'a>, target: Type) -> Val<'a> {
        value.coerce(target).unwrap_or_else(|e| {
            self.errors.push(e);
            Val::owned(target.zero())
        })
    }

    /// The value of an operand; `None` when it, or anything under it, failed.
    fn child(&mut self, node: &'a Node) -> Out<'a> {
        let before = self.errors.len();
        let value = self.eval(node);
        if self.errors.len() > before { None } else { value }
    }

    fn eval_as(&mut self, node: &'a Node, target: Type) -> Out<'a> {
        let value = self.child(node)?;
        Some(self.coerce(value, target))
    }

    fn boolean(&mut self, node: &'a Node) -> Option<bool> {
        match self.eval_as(node, Type::Boolean)? {
            Val::Boolean(b) => Some(b),
            _ => Some(false),
        }
    }

    fn integer(&mut self, node: &'a Node) -> Option<i32> {
        match self.eval_as(node, Type::Integer)? {
            Val::Integer(i) => Some(i),
            _ => Some(0),
        }
    }

    fn eval(&mut self, node: &'a Node) -> Out<'a> {
        match node {
            Node::Literal(value) => Some(Val::of(value)),
            Node::Attribute(name) => {
                let value = self.event.attribute_ref(name);
                if value.is_none() {
                    self.fail(ErrorKind::MissingAttribute, format!("the event has no attribute '{name}'"));
                }
                value.map(|value| match value {
                    AttributeRef::Text(text) => Val::String(Cow::Borrowed(text)),
                    AttributeRef::Value(value) => Val::owned(value),
                })
            }
            Node::Exists(name) => Some(Val::Boolean(self.event.attribute_ref(name).is_some())),
            Node::Not(inner) => Some(Val::Boolean(!self.boolean(inner)?)),
            Node::Negate(inner) => {
                let n = self.integer(inner)?;
                Some(Val::Integer(self.checked(n.checked_neg(), || format!("-({n}) overflows 32 bits"))))
            }
            Node::Binary(op, left, right) => self.binary(*op, left, right),
            Node::Like { operand, pattern, negated } => {
                let Val::String(text) = self.eval_as(operand, Type::String)? else {
                    return Some(Val::Boolean(false));
                };
                Some(Val::Boolean(pattern.matches(&text) != *negated))
            }
            Node::In { operand, set, negated } => {
                let value = self.child(operand)?;
                let target = value.kind();
                let mut found = false;
                for item in set {
                    if self.eval_as(item, target)? == value {
                        found = true;
                        break;
                    }
                }
                Some(Val::Boolean(found != *negated))
            }
            Node::Call { name, function, args } => {
                let Some(function) = function else {
                    let arity = args.len();
                    let message = if crate::functions::exists(name) {
                        format!("the function {name} does not take {arity} argument(s)")
                    } else {
                        format!("there is no function {name}")
                    };
                    self.fail(ErrorKind::MissingFunction, message);
                    return Some(Val::Boolean(false));
                };
                let mut values = Vec::with_capacity(args.len());
                for (i, arg) in args.iter().enumerate() {
                    let value = match function.param(i) {
                        Param::Any => self.child(arg)?,
                        Param::Of(target) => self.eval_as(arg, target)?,
                    };
                    values.push(value.into_value());
                }
                let (value, error) = (function.run)(&values);
                self.errors.extend(error);
                Some(Val::owned(value))
            }
        }
    }

    fn checked(&mut self, result: Option<i32>, message: impl FnOnce() -> String) -> i32 {
        result.unwrap_or_else(|| {
            self.fail(ErrorKind::Math, message());
            0
        })
    }

    fn binary(&mut self, op: BinaryOp, left: &'a Node, right: &'a Node) -> Out<'a> {
        use BinaryOp::*;
        Some(match op {
            And | Or => {
                let l = self.boolean(left)?;
                if (op == And && !l) || (op == Or && l) {
                    return Some(Val::Boolean(l));
                }
                Val::Boolean(self.boolean(right)?)
            }
            Xor => {
                let (l, r) = (self.boolean(left), self.boolean(right));
                Val::Boolean(l? != r?)
            }
            Eq | NotEq => {
                let (l, r) = (self.child(left), self.child(right));
                let (l, r) = (l?, r?);
                // An ambiguous operator: the right operand's type decides (spec 3.7).
                let l = self.coerce(l, r.kind());
                Val::Boolean((l == r) == (op == Eq))
            }
            Lt | Le | Gt | Ge => {
                let (l, r) = (self.integer(left), self.integer(right));
                let (l, r) = (l?, r?);
                Val::Boolean(match op {
                    Lt => l < r,
                    Le => l <= r,
                    Gt => l > r,
                    _ => l >= r,
                })
            }
            Mul | Div | Rem | Add | Sub => {
                let (l, r) = (self.integer(left), self.integer(right));
                let (l, r) = (l?, r?);
                Val::Integer(match op {
                    Add => self.checked(l.checked_add(r), || format!("{l} + {r} overflows 32 bits")),
                    Sub => self.checked(l.checked_sub(r), || format!("{l} - {r} overflows 32 bits")),
                    Mul => self.checked(l.checked_mul(r), || format!("{l} * {r} overflows 32 bits")),
                    _ if r == 0 => {
                        self.fail(
                            ErrorKind::Math,
                            format!("division by zero in {l} {} 0", if op == Div { '/' } else { '%' }),
                        );
                        0
                    }
                    Div => self.checked(l.checked_div(r), || format!("{l} / {r} overflows 32 bits")),
                    _ => l.wrapping_rem(r),
                })
            }
        })
    }
}
