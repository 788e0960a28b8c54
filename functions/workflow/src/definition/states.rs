//! The states of a 0.8 workflow: what every state has ([`State`]) and what each type
//! adds ([`StateKind`]).

use serde::Deserialize;
use serde_json::Value;

use super::model::{Action, End, EventDataFilter, NumberOrText, OnError, StateDataFilter, Timeouts, Transition};

/// A state.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    /// Unique in the workflow.
    pub name: String,
    /// What the state does, by `type`.
    #[serde(flatten)]
    pub kind: StateKind,
    /// Input and output filters.
    #[serde(default)]
    pub state_data_filter: Option<StateDataFilter>,
    /// Error handling.
    #[serde(default)]
    pub on_errors: Vec<OnError>,
    /// The next state.
    #[serde(default)]
    pub transition: Option<Transition>,
    /// Or the end.
    #[serde(default)]
    pub end: Option<End>,
    /// The state that undoes this one.
    #[serde(default)]
    pub compensated_by: Option<String>,
    /// Runs only to compensate.
    #[serde(default)]
    pub used_for_compensation: bool,
    /// `stateExecTimeout`, `actionExecTimeout`, `eventTimeout`, ...
    #[serde(default)]
    pub timeouts: Option<Timeouts>,
}

impl State {
    /// The state's `type`, as written.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            StateKind::Operation { .. } => "operation",
            StateKind::Switch { .. } => "switch",
            StateKind::Event { .. } => "event",
            StateKind::Callback { .. } => "callback",
            StateKind::Inject { .. } => "inject",
            StateKind::Sleep { .. } => "sleep",
            StateKind::Parallel { .. } => "parallel",
            StateKind::Foreach { .. } => "foreach",
        }
    }

    /// Whether the state ends the instance (`end` set and not `false`).
    pub fn ends(&self) -> bool {
        self.end.as_ref().is_some_and(End::is_end)
    }
}

/// A state's type and the fields that come with it.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum StateKind {
    /// Runs actions.
    Operation {
        /// `sequential` (default) or `parallel`.
        #[serde(default, rename = "actionMode")]
        action_mode: ActionMode,
        /// The actions.
        #[serde(default)]
        actions: Vec<Action>,
    },
    /// Chooses the next state.
    Switch {
        /// On data.
        #[serde(default, rename = "dataConditions")]
        data_conditions: Vec<DataCondition>,
        /// On the first of these events.
        #[serde(default, rename = "eventConditions")]
        event_conditions: Vec<EventCondition>,
        /// When nothing matches (or no event came in time).
        #[serde(default, rename = "defaultCondition")]
        default_condition: Option<DefaultCondition>,
    },
    /// Waits for events (or starts an instance on one).
    Event {
        /// `true` (default): any one of the events; `false`: all of them.
        #[serde(default = "yes")]
        exclusive: bool,
        /// The events and what to do on each.
        #[serde(rename = "onEvents")]
        on_events: Vec<OnEvents>,
    },
    /// Runs an action, then waits for an event.
    Callback {
        /// The action.
        action: Box<Action>,
        /// The event to wait for.
        #[serde(rename = "eventRef")]
        event_ref: String,
        /// What of the event goes into the data.
        #[serde(default, rename = "eventDataFilter")]
        event_data_filter: Option<EventDataFilter>,
    },
    /// Merges data into the state's data.
    Inject {
        /// The data.
        data: Value,
    },
    /// Waits for a while.
    Sleep {
        /// ISO 8601.
        duration: String,
    },
    /// Runs branches concurrently.
    Parallel {
        /// The branches.
        branches: Vec<Branch>,
        /// `allOf` (default) or `atLeast`.
        #[serde(default, rename = "completionType")]
        completion_type: CompletionType,
        /// With `atLeast`: how many branches.
        #[serde(default, rename = "numCompleted")]
        num_completed: Option<NumberOrText>,
    },
    /// Runs actions for each item of a collection.
    Foreach {
        /// An expression giving the array.
        #[serde(rename = "inputCollection")]
        input_collection: String,
        /// Where the array of results goes in the state data.
        #[serde(default, rename = "outputCollection")]
        output_collection: Option<String>,
        /// The item's name (`$name` and `.name` in the actions' expressions); default `item`.
        #[serde(default, rename = "iterationParam")]
        iteration_param: Option<String>,
        /// Items run at once with `mode: parallel`.
        #[serde(default, rename = "batchSize")]
        batch_size: Option<NumberOrText>,
        /// `parallel` (default) or `sequential`.
        #[serde(default)]
        mode: ActionMode,
        /// The actions, per item.
        #[serde(default)]
        actions: Vec<Action>,
    },
}

fn yes() -> bool {
    true
}

/// `actionMode` (and foreach's `mode`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionMode {
    /// One after the other.
    #[default]
    Sequential,
    /// All at once.
    Parallel,
}

/// `completionType` of a parallel state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum CompletionType {
    /// Every branch.
    #[default]
    #[serde(rename = "allOf")]
    AllOf,
    /// `numCompleted` branches.
    #[serde(rename = "atLeast")]
    AtLeast,
}

/// A branch of a parallel state.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Branch {
    /// For messages.
    pub name: String,
    /// Run in order.
    #[serde(default)]
    pub actions: Vec<Action>,
    /// `actionExecTimeout`, `branchExecTimeout`.
    #[serde(default)]
    pub timeouts: Option<super::model::Timeouts>,
}

/// A data condition of a switch state.
#[derive(Debug, Clone, Deserialize)]
pub struct DataCondition {
    /// For messages.
    #[serde(default)]
    pub name: Option<String>,
    /// A jq expression: true takes this branch.
    pub condition: String,
    /// Where to go.
    #[serde(default)]
    pub transition: Option<Transition>,
    /// Or end.
    #[serde(default)]
    pub end: Option<End>,
}

/// An event condition of a switch state.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventCondition {
    /// For messages.
    #[serde(default)]
    pub name: Option<String>,
    /// The event.
    pub event_ref: String,
    /// What of the event goes into the data.
    #[serde(default)]
    pub event_data_filter: Option<EventDataFilter>,
    /// Where to go.
    #[serde(default)]
    pub transition: Option<Transition>,
    /// Or end.
    #[serde(default)]
    pub end: Option<End>,
}

/// `defaultCondition`.
#[derive(Debug, Clone, Deserialize)]
pub struct DefaultCondition {
    /// Where to go.
    #[serde(default)]
    pub transition: Option<Transition>,
    /// Or end.
    #[serde(default)]
    pub end: Option<End>,
}

/// An entry of an event state's `onEvents`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OnEvents {
    /// The events.
    pub event_refs: Vec<String>,
    /// How to run the actions.
    #[serde(default)]
    pub action_mode: ActionMode,
    /// Run when the events came.
    #[serde(default)]
    pub actions: Vec<Action>,
    /// What of the events goes into the data.
    #[serde(default)]
    pub event_data_filter: Option<EventDataFilter>,
}
