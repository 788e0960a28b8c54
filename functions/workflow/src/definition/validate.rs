//! Checks of a workflow that serde cannot make: references between its parts (states,
//! functions, events, errors, retries), transitions and ends, durations, and that every
//! expression compiles. Every problem is reported with its path
//! (`states[2].transition: no state named "x"`), all of them at once.

use std::collections::{BTreeSet, HashSet};

use super::duration;
use super::model::{Action, End, EventKind, ProduceEvent, Timeouts, Transition, Workflow};
use super::states::{State, StateKind};
use crate::expr::{self, Expressions};

/// Every problem of `workflow`, each with its path.
pub fn validate(workflow: &Workflow, expressions: &Expressions) -> Vec<String> {
    let mut v = Validator { workflow, expressions, errors: Vec::new() };
    v.top();
    for (i, state) in workflow.states.iter().enumerate() {
        v.state(&format!("states[{i}]"), state);
    }
    v.errors
}

struct Validator<'a> {
    workflow: &'a Workflow,
    expressions: &'a Expressions,
    errors: Vec<String>,
}

impl Validator<'_> {
    fn fail(&mut self, path: &str, message: impl std::fmt::Display) {
        self.errors.push(format!("{path}: {message}"));
    }

    fn top(&mut self) {
        let w = self.workflow;
        if w.id.is_empty() && w.key.is_none() {
            self.fail("id", "required");
        }
        if let Some(version) = &w.spec_version
            && !version.starts_with("0.8")
        {
            self.fail("specVersion", format!("{version:?} is not supported (0.8 is)"));
        }
        if let Some(lang) = &w.expression_lang
            && lang != "jq"
        {
            self.fail("expressionLang", format!("{lang:?} is not supported (jq is)"));
        }
        if w.states.is_empty() {
            self.fail("states", "at least one state is required");
        }
        let mut names = HashSet::new();
        for (i, state) in w.states.iter().enumerate() {
            if state.name.is_empty() {
                self.fail(&format!("states[{i}].name"), "required");
            } else if !names.insert(state.name.as_str()) {
                self.fail(&format!("states[{i}].name"), format!("{:?} is used by another state", state.name));
            }
        }
        if let Some(start) = &w.start {
            let name = match start {
                super::model::Start::Name(name) | super::model::Start::Object { state_name: name } => name,
            };
            if !names.contains(name.as_str()) {
                self.fail("start", format!("no state named {name:?}"));
            }
        }
        self.unique("functions", w.functions.iter().map(|f| f.name.as_str()));
        self.unique("events", w.events.iter().map(|e| e.name.as_str()));
        self.unique("errors", w.errors.iter().map(|e| e.name.as_str()));
        self.unique("retries", w.retries.iter().map(|r| r.name.as_str()));
        for (i, retry) in w.retries.iter().enumerate() {
            for (field, value) in
                [("delay", &retry.delay), ("maxDelay", &retry.max_delay), ("increment", &retry.increment)]
            {
                self.duration(&format!("retries[{i}].{field}"), value.as_deref());
            }
            if let Some(max) = &retry.max_attempts
                && max.number().is_none_or(|n| n < 1.0)
            {
                self.fail(&format!("retries[{i}].maxAttempts"), "must be a number, at least 1");
            }
        }
        for (i, function) in w.functions.iter().enumerate() {
            if function.ty == super::model::FunctionType::Expression {
                self.expression(&format!("functions[{i}].operation"), expr::program_of(&function.operation));
            }
        }
        if let Some(timeouts) = &w.timeouts {
            self.timeouts("timeouts", timeouts);
        }
    }

    fn unique<'s>(&mut self, part: &str, names: impl Iterator<Item = &'s str>) {
        let mut seen = HashSet::new();
        for (i, name) in names.enumerate() {
            if !seen.insert(name) {
                self.fail(&format!("{part}[{i}].name"), format!("{name:?} is defined twice"));
            }
        }
    }

    fn duration(&mut self, path: &str, text: Option<&str>) {
        if let Some(text) = text
            && let Err(e) = duration::parse(text)
        {
            self.fail(path, e);
        }
    }

    fn timeouts(&mut self, path: &str, t: &Timeouts) {
        self.duration(&format!("{path}.workflowExecTimeout"), t.workflow_exec_timeout.as_ref().and_then(|t| t.text()));
        self.duration(&format!("{path}.stateExecTimeout"), t.state_exec_timeout.as_ref().and_then(|t| t.text()));
        self.duration(&format!("{path}.actionExecTimeout"), t.action_exec_timeout.as_deref());
        self.duration(&format!("{path}.branchExecTimeout"), t.branch_exec_timeout.as_deref());
        self.duration(&format!("{path}.eventTimeout"), t.event_timeout.as_deref());
    }

    fn expression(&mut self, path: &str, program: &str) {
        if let Err(e) = self.expressions.check(program) {
            self.fail(path, format!("invalid expression {program:?}: {e}"));
        }
    }

    fn template(&mut self, path: &str, value: &serde_json::Value) {
        if let Some(program) = expr::template_program(value) {
            self.expression(path, &program);
        }
    }

    fn state_named(&mut self, path: &str, name: &str) -> Option<&State> {
        let found = self.workflow.states.iter().find(|s| s.name == name);
        if found.is_none() {
            self.fail(path, format!("no state named {name:?}"));
        }
        found
    }

    fn event(&mut self, path: &str, name: &str, kind: EventKind) {
        match self.workflow.events.iter().find(|e| e.name == name) {
            None => self.fail(path, format!("no event named {name:?}")),
            Some(event) if event.kind != kind => {
                let wanted = if kind == EventKind::Consumed { "consumed" } else { "produced" };
                self.fail(path, format!("event {name:?} is not {wanted}"));
            }
            Some(_) => {}
        }
    }

    fn transition(&mut self, path: &str, transition: &Transition) {
        self.state_named(path, transition.next());
        self.produce(path, transition.produce());
    }

    fn produce(&mut self, path: &str, events: &[ProduceEvent]) {
        for (i, event) in events.iter().enumerate() {
            self.event(&format!("{path}.produceEvents[{i}].eventRef"), &event.event_ref, EventKind::Produced);
            if let Some(data) = &event.data {
                self.template(&format!("{path}.produceEvents[{i}].data"), &wrap_string(data));
            }
        }
    }

    /// A transition or an end must be there (`what` says where).
    fn next(&mut self, path: &str, transition: Option<&Transition>, end: Option<&End>) {
        match (transition, end.filter(|e| e.is_end())) {
            (Some(_), Some(_)) => self.fail(path, "has both a transition and an end"),
            (None, None) => self.fail(path, "needs a transition or an end"),
            (Some(t), None) => self.transition(&format!("{path}.transition"), t),
            (None, Some(e)) => self.produce(&format!("{path}.end"), e.produce()),
        }
    }

    fn state(&mut self, path: &str, state: &State) {
        if let Some(filter) = &state.state_data_filter {
            for (field, value) in [("input", &filter.input), ("output", &filter.output)] {
                if let Some(value) = value {
                    self.expression(&format!("{path}.stateDataFilter.{field}"), expr::program_of(value));
                }
            }
        }
        if let Some(timeouts) = &state.timeouts {
            self.timeouts(&format!("{path}.timeouts"), timeouts);
        }
        for (i, on_error) in state.on_errors.iter().enumerate() {
            let epath = format!("{path}.onErrors[{i}]");
            let refs = on_error.refs();
            if refs.is_empty() {
                self.fail(&epath, "needs errorRef or errorRefs");
            }
            for name in refs {
                if !self.workflow.errors.iter().any(|e| e.name == name) {
                    self.fail(&format!("{epath}.errorRef"), format!("no error named {name:?}"));
                }
            }
            self.next(&epath, on_error.transition.as_ref(), on_error.end.as_ref());
        }
        if let Some(by) = &state.compensated_by
            && let Some(target) = self.state_named(&format!("{path}.compensatedBy"), by)
            && !target.used_for_compensation
        {
            let message = format!("state {by:?} must have usedForCompensation: true");
            self.fail(&format!("{path}.compensatedBy"), message);
        }
        if let StateKind::Switch { data_conditions, event_conditions, default_condition } = &state.kind {
            if data_conditions.is_empty() == event_conditions.is_empty() {
                self.fail(path, "a switch state needs dataConditions or eventConditions (not both)");
            }
            for (i, c) in data_conditions.iter().enumerate() {
                let cpath = format!("{path}.dataConditions[{i}]");
                self.expression(&format!("{cpath}.condition"), expr::program_of(&c.condition));
                self.next(&cpath, c.transition.as_ref(), c.end.as_ref());
            }
            for (i, c) in event_conditions.iter().enumerate() {
                let cpath = format!("{path}.eventConditions[{i}]");
                self.event(&format!("{cpath}.eventRef"), &c.event_ref, EventKind::Consumed);
                self.event_filter(&format!("{cpath}.eventDataFilter"), c.event_data_filter.as_ref());
                self.next(&cpath, c.transition.as_ref(), c.end.as_ref());
            }
            if let Some(d) = default_condition {
                self.next(&format!("{path}.defaultCondition"), d.transition.as_ref(), d.end.as_ref());
            }
        } else {
            self.next(path, state.transition.as_ref(), state.end.as_ref());
        }
        match &state.kind {
            StateKind::Operation { actions, .. } => self.actions(&format!("{path}.actions"), actions),
            StateKind::Event { on_events, .. } => {
                for (i, on) in on_events.iter().enumerate() {
                    let opath = format!("{path}.onEvents[{i}]");
                    if on.event_refs.is_empty() {
                        self.fail(&format!("{opath}.eventRefs"), "at least one event is required");
                    }
                    for (j, name) in on.event_refs.iter().enumerate() {
                        self.event(&format!("{opath}.eventRefs[{j}]"), name, EventKind::Consumed);
                    }
                    self.event_filter(&format!("{opath}.eventDataFilter"), on.event_data_filter.as_ref());
                    self.actions(&format!("{opath}.actions"), &on.actions);
                }
            }
            StateKind::Callback { action, event_ref, event_data_filter } => {
                self.action(&format!("{path}.action"), action);
                self.event(&format!("{path}.eventRef"), event_ref, EventKind::Consumed);
                self.event_filter(&format!("{path}.eventDataFilter"), event_data_filter.as_ref());
            }
            StateKind::Sleep { duration } => self.duration(&format!("{path}.duration"), Some(duration)),
            StateKind::Parallel { branches, completion_type, num_completed } => {
                for (i, branch) in branches.iter().enumerate() {
                    self.actions(&format!("{path}.branches[{i}].actions"), &branch.actions);
                    if let Some(t) = &branch.timeouts {
                        self.timeouts(&format!("{path}.branches[{i}].timeouts"), t);
                    }
                }
                if *completion_type == super::states::CompletionType::AtLeast {
                    let n = num_completed.as_ref().and_then(|n| n.number());
                    if n.is_none_or(|n| n < 1.0 || n > branches.len() as f64) {
                        self.fail(&format!("{path}.numCompleted"), "atLeast needs a number between 1 and the branches");
                    }
                }
            }
            StateKind::Foreach { input_collection, output_collection, iteration_param, actions, .. } => {
                self.expression(&format!("{path}.inputCollection"), expr::program_of(input_collection));
                if let Some(out) = output_collection {
                    self.expression(&format!("{path}.outputCollection"), &expr::set_program(out));
                }
                if let Some(param) = iteration_param
                    && !is_identifier(param)
                {
                    self.fail(&format!("{path}.iterationParam"), format!("{param:?} is not a name"));
                }
                self.actions(&format!("{path}.actions"), actions);
            }
            StateKind::Switch { .. } | StateKind::Inject { .. } => {}
        }
    }

    fn event_filter(&mut self, path: &str, filter: Option<&super::model::EventDataFilter>) {
        let Some(filter) = filter else { return };
        if let Some(data) = &filter.data {
            self.expression(&format!("{path}.data"), expr::program_of(data));
        }
        if let Some(to) = &filter.to_state_data {
            self.expression(&format!("{path}.toStateData"), &expr::set_program(to));
        }
    }

    fn actions(&mut self, path: &str, actions: &[Action]) {
        for (i, action) in actions.iter().enumerate() {
            self.action(&format!("{path}[{i}]"), action);
        }
    }

    fn action(&mut self, path: &str, action: &Action) {
        match (&action.function_ref, &action.event_ref, &action.sub_flow_ref) {
            (Some(f), None, None) => {
                let name = f.ref_name();
                if !self.workflow.functions.iter().any(|d| d.name == name) {
                    self.fail(&format!("{path}.functionRef"), format!("no function named {name:?}"));
                }
                if let Some(args) = f.arguments() {
                    self.template(&format!("{path}.functionRef.arguments"), args);
                }
            }
            (None, Some(e), None) => {
                self.event(&format!("{path}.eventRef.produceEventRef"), &e.produce_event_ref, EventKind::Produced);
                if e.consume_event_ref.is_some() {
                    self.fail(&format!("{path}.eventRef.consumeEventRef"), "not supported: use a callback state");
                }
                if let Some(data) = &e.data {
                    self.template(&format!("{path}.eventRef.data"), &wrap_string(data));
                }
            }
            (None, None, Some(_)) => self.fail(&format!("{path}.subFlowRef"), "sub-flows are not supported"),
            _ => self.fail(path, "needs exactly one of functionRef, eventRef, subFlowRef"),
        }
        if let Some(retry) = &action.retry_ref
            && !self.workflow.retries.iter().any(|r| &r.name == retry)
        {
            self.fail(&format!("{path}.retryRef"), format!("no retry policy named {retry:?}"));
        }
        for (field, list) in
            [("nonRetryableErrors", &action.non_retryable_errors), ("retryableErrors", &action.retryable_errors)]
        {
            for name in list.iter().flatten() {
                if !self.workflow.errors.iter().any(|e| &e.name == name) {
                    self.fail(&format!("{path}.{field}"), format!("no error named {name:?}"));
                }
            }
        }
        if let Some(sleep) = &action.sleep {
            self.duration(&format!("{path}.sleep.before"), sleep.before.as_deref());
            self.duration(&format!("{path}.sleep.after"), sleep.after.as_deref());
        }
        if let Some(condition) = &action.condition {
            self.expression(&format!("{path}.condition"), expr::program_of(condition));
        }
        if let Some(filter) = &action.action_data_filter {
            for (field, value) in [("fromStateData", &filter.from_state_data), ("results", &filter.results)] {
                if let Some(value) = value {
                    self.expression(&format!("{path}.actionDataFilter.{field}"), expr::program_of(value));
                }
            }
            if let Some(to) = &filter.to_state_data {
                self.expression(&format!("{path}.actionDataFilter.toStateData"), &expr::set_program(to));
            }
        }
    }
}

/// Event `data` given as a bare string is an expression (`".x"` or `"${ .x }"`).
pub fn wrap_string(data: &serde_json::Value) -> serde_json::Value {
    match data {
        serde_json::Value::String(s) if expr::unwrap(s).is_none() && expr::value_expression(s).is_none() => {
            serde_json::Value::String(format!("${{ {s} }}"))
        }
        other => other.clone(),
    }
}

/// The iteration parameters of every foreach state (bound in every expression).
pub fn iteration_params(workflow: &Workflow) -> BTreeSet<String> {
    let mut params = BTreeSet::new();
    params.insert("item".to_owned());
    for state in &workflow.states {
        if let StateKind::Foreach { iteration_param: Some(param), .. } = &state.kind
            && is_identifier(param)
        {
            params.insert(param.clone());
        }
    }
    params
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !matches!(name, "WORKFLOW" | "SECRET" | "CONST" | "__value" | "__params")
}
