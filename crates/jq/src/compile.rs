//! Compiling a jq program with the sandboxed set of jaq definitions, and readable errors.
//!
//! Available: every definition and native filter of `jaq-core`, `jaq-std` and `jaq-json`
//! (`map`, `select`, `to_entries`, `test`/`sub` regexes, `@base64`, `tojson`/`fromjson`,
//! `todate`/`strftime`, math, `limit`, `getpath`, `paths`, ...), except what would reach
//! outside the value: `input`/`inputs` are not installed, `env` and `$ENV` are the empty
//! object (the process environment never shows), and `import`/`include` are rejected (no
//! module is ever read). `debug`/`stderr` yield their input and print nothing.

use jaq_core::compile::Undefined;
use jaq_core::load::{self, Arena, File, Loader, lex, parse};
use jaq_core::{Compiler, data};
use jaq_json::Val;

use crate::JqError;

/// The data kind our filters run on: JSON values and no global data.
pub(crate) type Data = data::JustLut<Val>;
/// A compiled program.
pub(crate) type Filter = jaq_core::Filter<Data>;

/// Native filters that are left out: `env` reads the process environment.
const DENIED: &[&str] = &["env"];

/// Definitions that replace denied ones.
const SANDBOX_DEFS: &str = "def env: {};";

/// The global variables every program sees, in the order [`global_values`] gives them.
const GLOBAL_VARS: [&str; 1] = ["$ENV"];

/// Values of [`GLOBAL_VARS`]: `$ENV` is `{}`.
pub(crate) fn global_values() -> [Val; 1] {
    [Val::obj(jaq_json::Map::default())]
}

/// Parses and compiles `program`; errors say what and where (line and column, 1-based).
pub(crate) fn compile(program: &str) -> Result<Filter, JqError> {
    reject_modules(program)?;
    let sandbox = load::parse(SANDBOX_DEFS, |p| p.defs()).unwrap_or_default();
    let defs = jaq_core::defs().chain(jaq_std::defs()).chain(jaq_json::defs()).chain(sandbox);
    let funs =
        jaq_core::funs().chain(jaq_std::funs()).chain(jaq_json::funs()).filter(|(name, _, _)| !DENIED.contains(name));
    let arena = Arena::default();
    let modules = Loader::new(defs)
        .load(&arena, File { code: program, path: () })
        .map_err(|errs| JqError::Compile(join(errs.iter().flat_map(|(file, e)| load_error(file.code, e)))))?;
    Compiler::default().with_funs(funs).with_global_vars(GLOBAL_VARS).compile(modules).map_err(|errs| {
        JqError::Compile(join(
            errs.iter().flat_map(|(file, es)| es.iter().map(|(name, undef)| undefined(file.code, name, undef))),
        ))
    })
}

/// Modules would read files (`include`) or need values we do not have (`import ... as $x`).
fn reject_modules(program: &str) -> Result<(), JqError> {
    // A lex error is reported by the loader, with its position.
    let Ok(tokens) = lex::Lexer::new(program).lex() else { return Ok(()) };
    match tokens.iter().find(|lex::Token(s, tok)| matches!(tok, lex::Tok::Word) && matches!(*s, "import" | "include")) {
        Some(lex::Token(s, _)) => {
            Err(JqError::Compile(format!("`{s}` is not supported: programs cannot load modules{}", at(program, s))))
        }
        None => Ok(()),
    }
}

fn load_error(code: &str, e: &load::Error<&str>) -> Vec<String> {
    match e {
        load::Error::Io(errs) => {
            errs.iter().map(|(path, msg)| format!("cannot load module {path}: {msg}{}", at(code, path))).collect()
        }
        load::Error::Lex(errs) => {
            errs.iter().map(|(expect, rest)| format!("expected {}{}", lex_expect(expect), at(code, rest))).collect()
        }
        load::Error::Parse(errs) => errs
            .iter()
            .map(|(expect, found)| {
                let what = if found.is_empty() { "end of program".to_owned() } else { format!("`{found}`") };
                format!("unexpected {what}, expected {}{}", parse_expect(expect), at(code, found))
            })
            .collect(),
    }
}

fn lex_expect(expect: &lex::Expect<&str>) -> String {
    match expect {
        lex::Expect::Delim(open) => match *open {
            "(" => "closing parenthesis".into(),
            "[" => "closing bracket".into(),
            "{" => "closing brace".into(),
            "\"" => "closing quote".into(),
            other => format!("closing delimiter for `{other}`"),
        },
        lex::Expect::Digit => "digit".into(),
        lex::Expect::Ident => "identifier".into(),
        lex::Expect::Escape => "string escape sequence".into(),
        lex::Expect::Unicode => "4-digit hexadecimal code point".into(),
        lex::Expect::Token => "token".into(),
        _ => "something else".into(),
    }
}

fn parse_expect(expect: &parse::Expect<&str>) -> String {
    match expect {
        parse::Expect::Just(s) => format!("`{s}`"),
        other => other.as_str().to_owned(),
    }
}

fn undefined(code: &str, name: &str, undef: &Undefined) -> String {
    let what = match undef {
        Undefined::Filter(arity) => format!("filter `{name}/{arity}`"),
        other => format!("{} `{name}`", other.as_str()),
    };
    format!("undefined {what}{}", at(code, name))
}

fn join(messages: impl Iterator<Item = String>) -> String {
    let messages: Vec<String> = messages.collect();
    if messages.is_empty() { "invalid program".to_owned() } else { messages.join("; ") }
}

/// ` at line L, column C` when `part` lies inside `code`, else nothing.
fn at(code: &str, part: &str) -> String {
    match position(code, part) {
        Some((line, column)) => format!(" at line {line}, column {column}"),
        None => String::new(),
    }
}

/// The 1-based line and column (in characters) where `part`, a slice of `code`, starts.
pub(crate) fn position(code: &str, part: &str) -> Option<(usize, usize)> {
    let offset = (part.as_ptr() as usize).checked_sub(code.as_ptr() as usize)?;
    let before = code.get(..offset).filter(|_| offset + part.len() <= code.len())?;
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Some((line, column))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(program: &str) -> String {
        match compile(program) {
            Err(JqError::Compile(m)) => m,
            Err(other) => panic!("not a compile error: {other}"),
            Ok(_) => panic!("{program} compiled"),
        }
    }

    #[test]
    fn positions_count_lines_and_characters() {
        let code = "ab\ncdé f";
        assert_eq!(position(code, &code[0..1]), Some((1, 1)));
        assert_eq!(position(code, &code[3..4]), Some((2, 1)));
        assert_eq!(position(code, &code[7..8]), Some((2, 4)));
        assert_eq!(position(code, &code[code.len()..]), Some((2, 6)));
        assert_eq!(position(code, "elsewhere"), None);
    }

    #[test]
    fn good_programs_compile() {
        for program in [".", ".data.a", "[.[] | select(. > 1)]", "def f(x): x + 1; f(.)", "$ENV", "env", "now"] {
            assert!(compile(program).is_ok(), "{program}");
        }
    }

    #[test]
    fn syntax_errors_say_where() {
        assert_eq!(message(".a |\n  (1 + "), "expected closing parenthesis at line 2, column 8");
        assert_eq!(message(".a | | .b"), "unexpected `|`, expected term at line 1, column 6");
        assert_eq!(message(".a +"), "unexpected end of program, expected term at line 1, column 5");
        assert_eq!(message("if . then 1"), "unexpected end of program, expected else or end at line 1, column 12");
    }

    #[test]
    fn undefined_names_say_which_and_where() {
        assert_eq!(message(".a | nosuch(1)"), "undefined filter `nosuch/1` at line 1, column 6");
        assert_eq!(message("\n$x"), "undefined variable `$x` at line 2, column 1");
        assert_eq!(message("{t: $__loc__}"), "undefined variable `$__loc__` at line 1, column 5");
    }

    #[test]
    fn modules_and_io_filters_are_not_there() {
        assert_eq!(
            message("import \"x\" as $x; $x"),
            "`import` is not supported: programs cannot load modules at line 1, column 1"
        );
        assert!(message("include \"x\"; .").starts_with("`include` is not supported"));
        assert_eq!(message("input"), "undefined filter `input/0` at line 1, column 1");
        assert_eq!(message("[inputs]"), "undefined filter `inputs/0` at line 1, column 2");
        assert!(message("$__prog_args").starts_with("undefined variable"));
    }
}
