//! One QuickJS runtime with the expression compiled into three entry points, its context
//! locked down (`lockdown.js`) so that one evaluation leaves nothing for the next.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Instant;

use rquickjs::context::EvalOptions;
use rquickjs::{CaughtError, Context, Ctx, Function, Object, Persistent, Runtime, Value};

use crate::input::Input;
use crate::{JsError, Limits, json};

/// The entry points take the event as an object (see `input`): the engine thread builds
/// it, so no JSON text of the whole event crosses between threads.
/// The expression goes on line 2 of this wrapper, so error lines are off by one.
/// What the expression can reach of the wrapper is `const` (its parameters are copied
/// and never read again), so that an evaluation cannot rebind what the next one uses;
/// the built-ins it needs are captured first, and `lockdown.js` freezes the rest.
const PREFIX: &str = "(function (__fnmesh_env0, __fnmesh_cases0) { \
const __fnmesh_env = __fnmesh_env0, __fnmesh_cases = __fnmesh_cases0, \
__fnmesh_stringify = JSON.stringify; \
const __fnmesh_f = function (event, env) { return (\n";
const SUFFIX: &str = "\n); };
return {
  expression: __fnmesh_f,
  truthy: function (event) { return !!__fnmesh_f(event, __fnmesh_env); },
  value: function (event) {
    const v = __fnmesh_f(event, __fnmesh_env);
    return v === undefined ? undefined : __fnmesh_stringify(v);
  },
  equals: function (event, n) { return __fnmesh_f(event, __fnmesh_env) === __fnmesh_cases[n]; },
  raw: function (event) { return __fnmesh_f(event, __fnmesh_env); },
};
})";

/// Freezes what evaluations could share; called once per engine.
const LOCKDOWN: &str = include_str!("lockdown.js");

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
    /// The same, written by `json`: plain data (no lone surrogate, integers only, at most
    /// 64 levels), which `serde_json` reads.
    Plain(Option<String>),
}

/// The expression's entry points.
struct Entries {
    truthy: Persistent<Function<'static>>,
    value: Persistent<Function<'static>>,
    equals: Persistent<Function<'static>>,
    /// The value itself, for `json`'s writer.
    raw: Persistent<Function<'static>>,
}

/// One runtime: its own heap, limits and compiled entry points.
pub struct Engine {
    /// Declared before `context`: the handles must be freed before the runtime is.
    entries: Entries,
    /// `Object.prototype`, when values are written by `json` (straight-line expressions)
    /// rather than by `JSON.stringify`; before `context` too.
    plain_json: Option<Persistent<Object<'static>>>,
    context: Context,
    deadline: Rc<Cell<Option<Instant>>>,
    interrupted: Rc<Cell<bool>>,
    program: Program,
    limits: Limits,
}

impl Engine {
    /// Compiles `program` in a new runtime with `limits`, and locks the context down.
    pub fn new(program: &Program, limits: &Limits) -> Result<Self, JsError> {
        Self::with_callables(program, limits).map(|(engine, _)| engine)
    }

    /// [`Engine::new`], and the names under which some built-in object holds a function
    /// (see `straight`).
    pub fn with_callables(program: &Program, limits: &Limits) -> Result<(Self, Vec<String>), JsError> {
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
        let (entries, callables) = context.with(|ctx| compile(&ctx, program))?;
        let engine = Self {
            entries,
            context,
            deadline,
            interrupted,
            program: program.clone(),
            limits: *limits,
            plain_json: None,
        };
        Ok((engine, callables))
    }

    /// [`Engine::new`] for a straight-line expression (see `straight`), whose values `json`
    /// writes.
    pub fn straight(program: &Program, limits: &Limits) -> Result<Self, JsError> {
        let mut engine = Self::new(program, limits)?;
        let prototype = engine.context.with(|ctx| {
            let object: Object<'_> = ctx.globals().get("Object")?;
            object.get::<_, Object<'_>>("prototype").map(|prototype| Persistent::save(&ctx, prototype))
        });
        engine.plain_json = Some(prototype.map_err(|e| JsError::Engine(e.to_string()))?);
        Ok(engine)
    }

    /// Evaluates the expression for `input` (the event), then runs
    /// the promise jobs it left, within the same time limit: past it, the evaluation is a
    /// [`JsError::Timeout`] and the engine is rebuilt, which drops the jobs left.
    pub fn call(&self, call: &Call, input: &Input) -> Result<Outcome, JsError> {
        self.interrupted.set(false);
        let deadline = Instant::now() + self.limits.timeout;
        self.deadline.set(Some(deadline));
        let mut result = self.context.with(|ctx| {
            let entry = match (call, &self.plain_json) {
                (Call::Truthy, _) => &self.entries.truthy,
                (Call::Value, None) => &self.entries.value,
                (Call::Value, Some(_)) => &self.entries.raw,
                (Call::Equals(_), _) => &self.entries.equals,
            };
            let engine_error = |e: rquickjs::Error| JsError::Engine(e.to_string());
            let function = entry.clone().restore(&ctx).map_err(engine_error)?;
            let event = input.to_js(&ctx).map_err(|e| self.classify(&ctx, e))?;
            let result = match (call, &self.plain_json) {
                (Call::Truthy, _) => function.call::<_, bool>((event,)).map(Outcome::Bool),
                (Call::Value, None) => function.call::<_, Option<String>>((event,)).map(Outcome::Json),
                (Call::Value, Some(prototype)) => {
                    let prototype = prototype.clone().restore(&ctx).map_err(engine_error)?;
                    function.call::<_, Value<'_>>((event,)).and_then(|value| match json::to_json(&value, &prototype) {
                        Some(text) => Ok(Outcome::Plain(text)),
                        None => ctx.json_stringify(value)?.map(|text| text.to_string()).transpose().map(Outcome::Json),
                    })
                }
                (Call::Equals(n), _) => function.call::<_, bool>((event, *n)).map(Outcome::Bool),
            };
            result.map_err(|e| self.classify(&ctx, e))
        });
        if !matches!(&result, Err(e) if Self::is_spent(e)) && !self.drain_jobs(deadline) {
            result = Err(JsError::Timeout { var: self.program.var.clone(), limit: self.limits.timeout });
        }
        self.deadline.set(None);
        result
    }

    /// Whether the last failure means this engine should be rebuilt.
    pub fn is_spent(error: &JsError) -> bool {
        matches!(error, JsError::Timeout { .. } | JsError::OutOfMemory { .. } | JsError::Engine(_))
    }

    /// Runs the promise jobs the evaluation queued, as Node would after a script, until
    /// none is left (`true`) or `deadline` passes (`false`: jobs remain, or one was
    /// interrupted). They cannot change what the evaluation answered, only waste its time.
    fn drain_jobs(&self, deadline: Instant) -> bool {
        let runtime = self.context.runtime();
        while runtime.is_job_pending() {
            if Instant::now() >= deadline {
                return false;
            }
            if let Err(job) = runtime.execute_pending_job() {
                // A rejected promise nobody handles: drop the exception.
                job.0.with(|ctx| drop(ctx.catch()));
                if self.interrupted.get() {
                    return false;
                }
            }
        }
        true
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

/// Evaluates the wrapper, locks the context down, and keeps the entry points; with the
/// names `lockdown.js` found functions under.
fn compile(ctx: &Ctx<'_>, program: &Program) -> Result<(Entries, Vec<String>), JsError> {
    let source = format!("{PREFIX}{}{SUFFIX}", program.source);
    let factory: Function<'_> = match ctx.eval_with_options(source, script_options(&program.var)) {
        Ok(factory) => factory,
        Err(error) => return Err(syntax_error(ctx, error, program)),
    };
    let bindings = |json: &str| -> Result<Value<'_>, JsError> {
        ctx.json_parse(json.to_owned()).map_err(|e| JsError::Engine(format!("cannot parse a binding: {e}")))
    };
    let env = bindings(&program.env_json)?;
    let cases = bindings(&program.cases_json)?;
    let entries: Object<'_> =
        factory.call((env.clone(), cases.clone())).map_err(|e| JsError::Engine(caught_message(ctx, e)))?;
    let lockdown: Function<'_> = ctx
        .eval_with_options(LOCKDOWN, script_options("lockdown.js"))
        .map_err(|e| JsError::Engine(format!("lockdown.js: {}", caught_message(ctx, e))))?;
    let callables: Vec<String> = lockdown
        .call((entries.clone(), env, cases))
        .map_err(|e| JsError::Engine(format!("lockdown.js: {}", caught_message(ctx, e))))?;
    let entry = |name: &str| -> Result<Persistent<Function<'static>>, JsError> {
        let function: Function<'_> = entries.get(name).map_err(|e| JsError::Engine(e.to_string()))?;
        Ok(Persistent::save(ctx, function))
    };
    let entries =
        Entries { truthy: entry("truthy")?, value: entry("value")?, equals: entry("equals")?, raw: entry("raw")? };
    Ok((entries, callables))
}

/// A sloppy-mode global script named `filename` in stack traces.
fn script_options(filename: &str) -> EvalOptions {
    let mut options = EvalOptions::default();
    options.global = true;
    options.strict = false;
    options.filename = Some(filename.to_owned());
    options
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
