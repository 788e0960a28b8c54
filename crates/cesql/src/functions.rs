//! The built-in functions of spec section 3.5, plus the casts `INT`, `BOOL`, `STRING`
//! and the checks `IS_INT`, `IS_BOOL` that cloudevents/sdk-go also provides.

use crate::error::{ErrorKind, EvalError};
use crate::value::{Type, Value};

/// A parameter: a type the argument is cast to, or any value as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Param {
    Any,
    Of(Type),
}

/// What a function gives: a value, and an error when it refused its arguments.
pub(crate) type Outcome = (Value, Option<EvalError>);

/// A built-in function.
#[derive(Debug)]
pub(crate) struct Function {
    pub name: &'static str,
    /// The fixed parameters.
    pub params: &'static [Param],
    /// The type of any further arguments, for variadic functions.
    pub variadic: Option<Param>,
    pub returns: Type,
    pub run: fn(&[Value]) -> Outcome,
}

impl Function {
    /// The parameter the argument at `index` is cast to.
    pub(crate) fn param(&self, index: usize) -> Param {
        self.params.get(index).copied().or(self.variadic).unwrap_or(Param::Any)
    }
}

const S: Param = Param::Of(Type::String);
const I: Param = Param::Of(Type::Integer);

static FUNCTIONS: &[Function] = &[
    Function { name: "LENGTH", params: &[S], variadic: None, returns: Type::Integer, run: length },
    Function { name: "CONCAT", params: &[], variadic: Some(S), returns: Type::String, run: concat },
    Function { name: "CONCAT_WS", params: &[S], variadic: Some(S), returns: Type::String, run: concat_ws },
    Function { name: "LOWER", params: &[S], variadic: None, returns: Type::String, run: lower },
    Function { name: "UPPER", params: &[S], variadic: None, returns: Type::String, run: upper },
    Function { name: "TRIM", params: &[S], variadic: None, returns: Type::String, run: trim },
    Function { name: "LEFT", params: &[S, I], variadic: None, returns: Type::String, run: left },
    Function { name: "RIGHT", params: &[S, I], variadic: None, returns: Type::String, run: right },
    Function { name: "SUBSTRING", params: &[S, I], variadic: None, returns: Type::String, run: substring },
    Function { name: "SUBSTRING", params: &[S, I, I], variadic: None, returns: Type::String, run: substring },
    Function { name: "ABS", params: &[I], variadic: None, returns: Type::Integer, run: abs },
    Function { name: "INT", params: &[Param::Any], variadic: None, returns: Type::Integer, run: int },
    Function { name: "BOOL", params: &[Param::Any], variadic: None, returns: Type::Boolean, run: boolean },
    Function { name: "STRING", params: &[Param::Any], variadic: None, returns: Type::String, run: string },
    Function { name: "IS_INT", params: &[Param::Any], variadic: None, returns: Type::Boolean, run: is_int },
    Function { name: "IS_BOOL", params: &[Param::Any], variadic: None, returns: Type::Boolean, run: is_bool },
];

/// The function `name` (upper case) that takes `arity` arguments: an exact fixed arity
/// first, then a variadic one.
pub(crate) fn resolve(name: &str, arity: usize) -> Option<&'static Function> {
    let named = || FUNCTIONS.iter().filter(move |f| f.name == name);
    named()
        .find(|f| f.variadic.is_none() && f.params.len() == arity)
        .or_else(|| named().find(|f| f.variadic.is_some() && arity >= f.params.len()))
}

/// Whether any function has this name, for a better error message.
pub(crate) fn exists(name: &str) -> bool {
    FUNCTIONS.iter().any(|f| f.name == name)
}

fn text(value: &Value) -> &str {
    match value {
        Value::String(s) => s,
        _ => "",
    }
}

fn integer(value: &Value) -> i32 {
    match value {
        Value::Integer(i) => *i,
        _ => 0,
    }
}

fn ok(value: Value) -> Outcome {
    (value, None)
}

fn refused(value: Value, message: String) -> Outcome {
    (value, Some(EvalError::new(ErrorKind::FunctionEvaluation, message)))
}

fn length(args: &[Value]) -> Outcome {
    let count = text(&args[0]).chars().count();
    match i32::try_from(count) {
        Ok(count) => ok(Value::Integer(count)),
        Err(_) => refused(Value::Integer(0), format!("LENGTH: {count} characters do not fit in an Integer")),
    }
}

fn concat(args: &[Value]) -> Outcome {
    ok(Value::String(args.iter().map(text).collect()))
}

fn concat_ws(args: &[Value]) -> Outcome {
    ok(Value::String(args[1..].iter().map(text).collect::<Vec<_>>().join(text(&args[0]))))
}

fn lower(args: &[Value]) -> Outcome {
    ok(Value::String(text(&args[0]).to_lowercase()))
}

fn upper(args: &[Value]) -> Outcome {
    ok(Value::String(text(&args[0]).to_uppercase()))
}

fn trim(args: &[Value]) -> Outcome {
    ok(Value::String(text(&args[0]).trim().to_owned()))
}

fn left(args: &[Value]) -> Outcome {
    let (s, n) = (text(&args[0]), integer(&args[1]));
    match usize::try_from(n) {
        Ok(n) => ok(Value::String(s.chars().take(n).collect())),
        Err(_) => refused(Value::String(s.to_owned()), format!("LEFT: the length {n} is negative")),
    }
}

fn right(args: &[Value]) -> Outcome {
    let (s, n) = (text(&args[0]), integer(&args[1]));
    match usize::try_from(n) {
        Ok(n) => {
            let skip = s.chars().count().saturating_sub(n);
            ok(Value::String(s.chars().skip(skip).collect()))
        }
        Err(_) => refused(Value::String(s.to_owned()), format!("RIGHT: the length {n} is negative")),
    }
}

fn substring(args: &[Value]) -> Outcome {
    let (s, pos) = (text(&args[0]), integer(&args[1]));
    let chars = s.chars().count() as i64;
    let pos = i64::from(pos);
    if pos > chars || pos < -chars {
        return refused(
            Value::String(String::new()),
            format!("SUBSTRING: the position {pos} is outside the string of {chars} characters"),
        );
    }
    let len = match args.get(2).map(integer) {
        Some(len) if len < 0 => {
            return refused(Value::String(String::new()), format!("SUBSTRING: the length {len} is negative"));
        }
        Some(len) => len as usize,
        None => usize::MAX,
    };
    if pos == 0 {
        return ok(Value::String(String::new()));
    }
    let start = if pos > 0 { pos - 1 } else { chars + pos } as usize;
    ok(Value::String(s.chars().skip(start).take(len).collect()))
}

fn abs(args: &[Value]) -> Outcome {
    let n = integer(&args[0]);
    match n.checked_abs() {
        Some(a) => ok(Value::Integer(a)),
        None => (Value::Integer(i32::MAX), Some(EvalError::new(ErrorKind::Math, format!("ABS: {n} overflows")))),
    }
}

fn cast(value: &Value, target: Type) -> Outcome {
    match value.clone().cast(target) {
        Ok(v) => ok(v),
        Err(e) => (target.zero(), Some(e)),
    }
}

fn int(args: &[Value]) -> Outcome {
    cast(&args[0], Type::Integer)
}

fn boolean(args: &[Value]) -> Outcome {
    cast(&args[0], Type::Boolean)
}

fn string(args: &[Value]) -> Outcome {
    cast(&args[0], Type::String)
}

fn is_int(args: &[Value]) -> Outcome {
    ok(Value::Boolean(args[0].clone().cast(Type::Integer).is_ok()))
}

fn is_bool(args: &[Value]) -> Outcome {
    ok(Value::Boolean(args[0].clone().cast(Type::Boolean).is_ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, args: &[Value]) -> Outcome {
        let f = resolve(name, args.len()).unwrap_or_else(|| panic!("{name}/{}", args.len()));
        (f.run)(args)
    }

    #[test]
    fn resolution_by_arity() {
        assert!(resolve("SUBSTRING", 2).is_some_and(|f| f.params.len() == 2));
        assert!(resolve("SUBSTRING", 3).is_some_and(|f| f.params.len() == 3));
        assert!(resolve("SUBSTRING", 4).is_none());
        assert!(resolve("CONCAT", 0).is_some());
        assert!(resolve("CONCAT_WS", 0).is_none());
        assert!(resolve("CONCAT_WS", 5).is_some());
        assert!(resolve("NOPE", 1).is_none());
    }

    #[test]
    fn strings_count_characters_not_bytes() {
        assert_eq!(call("LENGTH", &["héllo".into()]).0, Value::Integer(5));
        assert_eq!(call("LEFT", &["héllo".into(), 2.into()]).0, Value::from("hé"));
        assert_eq!(call("RIGHT", &["héllo".into(), 4.into()]).0, Value::from("éllo"));
        assert_eq!(call("SUBSTRING", &["héllo".into(), 2.into(), 2.into()]).0, Value::from("él"));
        assert_eq!(call("SUBSTRING", &["abc".into(), (-3).into()]).0, Value::from("abc"));
        assert_eq!(call("SUBSTRING", &["abc".into(), 3.into()]).0, Value::from("c"));
        assert_eq!(call("SUBSTRING", &["abc".into(), 1.into(), 0.into()]).0, Value::from(""));
        let (value, error) = call("SUBSTRING", &["abc".into(), 1.into(), (-1).into()]);
        assert_eq!((value, error.map(|e| e.kind)), (Value::from(""), Some(ErrorKind::FunctionEvaluation)));
    }

    #[test]
    fn upper_lower_trim_are_unicode() {
        assert_eq!(call("UPPER", &["straße".into()]).0, Value::from("STRASSE"));
        assert_eq!(call("LOWER", &["ÉTÉ".into()]).0, Value::from("été"));
        assert_eq!(call("TRIM", &["\u{2003} a \n".into()]).0, Value::from("a"));
        assert_eq!(call("TRIM", &["\u{1}a\u{1}".into()]).0, Value::from("\u{1}a\u{1}"));
    }

    #[test]
    fn casts_and_checks() {
        assert_eq!(call("IS_INT", &["12".into()]).0, Value::Boolean(true));
        assert_eq!(call("IS_INT", &["1x".into()]).0, Value::Boolean(false));
        assert_eq!(call("IS_BOOL", &["False".into()]).0, Value::Boolean(true));
        assert_eq!(call("IS_BOOL", &[3.into()]).0, Value::Boolean(true));
        assert_eq!(call("STRING", &[(-3).into()]).0, Value::from("-3"));
    }
}
