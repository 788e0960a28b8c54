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

use crate::Attributes;
use crate::ast::{BinaryOp, Node};
use crate::error::{ErrorKind, EvalError};
use crate::functions::Param;
use crate::value::{Type, Value};

/// The value of `node`, its zero value when an error below it poisoned it.
pub(crate) fn evaluate(node: &Node, event: &(impl Attributes + ?Sized), errors: &mut Vec<EvalError>) -> Value {
    let mut evaluator = Evaluator { event, errors };
    evaluator.eval(node).unwrap_or_else(|| node.kind().zero())
}

struct Evaluator<'a, A: Attributes + ?Sized> {
    event: &'a A,
    errors: &'a mut Vec<EvalError>,
}

/// `None`: poisoned by an error below (the error is already recorded).
type Out = Option<Value>;

impl<A: Attributes + ?Sized> Evaluator<'_, A> {
    fn fail(&mut self, kind: ErrorKind, message: String) {
        self.errors.push(EvalError::new(kind, message));
    }

    /// The implicit cast of an operand; on failure, the zero value and a cast error.
    fn coerce(&mut self, value: Value, target: Type) -> Value {
        value.coerce(target).unwrap_or_else(|e| {
            self.errors.push(e);
            target.zero()
        })
    }

    /// The value of an operand; `None` when it, or anything under it, failed.
    fn child(&mut self, node: &Node) -> Out {
        let before = self.errors.len();
        let value = self.eval(node);
        if self.errors.len() > before { None } else { value }
    }

    fn eval_as(&mut self, node: &Node, target: Type) -> Out {
        let value = self.child(node)?;
        Some(self.coerce(value, target))
    }

    fn boolean(&mut self, node: &Node) -> Option<bool> {
        match self.eval_as(node, Type::Boolean)? {
            Value::Boolean(b) => Some(b),
            _ => Some(false),
        }
    }

    fn integer(&mut self, node: &Node) -> Option<i32> {
        match self.eval_as(node, Type::Integer)? {
            Value::Integer(i) => Some(i),
            _ => Some(0),
        }
    }

    fn eval(&mut self, node: &Node) -> Out {
        match node {
            Node::Literal(value) => Some(value.clone()),
            Node::Attribute(name) => {
                let value = self.event.attribute(name);
                if value.is_none() {
                    self.fail(ErrorKind::MissingAttribute, format!("the event has no attribute '{name}'"));
                }
                value
            }
            Node::Exists(name) => Some(Value::Boolean(self.event.attribute(name).is_some())),
            Node::Not(inner) => Some(Value::Boolean(!self.boolean(inner)?)),
            Node::Negate(inner) => {
                let n = self.integer(inner)?;
                Some(Value::Integer(self.checked(n.checked_neg(), || format!("-({n}) overflows 32 bits"))))
            }
            Node::Binary(op, left, right) => self.binary(*op, left, right),
            Node::Like { operand, pattern, negated } => {
                let Value::String(text) = self.eval_as(operand, Type::String)? else {
                    return Some(Value::Boolean(false));
                };
                Some(Value::Boolean(pattern.matches(&text) != *negated))
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
                Some(Value::Boolean(found != *negated))
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
                    return Some(Value::Boolean(false));
                };
                let mut values = Vec::with_capacity(args.len());
                for (i, arg) in args.iter().enumerate() {
                    values.push(match function.param(i) {
                        Param::Any => self.child(arg)?,
                        Param::Of(target) => self.eval_as(arg, target)?,
                    });
                }
                let (value, error) = (function.run)(&values);
                self.errors.extend(error);
                Some(value)
            }
        }
    }

    fn checked(&mut self, result: Option<i32>, message: impl FnOnce() -> String) -> i32 {
        result.unwrap_or_else(|| {
            self.fail(ErrorKind::Math, message());
            0
        })
    }

    fn binary(&mut self, op: BinaryOp, left: &Node, right: &Node) -> Out {
        use BinaryOp::*;
        Some(match op {
            And | Or => {
                let l = self.boolean(left)?;
                if (op == And && !l) || (op == Or && l) {
                    return Some(Value::Boolean(l));
                }
                Value::Boolean(self.boolean(right)?)
            }
            Xor => {
                let (l, r) = (self.boolean(left), self.boolean(right));
                Value::Boolean(l? != r?)
            }
            Eq | NotEq => {
                let (l, r) = (self.child(left), self.child(right));
                let (l, r) = (l?, r?);
                // An ambiguous operator: the right operand's type decides (spec 3.7).
                let l = self.coerce(l, r.kind());
                Value::Boolean((l == r) == (op == Eq))
            }
            Lt | Le | Gt | Ge => {
                let (l, r) = (self.integer(left), self.integer(right));
                let (l, r) = (l?, r?);
                Value::Boolean(match op {
                    Lt => l < r,
                    Le => l <= r,
                    Gt => l > r,
                    _ => l >= r,
                })
            }
            Mul | Div | Rem | Add | Sub => {
                let (l, r) = (self.integer(left), self.integer(right));
                let (l, r) = (l?, r?);
                Value::Integer(match op {
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
