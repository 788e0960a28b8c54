//! CloudEvents in and out. Produced events go to `K_SINK` with Kogito's extensions
//! (`kogitoprocinstanceid`, `kogitoprocid`, `kogitoprocversion`, `kogitoproctype`).
//! A consumed event resumes the waiting instance it names (`kogitoprocrefid`) or that
//! its correlation attributes match, else starts an instance when a start event state
//! consumes it; an event that matches nothing is refused (`422`, not retried by Knative).

use std::collections::BTreeMap;
use std::sync::Arc;

use fnmesh_runtime::{AttributesReader, Event, EventBuilder, EventBuilderV10};
use serde_json::Value;

use super::data::StepError;
use super::{Engine, Resume, Stopped};
use crate::definition::{EventDef, EventKind, ProduceEvent, validate::wrap_string};
use crate::expr::Scope;
use crate::instance::{Instance, Status};

/// The extension Kogito reads to route an event to an instance.
pub const REF_ID: &str = "kogitoprocrefid";

/// What an incoming event did.
#[derive(Debug)]
pub enum EventMatch {
    /// It resumed (or started) an instance; how that run stopped.
    Handled(Box<Stopped>),
    /// Nothing wanted it: why.
    Unmatched(String),
}

/// The value of context attribute `name` of `event` (an extension, or `source`/`subject`...).
fn attribute(event: &Event, name: &str) -> Option<String> {
    match name {
        "id" => Some(event.id().to_owned()),
        "source" => Some(event.source().to_string()),
        "type" => Some(event.ty().to_owned()),
        "subject" => event.subject().map(str::to_owned),
        _ => event.extension(name).map(ToString::to_string),
    }
}

/// What expressions see of `event`: its data (JSON, else text) or, for
/// `dataOnly: false`, the whole event as JSON.
fn event_value(event: &Event, wire_data: Option<&[u8]>, definition: &EventDef) -> Value {
    let data = match wire_data {
        None => Value::Null,
        Some(bytes) => {
            serde_json::from_slice(bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into()))
        }
    };
    if definition.data_only {
        return data;
    }
    let mut whole = serde_json::Map::new();
    whole.insert("id".into(), event.id().into());
    whole.insert("source".into(), event.source().to_string().into());
    whole.insert("type".into(), event.ty().into());
    for (name, value) in event.iter_extensions() {
        whole.insert(name.to_owned(), value.to_string().into());
    }
    whole.insert("data".into(), data);
    Value::Object(whole)
}

impl Engine {
    /// Handles a consumed CloudEvent.
    pub async fn on_event(self: &Arc<Self>, event: &Event, wire_data: Option<&[u8]>) -> Result<EventMatch, StepError> {
        let definitions: Vec<&EventDef> = self
            .definition
            .workflow
            .events
            .iter()
            .filter(|d| d.kind == EventKind::Consumed && d.ty == event.ty())
            .filter(|d| d.source.as_deref().is_none_or(|s| s == event.source().as_str()))
            .collect();
        if definitions.is_empty() {
            return Ok(EventMatch::Unmatched(format!(
                "workflow {} consumes no event of type {:?} from {}",
                self.definition.id,
                event.ty(),
                event.source()
            )));
        }
        let names: Vec<&str> = definitions.iter().map(|d| d.name.as_str()).collect();
        let waits_for = |instance: &Instance| -> Option<String> {
            let wait = instance.wait.as_ref().filter(|_| instance.status == Status::Waiting)?;
            wait.events.iter().find(|n| names.contains(&n.as_str())).cloned()
        };
        let resume = |name: &str| {
            let definition = definitions.iter().find(|d| d.name == name).copied().unwrap_or(definitions[0]);
            Resume::Event { name: name.to_owned(), data: event_value(event, wire_data, definition) }
        };

        if let Some(id) = attribute(event, REF_ID) {
            let instance = self.store.get(&id).await.map_err(|e| StepError::new("store", e.to_string()))?;
            let Some(name) = instance.as_ref().and_then(waits_for) else {
                return Ok(EventMatch::Unmatched(format!(
                    "{REF_ID} {id}: no instance of {} with that id waits for {:?}",
                    self.definition.id,
                    event.ty()
                )));
            };
            return Ok(match self.continue_instance(&id, Some(resume(&name))).await? {
                Some(stopped) => EventMatch::Handled(Box::new(stopped)),
                None => EventMatch::Unmatched(format!("{REF_ID} {id}: the instance moved on before this event")),
            });
        }

        let correlated: Vec<&EventDef> = definitions.iter().copied().filter(|d| !d.correlation.is_empty()).collect();
        if !correlated.is_empty() {
            let instances =
                self.store.list(&self.definition.id).await.map_err(|e| StepError::new("store", e.to_string()))?;
            for instance in &instances {
                let Some(name) = waits_for(instance) else { continue };
                let Some(definition) = correlated.iter().find(|d| d.name == name) else { continue };
                let matches = definition.correlation.iter().all(|rule| {
                    let Some(value) = attribute(event, &rule.context_attribute_name) else { return false };
                    match (&rule.context_attribute_value, instance.correlation.get(&rule.context_attribute_name)) {
                        (Some(fixed), _) => *fixed == value,
                        (None, Some(bound)) => *bound == value,
                        (None, None) => false,
                    }
                });
                if matches && let Some(stopped) = self.continue_instance(&instance.id, Some(resume(&name))).await? {
                    return Ok(EventMatch::Handled(Box::new(stopped)));
                }
            }
        }

        let starts = self.definition.start_event_types();
        if starts.iter().any(|t| t == event.ty()) {
            let name = definitions[0].name.clone();
            // Correlation values of the starting event bind the instance.
            let mut correlation = BTreeMap::new();
            for definition in &self.definition.workflow.events {
                for rule in &definition.correlation {
                    if rule.context_attribute_value.is_none()
                        && let Some(value) = attribute(event, &rule.context_attribute_name)
                    {
                        correlation.insert(rule.context_attribute_name.clone(), value);
                    }
                }
            }
            let stopped = self.start(Value::Object(Default::default()), Some((resume(&name), correlation))).await?;
            return Ok(EventMatch::Handled(Box::new(stopped)));
        }
        Ok(EventMatch::Unmatched(format!(
            "no instance of {} waits for {:?} with these correlation attributes (send {REF_ID} or the \
             correlation attributes), and no start state consumes it",
            self.definition.id,
            event.ty()
        )))
    }

    /// Produces every event of `events` with `data` as the state's output.
    pub(super) async fn produce_all(
        &self,
        events: &[ProduceEvent],
        data: &Value,
        scope: &Scope,
    ) -> Result<(), StepError> {
        for produce in events {
            let payload = match &produce.data {
                Some(template) => self.expressions.template(&wrap_string(template), data, scope).await?,
                None => data.clone(),
            };
            self.produce(&produce.event_ref, payload, produce.context_attributes.as_ref(), data, scope).await?;
        }
        Ok(())
    }

    /// Sends the produced event `name` with `payload` to `K_SINK` (logged and dropped
    /// without one).
    pub(super) async fn produce(
        &self,
        name: &str,
        payload: Value,
        attributes: Option<&BTreeMap<String, Value>>,
        data: &Value,
        scope: &Scope,
    ) -> Result<(), StepError> {
        let definition = self
            .definition
            .event(name)
            .ok_or_else(|| StepError::new("workflow", format!("no event named {name:?}")))?;
        let instance_id = scope.workflow.get("instanceId").and_then(Value::as_str).unwrap_or_default().to_owned();
        let source = definition.source.clone().unwrap_or_else(|| format!("/process/{}", self.definition.id));
        let mut builder = EventBuilderV10::new()
            .id(uuid::Uuid::new_v4().to_string())
            .source(source)
            .ty(definition.ty.clone())
            .time(chrono::Utc::now())
            .extension("kogitoprocinstanceid", instance_id.as_str())
            .extension("kogitoprocid", self.definition.id.as_str())
            .extension("kogitoproctype", "SW")
            .data("application/json", payload);
        if let Some(version) = &self.definition.workflow.version {
            builder = builder.extension("kogitoprocversion", version.as_str());
        }
        for (key, value) in attributes.into_iter().flatten() {
            let value = match self.expressions.template(value, data, scope).await? {
                Value::String(s) => s,
                other => other.to_string(),
            };
            builder = builder.extension(key, value);
        }
        let event = builder.build().map_err(|e| StepError::new("workflow", format!("event {name}: {e}")))?;
        match &self.sink {
            Some(sink) => {
                if let Err(e) = sink.send(event).await {
                    self.console.log(&format!("event {name} ({}) not delivered: {e}", definition.ty));
                }
            }
            None => self.console.log(&format!("event {name} ({}) dropped: K_SINK is not set", definition.ty)),
        }
        Ok(())
    }
}
