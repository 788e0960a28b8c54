//! One QuickJS runtime with the expression compiled into three entry points.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Instant;

use rquickjs::context::EvalOptions;
use rquickjs::{CaughtError, Context, Ctx, Function, Object, Persistent, Runtime, Value};

use crate::{JsError, Limits};

/// The expression goes on line 2 of this wrapper, so error lines are off by one.
/// The built-ins the wrapper needs are captured first, so that an expression that
/// overwrites `JSON` cannot break later evaluations.
const PREFIX: &str = "(function (__fnmesh_env, __fnmesh_cases) { \
const __fnmesh_parse = JSON.parse, __fnmesh_stringify = JSON.stringify; \
const __fnmesh_f = function (event, env) { return (\n";
const SUFFIX: &str = "\n); };
return {
  truthy: function (json) { return !!__fnmesh_f(__fnmesh_parse(json), __fnmesh_env); },
  value: function (json) {
    const v = __fnmesh_f(__fnmesh_parse(json), __fnmesh_env);
    return v === undefined ? undefined : __fnmesh_stringify(v);
  },
  equals: function (json, n) { return __fnmesh_f(__fnmesh_parse(json), __fnmesh_env) === __fnmesh_cases[n]; },
};
})";

/// What a program is: the expression, the name of its variable, and its bindings.
#[derive(Debug, Clone)]
pub struct Program {
    /// `FILTER`, `TRANSFORMER`, `EXPRESSION`: named in every error.
    pub var: String,
    /// The expression's text.
    pub source: String,
    /// The `env` binding, a JSON object.
    pub env_json: String,
    /// The switcher's `CASES`, a JSON array (`[]` otherwise).
    pub cases_json: String,
}

/// A call into the expression.
#[derive(Debug, Clone)]
pub enum Call {
    /// `!!value`.
    Truthy,
    /// `JSON.stringify(value)`, or `None` for `undefined`.
    Value,
    /// `value === CASES[n]`.
    Equals(usize),
}

/// A call's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// For [`Call::Truthy`] and [`Call::Equals`].
    Bool(bool),
    /// For [`Call::Value`]: the JSON text, or `None` for `undefined`.
    Json(Option<String>),
}

/// One runtime: its own heap, limits and compiled entry points.
pub struct Engine {
    /// Declared before `context`: the handles must be freed before the runtime is.
    entries: [Persistent<Function<'static>>; 3],
    context: Context,
    deadline: Rc<Cell<Option<Instant>>>,
    interrupted: Rc<Cell<bool>>,
    program: Program,
    limits: Limits,
}

impl Engine {
    /// Compiles `program` in a new runtime with `limits`.
    pub fn new(program: &Program, limits: &Limits) -> Result<Self, JsError> {
        let engine_error = |e: rquickjs::Error| JsError::Engine(e.to_string());
        let runtime = Runtime::new().map_err(engine_error)?;
        runtime.set_memory_limit(limits.memory_bytes);
        runtime.set_max_stack_size(limits.stack_bytes);
        let deadline: Rc<Cell<Option<Instant>>> = Rc::new(Cell::new(None));
        let interrupted = Rc::new(Cell::new(false));
        {
            let (deadline, interrupted) = (deadline.clone(), interrupted.clone());
            runtime.set_interrupt_handler(Some(Box::new(move || {
                let late = deadline.get().is_some_and(|d| Instant::now() >= d);
                if late {
                    interrupted.set(true);
                }
                late
            })));
        }
        let context = Context::full(&runtime).map_err(engine_error)?;
        let entries = context.with(|ctx| compile(&ctx, program))?;
        Ok(Self { entries, context, deadline, interrupted, program: program.clone(), limits: *limits })
    }

    /// Evaluates the expression for `event_json` (the event as a JSON object).
    pub fn call(&self, call: &Call, event_json: &str) -> Result<Outcome, JsError> {
        self.interrupted.set(false);
        self.deadline.set(Some(Instant::now() + self.limits.timeout));
        let result = self.context.with(|ctx| {
            let index = match call {
                Call::Truthy => 0,
                Call::Value => 1,
                Call::Equals(_) => 2,
            };
            let function = self.entries[index].clone().restore(&ctx).map_err(|e| JsError::Engine(e.to_string()))?;
            let result = match call {
                Call::Truthy => function.call::<_, bool>((event_json,)).map(Outcome::Bool),
                Call::Value => function.call::<_, Option<String>>((event_json,)).map(Outcome::Json),
                Call::Equals(n) => function.call::<_, bool>((event_json, *n)).map(Outcome::Bool),
            };
            result.map_err(|e| self.classify(&ctx, e))
        });
        self.deadline.set(None);
        result
    }

    /// Whether the last failure means this engine should be rebuilt.
    pub fn is_spent(error: &JsError) -> bool {
        matches!(error, JsError::Timeout { .. } | JsError::OutOfMemory { .. } | JsError::Engine(_))
    }

    fn classify(&self, ctx: &Ctx<'_>, error: rquickjs::Error) -> JsError {
        let var = self.program.var.clone();
        if self.interrupted.get() {
            return JsError::Timeout { var, limit: self.limits.timeout };
        }
        let message = caught_message(ctx, error);
        if message.contains("out of memory") || message.contains("Allocation failed") {
            return JsError::OutOfMemory { var, limit: self.limits.memory_bytes };
        }
        if message.starts_with("TypeError: ") && message.contains("BigInt") || message.contains("circular") {
            return JsError::NotJson { var, message };
        }
        JsError::Thrown { var, message }
    }
}

/// Evaluates the wrapper and keeps its three entry points.
fn compile(ctx: &Ctx<'_>, program: &Program) -> Result<[Persistent<Function<'static>>; 3], JsError> {
    let mut options = EvalOptions::default();
    options.global = true;
    options.strict = false;
    options.filename = Some(program.var.clone());
    let source = format!("{PREFIX}{}{SUFFIX}", program.source);
    let factory: Function<'_> = match ctx.eval_with_options(source, options) {
        Ok(factory) => factory,
        Err(error) => return Err(syntax_error(ctx, error, program)),
    };
    let bindings = |json: &str| -> Result<Value<'_>, JsError> {
        ctx.json_parse(json.to_owned()).map_err(|e| JsError::Engine(format!("cannot parse a binding: {e}")))
    };
    let env = bindings(&program.env_json)?;
    let cases = bindings(&program.cases_json)?;
    let entries: Object<'_> = factory.call((env, cases)).map_err(|e| JsError::Engine(caught_message(ctx, e)))?;
    let entry = |name: &str| -> Result<Persistent<Function<'static>>, JsError> {
        let function: Function<'_> = entries.get(name).map_err(|e| JsError::Engine(e.to_string()))?;
        Ok(Persistent::save(ctx, function))
    };
    Ok([entry("truthy")?, entry("value")?, entry("equals")?])
}

/// `SyntaxError: ...` with the position in the expression, from QuickJS's stack line
/// `at FILTER:2:14`.
fn syntax_error(ctx: &Ctx<'_>, error: rquickjs::Error, program: &Program) -> JsError {
    let var = program.var.as_str();
    let caught = CaughtError::from_error(ctx, error);
    let (message, stack) = match &caught {
        CaughtError::Exception(e) => (e.message().unwrap_or_default(), e.stack().unwrap_or_default()),
        other => (other.to_string(), String::new()),
    };
    let marker = format!("{var}:");
    let position = stack.lines().find_map(|line| {
        let rest = &line[line.find(&marker)? + marker.len()..];
        let mut parts = rest.trim_end_matches(')').split(':');
        Some((parts.next()?.parse::<u32>().ok()?, parts.next()?.parse::<u32>().ok()?))
    });
    // Wrapper line 2 is the expression's line 1; past its last line is "at the end".
    let lines: Vec<&str> = program.source.split('\n').collect();
    let end = (lines.len() as u32, lines.last().map_or(0, |l| l.chars().count() as u32) + 1);
    let (line, column) = match position {
        Some((line, column)) if line >= 2 && line - 1 <= end.0 => (line - 1, column),
        _ => end,
    };
    JsError::Syntax { var: var.to_owned(), line, column, message }
}

/// The thrown value as text: `Name: message` for errors, the value otherwise.
fn caught_message(ctx: &Ctx<'_>, error: rquickjs::Error) -> String {
    match CaughtError::from_error(ctx, error) {
        CaughtError::Exception(e) => {
            let name: Option<String> = e.get("name").ok();
            let message = e.message().unwrap_or_default();
            match name {
                Some(name) if !name.is_empty() => format!("{name}: {message}"),
                _ => message,
            }
        }
        CaughtError::Value(value) => match ctx.json_stringify(value) {
            Ok(Some(text)) => text.to_string().unwrap_or_else(|_| "a value".into()),
            _ => "a value that is not an Error".into(),
        },
        CaughtError::Error(e) => e.to_string(),
    }
}
