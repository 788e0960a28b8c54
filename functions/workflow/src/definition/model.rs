//! The Serverless Workflow 0.8 document as serde types: the top level, functions,
//! events, errors, retries, actions and the shapes states share. Field names are the
//! spec's (camelCase); fields we do not use (`metadata`, `annotations`, `auth`, ...) are
//! accepted and ignored, so Kogito's definitions load unchanged.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::states::State;

/// A workflow definition (`specVersion: "0.8"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Workflow {
    /// The workflow id: `POST /{id}` starts it.
    #[serde(default)]
    pub id: String,
    /// `key`: an alternative to `id` in 0.8.
    #[serde(default)]
    pub key: Option<String>,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Version of the definition.
    #[serde(default)]
    pub version: Option<String>,
    /// `0.8`.
    #[serde(default)]
    pub spec_version: Option<String>,
    /// Only `jq` is supported.
    #[serde(default)]
    pub expression_lang: Option<String>,
    /// A JSON Schema file (beside the definition) or `{schema, failOnValidationErrors}`.
    #[serde(default)]
    pub data_input_schema: Option<DataInputSchema>,
    /// The first state: a name or `{stateName}`; default the first state.
    #[serde(default)]
    pub start: Option<Start>,
    /// Names of secrets, read from the environment (`$SECRET.<name>`).
    #[serde(default)]
    pub secrets: Vec<String>,
    /// `$CONST`.
    #[serde(default)]
    pub constants: Option<Value>,
    /// Workflow-wide timeouts.
    #[serde(default)]
    pub timeouts: Option<Timeouts>,
    /// Error definitions, matched by `onErrors`.
    #[serde(default)]
    pub errors: Vec<ErrorDef>,
    /// Event definitions.
    #[serde(default)]
    pub events: Vec<EventDef>,
    /// Function definitions.
    #[serde(default)]
    pub functions: Vec<FunctionDef>,
    /// Retry policies, named by `retryRef`.
    #[serde(default)]
    pub retries: Vec<RetryDef>,
    /// Retry every action by default (with a retry policy of its own or the default one).
    #[serde(default)]
    pub auto_retries: bool,
    /// Keep the instance after it ends (ignored: ended instances are removed).
    #[serde(default)]
    pub keep_active: bool,
    /// The states.
    pub states: Vec<State>,
}

/// `dataInputSchema`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum DataInputSchema {
    /// A file beside the definition.
    File(String),
    /// The long form.
    Object {
        /// The file, or an inline schema.
        schema: Value,
        /// `false`: log the failures and start anyway.
        #[serde(default = "yes", rename = "failOnValidationErrors")]
        fail_on_validation_errors: bool,
    },
}

fn yes() -> bool {
    true
}

/// `start`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Start {
    /// The state's name.
    Name(String),
    /// `{stateName, schedule}` (schedules are not run).
    Object {
        /// The state's name.
        #[serde(rename = "stateName")]
        state_name: String,
    },
}

/// An ISO 8601 duration such as `PT3M`, or an object with one.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum TimeoutValue {
    /// `PT10S`.
    Text(String),
    /// `{duration, interrupt}` (workflowExecTimeout) or `{single, total}` (stateExecTimeout).
    Object {
        /// `workflowExecTimeout.duration`.
        #[serde(default)]
        duration: Option<String>,
        /// `stateExecTimeout.total`.
        #[serde(default)]
        total: Option<String>,
        /// `stateExecTimeout.single`.
        #[serde(default)]
        single: Option<String>,
    },
}

impl TimeoutValue {
    /// The duration's text.
    pub fn text(&self) -> Option<&str> {
        match self {
            Self::Text(text) => Some(text),
            Self::Object { duration, total, single } => duration.as_deref().or(total.as_deref()).or(single.as_deref()),
        }
    }
}

/// `timeouts`, at the top level or in a state (each kind allows a subset).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Timeouts {
    /// The whole instance.
    #[serde(default)]
    pub workflow_exec_timeout: Option<TimeoutValue>,
    /// One state.
    #[serde(default)]
    pub state_exec_timeout: Option<TimeoutValue>,
    /// One action.
    #[serde(default)]
    pub action_exec_timeout: Option<String>,
    /// One parallel branch.
    #[serde(default)]
    pub branch_exec_timeout: Option<String>,
    /// Waiting for events.
    #[serde(default)]
    pub event_timeout: Option<String>,
}

/// An error definition: a name, and the code a failure must have to be this error.
#[derive(Debug, Clone, Deserialize)]
pub struct ErrorDef {
    /// Named by `errorRef`.
    pub name: String,
    /// The failure's code: an HTTP status (`"404"`) for REST calls, `timeout`, `expression`.
    #[serde(default)]
    pub code: Option<String>,
}

/// An event definition.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventDef {
    /// Named by `eventRef(s)`.
    pub name: String,
    /// CloudEvent `source`.
    #[serde(default)]
    pub source: Option<String>,
    /// CloudEvent `type`.
    #[serde(rename = "type")]
    pub ty: String,
    /// `consumed` (default) or `produced`.
    #[serde(default)]
    pub kind: EventKind,
    /// Context attributes that tie an event to an instance.
    #[serde(default)]
    pub correlation: Vec<Correlation>,
    /// `true` (default): expressions see the event's data; `false`: the whole event.
    #[serde(default = "yes")]
    pub data_only: bool,
}

/// `kind` of an event definition.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// Received on `POST /`.
    #[default]
    Consumed,
    /// Sent to `K_SINK`.
    Produced,
}

/// A correlation rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Correlation {
    /// The extension (context attribute) to compare.
    pub context_attribute_name: String,
    /// A fixed value; without it, the first event's value binds the instance.
    #[serde(default)]
    pub context_attribute_value: Option<String>,
}

/// A function definition.
#[derive(Debug, Clone, Deserialize)]
pub struct FunctionDef {
    /// Named by `functionRef`.
    pub name: String,
    /// What to call: `specs/x.yaml#operationId`, a jq expression, `rest:POST:http://...`,
    /// `knative:services.v1.serving.knative.dev/NAME?path=/x`.
    pub operation: String,
    /// `rest` (default), `expression`, `custom`.
    #[serde(rename = "type", default)]
    pub ty: FunctionType,
}

/// `type` of a function definition.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FunctionType {
    /// An OpenAPI operation.
    #[default]
    Rest,
    /// A jq expression over the action's input.
    Expression,
    /// Kogito's custom forms (`rest:`, `knative:`).
    Custom,
    /// Not supported (validation says so).
    Asyncapi,
    /// Not supported.
    Rpc,
    /// Not supported.
    Graphql,
    /// Not supported.
    Odata,
}

/// A retry policy.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryDef {
    /// Named by `retryRef`.
    pub name: String,
    /// First delay (ISO 8601).
    #[serde(default)]
    pub delay: Option<String>,
    /// Upper bound of a delay.
    #[serde(default)]
    pub max_delay: Option<String>,
    /// Added to the delay after each attempt.
    #[serde(default)]
    pub increment: Option<String>,
    /// Multiplies the delay after each attempt.
    #[serde(default)]
    pub multiplier: Option<NumberOrText>,
    /// Attempts in all, the first included.
    #[serde(default)]
    pub max_attempts: Option<NumberOrText>,
    /// A fraction of the delay (`0.1`) or a duration (`PT0.5S`) added at random.
    #[serde(default)]
    pub jitter: Option<NumberOrText>,
}

/// The spec lets numbers be strings.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum NumberOrText {
    /// `3`.
    Number(f64),
    /// `"3"`, or a duration for `jitter`.
    Text(String),
}

impl NumberOrText {
    /// The number, when it is one (or a numeric string).
    pub fn number(&self) -> Option<f64> {
        match self {
            Self::Number(n) => Some(*n),
            Self::Text(text) => text.trim().parse().ok(),
        }
    }
}

/// An action of an operation, event, callback, foreach state or parallel branch.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Action {
    /// For logs.
    #[serde(default)]
    pub name: Option<String>,
    /// Calls a function.
    #[serde(default)]
    pub function_ref: Option<FunctionRef>,
    /// Produces an event (and may wait for one: not supported).
    #[serde(default)]
    pub event_ref: Option<EventRef>,
    /// Not supported.
    #[serde(default)]
    pub sub_flow_ref: Option<Value>,
    /// Sleeps before and after.
    #[serde(default)]
    pub sleep: Option<ActionSleep>,
    /// The retry policy.
    #[serde(default)]
    pub retry_ref: Option<String>,
    /// Errors never retried.
    #[serde(default)]
    pub non_retryable_errors: Option<Vec<String>>,
    /// The only errors retried.
    #[serde(default)]
    pub retryable_errors: Option<Vec<String>>,
    /// What goes in and out.
    #[serde(default)]
    pub action_data_filter: Option<ActionDataFilter>,
    /// Runs only when this expression is true.
    #[serde(default)]
    pub condition: Option<String>,
}

impl Action {
    /// A name for messages.
    pub fn label(&self) -> String {
        if let Some(name) = &self.name {
            return name.clone();
        }
        match (&self.function_ref, &self.event_ref) {
            (Some(f), _) => f.ref_name().to_owned(),
            (None, Some(e)) => e.produce_event_ref.clone(),
            _ => "action".to_owned(),
        }
    }
}

/// `sleep` of an action.
#[derive(Debug, Clone, Deserialize)]
pub struct ActionSleep {
    /// Before the call.
    #[serde(default)]
    pub before: Option<String>,
    /// After the call.
    #[serde(default)]
    pub after: Option<String>,
}

/// `functionRef`: a name, or a name with arguments.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum FunctionRef {
    /// The function's name, no arguments.
    Name(String),
    /// The long form.
    Object {
        /// The function's name.
        #[serde(rename = "refName")]
        ref_name: String,
        /// Arguments: values may hold expressions.
        #[serde(default)]
        arguments: Option<Value>,
    },
}

impl FunctionRef {
    /// The function's name.
    pub fn ref_name(&self) -> &str {
        match self {
            Self::Name(name) | Self::Object { ref_name: name, .. } => name,
        }
    }

    /// The arguments, if any.
    pub fn arguments(&self) -> Option<&Value> {
        match self {
            Self::Name(_) => None,
            Self::Object { arguments, .. } => arguments.as_ref(),
        }
    }
}

/// `eventRef` of an action: an event to produce.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventRef {
    /// The produced event.
    pub produce_event_ref: String,
    /// A consumed event to wait for (not supported in actions).
    #[serde(default)]
    pub consume_event_ref: Option<String>,
    /// The data: an expression or a value.
    #[serde(default)]
    pub data: Option<Value>,
    /// Extensions to set.
    #[serde(default)]
    pub context_attributes: Option<BTreeMap<String, Value>>,
}

/// `actionDataFilter`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionDataFilter {
    /// The action's input, from the state data.
    #[serde(default)]
    pub from_state_data: Option<String>,
    /// `false`: the results are dropped.
    #[serde(default = "yes")]
    pub use_results: bool,
    /// Selects from the results.
    #[serde(default)]
    pub results: Option<String>,
    /// Where the results go in the state data (default: merged into it).
    #[serde(default)]
    pub to_state_data: Option<String>,
}

/// `eventDataFilter`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventDataFilter {
    /// `false`: the event's data is dropped.
    #[serde(default = "yes")]
    pub use_data: bool,
    /// Selects from the event's data.
    #[serde(default)]
    pub data: Option<String>,
    /// Where it goes in the state data (default: merged into it).
    #[serde(default)]
    pub to_state_data: Option<String>,
}

impl Default for ActionDataFilter {
    fn default() -> Self {
        Self { from_state_data: None, use_results: true, results: None, to_state_data: None }
    }
}

impl Default for EventDataFilter {
    fn default() -> Self {
        Self { use_data: true, data: None, to_state_data: None }
    }
}

/// `stateDataFilter`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StateDataFilter {
    /// The state's data, from its input.
    #[serde(default)]
    pub input: Option<String>,
    /// The state's output, from its data.
    #[serde(default)]
    pub output: Option<String>,
}

/// `transition`: a state name or `{nextState, produceEvents, compensate}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Transition {
    /// The next state's name.
    Name(String),
    /// The long form.
    Object {
        /// The next state's name.
        #[serde(rename = "nextState")]
        next_state: String,
        /// Events sent on the way.
        #[serde(default, rename = "produceEvents")]
        produce_events: Vec<ProduceEvent>,
        /// Compensate before going on.
        #[serde(default)]
        compensate: bool,
    },
}

impl Transition {
    /// The next state.
    pub fn next(&self) -> &str {
        match self {
            Self::Name(name) | Self::Object { next_state: name, .. } => name,
        }
    }
    /// Events to produce.
    pub fn produce(&self) -> &[ProduceEvent] {
        match self {
            Self::Name(_) => &[],
            Self::Object { produce_events, .. } => produce_events,
        }
    }
    /// Whether to compensate first.
    pub fn compensate(&self) -> bool {
        matches!(self, Self::Object { compensate: true, .. })
    }
}

/// `end`: `true` or `{terminate, produceEvents, compensate}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum End {
    /// `end: true` (`false` means no end).
    Flag(bool),
    /// The long form.
    Object {
        /// End the instance even inside a parallel branch.
        #[serde(default)]
        terminate: bool,
        /// Events sent at the end.
        #[serde(default, rename = "produceEvents")]
        produce_events: Vec<ProduceEvent>,
        /// Compensate before ending.
        #[serde(default)]
        compensate: bool,
    },
}

impl End {
    /// Whether this is an end at all (`end: false` is not).
    pub fn is_end(&self) -> bool {
        !matches!(self, Self::Flag(false))
    }
    /// Events to produce.
    pub fn produce(&self) -> &[ProduceEvent] {
        match self {
            Self::Flag(_) => &[],
            Self::Object { produce_events, .. } => produce_events,
        }
    }
    /// Whether to compensate first.
    pub fn compensate(&self) -> bool {
        matches!(self, Self::Object { compensate: true, .. })
    }
}

/// An event to produce on a transition or at the end.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProduceEvent {
    /// The produced event's definition.
    pub event_ref: String,
    /// Its data: an expression or a value; default the state's output.
    #[serde(default)]
    pub data: Option<Value>,
    /// Extensions to set.
    #[serde(default)]
    pub context_attributes: Option<BTreeMap<String, Value>>,
}

/// An entry of `onErrors`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OnError {
    /// One error definition.
    #[serde(default)]
    pub error_ref: Option<String>,
    /// Several error definitions.
    #[serde(default)]
    pub error_refs: Option<Vec<String>>,
    /// Where to go.
    #[serde(default)]
    pub transition: Option<Transition>,
    /// Or end.
    #[serde(default)]
    pub end: Option<End>,
}

impl OnError {
    /// The error definitions this entry handles.
    pub fn refs(&self) -> Vec<&str> {
        let mut refs: Vec<&str> = self.error_ref.iter().map(String::as_str).collect();
        refs.extend(self.error_refs.iter().flatten().map(String::as_str));
        refs
    }
}
