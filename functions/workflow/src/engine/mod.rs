//! The interpreter: runs an instance state after state, saving it after each one
//! (so it resumes from its last completed state), until it ends, waits (events, a
//! callback, a sleep) or fails; applies state data filters, `onErrors`, compensation
//! (`compensatedBy`, run in reverse order on `compensate`), produced events, and the
//! timeouts (`workflowExecTimeout`, `stateExecTimeout`, and through the states the
//! others). Waits with a deadline get a timer; timers are re-armed at start.

mod actions;
mod data;
mod events;
mod states;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fnmesh_runtime::Console;
use fnmesh_runtime::sink::Sink;
use serde_json::{Value, json};

pub use data::StepError;
pub use events::EventMatch;

use crate::definition::{Definition, End, State, Transition, duration};
use crate::expr::{Expressions, Scope};
use crate::instance::{Instance, Status, now_ms};
use crate::services::Resolution;
use crate::store::Store;
use states::Outcome;

/// Why a state is run again: an awaited event came, or the wait's time ran out.
#[derive(Debug, Clone)]
pub enum Resume {
    /// The event (by its definition's name) and what expressions see of it.
    Event {
        /// The event definition's name.
        name: String,
        /// Its data (or the whole event, for `dataOnly: false`).
        data: Value,
    },
    /// `until_ms` passed.
    Timeout,
}

/// How a run of an instance stopped.
#[derive(Debug, Clone)]
pub enum Stopped {
    /// It ended; it is no longer stored.
    Ended(Instance),
    /// It waits, stored.
    Waiting(Instance),
    /// An error no `onErrors` handled stopped it; stored with the error.
    Failed(Instance),
    /// Another process moved it meanwhile; this one stopped.
    Conflict(String),
}

/// A workflow engine: one definition, its expressions, services, sink and store.
#[derive(Debug)]
pub struct Engine {
    /// The workflow.
    pub definition: Definition,
    expressions: Expressions,
    store: Store,
    client: reqwest::Client,
    resolution: Resolution,
    sink: Option<Sink>,
    secrets: Value,
    console: Console,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    recovered: tokio::sync::OnceCell<()>,
}

/// What an engine is made of.
#[derive(Debug)]
pub struct Parts {
    /// The workflow.
    pub definition: Definition,
    /// Its expressions.
    pub expressions: Expressions,
    /// Where instances live.
    pub store: Store,
    /// Service resolution.
    pub resolution: Resolution,
    /// `K_SINK`.
    pub sink: Option<Sink>,
    /// `$SECRET`.
    pub secrets: Value,
    /// Logs.
    pub console: Console,
}

impl Engine {
    /// An engine from its parts.
    pub fn new(parts: Parts) -> Self {
        Self {
            definition: parts.definition,
            expressions: parts.expressions,
            store: parts.store,
            client: reqwest::Client::new(),
            resolution: parts.resolution,
            sink: parts.sink,
            secrets: parts.secrets,
            console: parts.console,
            locks: Mutex::new(HashMap::new()),
            recovered: tokio::sync::OnceCell::new(),
        }
    }

    /// Writes `message` on the function's console.
    pub fn log(&self, message: &str) {
        self.console.log(message);
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Once per process: re-arms the timers of waiting instances and resumes the
    /// instances a stop interrupted between two states. Every request awaits it first,
    /// so that the instances it lists are those of earlier processes.
    pub async fn recover(self: &Arc<Self>) {
        self.recovered
            .get_or_init(|| async {
                let instances = match self.store.list(&self.definition.id).await {
                    Ok(instances) => instances,
                    Err(e) => return tracing::error!(error = %e, "cannot list instances to recover"),
                };
                for instance in instances {
                    match instance.status {
                        Status::Waiting => self.arm(&instance),
                        Status::Active if instance.lease_ms.is_some_and(|l| l > now_ms()) => {
                            // Another replica runs it: look again when its lease ends.
                            self.arm_at(&instance.id, instance.lease_ms.unwrap_or_default());
                        }
                        Status::Active => {
                            self.console.log(&format!("resuming instance {} at state {}", instance.id, instance.state));
                            let engine = self.clone();
                            tokio::spawn(async move { engine.continue_instance(&instance.id, None).await });
                        }
                        Status::Error => {}
                    }
                }
            })
            .await;
    }

    fn scope(&self, instance: &Instance) -> Scope {
        Scope {
            workflow: json!({"instanceId": instance.id, "id": self.definition.id}),
            secrets: self.secrets.clone(),
            constants: self.definition.workflow.constants.clone().unwrap_or(Value::Null),
            params: serde_json::Map::new(),
        }
    }

    async fn lock(&self, id: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = self.locks.lock().unwrap_or_else(|e| e.into_inner()).entry(id.to_owned()).or_default().clone();
        lock.lock_owned().await
    }

    fn forget_lock(&self, id: &str) {
        self.locks.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
    }

    /// Starts an instance with `input` (checked against `dataInputSchema` by the caller);
    /// `event` is the event that started it, for a start event state.
    pub async fn start(
        self: &Arc<Self>,
        input: Value,
        event: Option<(Resume, BTreeMap<String, String>)>,
    ) -> Result<Stopped, StepError> {
        let global = self.definition.workflow.timeouts.clone().unwrap_or_default();
        let deadline = global
            .workflow_exec_timeout
            .as_ref()
            .and_then(|t| t.text())
            .and_then(|t| duration::parse(t).ok())
            .map(|d| now_ms() + d.as_millis() as i64);
        let (resume, correlation) = match event {
            Some((resume, correlation)) => (Some(resume), correlation),
            None => (None, BTreeMap::new()),
        };
        let instance = Instance {
            id: uuid::Uuid::new_v4().to_string(),
            workflow: self.definition.id.clone(),
            status: Status::Active,
            state: self.definition.start.clone(),
            data: input,
            wait: None,
            compensations: Vec::new(),
            correlation,
            deadline_ms: deadline,
            error: None,
            lease_ms: self.store.shared().then(|| now_ms() + LEASE_MS),
            version: 0,
        };
        self.store.insert(&instance).await.map_err(|e| StepError::new("store", e.to_string()))?;
        if let Some(deadline) = deadline {
            self.arm_at(&instance.id, deadline);
        }
        let _guard = self.lock(&instance.id).await;
        self.drive(instance, resume).await
    }

    /// Loads instance `id` (under its lock) and runs it on: with an event, when it
    /// still waits for that event; without, when it is between two states (interrupted).
    /// `None` when it is gone or no longer in that position (another replica or request
    /// moved it first).
    pub async fn continue_instance(
        self: &Arc<Self>,
        id: &str,
        resume: Option<Resume>,
    ) -> Result<Option<Stopped>, StepError> {
        let _guard = self.lock(id).await;
        let Some(instance) = self.store.get(id).await.map_err(|e| StepError::new("store", e.to_string()))? else {
            return Ok(None);
        };
        let ready = match (&resume, instance.status) {
            (None, Status::Active) => true,
            (Some(Resume::Event { name, .. }), Status::Waiting) => {
                instance.wait.as_ref().is_some_and(|w| w.events.iter().any(|e| e == name))
            }
            _ => false,
        };
        if !ready {
            return Ok(None);
        }
        self.drive(instance, resume).await.map(Some)
    }

    /// Deletes instance `id`; whether it existed.
    pub async fn abort(&self, id: &str) -> Result<Option<Instance>, StepError> {
        let _guard = self.lock(id).await;
        let instance = self.store.get(id).await.map_err(|e| StepError::new("store", e.to_string()))?;
        if instance.is_some() {
            self.store.delete(id).await.map_err(|e| StepError::new("store", e.to_string()))?;
        }
        self.forget_lock(id);
        Ok(instance)
    }

    /// Saves the next version of `instance`; `false` when another process moved it.
    /// An active instance in a shared store is leased to this process for [`LEASE_MS`].
    async fn save(&self, instance: &mut Instance) -> Result<bool, StepError> {
        instance.version += 1;
        instance.lease_ms = (self.store.shared() && instance.status == Status::Active).then(|| now_ms() + LEASE_MS);
        self.store.update(instance).await.map_err(|e| StepError::new("store", e.to_string()))
    }

    /// Runs `instance` (locked by the caller) until it ends, waits or fails.
    async fn drive(self: &Arc<Self>, mut instance: Instance, mut resume: Option<Resume>) -> Result<Stopped, StepError> {
        // Claim it: of two processes that loaded this version, one goes on.
        if !self.save(&mut instance).await? {
            return Ok(Stopped::Conflict(instance.id));
        }
        loop {
            if instance.deadline_ms.is_some_and(|d| now_ms() >= d) {
                let error = StepError::new("timeout", "the instance ran over workflowExecTimeout");
                return self.fail(instance, &error).await;
            }
            let Some(state) = self.definition.state(&instance.state) else {
                let error = StepError::new("workflow", format!("no state named {:?}", instance.state));
                return self.fail(instance, &error).await;
            };
            let scope = self.scope(&instance);
            let entered = instance.status == Status::Waiting;
            let received = instance.wait.as_ref().map(|w| w.received.clone()).unwrap_or_default();
            let step = async {
                let data = match (&state.state_data_filter, entered) {
                    (Some(filter), false) if filter.input.is_some() => {
                        let input = filter.input.as_deref().unwrap_or(".");
                        self.expressions.value(crate::expr::program_of(input), &instance.data, &scope).await?
                    }
                    _ => instance.data.clone(),
                };
                self.run_state(state, data, resume.take(), &received, &scope).await
            };
            let outcome = match state_timeout(state, &self.definition) {
                Some(limit) => tokio::time::timeout(limit, step).await.unwrap_or_else(|_| {
                    Err(StepError::new("timeout", format!("state {:?} ran over stateExecTimeout", state.name)))
                }),
                None => step.await,
            };
            let (data, transition, end) = match outcome {
                Ok(Outcome::Wait { data, wait }) => {
                    instance.status = Status::Waiting;
                    instance.data = data;
                    instance.wait = Some(wait);
                    if !self.save(&mut instance).await? {
                        return Ok(Stopped::Conflict(instance.id));
                    }
                    self.arm(&instance);
                    return Ok(Stopped::Waiting(instance));
                }
                Ok(Outcome::Leave { data, transition, end }) => {
                    let data = match state.state_data_filter.as_ref().and_then(|f| f.output.as_deref()) {
                        Some(output) => {
                            match self.expressions.value(crate::expr::program_of(output), &data, &scope).await {
                                Ok(data) => data,
                                Err(e) => return self.fail(instance, &e.into()).await,
                            }
                        }
                        None => data,
                    };
                    if let Some(by) = &state.compensated_by {
                        instance.compensations.push(by.clone());
                    }
                    (data, transition, end)
                }
                Err(error) => match self.handler(state, &error) {
                    Some((transition, end)) => {
                        self.console.log(&format!(
                            "instance {}: state {} failed ({}: {}), handled by onErrors",
                            instance.id, state.name, error.code, error.message
                        ));
                        (instance.data.clone(), transition, end)
                    }
                    None => return self.fail(instance, &error).await,
                },
            };
            let mut data = data;
            if let Some(transition) = transition {
                let produced = self.produce_all(transition.produce(), &data, &scope).await;
                if let Err(e) = produced {
                    return self.fail(instance, &e).await;
                }
                if transition.compensate() {
                    data = match self.compensate(&mut instance, data, &scope).await {
                        Ok(data) => data,
                        Err(e) => return self.fail(instance, &e).await,
                    };
                }
                instance.state = transition.next().to_owned();
                instance.data = data;
                instance.status = Status::Active;
                instance.wait = None;
                if !self.save(&mut instance).await? {
                    return Ok(Stopped::Conflict(instance.id));
                }
                continue;
            }
            let end = end.unwrap_or(End::Flag(true));
            if end.compensate() {
                data = match self.compensate(&mut instance, data, &scope).await {
                    Ok(data) => data,
                    Err(e) => return self.fail(instance, &e).await,
                };
            }
            if let Err(e) = self.produce_all(end.produce(), &data, &scope).await {
                return self.fail(instance, &e).await;
            }
            instance.data = data;
            instance.wait = None;
            self.store.delete(&instance.id).await.map_err(|e| StepError::new("store", e.to_string()))?;
            self.forget_lock(&instance.id);
            self.console.log(&format!("instance {} of {} ended", instance.id, self.definition.id));
            return Ok(Stopped::Ended(instance));
        }
    }

    /// The `onErrors` entry of `state` that handles `error`.
    fn handler(&self, state: &State, error: &StepError) -> Option<(Option<Transition>, Option<End>)> {
        state
            .on_errors
            .iter()
            .find(|on| on.refs().iter().any(|name| self.error_matches(name, error)))
            .map(|on| (on.transition.clone(), on.end.clone()))
    }

    /// Whether the error definition `name` is `error`: its `code` is the error's code
    /// (an HTTP status, `timeout`, ...); a definition whose code is `*` or a Java
    /// exception class of Kogito's catch-alls (`java.lang.Exception`,
    /// `java.lang.RuntimeException`, `java.lang.Throwable`) matches every error.
    fn error_matches(&self, name: &str, error: &StepError) -> bool {
        let Some(definition) = self.definition.error(name) else { return false };
        match definition.code.as_deref() {
            Some("*" | "java.lang.Exception" | "java.lang.RuntimeException" | "java.lang.Throwable") => true,
            Some(code) => code == error.code,
            None => definition.name == error.code,
        }
    }

    /// Runs the compensations of `instance`, the last one first: each compensating
    /// state, then the compensating states it transitions to, until one ends.
    async fn compensate(&self, instance: &mut Instance, mut data: Value, scope: &Scope) -> Result<Value, StepError> {
        while let Some(name) = instance.compensations.pop() {
            let mut next = Some(name);
            while let Some(name) = next.take() {
                let state = self
                    .definition
                    .state(&name)
                    .ok_or_else(|| StepError::new("workflow", format!("no compensation state {name:?}")))?;
                self.console.log(&format!("instance {}: compensating with {}", instance.id, state.name));
                match self.run_state(state, data.clone(), None, &BTreeMap::new(), scope).await? {
                    Outcome::Leave { data: out, transition, .. } => {
                        data = out;
                        next = transition
                            .map(|t| t.next().to_owned())
                            .filter(|n| self.definition.state(n).is_some_and(|s| s.used_for_compensation));
                    }
                    Outcome::Wait { .. } => {
                        return Err(StepError::new("workflow", format!("compensation state {name:?} cannot wait")));
                    }
                }
            }
        }
        Ok(data)
    }

    async fn fail(&self, mut instance: Instance, error: &StepError) -> Result<Stopped, StepError> {
        self.console.log(&format!(
            "instance {} failed in state {}: {} ({})",
            instance.id, instance.state, error.message, error.code
        ));
        instance.status = Status::Error;
        instance.error = Some(format!("{} ({})", error.message, error.code));
        instance.wait = None;
        if !self.save(&mut instance).await? {
            return Ok(Stopped::Conflict(instance.id));
        }
        Ok(Stopped::Failed(instance))
    }

    /// A timer for the wait of `instance`, if it has a deadline.
    fn arm(self: &Arc<Self>, instance: &Instance) {
        let until = instance.wait.as_ref().and_then(|w| w.until_ms);
        let at = match (until, instance.deadline_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(at) = at {
            self.arm_at(&instance.id, at);
        }
    }

    fn arm_at(self: &Arc<Self>, id: &str, at_ms: i64) {
        let engine = self.clone();
        let id = id.to_owned();
        tokio::spawn(async move {
            let wait = u64::try_from(at_ms - now_ms()).unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(wait)).await;
            if let Err(e) = engine.on_timer(&id).await {
                tracing::warn!(instance = %id, error = %e, "timer failed");
            }
        });
    }

    async fn on_timer(self: &Arc<Self>, id: &str) -> Result<(), StepError> {
        let guard = self.lock(id).await;
        let Some(instance) = self.store.get(id).await.map_err(|e| StepError::new("store", e.to_string()))? else {
            return Ok(());
        };
        let now = now_ms();
        let expired = instance.deadline_ms.is_some_and(|d| now >= d);
        let due = instance.status == Status::Waiting
            && instance.wait.as_ref().and_then(|w| w.until_ms).is_some_and(|u| now >= u);
        let lease_over = instance.status == Status::Active && instance.lease_ms.is_some_and(|l| l <= now);
        if instance.status == Status::Error || !(expired || due || lease_over) {
            return Ok(());
        }
        if instance.status == Status::Active {
            // A running instance sees its deadline at its next state; one whose lease
            // ran out (its replica died) is taken over.
            if instance.lease_ms.is_some_and(|l| l <= now) {
                self.drive(instance, None).await?;
            }
            return Ok(());
        }
        let resume = if expired { None } else { Some(Resume::Timeout) };
        let stopped = self.drive(instance, resume).await?;
        drop(guard);
        tracing::debug!(?stopped, "timer fired");
        Ok(())
    }
}

/// How long a process holds an active instance of a shared store from its last save:
/// a replica that dies mid-state leaves it to the others after this.
pub const LEASE_MS: i64 = 60_000;

/// `stateExecTimeout` of `state` (or the workflow's).
fn state_timeout(state: &State, definition: &Definition) -> Option<Duration> {
    let own = state.timeouts.as_ref().and_then(|t| t.state_exec_timeout.as_ref());
    let global = definition.workflow.timeouts.as_ref().and_then(|t| t.state_exec_timeout.as_ref());
    own.or(global).and_then(|t| t.text()).and_then(|t| duration::parse(t).ok())
}
