//! A workflow instance as it is stored: where it is, its data, what it waits for, and
//! what to compensate. It is saved after every completed state, so an instance that
//! was interrupted (a restart, a crash) goes on from its last completed state.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Where an instance is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Running, or about to run `state` (after a restart: to be resumed).
    Active,
    /// Waiting in `state` for events or a time.
    Waiting,
    /// Stopped by an error no `onErrors` handled; kept until deleted.
    Error,
}

/// What a waiting instance waits for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Wait {
    /// Names of the consumed events that resume it.
    pub events: Vec<String>,
    /// Events already received (non-exclusive event states): name → data.
    #[serde(default)]
    pub received: BTreeMap<String, Value>,
    /// When it resumes anyway (sleep) or times out (`eventTimeout`), in ms since the epoch.
    pub until_ms: Option<i64>,
}

/// A stored instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    /// Its id (a UUID).
    pub id: String,
    /// The workflow's id.
    pub workflow: String,
    /// Its status.
    pub status: Status,
    /// The state to run (active) or the one it waits in.
    pub state: String,
    /// The input of `state` (active) or its data (waiting).
    pub data: Value,
    /// What it waits for, when waiting.
    pub wait: Option<Wait>,
    /// Compensating states to run, the last pushed first.
    #[serde(default)]
    pub compensations: Vec<String>,
    /// Correlation values bound to it: context attribute → value.
    #[serde(default)]
    pub correlation: BTreeMap<String, String>,
    /// `workflowExecTimeout`, in ms since the epoch.
    pub deadline_ms: Option<i64>,
    /// The error that stopped it.
    pub error: Option<String>,
    /// Until when the process running it holds it (shared stores): another replica
    /// resumes an active instance only once this has passed. In ms since the epoch.
    #[serde(default)]
    pub lease_ms: Option<i64>,
    /// Bumped by every save: a save expecting another version is refused, so two
    /// replicas never both run the same step.
    pub version: i64,
}

impl Instance {
    /// Kogito's view: `{"id", "workflowdata"}`, plus where it is.
    pub fn view(&self) -> Value {
        serde_json::json!({
            "id": self.id,
            "workflowdata": self.data,
            "status": self.status,
            "state": self.state,
            "error": self.error,
        })
    }
}

/// Now, in ms since the epoch.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
