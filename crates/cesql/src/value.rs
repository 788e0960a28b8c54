//! CESQL values, their types, and the casts between them (spec section 3.7).

use crate::error::{ErrorKind, EvalError};

/// A CESQL value: one of the three primitive types.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    /// `true` or `false`.
    Boolean(bool),
    /// A signed 32-bit integer.
    Integer(i32),
    /// A Unicode string.
    String(String),
}

/// An attribute's value as an event holds it: see [`crate::Attributes::attribute_ref`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeRef<'a> {
    /// A String, borrowed from the event.
    Text(&'a str),
    /// Any value, made for the occasion (an extension that is not a string, a time).
    Value(Value),
}

impl AttributeRef<'_> {
    /// The value, owned.
    pub fn into_value(self) -> Value {
        match self {
            Self::Text(text) => Value::String(text.to_owned()),
            Self::Value(value) => value,
        }
    }
}

/// The type of a [`Value`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Type {
    /// [`Value::Boolean`].
    Boolean,
    /// [`Value::Integer`].
    Integer,
    /// [`Value::String`].
    String,
}

impl Type {
    /// The zero value of the type: `false`, `0` or `""`.
    pub fn zero(self) -> Value {
        match self {
            Self::Boolean => Value::Boolean(false),
            Self::Integer => Value::Integer(0),
            Self::String => Value::String(String::new()),
        }
    }
}

impl std::fmt::Display for Type {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Boolean => "Boolean",
            Self::Integer => "Integer",
            Self::String => "String",
        })
    }
}

impl Value {
    /// The type of the value.
    pub fn kind(&self) -> Type {
        match self {
            Self::Boolean(_) => Type::Boolean,
            Self::Integer(_) => Type::Integer,
            Self::String(_) => Type::String,
        }
    }

    /// The explicit cast of `INT`, `BOOL`, `STRING` (every cast of the spec's table).
    pub fn cast(self, target: Type) -> Result<Value, EvalError> {
        match (self, target) {
            (value, target) if value.kind() == target => Ok(value),
            (Self::Integer(i), Type::String) => Ok(Self::String(i.to_string())),
            (Self::Boolean(b), Type::String) => Ok(Self::String(b.to_string())),
            (Self::Boolean(b), Type::Integer) => Ok(Self::Integer(i32::from(b))),
            (Self::Integer(i), Type::Boolean) => Ok(Self::Boolean(i != 0)),
            (Self::String(s), Type::Integer) => parse_integer(&s).map(Self::Integer).ok_or_else(|| {
                EvalError::new(ErrorKind::Cast, format!("cannot cast {s:?} to Integer: not a 32-bit base-10 integer"))
            }),
            (Self::String(s), Type::Boolean) => match s.to_lowercase().as_str() {
                "true" => Ok(Self::Boolean(true)),
                "false" => Ok(Self::Boolean(false)),
                _ => Err(EvalError::new(ErrorKind::Cast, format!("cannot cast {s:?} to Boolean: not true or false"))),
            },
            // Every pair is covered above; kept total for the compiler.
            (value, target) => Err(EvalError::new(ErrorKind::Cast, format!("cannot cast {value} to {target}"))),
        }
    }

    /// The implicit cast an operator applies to its operand. As the TCK requires
    /// (`NOT 10` is a cast error), an Integer never becomes a Boolean implicitly:
    /// write `BOOL(x)` for that.
    pub fn coerce(self, target: Type) -> Result<Value, EvalError> {
        match (&self, target) {
            (Self::Integer(i), Type::Boolean) => Err(EvalError::new(
                ErrorKind::Cast,
                format!("cannot use the Integer {i} as a Boolean (write BOOL(x) to cast it)"),
            )),
            _ => self.cast(target),
        }
    }
}

/// A 32-bit base-10 integer with an optional sign, as `INT` reads strings.
pub(crate) fn parse_integer(text: &str) -> Option<i32> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Boolean(b) => write!(f, "{b}"),
            Self::Integer(i) => write!(f, "{i}"),
            Self::String(s) => write!(f, "{s:?}"),
        }
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Self::Boolean(b)
    }
}

impl From<i32> for Value {
    fn from(i: i32) -> Self {
        Self::Integer(i)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Self::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Self::String(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn casts_follow_the_spec_table() {
        assert_eq!(Value::from(-12).cast(Type::String), Ok(Value::from("-12")));
        assert_eq!(Value::from(true).cast(Type::String), Ok(Value::from("true")));
        assert_eq!(Value::from(true).cast(Type::Integer), Ok(Value::from(1)));
        assert_eq!(Value::from(0).cast(Type::Boolean), Ok(Value::from(false)));
        assert_eq!(Value::from("+7").cast(Type::Integer), Ok(Value::from(7)));
        assert_eq!(Value::from("TrUe").cast(Type::Boolean), Ok(Value::from(true)));
        for bad in ["", "+", "1.5", " 1", "2147483648", "0x10"] {
            let err = Value::from(bad).cast(Type::Integer).unwrap_err();
            assert_eq!(err.kind, ErrorKind::Cast, "{bad}");
        }
        assert_eq!(Value::from("-2147483648").cast(Type::Integer), Ok(Value::from(i32::MIN)));
        assert_eq!(Value::from("yes").cast(Type::Boolean).unwrap_err().kind, ErrorKind::Cast);
    }

    #[test]
    fn implicit_casts_refuse_integers_as_booleans() {
        assert_eq!(Value::from(10).coerce(Type::Boolean).unwrap_err().kind, ErrorKind::Cast);
        assert_eq!(Value::from("false").coerce(Type::Boolean), Ok(Value::from(false)));
        assert_eq!(Value::from(true).coerce(Type::Integer), Ok(Value::from(1)));
    }
}
