//! Settings, the I/O around a transition (the store, the replay guard, the console, the
//! sink; [`crate::transition`] decides), and the routes (CloudEvents on `/` and
//! `/statemachines/events`; the runner's JSON API on `/statemachines`, when `STATE_API`
//! lets it answer).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use fnmesh_runtime::server::ce_post;
use fnmesh_runtime::sink::Sink;
use fnmesh_runtime::{ConfigError, Console, Env, Error, Event, IncomingEvent, Reply};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::definition::Definition;
use crate::replay::{Refusal, ReplayGuard};
use crate::signature::Signer;
use crate::store::{Instance, Kept, Limit, Limits, Refused, Store};
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
    state_store_max: Option<usize>,
    state_store_max_bytes: Option<usize>,
    state_replay_window: Option<usize>,
    state_replay_hold: Option<String>,
    state_api: Option<String>,
    state_api_token: Option<String>,
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
    /// With `STATE_SECRET` and a window: refuses replayed states.
    replays: Option<ReplayGuard>,
    /// Who may use the runner's JSON API.
    api: Api,
    /// One transition at a time between reading the replay guard and the store and
    /// writing them, so that a step is consumed once and the store is checked and
    /// written as one.
    commit: Mutex<()>,
    sink: Option<Sink>,
    console: Console,
}

/// Instances whose consumed steps are remembered unless `STATE_REPLAY_WINDOW` says.
pub const DEFAULT_REPLAY_WINDOW: usize = 10_000;
/// How long an instance is remembered at least after it moved, unless
/// `STATE_REPLAY_HOLD` says.
pub const DEFAULT_REPLAY_HOLD: Duration = Duration::from_secs(3600);
/// Instances the store keeps unless `STATE_STORE_MAX` says.
pub const DEFAULT_STORE_MAX: usize = 10_000;
/// Bytes of instances the store keeps unless `STATE_STORE_MAX_BYTES` says (16 MiB: a
/// quarter of `config/`'s 64 MiB memory limit).
pub const DEFAULT_STORE_MAX_BYTES: usize = 16 * 1024 * 1024;
/// Times a transition is decided again when other events moved its instance meanwhile.
const COMMIT_ATTEMPTS: usize = 8;

/// Who may use the runner's JSON API (`/statemachines`, `/statemachines/{id}`,
/// `/definition`).
#[derive(Clone, PartialEq, Eq)]
enum Api {
    /// Not served; why, for the `404`.
    Off(&'static str),
    /// Anyone who reaches the service.
    Open,
    /// Requests with `Authorization: Bearer <STATE_API_TOKEN>`: the token's SHA-256.
    Token([u8; 32]),
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Off(why) => write!(f, "Off({why})"),
            Self::Open => f.write_str("Open"),
            Self::Token(_) => f.write_str("Token(..)"),
        }
    }
}

impl Api {
    fn from_settings(api: Option<&str>, token: Option<&str>, signed: bool) -> Result<Self, ConfigError> {
        let on = match api.filter(|v| !v.is_empty()) {
            None => None,
            Some(v) => Some(choice("STATE_API", Some(v), &["off", "on"])? == 1),
        };
        let token = match token {
            None => None,
            Some("") => return Err(ConfigError::invalid("STATE_API_TOKEN", "is empty: unset it, or give a token")),
            Some(token) => Some(Sha256::digest(token.as_bytes()).into()),
        };
        Ok(match (on, token) {
            (Some(false), Some(_)) => {
                return Err(ConfigError::invalid(
                    "STATE_API, STATE_API_TOKEN",
                    "the API is off but a token is set: unset one of them",
                ));
            }
            (Some(false), None) => Self::Off("STATE_API=off"),
            (_, Some(digest)) => Self::Token(digest),
            (Some(true), None) => Self::Open,
            (None, None) if signed => Self::Off("STATE_API is off by default when STATE_SECRET is set"),
            (None, None) => Self::Open,
        })
    }

    /// Whether a request to `uri` with `headers` may use the API.
    fn authorize(&self, headers: &HeaderMap, uri: &Uri) -> Result<(), ApiError> {
        let expected = match self {
            Self::Open => return Ok(()),
            Self::Off(why) => return Err(ApiError::Other(api_off(why, uri))),
            Self::Token(expected) => expected,
        };
        let presented = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(bearer);
        match presented {
            None => Err(ApiError::Unauthorized("the instance API needs Authorization: Bearer <the STATE_API_TOKEN>")),
            // Digests of equal length, compared without an early exit.
            Some(token) if same(&Sha256::digest(token.as_bytes()).into(), expected) => Ok(()),
            Some(_) => Err(ApiError::Unauthorized("the instance API's bearer token is wrong")),
        }
    }
}

/// The `404` of the API while it is off, saying how to turn it on.
fn api_off(why: &str, uri: &Uri) -> Error {
    Error::NotFound(format!(
        "{}: the instance API is off ({why}); set STATE_API=on, or STATE_API_TOKEN to require a bearer token",
        uri.path()
    ))
}

/// A refused API request: a missing or wrong bearer token (`401`), or the function's
/// own errors.
#[derive(Debug)]
enum ApiError {
    Unauthorized(&'static str),
    Other(Error),
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        Self::Other(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::Unauthorized(problem) => {
                let body = Json(json!({"error": problem}));
                (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer")], body).into_response()
            }
            Self::Other(error) => error.into_response(),
        }
    }
}

fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

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
        let limits = Limits {
            instances: raw.state_store_max.unwrap_or(DEFAULT_STORE_MAX),
            bytes: raw.state_store_max_bytes.unwrap_or(DEFAULT_STORE_MAX_BYTES),
        };
        for (var, set, least) in
            [("STATE_STORE_MAX", raw.state_store_max, 1), ("STATE_STORE_MAX_BYTES", raw.state_store_max_bytes, 4096)]
        {
            match set {
                Some(_) if !memory => {
                    return Err(ConfigError::invalid(var, "bounds the store: it needs STATE_STORE=memory"));
                }
                Some(n) if n < least => return Err(ConfigError::invalid(var, format!("must be at least {least}"))),
                _ => {}
            }
        }
        let replay_hold = match raw.state_replay_hold.as_deref().map(str::trim) {
            None | Some("") => DEFAULT_REPLAY_HOLD,
            Some(text) => humantime::parse_duration(text).map_err(|e| {
                ConfigError::invalid(
                    "STATE_REPLAY_HOLD",
                    format!("invalid duration {text:?} ({e}); write e.g. 1h, 30m or 0"),
                )
            })?,
        };
        let api = Api::from_settings(raw.state_api.as_deref(), raw.state_api_token.as_deref(), signer.is_some())?;
        // knative-state's runner names its sink EVENT_SINK; K_SINK wins when both are set.
        let sink_env = match (&raw.event_sink, env.get("K_SINK")) {
            (Some(url), None) => env.clone().with("K_SINK", url.clone()),
            _ => env.clone(),
        };
        let sink = Sink::from_env(&sink_env)?;
        let replay_window = raw.state_replay_window.unwrap_or(DEFAULT_REPLAY_WINDOW);
        // With a store too: it checks the step of the instances it holds, the guard
        // remembers those it forgot (finished ones) and those it never held.
        let replays =
            (signer.is_some() && replay_window > 0).then(|| ReplayGuard::new(replay_window).holding(replay_hold));
        let config = Config { definition, reply, ignore_refused, signer, memory };
        Ok(Self {
            store: memory.then(|| Store::new(limits)),
            replays,
            api,
            commit: Mutex::new(()),
            config,
            sink,
            console: Console::null(),
        })
    }

    /// What an operator should know at start: the API open while the state is signed.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.api == Api::Open && self.config.signer.is_some() && self.store.is_some() {
            warnings.push(
                "STATE_API=on without STATE_API_TOKEN: whoever reaches this service can list every instance and its \
                 context"
                    .to_owned(),
            );
        }
        warnings
    }

    /// Where the function logs.
    pub fn with_console(mut self, console: Console) -> Self {
        self.console = console;
        self
    }

    /// The transition `incoming` asks for, and the reply (`None`: refused and ignored).
    /// [`transition::decide`] decides; this reads the store, then [`Self::commit`]s.
    pub fn transition(&self, incoming: &IncomingEvent) -> Result<Option<Event>, Error> {
        let event = &incoming.event;
        for _ in 0..COMMIT_ATTEMPTS {
            let kept = self.lookup(event);
            let read = kept.as_ref().map(|kept| kept.step);
            let stored = kept.map(|kept| kept.instance);
            let data = incoming.wire_data.as_deref();
            let moved = match transition::decide(&self.config, event, data, stored, Fresh::now())? {
                Decision::Refused { log, error } => {
                    self.console.log(&log);
                    return error.map_or(Ok(None), Err);
                }
                Decision::Moved(moved) => moved,
            };
            match self.commit(&moved, read) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(error) => {
                    self.console.log(&format!("Instance {}: refused: {error}", moved.instance.id));
                    return Err(error);
                }
            }
            let Move { log, reply, .. } = *moved;
            self.console.log(&log);
            return Ok(Some(reply));
        }
        let id = ext(event, ID).unwrap_or_else(|| "named by its correlation key".to_owned());
        Err(Error::Unavailable(format!(
            "instance {id}: other events moved it while this one was decided, {COMMIT_ATTEMPTS} times in a row; retry"
        )))
    }

    /// The stored instance `event` names, by id or correlation key.
    fn lookup(&self, event: &Event) -> Option<Kept> {
        let store = self.store.as_ref()?;
        let id = ext(event, ID).or_else(|| ext(event, CORRELATION).and_then(|key| store.id_for_key(&key)))?;
        store.get(&id)
    }

    /// Makes `moved` happen, or says why it may not: with `STATE_SECRET`, a stored
    /// instance must present its own step, and the replay guard must not have consumed
    /// it; the store must have room. `read` is the step of the stored instance
    /// [`transition::decide`] saw; `Ok(false)`: another event moved it since, decide again.
    fn commit(&self, moved: &Move, read: Option<u64>) -> Result<bool, Error> {
        if self.store.is_none() && self.replays.is_none() {
            return Ok(true);
        }
        let _one_at_a_time = self.commit.lock().unwrap_or_else(PoisonError::into_inner);
        let id = &moved.instance.id;
        if self.config.signer.is_some()
            && let Some(at) = read
            && moved.step != at
        {
            if moved.step < at {
                return Err(moved.replayed(at));
            }
            return Err(Error::Forbidden(format!(
                "instance {id} is at step {at} here, not {}: its state was signed for another step (by another \
                 replica?)",
                moved.step
            )));
        }
        // Only a state that may be replayed is remembered: a new instance's is not.
        let guard = self.replays.as_ref().filter(|_| moved.known);
        if let Some(guard) = guard {
            guard.check(id, moved.step, Instant::now()).map_err(|refusal| match refusal {
                Refusal::Replayed { next } => moved.replayed(next),
                Refusal::Full { capacity, hold } => Error::Unavailable(format!(
                    "instance {id}: the replay guard is full: it holds STATE_REPLAY_WINDOW={capacity} instances, each \
                     moved within STATE_REPLAY_HOLD={}, and forgets none of them for this one; retry later, or raise \
                     STATE_REPLAY_WINDOW",
                    humantime::format_duration(hold)
                )),
            })?;
        }
        if let Some(store) = &self.store {
            let step = read.unwrap_or(moved.step).saturating_add(1);
            let is_final = self.config.definition.is_final(&moved.instance.current);
            match store.put(&moved.instance, step, is_final, read) {
                Ok(()) => {}
                Err(Refused::Conflict) => return Ok(false),
                Err(refused) => return Err(store_refusal(id, refused)),
            }
        }
        if let Some(guard) = guard
            && let Err(next) = guard.consume(id, moved.step)
        {
            // Checked above under the same lock: not reached.
            return Err(moved.replayed(next));
        }
        Ok(true)
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
    fn create(&self) -> Result<Value, Error> {
        let instance = Instance {
            id: uuid::Uuid::new_v4().to_string(),
            correlationkey: String::new(),
            current: String::new(),
            context: Value::Null,
        };
        if let Some(store) = &self.store {
            let _one_at_a_time = self.commit.lock().unwrap_or_else(PoisonError::into_inner);
            let is_final = self.config.definition.is_final("");
            store.put(&instance, 0, is_final, None).map_err(|refused| store_refusal(&instance.id, refused))?;
        }
        let mut body = json!(instance);
        if let Some(signer) = &self.config.signer {
            body[SIGNATURE] = json!(signer.sign(&self.config.definition, &instance.id, "", 0));
        }
        Ok(body)
    }
}

/// The answer when the store does not take instance `id`: `503` when full (retry once
/// instances finish), `422` when the instance alone is too large (retrying cannot help).
fn store_refusal(id: &str, refused: Refused) -> Error {
    match refused {
        Refused::Full(Limit::Instances(limit)) => Error::Unavailable(format!(
            "instance {id}: the state store is full: it holds STATE_STORE_MAX={limit} instances and none is in a final \
             state, to be forgotten; retry once some finish, or raise STATE_STORE_MAX"
        )),
        Refused::Full(Limit::Bytes(limit)) => Error::Unavailable(format!(
            "instance {id}: the state store is full: instances not in a final state fill STATE_STORE_MAX_BYTES={limit} \
             bytes; retry once some finish, or raise STATE_STORE_MAX_BYTES"
        )),
        Refused::TooLarge { bytes, limit } => Error::Unprocessable(format!(
            "instance {id}: its state and context take {bytes} bytes, more than the whole store may hold \
             (STATE_STORE_MAX_BYTES={limit})"
        )),
        Refused::Conflict => Error::Unavailable(format!("instance {id}: written by another event meanwhile; retry")),
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
    let api = match machine.api {
        Api::Off(why) => {
            let off = any(move |uri: Uri| async move { api_off(why, &uri) });
            Router::new()
                .route("/statemachines", off.clone())
                .route("/statemachines/{id}", off.clone())
                .route("/definition", off)
        }
        Api::Open | Api::Token(_) => Router::new()
            .route("/statemachines", get(list).post(create))
            .route("/statemachines/{id}", get(one))
            .route("/definition", get(definition)),
    };
    Router::new().route("/", events.clone()).route("/statemachines/events", events).merge(api.with_state(machine))
}

async fn create(State(machine): State<Arc<Machine>>, headers: HeaderMap, uri: Uri) -> Result<Json<Value>, ApiError> {
    machine.api.authorize(&headers, &uri)?;
    Ok(Json(machine.create()?))
}

/// `GET /definition`, in the runner's shape (`states.<state>.events`).
async fn definition(
    State(machine): State<Arc<Machine>>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Json<Value>, ApiError> {
    machine.api.authorize(&headers, &uri)?;
    let definition = &machine.config.definition;
    let states: serde_json::Map<String, Value> =
        definition.states.iter().map(|(state, events)| (state.clone(), json!({"events": events}))).collect();
    Ok(Json(json!({"name": definition.name, "version": definition.version, "states": states})))
}

async fn list(
    State(machine): State<Arc<Machine>>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Json<Vec<Instance>>, ApiError> {
    machine.api.authorize(&headers, &uri)?;
    match &machine.store {
        Some(store) => Ok(Json(store.all())),
        None => Err(Error::NotFound(
            "instances: they are not kept (the state travels in the events); set STATE_STORE=memory to keep them"
                .into(),
        )
        .into()),
    }
}

async fn one(
    State(machine): State<Arc<Machine>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Json<Instance>, ApiError> {
    machine.api.authorize(&headers, &uri)?;
    let store = machine.store.as_ref().ok_or_else(|| {
        Error::NotFound(format!(
            "instance {id}: instances are not kept (the state travels in the events); set STATE_STORE=memory"
        ))
    })?;
    let kept = store.get(&id).ok_or_else(|| Error::NotFound(format!("instance {id}")))?;
    Ok(Json(kept.instance))
}
