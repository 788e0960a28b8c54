//! JSONPath (RFC 9535) over the event view: queries for the filter, and the transformer's
//! template.
//!
//! The template is a JSON document in which every string that starts with `$` is a
//! JSONPath query, replaced by what it selects: the node itself when it selects exactly
//! one, `null` when it selects none, an array of the nodes when it selects several.
//! A string that starts with `$$` is the literal text after the first `$`. Anything
//! else is copied as is. `{"greeting": "$.data.message", "kind": "$.type", "ids":
//! "$.data.items[*].id", "cost": "$$5"}`.
//!
//! # Bounds
//!
//! Queries come from the flow's author; documents from whoever sends events, and a query
//! may take time quadratic in its document (`$..[?count(@..*) > 100000]` took 10-14 s on
//! an 845 KiB event) or build large node lists (jsonpath-rust's evaluator held 165 MiB for
//! `$..*` on that event: every node with its path as a string). Functions evaluate with
//! [`Bounded`], under the same settings as JavaScript and jq ([`crate::EvalConfig`]):
//!
//! * **small events on the request thread, large ones off it**: an event whose data is at
//!   most [`Limits::inline_bytes`] (`FNMESH_EVAL_INLINE_BYTES`, 64 KiB) is evaluated
//!   where it arrived, under the same bounds: a thread hop and a copy of the event cost
//!   more than the whole evaluation of a typical event, and on so little data even a
//!   quadratic query is bounded by the deadline below. Larger events go to
//!   `FNMESH_EVAL_WORKERS` threads of their own, which also parse the event's data, 4 096
//!   evaluations waiting at most (then `503`), so `/healthz` and other requests go on
//!   while a slow query runs on a large event;
//! * **time**: `FNMESH_EVAL_TIMEOUT` from the start of the evaluation, then `503`
//!   (retried);
//! * **memory**: `FNMESH_EVAL_MEMORY` for what an evaluation keeps, then `422` (the same
//!   event fails the same way).
//!
//! A thread cannot be killed, so the bounds are kept by the evaluator itself (`eval`):
//! jsonpath-rust only parses. The evaluator builds no node list: each segment hands the
//! nodes it selects straight to the next, a filter's test stops at its first node,
//! `count()` counts. What an evaluation holds is then its stack (nesting is capped) and
//! the results it keeps, a template's copies of the nodes it selects, each charged to the
//! budget before it is made, and a fixed-size cache per regular expression; the document
//! itself was bounded before, by `FNMESH_BODY_LIMIT` and `FNMESH_JSON_DEPTH`. Every loop
//! of the evaluator counts its steps and looks at the clock every 256 of them, and
//! `match()` and `search()` step their automaton one byte at a time and look at the clock
//! every 64 bytes (`pattern`): nothing runs unchecked, so an evaluation stops within
//! milliseconds of its deadline and its thread is free again.
//!
//! The evaluator reads the event as `doc::Json`, the event view with its strings
//! borrowed from the event where they can be, not as `serde_json::Value`s: building and
//! dropping those cost a small event five times what its query did.
//!
//! Not the jq workers' processes: JSONPath also runs inside `fnmesh run` and inside test
//! executables, which cannot be workers; an evaluation that stops itself needs no kill
//! nor a process start after each timeout, and the event is not serialized and parsed
//! again for another process.

mod doc;
mod eval;
#[cfg(test)]
mod inline_tests;
mod pattern;
mod pool;

use std::sync::Arc;
use std::time::{Duration, Instant};

use fnmesh_runtime::{Error, IncomingEvent};
use jsonpath_rust::parser::parse_json_path;
use serde_json::{Map, Value};

#[cfg(doc)]
use crate::event_view;
use doc::{Json, event_doc};
use eval::{Budget, Eval, Path, Stop};

/// How long and how much memory one evaluation may use, and how many run at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time one evaluation may take, from the moment a thread starts it.
    pub timeout: Duration,
    /// Bytes the results of one evaluation may take (an estimate of their heap).
    pub memory_bytes: usize,
    /// Threads evaluating at once.
    pub workers: usize,
    /// Evaluations that may wait for a thread; beyond that, [`JsonPathError::Busy`].
    pub queue: usize,
    /// Events whose data takes at most this many bytes are evaluated on the calling
    /// thread (within the same time and memory limits); `0`: every event goes to the
    /// threads.
    pub inline_bytes: usize,
}

/// [`Limits::inline_bytes`] unless set: 64 KiB.
pub const DEFAULT_INLINE_BYTES: usize = 64 * 1024;

impl Default for Limits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_millis(100),
            memory_bytes: 64 * 1024 * 1024,
            workers: std::thread::available_parallelism().map(usize::from).unwrap_or(2),
            queue: 4096,
            inline_bytes: DEFAULT_INLINE_BYTES,
        }
    }
}

/// Why a bounded evaluation gave no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonPathError {
    /// The evaluation ran longer than the limit and stopped.
    Timeout(Duration),
    /// The results would take more than the limit, in bytes.
    TooLarge(usize),
    /// The evaluation nested deeper than its stack allows.
    TooDeep,
    /// Every thread is busy and the queue is full.
    Busy {
        /// Threads.
        workers: usize,
        /// Queue length.
        queue: usize,
    },
    /// The threads stopped.
    Engine(String),
}

impl std::fmt::Display for JsonPathError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Timeout(limit) => write!(f, "evaluation stopped after {limit:?} (FNMESH_EVAL_TIMEOUT)"),
            Self::TooLarge(limit) => {
                write!(f, "the results take more than the memory limit of {limit} bytes (FNMESH_EVAL_MEMORY)")
            }
            Self::TooDeep => write!(f, "the evaluation nests deeper than {} levels", eval::MAX_DEPTH),
            Self::Busy { workers, queue } => {
                write!(f, "all {workers} JSONPath threads are busy and {queue} evaluations are waiting")
            }
            Self::Engine(message) => write!(f, "JSONPath engine: {message}"),
        }
    }
}

impl std::error::Error for JsonPathError {}

/// The HTTP error for a failed evaluation of the expression in variable `var`:
///
/// * the time limit, or every thread busy: `503` (load may be the cause; retried);
/// * the memory limit, or nesting too deep: `422` (the same event fails the same way);
/// * the threads stopped: `500`.
pub fn jsonpath_error(var: &str, error: JsonPathError) -> Error {
    let message = format!("{var}: {error}");
    match error {
        JsonPathError::Timeout(_) | JsonPathError::Busy { .. } => Error::Unavailable(message),
        JsonPathError::TooLarge(_) | JsonPathError::TooDeep => Error::Unprocessable(message),
        JsonPathError::Engine(_) => Error::Internal(message),
    }
}

/// A compiled JSONPath query.
#[derive(Debug, Clone)]
pub struct Query {
    text: String,
    path: Path,
    /// The members of the event view it can read (`None`: any).
    reads: Option<Vec<String>>,
}

impl Query {
    /// Compiles `text`; the error says what is wrong and where.
    pub fn parse(text: &str) -> Result<Self, String> {
        let invalid = |e: &dyn std::fmt::Display| format!("invalid JSONPath {text:?}: {e}");
        let query = parse_json_path(text).map_err(|e| invalid(&e))?;
        let path = eval::compile(&query).map_err(|e| invalid(&e))?;
        Ok(Self { text: text.to_owned(), reads: path.root_reads(), path })
    }

    /// Copies of the nodes `value` has at this path. No time or memory limit: for
    /// trusted documents and tests; functions use [`Bounded`]. Empty past the nesting
    /// limit.
    pub fn select(&self, value: &Value) -> Vec<Value> {
        let doc = Json::from_value(value);
        let nodes = Eval::new(&doc, Budget::unlimited()).select(&self.path).unwrap_or_default();
        nodes.into_iter().map(Json::to_value).collect()
    }

    /// Whether the query selects at least one node (no limits, as [`Self::select`]).
    pub fn matches(&self, value: &Value) -> bool {
        Eval::new(&Json::from_value(value), Budget::unlimited()).exists(&self.path).unwrap_or(false)
    }

    /// The query's text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The part of the event's view the query can read.
    fn doc<'s>(&self, incoming: &'s IncomingEvent) -> Json<'s> {
        event_doc(incoming, self.reads.as_deref())
    }
}

/// A compiled template, and the members of the event view its queries can read
/// (`None`: any).
#[derive(Debug, Clone)]
pub struct Template(Node, Option<Vec<String>>);

#[derive(Debug, Clone)]
enum Node {
    Literal(Json<'static>),
    Query(Query),
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
}

impl Template {
    /// Compiles a template given as JSON text; errors name the JSON problem or the
    /// query and where it is in the template (`/a/0`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let value: Value = serde_json::from_str(text).map_err(|e| format!("the template is not JSON: {e}"))?;
        let node = compile(value, "")?;
        let mut reads = Some(Vec::new());
        node.reads(&mut reads);
        Ok(Self(node, reads))
    }

    /// The part of the event's view the template's queries can read.
    fn doc<'s>(&self, incoming: &'s IncomingEvent) -> Json<'s> {
        event_doc(incoming, self.1.as_deref())
    }

    /// The template filled from `view` (no limits, as [`Query::select`]).
    pub fn render(&self, view: &Value) -> Value {
        render(&self.0, &mut Eval::new(&Json::from_value(view), Budget::unlimited())).unwrap_or(Value::Null)
    }
}

/// A compiled query or template, and the threads that evaluate it under [`Limits`].
#[derive(Debug)]
pub struct Bounded<T> {
    program: Arc<T>,
    limits: Limits,
    pool: pool::Pool,
}

impl<T> Bounded<T> {
    /// Starts `limits.workers` threads for `program`.
    pub fn start(program: T, limits: Limits) -> Result<Self, String> {
        if limits.workers == 0 {
            return Err("at least one JSONPath thread is needed".into());
        }
        let pool = pool::Pool::start(limits.workers, limits.queue)?;
        Ok(Self { program: Arc::new(program), limits, pool })
    }

    /// What is evaluated.
    pub fn program(&self) -> &T {
        &self.program
    }

    /// Whether `incoming` is evaluated on the calling thread: its data is small enough.
    fn inline(&self, incoming: &IncomingEvent) -> bool {
        let bytes = incoming.wire_data.as_ref().map_or(0, |data| data.len());
        self.limits.inline_bytes > 0 && bytes <= self.limits.inline_bytes
    }

    /// Runs `job` here, over `doc`, within the limits; the deadline starts now.
    fn evaluate_here<R>(
        &self,
        doc: &Json<'_>,
        job: impl FnOnce(&T, &mut Eval<'_>) -> Result<R, Stop>,
    ) -> Result<R, JsonPathError> {
        let budget = Budget::new(Instant::now() + self.limits.timeout, self.limits.memory_bytes);
        job(&self.program, &mut Eval::new(doc, budget)).map_err(|stop| stopped(stop, &self.limits))
    }

    /// Runs `job` on a pool thread over the document `doc` makes of `source` there:
    /// parsing a large event's data (up to `FNMESH_BODY_LIMIT`) is work for the pool too,
    /// not for the request threads. The deadline starts once the document is made.
    async fn evaluate<S: Send + 'static, R: Send + 'static>(
        &self,
        source: S,
        doc: for<'s> fn(&T, &'s S) -> Json<'s>,
        job: impl FnOnce(&T, &mut Eval<'_>) -> Result<R, Stop> + Send + 'static,
    ) -> Result<R, JsonPathError>
    where
        T: Send + Sync + 'static,
    {
        let (program, limits) = (self.program.clone(), self.limits);
        let outcome = self
            .pool
            .run(move || {
                let doc = doc(&program, &source);
                let budget = Budget::new(Instant::now() + limits.timeout, limits.memory_bytes);
                job(&program, &mut Eval::new(&doc, budget))
            })
            .await?;
        outcome.map_err(|stop| stopped(stop, &limits))
    }
}

/// The error for an evaluation that stopped.
fn stopped(stop: Stop, limits: &Limits) -> JsonPathError {
    match stop {
        Stop::Timeout => JsonPathError::Timeout(limits.timeout),
        Stop::TooLarge => JsonPathError::TooLarge(limits.memory_bytes),
        Stop::TooDeep => JsonPathError::TooDeep,
    }
}

impl Bounded<Query> {
    /// Whether the query selects at least one node of `view` (on a thread of the pool).
    pub async fn matches(&self, view: Value) -> Result<bool, JsonPathError> {
        self.evaluate(view, value_doc, |query, eval| eval.exists(&query.path)).await
    }

    /// Whether the query selects at least one node of the event's [`event_view`]: here
    /// when its data is small, else on a thread of the pool.
    pub async fn matches_event(&self, incoming: &IncomingEvent) -> Result<bool, JsonPathError> {
        if self.inline(incoming) {
            return self.evaluate_here(&self.program.doc(incoming), |query, eval| eval.exists(&query.path));
        }
        self.evaluate(incoming.clone(), Query::doc, |query, eval| eval.exists(&query.path)).await
    }
}

impl Bounded<Template> {
    /// The template filled from `view` (on a thread of the pool).
    pub async fn render(&self, view: Value) -> Result<Value, JsonPathError> {
        self.evaluate(view, value_doc, |template, eval| render(&template.0, eval)).await
    }

    /// The template filled from the event's [`event_view`]: here when its data is small,
    /// else on a thread of the pool.
    pub async fn render_event(&self, incoming: &IncomingEvent) -> Result<Value, JsonPathError> {
        if self.inline(incoming) {
            return self.evaluate_here(&self.program.doc(incoming), |template, eval| render(&template.0, eval));
        }
        self.evaluate(incoming.clone(), Template::doc, |template, eval| render(&template.0, eval)).await
    }
}

/// `value` as the document of any program.
fn value_doc<'s, T>(_: &T, value: &'s Value) -> Json<'s> {
    Json::from_value(value)
}

impl Node {
    /// Adds the members of the view the template's queries can read to `reads`; `None`
    /// once one can read any.
    fn reads(&self, reads: &mut Option<Vec<String>>) {
        match self {
            Node::Literal(_) => {}
            Node::Query(query) => match (reads.as_mut(), &query.reads) {
                (Some(names), Some(more)) => {
                    for name in more {
                        if !names.contains(name) {
                            names.push(name.clone());
                        }
                    }
                }
                _ => *reads = None,
            },
            Node::Array(items) => items.iter().for_each(|item| item.reads(reads)),
            Node::Object(members) => members.iter().for_each(|(_, item)| item.reads(reads)),
        }
    }
}

fn compile(value: Value, at: &str) -> Result<Node, String> {
    Ok(match value {
        Value::String(text) if text.starts_with("$$") => Node::Literal(Json::String(text[1..].to_owned().into())),
        Value::String(text) if text.starts_with('$') => {
            Node::Query(Query::parse(&text).map_err(|e| format!("at {}: {e}", if at.is_empty() { "/" } else { at }))?)
        }
        Value::Array(items) => Node::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| compile(item, &format!("{at}/{i}")))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(members) => Node::Object(
            members
                .into_iter()
                .map(|(key, item)| {
                    let node = compile(item, &format!("{at}/{}", key.replace('~', "~0").replace('/', "~1")))?;
                    Ok((key, node))
                })
                .collect::<Result<_, String>>()?,
        ),
        other => Node::Literal(Json::owned(other)),
    })
}

fn render(node: &Node, eval: &mut Eval<'_>) -> Result<Value, Stop> {
    Ok(match node {
        Node::Literal(value) => eval.copy(value)?,
        Node::Query(query) => match eval.select(&query.path)?.as_slice() {
            [] => Value::Null,
            [one] => eval.copy(one)?,
            many => Value::Array(many.iter().map(|node| eval.copy(node)).collect::<Result<_, _>>()?),
        },
        Node::Array(items) => Value::Array(items.iter().map(|item| render(item, eval)).collect::<Result<_, _>>()?),
        Node::Object(members) => Value::Object(
            members
                .iter()
                .map(|(key, item)| Ok((key.clone(), render(item, eval)?)))
                .collect::<Result<Map<_, _>, _>>()?,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn view() -> Value {
        json!({"id": "1", "type": "order.created", "data": {"message": "hi", "items": [{"id": 1}, {"id": 2}], "n": 5}})
    }

    #[test]
    fn queries_match_when_they_select_something() {
        assert!(Query::parse("$.data.items[?@.id == 2]").unwrap().matches(&view()));
        assert!(!Query::parse("$.data.items[?@.id == 3]").unwrap().matches(&view()));
        assert!(Query::parse("$[?@.type == 'order.created']").unwrap().matches(&json!([view()])));
        assert!(!Query::parse("$.nothing").unwrap().matches(&view()));
        let err = Query::parse("$.data[").unwrap_err();
        assert!(err.starts_with("invalid JSONPath \"$.data[\": "), "{err}");
    }

    #[test]
    fn templates_fill_one_none_and_many() {
        let template = Template::parse(
            r#"{"greeting": "$.data.message", "kind": "$.type", "ids": "$.data.items[*].id", "none": "$.missing",
                "cost": "$$5", "fixed": [1, true, "text"], "nested": {"n": "$.data.n"}}"#,
        )
        .unwrap();
        assert_eq!(
            template.render(&view()),
            json!({"greeting": "hi", "kind": "order.created", "ids": [1, 2], "none": null, "cost": "$5",
                   "fixed": [1, true, "text"], "nested": {"n": 5}})
        );
        assert_eq!(Template::parse(r#""$.data.n""#).unwrap().render(&view()), json!(5));
    }

    /// 100 levels, each with 4 000 numbers and the next: `..` queries are quadratic on it.
    fn comb() -> Value {
        (0..100).fold(json!([]), |next, _| {
            let mut level = Map::new();
            level.insert("v".into(), Value::Array(vec![json!(0); 4000]));
            level.insert("n".into(), next);
            Value::Object(level)
        })
    }

    fn limits(timeout: Duration, memory_bytes: usize) -> Limits {
        Limits { timeout, memory_bytes, workers: 1, queue: 8, inline_bytes: DEFAULT_INLINE_BYTES }
    }

    #[tokio::test]
    async fn bounded_evaluations_answer_or_say_which_limit_stopped_them() {
        let query = |text: &str, limits| Bounded::start(Query::parse(text).unwrap(), limits).unwrap();
        let quadratic = query("$..[?count(@..*) > 1000000]", limits(Duration::from_millis(20), usize::MAX));
        assert_eq!(quadratic.matches(comb()).await, Err(JsonPathError::Timeout(Duration::from_millis(20))));
        // Fewer steps than between two looks at the clock: no timeout, however slow the machine.
        assert_eq!(quadratic.matches(json!([])).await, Ok(false), "the thread is free again");
        let everything = query("$..*", limits(Duration::from_secs(60), 0));
        assert_eq!(everything.matches(comb()).await, Ok(true), "a filter keeps nothing");

        let template = |text: &str, limits| Bounded::start(Template::parse(text).unwrap(), limits).unwrap();
        let copies = template(r#"{"all": "$..*"}"#, limits(Duration::from_secs(60), 1 << 20));
        assert_eq!(copies.render(comb()).await, Err(JsonPathError::TooLarge(1 << 20)));
        assert_eq!(copies.render(json!({"a": [1]})).await, Ok(json!({"all": [[1], 1]})));
    }

    #[test]
    fn failures_answer_503_when_retrying_may_help_and_422_when_not() {
        let status = |error| jsonpath_error("FILTER_JSONPATH", error).status().as_u16();
        assert_eq!(status(JsonPathError::Timeout(Duration::from_millis(100))), 503);
        assert_eq!(status(JsonPathError::Busy { workers: 2, queue: 4096 }), 503);
        assert_eq!(status(JsonPathError::TooLarge(1024)), 422);
        assert_eq!(status(JsonPathError::TooDeep), 422);
        assert_eq!(status(JsonPathError::Engine("stopped".into())), 500);
        let message = jsonpath_error("FILTER_JSONPATH", JsonPathError::Timeout(Duration::from_millis(100)));
        assert_eq!(message.to_string(), "FILTER_JSONPATH: evaluation stopped after 100ms (FNMESH_EVAL_TIMEOUT)");
    }

    #[test]
    fn template_errors_say_where() {
        let err = Template::parse(r#"{"a": [1, "$.x["]}"#).unwrap_err();
        assert!(err.starts_with("at /a/1: invalid JSONPath"), "{err}");
        assert!(Template::parse("{").unwrap_err().starts_with("the template is not JSON"));
    }
}
