//! The JSON text of a straight-line expression's value, written from the QuickJS value
//! as `JSON.stringify` writes it, at a fraction of its cost (QuickJS's is generic: a
//! holder object, a key list and a cycle stack for every object).
//!
//! Only plain data is written here: `null`, booleans, numbers, strings, arrays, and
//! objects whose prototype is `Object.prototype` (which has no `toJSON`) or `null` and
//! that have no `toJSON` of their own (all their members are enumerable); members `undefined` are left out (`null` in arrays). Anything else, a
//! proxy, a date, a boxed primitive, a BigInt, a string that is not well-formed UTF-16, a
//! number this code does not write exactly as JavaScript does (only integers below 2^53
//! are), more than [`DEPTH`] levels, is answered `None`: the caller runs `JSON.stringify`.
//!
//! That this is what `JSON.stringify` writes rests on the expression being straight-line
//! (see `straight`): it defines no getter, no function, no `toJSON` that is a function,
//! cannot change a prototype nor reach `Proxy`; so an object whose prototype is
//! `Object.prototype` is an ordinary one with data members (a literal, parsed JSON, the
//! event, `Math`, `JSON`) and `JSON.stringify` would write its enumerable members in
//! order, each as here.

use rquickjs::{Object, Type, Value};

/// How deep this writes; deeper values go to `JSON.stringify`.
const DEPTH: usize = 64;

/// The JSON text of `value` (`Some(None)` for `undefined`, a function or a symbol, which
/// `JSON.stringify` answers `undefined` for); `None` when `JSON.stringify` must write it.
/// `object_prototype` is the context's `Object.prototype`.
pub(crate) fn to_json<'js>(value: &Value<'js>, object_prototype: &Object<'js>) -> Option<Option<String>> {
    let mut out = String::new();
    let writer = Writer { object_prototype };
    match writer.value(value, &mut out, 0)? {
        true => Some(Some(out)),
        false => Some(None),
    }
}

struct Writer<'a, 'js> {
    object_prototype: &'a Object<'js>,
}

impl<'js> Writer<'_, 'js> {
    /// Writes `value`; `Some(false)` (nothing written) for what JSON has no value for.
    fn value(&self, value: &Value<'js>, out: &mut String, depth: usize) -> Option<bool> {
        match value.type_of() {
            Type::Undefined | Type::Symbol | Type::Function | Type::Constructor => return Some(false),
            Type::Null => out.push_str("null"),
            Type::Bool => out.push_str(if value.as_bool()? { "true" } else { "false" }),
            Type::Int => out.push_str(itoa::Buffer::new().format(value.as_int()?)),
            Type::Float => number(value.as_float()?, out)?,
            Type::String => quote(&value.as_string()?.to_string().ok()?, out)?,
            Type::Array if depth < DEPTH => self.array(value.as_object()?, out, depth)?,
            Type::Object if depth < DEPTH => self.object(value.as_object()?, out, depth)?,
            _ => return None,
        }
        Some(true)
    }

    fn array(&self, array: &Object<'js>, out: &mut String, depth: usize) -> Option<()> {
        if array.is_proxy() {
            return None;
        }
        let length: u32 = array.get("length").ok()?;
        out.push('[');
        for i in 0..length {
            if i > 0 {
                out.push(',');
            }
            let element: Value<'js> = array.get(i).ok()?;
            if !self.value(&element, out, depth + 1)? {
                out.push_str("null");
            }
        }
        out.push(']');
        Some(())
    }

    fn object(&self, object: &Object<'js>, out: &mut String, depth: usize) -> Option<()> {
        if object.is_proxy() || object.get_prototype().is_some_and(|proto| proto != *self.object_prototype) {
            return None;
        }
        out.push('{');
        let mut first = true;
        for member in object.props::<String, Value<'js>>() {
            let (name, value) = member.ok()?;
            if name == "toJSON" {
                // Whatever it holds (a straight-line expression's objects have only
                // enumerable members): `JSON.stringify` decides.
                return None;
            }
            let mark = out.len();
            if !first {
                out.push(',');
            }
            quote(&name, out)?;
            out.push(':');
            if self.value(&value, out, depth + 1)? {
                first = false;
            } else {
                out.truncate(mark);
            }
        }
        out.push('}');
        Some(())
    }
}

/// A number as `JSON.stringify` writes it: integers below 2^53 in full (the shortest
/// digits that read back as the same number, as JavaScript writes them, are all of
/// them); `null` for NaN and infinities; `None` for the rest (fractions, larger
/// numbers), which JavaScript's own number formatting writes.
fn number(n: f64, out: &mut String) -> Option<()> {
    if !n.is_finite() {
        out.push_str("null");
    } else if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 {
        #[allow(clippy::cast_possible_truncation)] // integral and below 2^53
        out.push_str(itoa::Buffer::new().format(n as i64));
    } else {
        return None;
    }
    Some(())
}

/// `text` as a JSON string, escaped as `JSON.stringify` escapes it (`\"`, `\\`, the short
/// escapes, other control characters as `\u00xx`); `None` when it holds U+FFFD, which may
/// stand for a lone surrogate (`JSON.stringify` writes those as `\udxxx`).
fn quote(text: &str, out: &mut String) -> Option<()> {
    out.reserve(text.len() + 2);
    out.push('"');
    let mut plain = 0;
    for (i, byte) in text.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..0x20 => "",
            // U+FFFD is EF BF BD.
            0xef if text.as_bytes()[i..].starts_with("\u{fffd}".as_bytes()) => return None,
            _ => continue,
        };
        out.push_str(&text[plain..i]);
        plain = i + 1;
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xf)]));
        } else {
            out.push_str(escape);
        }
    }
    out.push_str(&text[plain..]);
    out.push('"');
    Some(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use crate::Limits;
    use crate::engine::{Call, Engine, Outcome, Program};
    use crate::input::Input;

    /// The expression's value as the writer writes it (or `JSON.stringify` when the
    /// writer leaves it), and as `JSON.stringify` does.
    fn both(source: &str) -> (Option<String>, Option<String>) {
        let program =
            Program { var: "T".into(), source: source.into(), env_json: "{}".into(), cases_json: "[]".into() };
        let limits = Limits { timeout: std::time::Duration::from_secs(10), ..Limits::default() };
        let event = || Input::Json(r#"{"data": {"s": "é\u0001\"\\\n", "n": [1, 2.5, -0, 1e21, null, {}]}}"#.into());
        let text = |outcome| match outcome {
            Ok(Outcome::Json(text) | Outcome::Plain(text)) => text,
            other => panic!("{other:?}"),
        };
        let written = text(Engine::straight(&program, &limits).unwrap().call(&Call::Value, &event()));
        let stringified = text(Engine::new(&program, &limits).unwrap().call(&Call::Value, &event()));
        (written, stringified)
    }

    #[test]
    fn values_are_written_as_json_stringify_writes_them() {
        for source in [
            "event.data",
            "({message: event.data.s + '!', n: event.data.n, u: undefined, f: Math.max, z: [undefined, , 3]})",
            "[1, -1, 2147483648, -2147483649, 9007199254740991, 9007199254740993, 0.1, 1e-7, 1e21, 2 ** 60, NaN]",
            "[Infinity, -Infinity, -0, 1 / 3, 123456789.125, true, false, null, '', 'a\\tb\\u001f\\u007f']",
            "[new Date(0), new String('s'), new Number(1), Math, JSON, {toJSON: 1}]",
            "({'1': 1, b: 2, '0': 0, a: {c: {d: [[[]]]}}})",
            "JSON.parse('{\"__proto__\": 1, \"x\": [1, {\"y\": null}]}')",
            "'\\ud800' + 'x'",
            "undefined",
            "Math.max",
            "JSON.parse('[' + '['.repeat(100) + ']'.repeat(100) + ']')",
        ] {
            let (written, stringified) = both(source);
            assert_eq!(written, stringified, "{source}");
        }
    }

    #[test]
    fn plain_data_is_written_here_and_the_rest_left_to_json_stringify() {
        let runtime = rquickjs::Runtime::new().unwrap();
        let context = rquickjs::Context::full(&runtime).unwrap();
        context.with(|ctx| {
            let prototype: rquickjs::Object<'_> =
                ctx.globals().get::<_, rquickjs::Object<'_>>("Object").unwrap().get("prototype").unwrap();
            let write = |source: &str| {
                let value: rquickjs::Value<'_> = ctx.eval(source).unwrap();
                super::to_json(&value, &prototype)
            };
            let plain = r#"({"a": [1, 2.0, null, "x\n"], "b": {"c": true}, "u": undefined})"#;
            assert_eq!(write(plain), Some(Some(r#"{"a":[1,2,null,"x\n"],"b":{"c":true}}"#.into())));
            assert_eq!(write("undefined"), Some(None));
            for other in ["[0.5]", "new Date(0)", "({toJSON: 1})", "[1n]", "'\\ud800'", "new Proxy({}, {})"] {
                assert_eq!(write(other), None, "{other}");
            }
        });
    }
}
