//! Settings, the I/O around a transition (the store, the replay guard, the console, the
//! sink; [`crate::transition`] decides), and the routes (CloudEvents on `/` and
//! `/statemachines/events`; the runner's JSON API on `/statemachines`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use fnmesh_runtime::server::ce_post;
use fnmesh_runtime::sink::Sink;
use fnmesh_runtime::{ConfigError, Console, Env, Error, Event, IncomingEvent, Reply};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::definition::Definition;
use crate::replay::ReplayGuard;
use crate::signature::Signer;
use crate::store::{Instance, Store};
use crate::transition::{self, CORRELATION, Decision, Fresh, ID, Move, SIGNATURE, ext};

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

    /// The transition `incoming` asks for, and the reply (`None`: refused and ignored).
    /// [`transition::decide`] decides; this reads and writes the store, consults the
    /// replay guard and logs.
    pub fn transition(&self, incoming: &IncomingEvent) -> Result<Option<Event>, Error> {
        let event = &incoming.event;
        let stored = self.store.as_ref().and_then(|store| {
            let id = ext(event, ID).or_else(|| ext(event, CORRELATION).and_then(|key| store.id_for_key(&key)))?;
            store.get(&id)
        });
        let moved = match transition::decide(&self.config, event, incoming.wire_data.as_deref(), stored, Fresh::now())?
        {
            Decision::Refused { log, error } => {
                self.console.log(&log);
                return error.map_or(Ok(None), Err);
            }
            Decision::Moved(moved) => moved,
        };
        // Only a state that may be replayed is remembered: a new instance's is not.
        if let Some(replays) = &self.replays
            && moved.known
            && let Err(at) = replays.consume(&moved.instance.id, moved.step)
        {
            return Err(moved.replayed(at));
        }
        let Move { instance, log, reply, .. } = *moved;
        if let Some(store) = &self.store {
            store.put(instance);
        }
        self.console.log(&log);
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
