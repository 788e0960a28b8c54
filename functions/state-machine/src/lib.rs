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
//! | `STATE_SECRET` | unset | sign replies and refuse (403) events whose state is not signed, or replayed |
//! | `STATE_REPLAY_WINDOW` | `10000` | with `STATE_SECRET` and no store: instances whose used steps are remembered, so that a state presented twice is refused (403); `0`: off |
//! | `STATE_STORE` | `none` | `memory`: also keep instances, as the runner does (`GET /statemachines/{id}`) |
//! | `K_SINK` / `EVENT_SINK` | unset | also send every transition there |

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
    Ok(app(machine))
}

#[cfg(test)]
mod tests;
