//! `state-machine`: a stateless state-transition function for knative-state's
//! StateMachine definitions. The state travels in CloudEvent extensions, so any replica
//! can take any event.
//!
//! An event is a transition request: its `type` is the event name, extension
//! `statemachineid` the instance, `statemachinestate` the current state (absent: the
//! initial state `""`; an event with neither gets a new instance id). The reply carries
//! the new state:
//!
//! | extension | meaning |
//! |---|---|
//! | `statemachineid` | the instance id |
//! | `statemachinestate` | the new state |
//! | `statemachineprev` | the state before |
//! | `statemachineevent` | the event that moved it |
//! | `statemachinefinal` | `true` when the new state accepts no event |
//! | `statemachinestep` | with `STATE_SECRET`: the instance's transitions so far |
//! | `statemachinesig` | with `STATE_SECRET`: HMAC-SHA256 of (name, version, id, state, step), hex |
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `STATE_MACHINE` / `STATE_MACHINE_FILE` | — | the definition, inline or in a file (YAML or JSON, any shape of [`definition`]) |
//! | `STATEMACHINE_DEF` / `STATEMACHINE_DEF_PATH`, `STATEMACHINE_NAME`, `STATEMACHINE_VERSION` | — | knative-state runner's settings, accepted as they are |
//! | `STATE_REPLY` | `event` | `event`: a new `statemachine.state.change.event`; `input`: the input event with the new extensions |
//! | `STATE_REJECT` | `error` | a refused event: `error` answers 422; `ignore` answers 200 with no event, as the runner does |
//! | `STATE_SECRET` | unset | sign replies and refuse (403) events whose state is not signed, or replayed; with a store too: an event for a stored instance must carry the signature of its stored state and step, its id alone moves nothing |
//! | `STATE_REPLAY_WINDOW` | `10000` | with `STATE_SECRET`: instances whose highest consumed step is remembered, so that a state presented again is refused (403); `0`: off |
//! | `STATE_REPLAY_HOLD` | `1h` | with `STATE_SECRET`: an instance moved within this time is never forgotten; when the window is full of such instances, a move of an instance it does not hold is refused (503, retried) rather than one forgotten; past it, the least recently moved instance is forgotten to make room; `0`: always forget the least recently moved |
//! | `STATE_STORE` | `none` | `memory`: also keep instances, as the runner does (`GET /statemachines/{id}`) |
//! | `STATE_STORE_MAX` | `10000` | with `STATE_STORE=memory`: instances kept at most |
//! | `STATE_STORE_MAX_BYTES` | `16777216` | with `STATE_STORE=memory`: bytes of kept instances at most (id, key, state and context as JSON, plus 256 each) |
//! | `STATE_API` | `on`; `off` with `STATE_SECRET` | the runner's JSON API (`/statemachines`, `/statemachines/{id}`, `/definition`): `off` answers 404 there |
//! | `STATE_API_TOKEN` | unset | the API answers only requests with `Authorization: Bearer <token>` (401 otherwise); it turns the API on |
//! | `K_SINK` / `EVENT_SINK` | unset | also send every transition there |
//!
//! A full store forgets instances in a final state, the least recently moved first, and
//! never a live one: when only live instances are left, an event that would add or grow
//! one is refused (503, with the setting named) until some finish. Whoever can post
//! events can start instances, so a flood of new instances fills the store (and, with
//! `STATE_SECRET`, the replay window): the bounds turn it into refusals, not into memory
//! or into forgotten state.
//!
//! What replay refusal guarantees (`src/replay.rs`): within one process, a signed state is
//! refused once its step has been consumed, for as long as its instance is remembered:
//! always within `STATE_REPLAY_HOLD` of its last move, whatever else is sent; later,
//! until the window needs its room. A stored instance accepts only its current step while
//! stored. A forgotten instance's old states pass again, as they do after a restart or at
//! another replica, which remember nothing of this process.

pub mod definition;
mod handler;
mod replay;
mod signature;
mod store;
mod transition;

pub use handler::{Config, Machine, app};

use fnmesh_runtime::{ConfigError, Console, Env, FunctionSpec, Router, ServeConfig};

/// The state machine, for [`fnmesh_runtime::run_function`] and `fnmesh run`.
pub const SPEC: FunctionSpec = FunctionSpec { name: "state-machine", launch };

fn launch(env: &Env, _serve: &ServeConfig, console: Console) -> Result<Router, ConfigError> {
    let machine = Machine::from_env(env)?.with_console(console.clone());
    let definition = &machine.config.definition;
    let version = if definition.version.is_empty() { String::new() } else { format!(" {}", definition.version) };
    console.log(&format!("state machine {}{version} ready: {} states", definition.name, definition.states.len()));
    for warning in machine.warnings() {
        console.log(&format!("warning: {warning}"));
    }
    Ok(app(machine))
}

#[cfg(test)]
mod tests;
