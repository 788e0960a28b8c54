//! A workflow definition, loaded once at start: the document ([`model`], [`states`]),
//! read from JSON or YAML ([`load`]), checked ([`validate`]), with its functions
//! resolved and its `dataInputSchema` compiled. An invalid definition is one error
//! listing every problem with its path.

pub mod duration;
pub mod load;
pub mod model;
pub mod states;
pub mod validate;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use fnmesh_runtime::Env;
use serde_json::Value;

pub use model::*;
pub use states::*;

use crate::expr::Expressions;
use crate::services::{self, Callable, Resolution};

/// A loaded, valid workflow.
#[derive(Debug)]
pub struct Definition {
    /// The document.
    pub workflow: Workflow,
    /// `id` (or `key`): the path of the REST API.
    pub id: String,
    /// The first state.
    pub start: String,
    /// Resolved functions by name.
    pub callables: BTreeMap<String, Callable>,
    /// The compiled `dataInputSchema`, and whether failures refuse the input.
    pub input_schema: Option<(jsonschema::Validator, bool)>,
    states: HashMap<String, usize>,
}

impl Definition {
    /// Reads and checks the workflow at `path`: every problem, with its path, in one
    /// error (lines joined with `; `).
    pub fn load(path: &Path, env: &Env, resolution: &Resolution, expressions: &Expressions) -> Result<Self, String> {
        let workflow = load::read_workflow(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
        Self::from_workflow(workflow, &dir, env, resolution, expressions)
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Checks `workflow`, whose files are in `dir`.
    pub fn from_workflow(
        workflow: Workflow,
        dir: &Path,
        env: &Env,
        resolution: &Resolution,
        expressions: &Expressions,
    ) -> Result<Self, String> {
        let mut errors = validate::validate(&workflow, expressions);
        let callables = match services::resolve_all(&workflow, dir, env, resolution) {
            Ok(callables) => callables,
            Err(more) => {
                errors.extend(more);
                BTreeMap::new()
            }
        };
        let input_schema = match &workflow.data_input_schema {
            None => None,
            Some(schema) => match compile_schema(schema, dir) {
                Ok(compiled) => Some(compiled),
                Err(e) => {
                    errors.push(format!("dataInputSchema: {e}"));
                    None
                }
            },
        };
        if !errors.is_empty() {
            return Err(errors.join("; "));
        }
        let id = if workflow.id.is_empty() { workflow.key.clone().unwrap_or_default() } else { workflow.id.clone() };
        let start = match &workflow.start {
            Some(Start::Name(name) | Start::Object { state_name: name }) => name.clone(),
            None => workflow.states.first().map(|s| s.name.clone()).unwrap_or_default(),
        };
        let states = workflow.states.iter().enumerate().map(|(i, s)| (s.name.clone(), i)).collect();
        Ok(Self { workflow, id, start, callables, input_schema, states })
    }

    /// The state named `name`.
    pub fn state(&self, name: &str) -> Option<&State> {
        self.states.get(name).map(|&i| &self.workflow.states[i])
    }

    /// The event definition named `name`.
    pub fn event(&self, name: &str) -> Option<&EventDef> {
        self.workflow.events.iter().find(|e| e.name == name)
    }

    /// The error definition named `name`.
    pub fn error(&self, name: &str) -> Option<&ErrorDef> {
        self.workflow.errors.iter().find(|e| e.name == name)
    }

    /// The retry policy named `name`.
    pub fn retry(&self, name: &str) -> Option<&RetryDef> {
        self.workflow.retries.iter().find(|r| r.name == name)
    }

    /// Event types that start an instance: those of the start state, when it is an
    /// event state.
    pub fn start_event_types(&self) -> Vec<String> {
        let Some(State { kind: StateKind::Event { on_events, .. }, .. }) = self.state(&self.start) else {
            return Vec::new();
        };
        on_events
            .iter()
            .flat_map(|on| on.event_refs.iter())
            .filter_map(|name| self.event(name))
            .map(|e| e.ty.clone())
            .collect()
    }

    /// Checks `input` against `dataInputSchema`: the first failure, naming the field.
    pub fn check_input(&self, input: &Value) -> Result<(), String> {
        let Some((validator, fail)) = &self.input_schema else { return Ok(()) };
        let Some(error) = validator.iter_errors(input).next() else { return Ok(()) };
        let path = error.instance_path.to_string();
        let message = if path.is_empty() { error.to_string() } else { format!("{path}: {error}") };
        if *fail {
            Err(message)
        } else {
            tracing::warn!(%message, "the input fails dataInputSchema (failOnValidationErrors: false)");
            Ok(())
        }
    }
}

fn compile_schema(schema: &DataInputSchema, dir: &Path) -> Result<(jsonschema::Validator, bool), String> {
    let (schema, fail) = match schema {
        DataInputSchema::File(file) => (Value::String(file.clone()), true),
        DataInputSchema::Object { schema, fail_on_validation_errors } => (schema.clone(), *fail_on_validation_errors),
    };
    let document = match schema {
        Value::String(file) => load::read_document(&load::resolve(dir, &file))?,
        inline => inline,
    };
    jsonschema::validator_for(&document).map(|v| (v, fail)).map_err(|e| format!("invalid JSON Schema: {e}"))
}
