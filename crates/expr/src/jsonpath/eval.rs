//! RFC 9535 evaluation that keeps its own time and memory in check.
//!
//! jsonpath-rust parses; this module compiles its syntax tree into [`Path`], checking
//! what the parser lets through (function types, unknown functions), and evaluates it.
//! The evaluation builds no node lists: each segment hands every node it selects straight
//! to the next one, depth first (the order RFC 9535 gives, as the list-by-list reading
//! does), and the last one hands it to a sink. A filter's existence test stops at the
//! first node, `count()` counts, `value()` stops at the second. So the memory an
//! evaluation takes is its stack (bounded by [`MAX_DEPTH`]), the caches of its patterns
//! and what the sink keeps, which the [`Budget`] charges; its time is charged by ticks,
//! and every [`CLOCK_EVERY`] ticks the clock is read against the deadline (see
//! [`super::pattern`] for `match()` and `search()`).

use std::cmp::Ordering;
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::time::Instant;

use jsonpath_rust::parser::model as ast;
use regex_automata::hybrid::dfa::Cache;
use serde_json::{Number, Value};

use super::doc::Json;

use super::pattern::{CACHE_BYTES, Pattern};

mod reads;

/// Nesting of evaluation (descendants, segments, filters, queries inside filters) past
/// which the evaluation stops: it keeps the stack well inside a thread's.
pub(crate) const MAX_DEPTH: usize = 1000;

/// Ticks between two looks at the clock.
const CLOCK_EVERY: u32 = 256;

/// A compiled query.
#[derive(Debug, Clone)]
pub(crate) struct Path {
    /// From the root (`$`) or from the current node (`@`).
    root: bool,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone)]
enum Segment {
    Child(Vec<Selector>),
    Descendant(Vec<Selector>),
}

#[derive(Debug, Clone)]
enum Selector {
    Name(String),
    Wildcard,
    Index(i64),
    Slice { start: Option<i64>, end: Option<i64>, step: i64 },
    Filter(Logical),
}

#[derive(Debug, Clone)]
enum Logical {
    Or(Vec<Logical>),
    And(Vec<Logical>),
    Not(Box<Logical>),
    Exists(Path),
    Compare(Op, Operand, Operand),
    Regex { text: Operand, pattern: RegexArg, whole: bool },
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A value-typed expression (RFC 9535's ValueType).
#[derive(Debug, Clone)]
enum Operand {
    Literal(Json<'static>),
    /// A singular query: its node, or nothing.
    Singular(Path),
    Length(Box<Operand>),
    Count(Path),
    Value(Path),
}

#[derive(Debug, Clone)]
enum RegexArg {
    /// A literal pattern, compiled once (`None`: not a valid pattern).
    Fixed(Option<Pattern>),
    /// A pattern read from the document.
    Read(Box<Operand>),
}

// ---------------------------------------------------------------------------------------
// Compiling

/// Compiles a parsed query; errors say what RFC 9535 does not allow.
pub(crate) fn compile(query: &ast::JpQuery) -> Result<Path, String> {
    Ok(Path { root: true, segments: segments(&query.segments)? })
}

fn segments(segments: &[ast::Segment]) -> Result<Vec<Segment>, String> {
    segments
        .iter()
        .map(|segment| match segment {
            ast::Segment::Descendant(inner) => Ok(Segment::Descendant(selectors(inner)?)),
            other => Ok(Segment::Child(selectors(other)?)),
        })
        .collect()
}

fn selectors(segment: &ast::Segment) -> Result<Vec<Selector>, String> {
    match segment {
        ast::Segment::Selector(one) => Ok(vec![selector(one)?]),
        ast::Segment::Selectors(many) => many.iter().map(selector).collect(),
        ast::Segment::Descendant(_) => Err("a descendant segment cannot hold another".into()),
    }
}

fn selector(selector: &ast::Selector) -> Result<Selector, String> {
    Ok(match selector {
        ast::Selector::Name(name) => Selector::Name(name.clone()),
        ast::Selector::Wildcard => Selector::Wildcard,
        ast::Selector::Index(index) => Selector::Index(*index),
        ast::Selector::Slice(start, end, step) => Selector::Slice { start: *start, end: *end, step: step.unwrap_or(1) },
        ast::Selector::Filter(filter) => Selector::Filter(logical(filter)?),
    })
}

fn logical(filter: &ast::Filter) -> Result<Logical, String> {
    Ok(match filter {
        ast::Filter::Or(any) => Logical::Or(any.iter().map(logical).collect::<Result<_, _>>()?),
        ast::Filter::And(all) => Logical::And(all.iter().map(logical).collect::<Result<_, _>>()?),
        ast::Filter::Atom(ast::FilterAtom::Filter { expr, not }) => negated(logical(expr)?, *not),
        ast::Filter::Atom(ast::FilterAtom::Test { expr, not }) => negated(test(expr)?, *not),
        ast::Filter::Atom(ast::FilterAtom::Comparison(comparison)) => {
            let op = match **comparison {
                ast::Comparison::Eq(..) => Op::Eq,
                ast::Comparison::Ne(..) => Op::Ne,
                ast::Comparison::Lt(..) => Op::Lt,
                ast::Comparison::Lte(..) => Op::Le,
                ast::Comparison::Gt(..) => Op::Gt,
                ast::Comparison::Gte(..) => Op::Ge,
            };
            let (left, right) = comparison.vals();
            Logical::Compare(op, comparable(left)?, comparable(right)?)
        }
    })
}

fn negated(logical: Logical, not: bool) -> Logical {
    if not { Logical::Not(Box::new(logical)) } else { logical }
}

fn test(test: &ast::Test) -> Result<Logical, String> {
    match test {
        ast::Test::RelQuery(segs) => Ok(Logical::Exists(Path { root: false, segments: segments(segs)? })),
        ast::Test::AbsQuery(query) => Ok(Logical::Exists(compile(query)?)),
        ast::Test::Function(function) => match &**function {
            ast::TestFunction::Match(text, pattern) => regex_test(text, pattern, true),
            ast::TestFunction::Search(text, pattern) => regex_test(text, pattern, false),
            ast::TestFunction::Custom(name, _) => Err(unknown(name)),
            value => Err(format!("{value} is a value, not true or false: compare it (`{value} > 0`)")),
        },
    }
}

fn regex_test(text: &ast::FnArg, pattern: &ast::FnArg, whole: bool) -> Result<Logical, String> {
    let pattern = match value_arg(pattern)? {
        Operand::Literal(Json::String(pattern)) => RegexArg::Fixed(Pattern::new(&pattern, whole)),
        Operand::Literal(_) => RegexArg::Fixed(None),
        read => RegexArg::Read(Box::new(read)),
    };
    Ok(Logical::Regex { text: value_arg(text)?, pattern, whole })
}

fn comparable(comparable: &ast::Comparable) -> Result<Operand, String> {
    match comparable {
        ast::Comparable::Literal(literal) => Ok(Operand::Literal(literal_value(literal))),
        ast::Comparable::SingularQuery(query) => Ok(Operand::Singular(singular(query))),
        ast::Comparable::Function(function) => value_function(function),
    }
}

fn value_function(function: &ast::TestFunction) -> Result<Operand, String> {
    match function {
        ast::TestFunction::Length(arg) => Ok(Operand::Length(Box::new(value_arg(arg)?))),
        ast::TestFunction::Count(arg) => Ok(Operand::Count(nodes_arg(arg, "count")?)),
        ast::TestFunction::Value(arg) => Ok(Operand::Value(nodes_arg(arg, "value")?)),
        ast::TestFunction::Custom(name, _) => Err(unknown(name)),
        logical => Err(format!("{logical} is true or false, not a value: it cannot be compared or passed on")),
    }
}

/// An argument where RFC 9535 wants a ValueType.
fn value_arg(arg: &ast::FnArg) -> Result<Operand, String> {
    match arg {
        ast::FnArg::Literal(literal) => Ok(Operand::Literal(literal_value(literal))),
        ast::FnArg::Test(test) => match &**test {
            ast::Test::Function(function) => value_function(function),
            query => {
                let path = query_path(query)?;
                if path.is_singular() {
                    Ok(Operand::Singular(path))
                } else {
                    Err(format!("{query} may select several nodes: a value needs a singular query (names and indexes)"))
                }
            }
        },
        ast::FnArg::Filter(filter) => Err(format!("{filter} is true or false, not a value")),
    }
}

/// An argument where RFC 9535 wants a NodesType.
fn nodes_arg(arg: &ast::FnArg, function: &str) -> Result<Path, String> {
    match arg {
        ast::FnArg::Test(test) if !matches!(**test, ast::Test::Function(_)) => query_path(test),
        other => Err(format!("{function}() takes a query, not {other}")),
    }
}

fn query_path(test: &ast::Test) -> Result<Path, String> {
    match test {
        ast::Test::RelQuery(segs) => Ok(Path { root: false, segments: segments(segs)? }),
        ast::Test::AbsQuery(query) => compile(query),
        ast::Test::Function(function) => Err(format!("{function} is not a query")),
    }
}

fn singular(query: &ast::SingularQuery) -> Path {
    let (root, segs) = match query {
        ast::SingularQuery::Current(segs) => (false, segs),
        ast::SingularQuery::Root(segs) => (true, segs),
    };
    let segments = segs
        .iter()
        .map(|segment| {
            Segment::Child(vec![match segment {
                ast::SingularQuerySegment::Name(name) => Selector::Name(name.clone()),
                ast::SingularQuerySegment::Index(index) => Selector::Index(*index),
            }])
        })
        .collect();
    Path { root, segments }
}

fn literal_value(literal: &ast::Literal) -> Json<'static> {
    match literal {
        ast::Literal::Int(n) => Json::Number(Number::from(*n)),
        ast::Literal::Float(f) => Number::from_f64(*f).map_or(Json::Null, Json::Number),
        ast::Literal::String(s) => Json::String(s.clone().into()),
        ast::Literal::Bool(b) => Json::Bool(*b),
        ast::Literal::Null => Json::Null,
    }
}

fn unknown(name: &str) -> String {
    format!("unknown function `{name}`: RFC 9535 has length, count, match, search and value")
}

impl Path {
    fn is_singular(&self) -> bool {
        self.segments.iter().all(|segment| {
            matches!(segment, Segment::Child(selectors)
                if matches!(selectors.as_slice(), [Selector::Name(_) | Selector::Index(_)]))
        })
    }
}

// ---------------------------------------------------------------------------------------
// Evaluating

/// Why an evaluation stopped before its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// Past the deadline.
    Timeout,
    /// What it keeps would pass the byte budget.
    TooLarge,
    /// Nested deeper than [`MAX_DEPTH`].
    TooDeep,
}

/// What an evaluation may still spend.
#[derive(Debug)]
pub(crate) struct Budget {
    deadline: Option<Instant>,
    bytes_left: usize,
    ticks: u32,
}

impl Budget {
    /// Until `deadline`, keeping at most `bytes`.
    pub(crate) fn new(deadline: Instant, bytes: usize) -> Self {
        Self { deadline: Some(deadline), bytes_left: bytes, ticks: 0 }
    }

    /// No deadline and no byte limit (only [`MAX_DEPTH`]).
    pub(crate) fn unlimited() -> Self {
        Self { deadline: None, bytes_left: usize::MAX, ticks: 0 }
    }

    fn tick(&mut self) -> Result<(), Stop> {
        self.ticks = self.ticks.wrapping_add(1);
        if self.ticks.is_multiple_of(CLOCK_EVERY) {
            self.check_clock()?;
        }
        Ok(())
    }

    pub(crate) fn check_clock(&self) -> Result<(), Stop> {
        match self.deadline {
            Some(deadline) if Instant::now() >= deadline => Err(Stop::Timeout),
            _ => Ok(()),
        }
    }

    pub(crate) fn spend(&mut self, bytes: usize) -> Result<(), Stop> {
        self.bytes_left = self.bytes_left.checked_sub(bytes).ok_or(Stop::TooLarge)?;
        Ok(())
    }

    fn refund(&mut self, bytes: usize) {
        self.bytes_left = self.bytes_left.saturating_add(bytes);
    }
}

/// One evaluation over one document.
pub(crate) struct Eval<'a> {
    root: &'a Json<'a>,
    budget: Budget,
    depth: usize,
    /// The caches of the query's literal patterns, by the pattern's address.
    caches: HashMap<usize, Cache>,
    /// The last pattern read from the document (`search(@.a, @.b)` on many nodes).
    last_read: Option<ReadPattern>,
}

/// A pattern read from the document, compiled (`None`: not a valid pattern) with its cache.
struct ReadPattern {
    text: String,
    whole: bool,
    compiled: Option<(Pattern, Cache)>,
}

type Step = Result<ControlFlow<()>, Stop>;
type Sink<'s, 'a> = &'s mut dyn FnMut(&mut Eval<'a>, &'a Json<'a>) -> Step;

const GO_ON: Step = Ok(ControlFlow::Continue(()));

/// `?` for [`Step`]s: returns early on a stop or a break.
macro_rules! forward {
    ($step:expr) => {
        if $step?.is_break() {
            return Ok(ControlFlow::Break(()));
        }
    };
}

impl<'a> Eval<'a> {
    pub(crate) fn new(root: &'a Json<'a>, budget: Budget) -> Self {
        Self { root, budget, depth: 0, caches: HashMap::new(), last_read: None }
    }

    /// Every node `path` selects, in order, each charged to the budget as a reference.
    pub(crate) fn select(&mut self, path: &Path) -> Result<Vec<&'a Json<'a>>, Stop> {
        let mut nodes = Vec::new();
        let _: ControlFlow<()> = self.run(path, self.root, &mut |eval, node| {
            eval.budget.spend(size_of::<&Json<'_>>())?;
            nodes.push(node);
            GO_ON
        })?;
        Ok(nodes)
    }

    /// Whether `path` selects anything: stops at the first node.
    pub(crate) fn exists(&mut self, path: &Path) -> Result<bool, Stop> {
        self.exists_from(path, self.root)
    }

    /// `value` as a `serde_json::Value`, charged to the budget first (an estimate of its
    /// heap).
    pub(crate) fn copy(&mut self, value: &Json<'_>) -> Result<Value, Stop> {
        self.charge_copy(value)?;
        Ok(value.to_value())
    }

    fn charge_copy(&mut self, value: &Json<'_>) -> Result<(), Stop> {
        self.budget.tick()?;
        self.budget.spend(size_of::<Value>())?;
        match value {
            Json::String(s) => self.budget.spend(s.len()),
            Json::Array(items) => items.iter().try_for_each(|item| self.charge_copy(item)),
            Json::Object(members) => members.iter().try_for_each(|(key, item)| {
                self.budget.spend(key.len() + size_of::<String>() + 2 * size_of::<usize>())?;
                self.charge_copy(item)
            }),
            _ => Ok(()),
        }
    }

    fn exists_from(&mut self, path: &Path, current: &'a Json<'a>) -> Result<bool, Stop> {
        let start = if path.root { self.root } else { current };
        Ok(self.run(path, start, &mut |_, _| Ok(ControlFlow::Break(())))?.is_break())
    }

    fn run(&mut self, path: &Path, start: &'a Json<'a>, sink: Sink<'_, 'a>) -> Step {
        self.enter()?;
        let step = self.segments(&path.segments, start, sink);
        self.depth -= 1;
        step
    }

    fn enter(&mut self) -> Result<(), Stop> {
        self.budget.tick()?;
        if self.depth >= MAX_DEPTH {
            return Err(Stop::TooDeep);
        }
        self.depth += 1;
        Ok(())
    }

    /// Hands each node `segments` select from `node` to `sink`, depth first.
    fn segments(&mut self, segments: &[Segment], node: &'a Json<'a>, sink: Sink<'_, 'a>) -> Step {
        let Some((first, rest)) = segments.split_first() else { return sink(self, node) };
        match first {
            Segment::Child(selectors) => {
                self.children(selectors, node, &mut |eval, child| eval.segments_nested(rest, child, sink))
            }
            Segment::Descendant(selectors) => self.descendants(node, &mut |eval, descendant| {
                eval.children(selectors, descendant, &mut |eval, child| eval.segments_nested(rest, child, sink))
            }),
        }
    }

    fn segments_nested(&mut self, segments: &[Segment], node: &'a Json<'a>, sink: Sink<'_, 'a>) -> Step {
        self.enter()?;
        let step = self.segments(segments, node, sink);
        self.depth -= 1;
        step
    }

    /// `node` and every node under it, parents before children, in document order.
    fn descendants(&mut self, node: &'a Json<'a>, sink: Sink<'_, 'a>) -> Step {
        self.enter()?;
        let step = self.descendants_inner(node, sink);
        self.depth -= 1;
        step
    }

    fn descendants_inner(&mut self, node: &'a Json<'a>, sink: Sink<'_, 'a>) -> Step {
        forward!(sink(self, node));
        match node {
            Json::Array(items) => {
                for item in items {
                    forward!(self.descendants(item, sink));
                }
            }
            Json::Object(members) => {
                for item in members.values() {
                    forward!(self.descendants(item, sink));
                }
            }
            _ => {}
        }
        GO_ON
    }

    /// What `selectors` select among the children of `node`, selector after selector.
    fn children(&mut self, selectors: &[Selector], node: &'a Json<'a>, sink: Sink<'_, 'a>) -> Step {
        for selector in selectors {
            self.budget.tick()?;
            match (selector, node) {
                (Selector::Name(name), Json::Object(members)) => {
                    if let Some(child) = members.get(name) {
                        forward!(sink(self, child));
                    }
                }
                (Selector::Wildcard, Json::Array(items)) => {
                    for item in items {
                        self.budget.tick()?;
                        forward!(sink(self, item));
                    }
                }
                (Selector::Wildcard, Json::Object(members)) => {
                    for item in members.values() {
                        self.budget.tick()?;
                        forward!(sink(self, item));
                    }
                }
                (Selector::Index(index), Json::Array(items)) => {
                    if let Some(item) = normalize(*index, items.len()).and_then(|i| items.get(i)) {
                        forward!(sink(self, item));
                    }
                }
                (Selector::Slice { start, end, step }, Json::Array(items)) => {
                    for i in slice(*start, *end, *step, items.len()) {
                        self.budget.tick()?;
                        forward!(sink(self, &items[i]));
                    }
                }
                (Selector::Filter(filter), Json::Array(items)) => {
                    for item in items {
                        if self.holds(filter, item)? {
                            forward!(sink(self, item));
                        }
                    }
                }
                (Selector::Filter(filter), Json::Object(members)) => {
                    for item in members.values() {
                        if self.holds(filter, item)? {
                            forward!(sink(self, item));
                        }
                    }
                }
                _ => {}
            }
        }
        GO_ON
    }

    /// Whether `filter` holds with `current` as `@`.
    fn holds(&mut self, filter: &Logical, current: &'a Json<'a>) -> Result<bool, Stop> {
        self.enter()?;
        let holds = self.holds_inner(filter, current);
        self.depth -= 1;
        holds
    }

    fn holds_inner(&mut self, filter: &Logical, current: &'a Json<'a>) -> Result<bool, Stop> {
        match filter {
            Logical::Or(any) => {
                for filter in any {
                    if self.holds(filter, current)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Logical::And(all) => {
                for filter in all {
                    if !self.holds(filter, current)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Logical::Not(filter) => Ok(!self.holds(filter, current)?),
            Logical::Exists(path) => self.exists_from(path, current),
            Logical::Compare(op, left, right) => {
                let left = self.operand(left, current)?;
                let right = self.operand(right, current)?;
                self.compare(*op, left, right)
            }
            Logical::Regex { text, pattern, whole } => {
                let Found::Node(Json::String(text)) = self.operand(text, current)? else { return Ok(false) };
                match pattern {
                    RegexArg::Fixed(None) => Ok(false),
                    RegexArg::Fixed(Some(pattern)) => {
                        let key = pattern.id();
                        let mut cache = match self.caches.remove(&key) {
                            Some(cache) => cache,
                            None => pattern.cache(&mut self.budget)?,
                        };
                        let matched = pattern.is_match(&mut cache, text, &mut self.budget);
                        self.caches.insert(key, cache);
                        matched
                    }
                    RegexArg::Read(pattern) => {
                        let Found::Node(Json::String(pattern)) = self.operand(pattern, current)? else {
                            return Ok(false);
                        };
                        self.match_read(pattern, *whole, text)
                    }
                }
            }
        }
    }

    /// Matches `text` against a pattern read from the document, compiling it unless it is
    /// the one read last.
    fn match_read(&mut self, pattern: &str, whole: bool, text: &str) -> Result<bool, Stop> {
        let cached = matches!(&self.last_read, Some(read) if read.text == pattern && read.whole == whole);
        if !cached {
            if let Some(ReadPattern { compiled: Some(_), .. }) = self.last_read.take() {
                self.budget.refund(CACHE_BYTES);
            }
            let compiled = match Pattern::new(pattern, whole) {
                Some(compiled) => {
                    let cache = compiled.cache(&mut self.budget)?;
                    Some((compiled, cache))
                }
                None => None,
            };
            self.last_read = Some(ReadPattern { text: pattern.to_owned(), whole, compiled });
        }
        match &mut self.last_read {
            Some(ReadPattern { compiled: Some((compiled, cache)), .. }) => {
                compiled.is_match(cache, text, &mut self.budget)
            }
            _ => Ok(false),
        }
    }

    fn operand<'o>(&mut self, operand: &'o Operand, current: &'a Json<'a>) -> Result<Found<'o>, Stop>
    where
        'a: 'o,
    {
        self.budget.tick()?;
        Ok(match operand {
            Operand::Literal(value) => Found::Node(value),
            Operand::Singular(path) => {
                let mut node = Some(if path.root { self.root } else { current });
                for segment in &path.segments {
                    node = match (segment, node) {
                        (Segment::Child(selectors), Some(parent)) => match (selectors.as_slice(), parent) {
                            ([Selector::Name(name)], Json::Object(members)) => members.get(name),
                            ([Selector::Index(index)], Json::Array(items)) => {
                                normalize(*index, items.len()).and_then(|i| items.get(i))
                            }
                            _ => None,
                        },
                        _ => None,
                    };
                }
                node.map_or(Found::Nothing, Found::Node)
            }
            Operand::Length(of) => match self.operand(of, current)? {
                Found::Node(Json::String(s)) => Found::Count(s.chars().count()),
                Found::Node(Json::Array(items)) => Found::Count(items.len()),
                Found::Node(Json::Object(members)) => Found::Count(members.len()),
                _ => Found::Nothing,
            },
            Operand::Count(path) => {
                let start = if path.root { self.root } else { current };
                let mut count = 0;
                let _: ControlFlow<()> = self.run(path, start, &mut |_, _| {
                    count += 1;
                    GO_ON
                })?;
                Found::Count(count)
            }
            Operand::Value(path) => {
                let start = if path.root { self.root } else { current };
                let mut first = None;
                let mut several = false;
                let _: ControlFlow<()> = self.run(path, start, &mut |_, node| {
                    if first.is_some() {
                        several = true;
                        return Ok(ControlFlow::Break(()));
                    }
                    first = Some(node);
                    GO_ON
                })?;
                match first {
                    Some(node) if !several => Found::Node(node),
                    _ => Found::Nothing,
                }
            }
        })
    }

    fn compare(&mut self, op: Op, left: Found<'_>, right: Found<'_>) -> Result<bool, Stop> {
        Ok(match op {
            Op::Eq => self.equal(left, right)?,
            Op::Ne => !self.equal(left, right)?,
            Op::Lt => less(left, right),
            Op::Gt => less(right, left),
            Op::Le => less(left, right) || self.equal(left, right)?,
            Op::Ge => less(right, left) || self.equal(left, right)?,
        })
    }

    fn equal(&mut self, left: Found<'_>, right: Found<'_>) -> Result<bool, Stop> {
        match (left, right) {
            (Found::Nothing, Found::Nothing) => Ok(true),
            (Found::Node(a), Found::Node(b)) => self.deep_equal(a, b),
            (a, b) => Ok(match (a.number(), b.number()) {
                (Some(a), Some(b)) => a.cmp(&b) == Some(Ordering::Equal),
                _ => false,
            }),
        }
    }

    fn deep_equal(&mut self, a: &Json<'_>, b: &Json<'_>) -> Result<bool, Stop> {
        self.budget.tick()?;
        Ok(match (a, b) {
            (Json::Number(a), Json::Number(b)) => Num::of(a).cmp(&Num::of(b)) == Some(Ordering::Equal),
            (Json::Array(a), Json::Array(b)) => {
                if a.len() != b.len() {
                    return Ok(false);
                }
                for (a, b) in a.iter().zip(b) {
                    if !self.deep_equal(a, b)? {
                        return Ok(false);
                    }
                }
                true
            }
            (Json::Object(a), Json::Object(b)) => {
                if a.len() != b.len() {
                    return Ok(false);
                }
                for (key, a) in a.iter() {
                    match b.get(key) {
                        Some(b) if self.deep_equal(a, b)? => {}
                        _ => return Ok(false),
                    }
                }
                true
            }
            (Json::String(a), Json::String(b)) => a == b,
            (Json::Bool(a), Json::Bool(b)) => a == b,
            (Json::Null, Json::Null) => true,
            _ => false,
        })
    }
}

/// The value of a ValueType expression.
#[derive(Debug, Clone, Copy)]
enum Found<'v> {
    Nothing,
    Node(&'v Json<'v>),
    Count(usize),
}

impl Found<'_> {
    fn number(self) -> Option<Num> {
        match self {
            Found::Node(Json::Number(n)) => Some(Num::of(n)),
            Found::Count(n) => Some(Num::Int(n as i128)),
            _ => None,
        }
    }
}

fn less(left: Found<'_>, right: Found<'_>) -> bool {
    if let (Some(a), Some(b)) = (left.number(), right.number()) {
        return a.cmp(&b) == Some(Ordering::Less);
    }
    match (left, right) {
        // Byte order of UTF-8 is the order of code points, as RFC 9535 compares strings.
        (Found::Node(Json::String(a)), Found::Node(Json::String(b))) => a < b,
        _ => false,
    }
}

/// A JSON number, compared exactly between integers.
#[derive(Debug, Clone, Copy)]
enum Num {
    Int(i128),
    Float(f64),
}

impl Num {
    fn of(n: &Number) -> Self {
        match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Num::Int(i128::from(i)),
            (_, Some(u)) => Num::Int(i128::from(u)),
            _ => Num::Float(n.as_f64().unwrap_or(f64::NAN)),
        }
    }

    fn cmp(&self, other: &Num) -> Option<Ordering> {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => Some(a.cmp(b)),
            (a, b) => a.float().partial_cmp(&b.float()),
        }
    }

    fn float(&self) -> f64 {
        match self {
            Num::Int(i) => *i as f64,
            Num::Float(f) => *f,
        }
    }
}

/// An index into an array of `len` items (negative: from the end).
fn normalize(index: i64, len: usize) -> Option<usize> {
    let len = i128::try_from(len).ok()?;
    let index = i128::from(index);
    let index = if index < 0 { len + index } else { index };
    (0..len).contains(&index).then(|| usize::try_from(index).ok()).flatten()
}

/// The indexes an array slice selects (RFC 9535, 2.3.4.2.2), in order.
fn slice(start: Option<i64>, end: Option<i64>, step: i64, len: usize) -> impl Iterator<Item = usize> {
    let len = i128::try_from(len).unwrap_or(i128::MAX);
    let step = i128::from(step);
    let bound = |i: i128| if i >= 0 { i } else { len + i };
    let (mut i, stop) = if step >= 0 {
        let lower = bound(start.map_or(0, i128::from)).clamp(0, len);
        let upper = bound(end.map_or(len, i128::from)).clamp(0, len);
        (lower, upper)
    } else {
        let upper = bound(start.map_or(len - 1, i128::from)).clamp(-1, len - 1);
        let lower = bound(end.map_or(-len - 1, i128::from)).clamp(-1, len - 1);
        (upper, lower)
    };
    std::iter::from_fn(move || {
        let inside = match step.cmp(&0) {
            Ordering::Greater => i < stop,
            Ordering::Less => stop < i,
            Ordering::Equal => false,
        };
        if !inside {
            return None;
        }
        let index = usize::try_from(i).ok();
        i += step;
        index
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jsonpath::doc::Object;
    use serde_json::json;

    fn path(text: &str) -> Path {
        compile(&jsonpath_rust::parser::parse_json_path(text).unwrap()).unwrap()
    }

    fn select(text: &str, doc: &Value) -> Vec<Value> {
        let doc = Json::from_value(doc);
        Eval::new(&doc, Budget::unlimited()).select(&path(text)).unwrap().into_iter().map(Json::to_value).collect()
    }

    fn compile_error(text: &str) -> String {
        compile(&jsonpath_rust::parser::parse_json_path(text).unwrap()).unwrap_err()
    }

    #[test]
    fn slices_follow_rfc_9535() {
        let doc = json!([0, 1, 2, 3, 4, 5]);
        assert_eq!(select("$[1:3]", &doc), [json!(1), json!(2)]);
        assert_eq!(select("$[::2]", &doc), [json!(0), json!(2), json!(4)]);
        assert_eq!(select("$[::-1]", &doc), [5, 4, 3, 2, 1, 0].map(|n| json!(n)));
        assert_eq!(select("$[-2:]", &doc), [json!(4), json!(5)]);
        assert_eq!(select("$[5:1:-2]", &doc), [json!(5), json!(3)]);
        assert!(select("$[::0]", &doc).is_empty());
        assert_eq!(select("$[-9007199254740991:9007199254740991:4503599627370496]", &doc), [json!(0)]);
    }

    #[test]
    fn descendants_come_parents_first_in_document_order() {
        let doc = json!({"a": [{"b": 1}, {"b": 2}], "c": {"b": 3}});
        assert_eq!(select("$..b", &doc), [json!(1), json!(2), json!(3)]);
        assert_eq!(select("$..[0]", &doc), [json!({"b": 1})]);
    }

    #[test]
    fn functions_and_comparisons() {
        let doc = json!([{"a": "ab", "n": 1, "l": [1, 2]}, {"a": "xyz", "n": 1.0, "l": []}, {"n": 2}]);
        assert_eq!(select("$[?length(@.a) == 2].n", &doc), [json!(1)]);
        assert_eq!(select("$[?count(@.*) == 3].a", &doc), [json!("ab"), json!("xyz")]);
        assert_eq!(select("$[?@.n == 1].a", &doc), [json!("ab"), json!("xyz")], "1 == 1.0");
        assert_eq!(select("$[?match(@.a, 'a.')].n", &doc), [json!(1)]);
        assert_eq!(select("$[?search(@.a, 'y')].n", &doc), [json!(1.0)]);
        assert_eq!(select("$[?value(@..n) > 1].n", &doc), [json!(2)]);
        assert_eq!(select("$[?@.missing == @.other]", &doc).len(), 3, "nothing equals nothing");
        assert_eq!(select("$[?@.a < 'b'].a", &doc), [json!("ab")]);
        assert_eq!(select("$[?@.a]", &doc).len(), 2);
        assert_eq!(select("$[?!@.a].n", &doc), [json!(2)]);
    }

    #[test]
    fn what_the_parser_lets_through_is_refused() {
        assert!(compile_error("$[?length(@)]").contains("is a value, not true or false"));
        assert!(compile_error("$[?length(@.*) > 1]").contains("a value needs a singular query"));
        assert!(compile_error("$[?match(@.a, @.*)]").contains("a value needs a singular query"));
        assert!(compile_error("$[?value(1) == 1]").contains("value() takes a query"));
    }

    #[test]
    fn budgets_stop_evaluations() {
        let doc = json!({"a": (0..1000).collect::<Vec<_>>(), "b": "text"});
        let doc = Json::from_value(&doc);
        let mut eval = Eval::new(&doc, Budget::new(Instant::now(), usize::MAX));
        assert_eq!(eval.select(&path("$..[?count(@..*) > 0]")).map(|nodes| nodes.len()), Err(Stop::Timeout));
        let mut eval = Eval::new(&doc, Budget::new(Instant::now() + std::time::Duration::from_secs(60), 100));
        assert_eq!(eval.copy(&doc), Err(Stop::TooLarge));
    }

    /// On the pool's threads, and on a tokio worker thread (2 MiB of stack), where small
    /// events are evaluated.
    #[test]
    fn nesting_stops_before_the_stack_of_an_evaluation_thread_runs_out() {
        for stack in [super::super::pool::STACK_BYTES, 2 * 1024 * 1024] {
            nesting_stops_within(stack);
        }
    }

    fn nesting_stops_within(stack: usize) {
        // Values are dropped recursively: only what the evaluation itself takes is measured.
        let on_evaluation_stack = |query: &'static str, levels: usize| {
            std::thread::Builder::new()
                .stack_size(stack)
                .spawn(move || {
                    let mut deep = Json::Number(0.into());
                    for _ in 0..levels {
                        deep = Json::Object(Object::new(vec![("a".into(), Json::Array(vec![deep]))]));
                    }
                    let outcome = Eval::new(&deep, Budget::unlimited()).select(&path(query)).map(|nodes| nodes.len());
                    // Dropping 2 levels per step recursively: take it apart from the top.
                    while let Json::Object(object) = deep {
                        deep = match object.into_members().pop() {
                            Some((_, Json::Array(mut items))) => items.pop().unwrap_or(Json::Null),
                            _ => Json::Null,
                        };
                    }
                    outcome
                })
                .unwrap()
                .join()
                .unwrap()
        };
        assert_eq!(on_evaluation_stack("$..*", MAX_DEPTH / 4), Ok(MAX_DEPTH / 2));
        for query in ["$..*", "$..[?@..[?@..a]]", "$..[?count(@..*) > 1]", "$[?count(@..a) == count($..a)]"] {
            assert_eq!(on_evaluation_stack(query, 2 * MAX_DEPTH), Err(Stop::TooDeep), "{query}");
        }
    }
}
