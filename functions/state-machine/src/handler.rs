//! Settings, the transition of one event, and the routes (CloudEvents on `/` and
//! `/statemachines/events`; the runner's JSON API on `/statemachines`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use fnmesh_runtime::server::ce_post;
use fnmesh_runtime::sink::Sink;
use fnmesh_runtime::{
    AttributesReader, ConfigError, Console, Env, Error, Event, EventBuilder, EventBuilderV10, IncomingEvent, Reply,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::definition::{Definition, Refused};
use crate::replay::ReplayGuard;
use crate::signature::Signer;
use crate::store::{Instance, Store};

pub const ID: &str = "statemachineid";
pub const STATE: &str = "statemachinestate";
pub const PREVIOUS: &str = "statemachineprev";
pub const EVENT: &str = "statemachineevent";
pub const FINAL: &str = "statemachinefinal";
pub const SIGNATURE: &str = "statemachinesig";
/// With `STATE_SECRET`: the instance's transitions so far, signed with the state.
pub const STEP: &str = "statemachinestep";
pub const CORRELATION: &str = "correlationkey";
/// The type of the reply, as knative-state's runner sends it.
pub const CHANGE_TYPE: &str = "statemachine.state.change.event";
pub const CHANGE_SOURCE: &str = "statemachine-runner";

#[derive(Debug, Deserialize)]
struct Raw {
    state_machine: Option<String>,
    state_machine_file: Option<String>,
    statemachine_def: Option<String>,
    statemachine_def_path: Option<String>,
    statemachine_name: Option<String>,
    statemachine_version: Option<String>,
    event_sink: Option<String>,
    state_reply: Option<String>,
    state_reject: Option<String>,
    state_secret: Option<String>,
    state_store: Option<String>,
    state_replay_window: Option<usize>,
}

/// What the reply is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyMode {
    /// A new `statemachine.state.change.event`.
    ChangeEvent,
    /// The input event with the new state's extensions (for a Sequence step).
    Input,
}

/// The settings, checked.
#[derive(Debug, Clone)]
pub struct Config {
    pub definition: Definition,
    pub reply: ReplyMode,
    /// `STATE_REJECT=ignore`: 200 with no event, as the runner.
    pub ignore_refused: bool,
    pub signer: Option<Signer>,
    pub memory: bool,
}

/// The function: its settings, the optional store and sink.
#[derive(Debug)]
pub struct Machine {
    pub config: Config,
    store: Option<Store>,
    /// With `STATE_SECRET`, no store and a window: refuses replayed states.
    replays: Option<ReplayGuard>,
    sink: Option<Sink>,
    console: Console,
}

/// Instances whose consumed steps are remembered unless `STATE_REPLAY_WINDOW` says.
pub const DEFAULT_REPLAY_WINDOW: usize = 10_000;

fn choice(var: &str, value: Option<&str>, choices: &[&str]) -> Result<usize, ConfigError> {
    match value.filter(|v| !v.is_empty()) {
        None => Ok(0),
        Some(v) => choices
            .iter()
            .position(|c| *c == v)
            .ok_or_else(|| ConfigError::invalid(var, format!("{v:?} is not one of {}", choices.join(", ")))),
    }
}

impl Machine {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let raw: Raw = env.parse()?;
        let sources = [
            ("STATE_MACHINE", raw.state_machine.clone().map(Ok)),
            ("STATE_MACHINE_FILE", raw.state_machine_file.as_deref().map(read)),
            ("STATEMACHINE_DEF", raw.statemachine_def.clone().map(Ok)),
            ("STATEMACHINE_DEF_PATH", raw.statemachine_def_path.as_deref().map(read)),
        ];
        let mut given = sources.into_iter().filter_map(|(var, text)| text.map(|t| (var, t)));
        let (var, text) = given.next().ok_or_else(|| {
            ConfigError::invalid(
                "STATE_MACHINE, STATE_MACHINE_FILE, STATEMACHINE_DEF, STATEMACHINE_DEF_PATH",
                "set one of these variables to the state machine definition",
            )
        })?;
        if let Some((other, _)) = given.next() {
            return Err(ConfigError::invalid(format!("{var}, {other}"), "set only one of these variables"));
        }
        let text = text.map_err(|e| ConfigError::invalid(var, e))?;
        let definition =
            Definition::parse(&text, raw.statemachine_name.as_deref(), raw.statemachine_version.as_deref())
                .map_err(|e| ConfigError::invalid(var, e))?;
        let reply = [ReplyMode::ChangeEvent, ReplyMode::Input]
            [choice("STATE_REPLY", raw.state_reply.as_deref(), &["event", "input"])?];
        let ignore_refused = choice("STATE_REJECT", raw.state_reject.as_deref(), &["error", "ignore"])? == 1;
        let memory = choice("STATE_STORE", raw.state_store.as_deref(), &["none", "memory"])? == 1;
        let signer = match raw.state_secret.as_deref() {
            None => None,
            Some("") => return Err(ConfigError::invalid("STATE_SECRET", "is empty: unset it, or give a secret")),
            Some(secret) => Some(Signer::new(secret)),
        };
        // knative-state's runner names its sink EVENT_SINK; K_SINK wins when both are set.
        let sink_env = match (&raw.event_sink, env.get("K_SINK")) {
            (Some(url), None) => env.clone().with("K_SINK", url.clone()),
            _ => env.clone(),
        };
        let sink = Sink::from_env(&sink_env)?;
        let replay_window = raw.state_replay_window.unwrap_or(DEFAULT_REPLAY_WINDOW);
        // With a store, the stored state is the truth and the event's is not read.
        let replays = (signer.is_some() && !memory && replay_window > 0).then(|| ReplayGuard::new(replay_window));
        let config = Config { definition, reply, ignore_refused, signer, memory };
        Ok(Self { store: memory.then(Store::default), replays, config, sink, console: Console::null() })
    }

    /// Where the function logs.
    pub fn with_console(mut self, console: Console) -> Self {
        self.console = console;
        self
    }

    fn ext(event: &Event, name: &str) -> Option<String> {
        event.extension(name).map(ToString::to_string).filter(|v| !v.is_empty())
    }

    /// The transition `incoming` asks for, and the reply (`None`: refused and ignored).
    pub fn transition(&self, incoming: &IncomingEvent) -> Result<Option<Event>, Error> {
        let event = &incoming.event;
        let definition = &self.config.definition;
        let correlation = Self::ext(event, CORRELATION);
        let mut id = Self::ext(event, ID);
        let mut stored = None;
        if let Some(store) = &self.store {
            if id.is_none() {
                id = correlation.as_deref().and_then(|k| store.id_for_key(k));
            }
            stored = id.as_deref().and_then(|i| store.get(i));
        }
        let current = match &stored {
            Some(instance) => instance.current.clone(),
            None => Self::ext(event, STATE).unwrap_or_default(),
        };
        let step = match Self::ext(event, STEP) {
            None => 0,
            Some(text) => text.parse::<u64>().map_err(|_| {
                Error::InvalidEvent(format!("{STEP} is {text:?}: expected the number of transitions so far"))
            })?,
        };
        if stored.is_none()
            && let (Some(signer), Some(id)) = (&self.config.signer, &id)
        {
            let signature = Self::ext(event, SIGNATURE).unwrap_or_default();
            if !signer.verify(definition, id, &current, step, &signature) {
                return Err(Error::Forbidden(format!(
                    "the state {current:?} of instance {id} is not signed by this state machine ({SIGNATURE} is {})",
                    if signature.is_empty() { "missing" } else { "wrong" }
                )));
            }
        }
        if id.is_none() && !current.is_empty() {
            return Err(Error::InvalidEvent(format!("{STATE} is {current:?} but {ID} is missing: which instance?")));
        }
        let next = match definition.next(&current, event.ty()) {
            Ok(next) => next.to_owned(),
            Err(refused) => {
                let message = match &refused {
                    Refused::UnknownState(_) => format!("{refused}"),
                    Refused::NotAllowed { .. } => format!("{refused}"),
                };
                self.console.log(&format!("Event Rejected: {} for state {current:?}", event.ty()));
                if self.config.ignore_refused {
                    return Ok(None);
                }
                return Err(Error::Unprocessable(match &id {
                    Some(id) => format!("instance {id}: {message}"),
                    None => message,
                }));
            }
        };
        if let (Some(replays), Some(id)) = (&self.replays, &id)
            && let Err(at) = replays.consume(id, step)
        {
            return Err(Error::Forbidden(format!(
                "instance {id}: the state {current:?} of step {step} was already used (a replay?); the instance is at \
                 step {at} or later"
            )));
        }
        let id = id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let data = data_json(incoming);
        let context = match (&stored, data) {
            (Some(instance), Some(Value::Object(new))) => merge(instance.context.clone(), new),
            (Some(instance), _) => instance.context.clone(),
            (None, data) => data.unwrap_or(Value::Null),
        };
        if let Some(store) = &self.store {
            let key = stored.as_ref().map(|s| s.correlationkey.clone()).or(correlation.clone()).unwrap_or_default();
            store.put(Instance {
                id: id.clone(),
                correlationkey: key,
                current: next.clone(),
                context: context.clone(),
            });
        }
        self.console.log(&format!("Instance {id}: {current:?} --{}--> {next:?}", event.ty()));
        let mut reply = match self.config.reply {
            ReplyMode::Input => event.clone(),
            ReplyMode::ChangeEvent => {
                let data = json!({"id": id, "correlationkey": correlation.clone().unwrap_or_default(), "current": next, "context": context});
                let mut change = EventBuilderV10::new()
                    .id(uuid::Uuid::new_v4().to_string())
                    .ty(CHANGE_TYPE)
                    .source(CHANGE_SOURCE)
                    .time(chrono::Utc::now())
                    .build()
                    .map_err(|e| Error::Internal(e.to_string()))?;
                change.set_data("application/json", data.to_string().into_bytes());
                change
            }
        };
        reply.set_extension(ID, id.clone());
        reply.set_extension(STATE, next.clone());
        reply.set_extension(PREVIOUS, current);
        reply.set_extension(EVENT, event.ty().to_owned());
        reply.set_extension(FINAL, definition.is_final(&next).to_string());
        if let Some(key) = correlation {
            reply.set_extension(CORRELATION, key);
        }
        if let Some(signer) = &self.config.signer {
            reply.set_extension(STEP, (step + 1).to_string());
            reply.set_extension(SIGNATURE, signer.sign(definition, &id, &next, step + 1));
        } else {
            reply.remove_extension(SIGNATURE);
            reply.remove_extension(STEP);
        }
        Ok(Some(reply))
    }

    async fn handle(&self, incoming: IncomingEvent) -> Result<Reply, Error> {
        let encoding = incoming.encoding;
        let Some(reply) = self.transition(&incoming)? else { return Ok(Reply::NoEvent) };
        if let Some(sink) = &self.sink
            && let Err(e) = sink.send(reply.clone()).await
        {
            tracing::warn!(error = %e, "could not notify the sink of a transition");
            self.console.log(&format!("could not notify {}: {e}", sink.url()));
        }
        Ok(Reply::event(reply, encoding))
    }

    /// `POST /statemachines`: a new instance, in the runner's JSON shape.
    fn create(&self) -> Value {
        let instance = Instance {
            id: uuid::Uuid::new_v4().to_string(),
            correlationkey: String::new(),
            current: String::new(),
            context: Value::Null,
        };
        if let Some(store) = &self.store {
            store.put(instance.clone());
        }
        let mut body = json!(instance);
        if let Some(signer) = &self.config.signer {
            body[SIGNATURE] = json!(signer.sign(&self.config.definition, &instance.id, "", 0));
        }
        body
    }
}

fn read(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))
}

fn data_json(incoming: &IncomingEvent) -> Option<Value> {
    incoming.wire_data.as_ref().and_then(|bytes| serde_json::from_slice(bytes).ok())
}

/// The runner's context merge: the new event's fields over the kept ones.
fn merge(old: Value, new: serde_json::Map<String, Value>) -> Value {
    match old {
        Value::Object(mut old) => {
            old.extend(new);
            Value::Object(old)
        }
        _ => Value::Object(new),
    }
}

/// The routes.
pub fn app(machine: Machine) -> Router {
    let machine = Arc::new(machine);
    let events = {
        let machine = machine.clone();
        ce_post(move |incoming: IncomingEvent| {
            let machine = machine.clone();
            async move { machine.handle(incoming).await }
        })
    };
    let api = Router::new()
        .route("/statemachines", get(list).post(create))
        .route("/statemachines/{id}", get(one))
        .route("/definition", get(definition))
        .with_state(machine);
    Router::new().route("/", events.clone()).route("/statemachines/events", events).merge(api)
}

async fn create(State(machine): State<Arc<Machine>>) -> Json<Value> {
    Json(machine.create())
}

/// `GET /definition`, in the runner's shape (`states.<state>.events`).
async fn definition(State(machine): State<Arc<Machine>>) -> Json<Value> {
    let definition = &machine.config.definition;
    let states: serde_json::Map<String, Value> =
        definition.states.iter().map(|(state, events)| (state.clone(), json!({"events": events}))).collect();
    Json(json!({"name": definition.name, "version": definition.version, "states": states}))
}

async fn list(State(machine): State<Arc<Machine>>) -> Result<Json<Vec<Instance>>, Error> {
    match &machine.store {
        Some(store) => Ok(Json(store.all())),
        None => Err(Error::NotFound(
            "instances: they are not kept (the state travels in the events); set STATE_STORE=memory to keep them"
                .into(),
        )),
    }
}

async fn one(State(machine): State<Arc<Machine>>, Path(id): Path<String>) -> Result<Json<Instance>, Error> {
    let store = machine.store.as_ref().ok_or_else(|| {
        Error::NotFound(format!(
            "instance {id}: instances are not kept (the state travels in the events); set STATE_STORE=memory"
        ))
    })?;
    store.get(&id).map(Json).ok_or_else(|| Error::NotFound(format!("instance {id}")))
}
