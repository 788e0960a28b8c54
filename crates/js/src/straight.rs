//! Straight-line expressions: the ones that cannot run long, so that they are evaluated
//! on the request's own thread (see `local`) instead of being handed to an engine thread.
//!
//! An expression is straight-line when its text ([`check`], over `tokens`) has:
//!
//! * no function of its own (`function`, `=>`, `class`, methods and accessors in object
//!   literals: no `){`), hence no loop and no recursion: each operator and call in the
//!   text runs at most once (`this` and `arguments` are refused too);
//! * no assignment, `++`, `--`, `delete` or `;`, and no `__proto__` key in an object
//!   literal: every object it meets is one of its own literals, the event, `env`, data
//!   parsed from JSON, or what an allowed built-in returns, and has the prototype of its
//!   kind (an array's methods only ever run on a real array, whose length is what it holds);
//! * no regular expression (neither literals nor `match`, `search`);
//! * as plain names only [`VALUES`], [`KEYWORDS`] and the functions of [`FUNCTIONS`],
//!   these only called, constructed, compared with `instanceof` or read from (`Date.parse`);
//! * as member names (`x.name`, `x['name']`) any name that no built-in object has as a
//!   function (the event's and the data's members, `length`), or one of [`METHODS`], and
//!   that only called at once (`x.name(...)`); another name only where an operator turns
//!   it into a boolean, number or string at once (`event.data.link ? a : b`, `x.sub > 1`):
//!   so no function is ever a value the expression could keep, pass or call later, and
//!   nothing calls back into it;
//! * the searches of [`SEARCHES`] (QuickJS compares a needle at every position without
//!   polling its interrupt) only with a string literal as the needle (so a search costs
//!   the subject's length times the literal's), and as `replace`'s replacement, except
//!   `includes`, `indexOf` and `lastIndexOf` of an array literal (array searches poll);
//!   `JSON.stringify` only with one argument (a list of keys would be looked up in every
//!   object written, however few are).
//!
//! Every allowed built-in runs in time linear in its arguments and receiver, all bounded
//! by the engine's memory limit (a result past it is an out-of-memory error): so a
//! straight-line evaluation is bounded by the length of the text times the work of one
//! built-in on the largest value the memory limit allows, with no need for the interrupt
//! (which still runs) nor for a watchdog. Whatever else is evaluated on engine threads.
//!
//! Which names a built-in has as a function is read from the engine itself (`lockdown.js`
//! lists them, getters that return functions included), not from a list kept here.

use std::collections::HashSet;

use crate::tokens::{Token, ends_value, tokens};

/// Plain names that are values, not functions.
const VALUES: [&str; 7] = ["event", "env", "Math", "JSON", "undefined", "NaN", "Infinity"];

/// Keywords allowed.
const KEYWORDS: [&str; 8] = ["typeof", "void", "in", "instanceof", "new", "true", "false", "null"];

/// Global functions, to call (`String(x)`), construct (`new Date(t)`), compare with
/// (`instanceof Date`) or read a member of (`Date.parse`).
const FUNCTIONS: [&str; 12] = [
    "Date",
    "String",
    "Number",
    "Boolean",
    "parseInt",
    "parseFloat",
    "isNaN",
    "isFinite",
    "encodeURIComponent",
    "decodeURIComponent",
    "encodeURI",
    "decodeURI",
];

/// Built-in methods allowed, called at once; each is linear in its receiver and
/// arguments whatever object has it (`Math`, `Date`, `JSON`, `Number`, the prototypes
/// of dates, numbers, strings and arrays; a test lists the owners).
pub(crate) const METHODS: [&str; 86] = [
    // Math
    "abs",
    "acos",
    "acosh",
    "asin",
    "asinh",
    "atan",
    "atan2",
    "atanh",
    "cbrt",
    "ceil",
    "clz32",
    "cos",
    "cosh",
    "exp",
    "expm1",
    "floor",
    "fround",
    "hypot",
    "imul",
    "log",
    "log10",
    "log1p",
    "log2",
    "max",
    "min",
    "pow",
    "random",
    "round",
    "sign",
    "sin",
    "sinh",
    "sqrt",
    "tan",
    "tanh",
    "trunc", // Date
    "parse",
    "now",
    "UTC",
    "getTime",
    "getFullYear",
    "getMonth",
    "getDate",
    "getDay",
    "getHours",
    "getMinutes",
    "getSeconds",
    "getMilliseconds",
    "getUTCFullYear",
    "getUTCMonth",
    "getUTCDate",
    "getUTCDay",
    "getUTCHours",
    "getUTCMinutes",
    "getUTCSeconds",
    "getUTCMilliseconds",
    "getTimezoneOffset",
    "toISOString",
    // JSON, Number
    "stringify",
    "isInteger",
    "isSafeInteger",
    "isFinite",
    "isNaN",
    "parseFloat",
    "parseInt",
    "toFixed",
    "toPrecision",
    "toExponential", // strings and arrays
    "toLowerCase",
    "toUpperCase",
    "trim",
    "trimStart",
    "trimEnd",
    "startsWith",
    "endsWith",
    "charAt",
    "charCodeAt",
    "codePointAt",
    "substring",
    "substr",
    "slice",
    "at",
    "padStart",
    "padEnd",
    "repeat",
    "concat",
    "join",
];

/// String searches: allowed with a string literal as the first argument.
pub(crate) const SEARCHES: [&str; 6] = ["includes", "indexOf", "lastIndexOf", "split", "replace", "replaceAll"];

/// Searches that an array literal may do with any argument (QuickJS polls in these).
const ARRAY_SEARCHES: [&str; 3] = ["includes", "indexOf", "lastIndexOf"];

/// Assignments, updates, arrows and statements.
const REFUSED: [&str; 20] = [
    "=", "+=", "-=", "*=", "/=", "%=", "**=", "<<=", ">>=", ">>>=", "&=", "|=", "^=", "&&=", "||=", "??=", "++", "--",
    "=>", ";",
];

/// What a bracket or brace opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Paren,
    ArrayLiteral,
    /// `x[...]`: one literal inside.
    Member,
    /// `{[...]: v}`.
    ComputedKey,
    Object,
    Template,
}

/// `Ok` when `source` is straight-line, given the names some built-in has as a function
/// (`callables`); otherwise why not.
pub(crate) fn check(source: &str, callables: &HashSet<String>) -> Result<(), String> {
    let tokens = tokens(source).ok_or("it uses more than the plain language (see tokens.rs)")?;
    let at = |i: usize| tokens.get(i).copied();
    let punct = |i: usize, p: &'static str| at(i) == Some(Token::Punct(p));
    let mut open: Vec<Open> = Vec::new();
    // Indexes of the `]`s that closed an array literal.
    let mut arrays: HashSet<usize> = HashSet::new();
    for (i, token) in tokens.iter().enumerate() {
        let before = i.checked_sub(1).and_then(at);
        let in_object_key = matches!(before, Some(Token::Punct("{" | ","))) && open.last() == Some(&Open::Object);
        match *token {
            Token::Punct(p) if REFUSED.contains(&p) => return Err(format!("it has `{p}`")),
            Token::Punct("(") => open.push(Open::Paren),
            Token::Punct(")") => {
                expect_closing(&mut open, &[Open::Paren])?;
                if punct(i + 1, "{") {
                    return Err("it defines a function or method".into());
                }
            }
            Token::Punct("[") if before == Some(Token::Punct("?.")) || ends_value(&tokens[..i]) => {
                match (at(i + 1), punct(i + 2, "]")) {
                    (Some(Token::Number), true) => {}
                    (Some(Token::Str(name)), true) if !name.contains('\\') => member(name, callables)?,
                    _ => return Err("it reads a member by a computed name".into()),
                }
                open.push(Open::Member);
            }
            Token::Punct("[") => open.push(if in_object_key { Open::ComputedKey } else { Open::ArrayLiteral }),
            Token::Punct("]") => {
                if expect_closing(&mut open, &[Open::ArrayLiteral, Open::Member, Open::ComputedKey])?
                    == Open::ArrayLiteral
                {
                    arrays.insert(i);
                }
            }
            Token::Punct("{") => open.push(Open::Object),
            Token::Punct("}") => drop(expect_closing(&mut open, &[Open::Object])?),
            Token::Punct(_) | Token::Number => {}
            Token::TemplateStart | Token::Template if ends_value(&tokens[..i]) => {
                return Err("it has a tagged template".into());
            }
            Token::TemplateStart => open.push(Open::Template),
            Token::Template => {}
            Token::TemplateNext { ends } => {
                if ends {
                    expect_closing(&mut open, &[Open::Template])?;
                } else if open.last() != Some(&Open::Template) {
                    return Err("unbalanced template".into());
                }
            }
            Token::Str(key) if in_object_key && punct(i + 1, ":") => {
                if key.contains('\\') || key == "__proto__" {
                    return Err("it sets a prototype in an object literal, or may".into());
                }
            }
            Token::Str(_) => {}
            Token::Name(name) if matches!(before, Some(Token::Punct("." | "?."))) => {
                if at(i + 1).is_some_and(consumes) {
                    // Read as a boolean, number or string: whatever it is, it is not kept.
                } else if METHODS.contains(&name) || SEARCHES.contains(&name) {
                    let call = called(&tokens, i).ok_or_else(|| format!("it uses `{name}` without calling it"))?;
                    let on_array = ARRAY_SEARCHES.contains(&name) && i >= 2 && arrays.contains(&(i - 2));
                    if !on_array {
                        arguments_allowed(name, &arguments(&tokens, call).ok_or("unbalanced brackets")?)?;
                    }
                } else {
                    member(name, callables)?;
                }
            }
            Token::Name(name) if in_object_key && punct(i + 1, ":") => {
                if name == "__proto__" {
                    return Err("it sets a prototype in an object literal".into());
                }
            }
            Token::Name(name) if VALUES.contains(&name) || KEYWORDS.contains(&name) => {}
            Token::Name(name) if FUNCTIONS.contains(&name) => {
                let used = called(&tokens, i).is_some()
                    || punct(i + 1, ".")
                    || punct(i + 1, "?.")
                    || matches!(before, Some(Token::Name("new" | "instanceof")));
                if !used {
                    return Err(format!("it uses `{name}` as a value"));
                }
            }
            Token::Name(name) => return Err(format!("it uses `{name}`")),
        }
    }
    if open.is_empty() { Ok(()) } else { Err("unbalanced brackets".into()) }
}

/// Whether a value followed by `next` is only used as a boolean, number or string there
/// (`x.sub ? a : b`, `x.link === y`, `x.big + 1`): a function it may be is not kept.
fn consumes(next: Token<'_>) -> bool {
    match next {
        Token::Punct(p) => CONSUMING.contains(&p),
        Token::Name(name) => name == "in" || name == "instanceof",
        _ => false,
    }
}

/// Operators that turn the value before them into a boolean, number or string.
const CONSUMING: [&str; 21] = [
    "?", "===", "!==", "==", "!=", "<", ">", "<=", ">=", "+", "-", "*", "/", "%", "**", "&", "|", "^", "<<", ">>",
    ">>>",
];

/// A member read by name: one that no built-in has as a function, or `length`.
fn member(name: &str, callables: &HashSet<String>) -> Result<(), String> {
    if name != "length" && (callables.contains(name) || METHODS.contains(&name) || SEARCHES.contains(&name)) {
        return Err(format!("it reads `{name}`, a built-in function, without calling it at once"));
    }
    Ok(())
}

/// Checks the arguments of a call of the method `name`: a search's needle (and
/// `replace`'s replacement, whose `$&`s are read at each match) must be a string literal,
/// and `JSON.stringify` gets its value only (a list of keys as its second argument would
/// be looked up in every object it writes).
fn arguments_allowed(name: &str, arguments: &[&[Token<'_>]]) -> Result<(), String> {
    let literal = |n: usize| matches!(arguments.get(n), Some([Token::Str(_)]));
    let allowed = match name {
        "replace" | "replaceAll" => arguments.len() == 2 && literal(0) && literal(1),
        "stringify" => matches!(arguments, [[first, ..]] if *first != Token::Punct("...")),
        search if SEARCHES.contains(&search) => literal(0),
        _ => true,
    };
    if allowed { Ok(()) } else { Err(format!("it calls `{name}` with arguments that are not allowed")) }
}

/// The arguments of the call whose `(` is at `open`, each as its tokens (`None` when the
/// call is not closed).
fn arguments<'t, 'a>(tokens: &'t [Token<'a>], open: usize) -> Option<Vec<&'t [Token<'a>]>> {
    let mut arguments = Vec::new();
    let (mut depth, mut start) = (0usize, open + 1);
    for (i, token) in tokens.iter().enumerate().skip(open + 1) {
        match token {
            Token::Punct("(" | "[" | "{") | Token::TemplateStart => depth += 1,
            Token::Punct(")") if depth == 0 => {
                if i > start || !arguments.is_empty() {
                    arguments.push(&tokens[start..i]);
                }
                return Some(arguments);
            }
            Token::Punct(")" | "]" | "}") | Token::TemplateNext { ends: true } => depth = depth.checked_sub(1)?,
            Token::Punct(",") if depth == 0 => {
                arguments.push(&tokens[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    None
}

/// The index of the `(` that calls the name at `i` right away (`f(`, `f?.(`).
fn called(tokens: &[Token<'_>], i: usize) -> Option<usize> {
    match tokens.get(i + 1..i + 3) {
        Some([Token::Punct("("), ..]) => Some(i + 1),
        Some([Token::Punct("?."), Token::Punct("(")]) => Some(i + 2),
        _ => None,
    }
}

/// Pops what `open` has last, which must be one of `expected`.
fn expect_closing(open: &mut Vec<Open>, expected: &[Open]) -> Result<Open, String> {
    match open.pop() {
        Some(last) if expected.contains(&last) => Ok(last),
        _ => Err("unbalanced brackets".into()),
    }
}

#[cfg(test)]
mod tests;
