//! State machine definitions as knative-state writes them, in every shape users have:
//! a `StateMachine` resource (states under `spec.stateMachine.states`, as its README and
//! our seed write them, or `spec.stateMachine.stateMachineStates.states`, as its CRD
//! nests them), its `spec.stateMachine`, or a bare map of states (the runner's
//! `STATEMACHINE_DEF`). Each state maps event names to target states; `""` is the
//! initial state; a state with no events is final.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_yaml_ng::Value;

/// A checked definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Definition {
    pub name: String,
    pub version: String,
    /// State to (event to next state).
    pub states: BTreeMap<String, BTreeMap<String, String>>,
}

/// Why an event cannot move an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The state is not in the definition.
    UnknownState(String),
    /// The state does not accept this event; the events it accepts.
    NotAllowed { state: String, event: String, accepted: Vec<String> },
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UnknownState(state) => write!(f, "state {state:?} is not in the state machine"),
            Self::NotAllowed { state, event, accepted } if accepted.is_empty() => {
                write!(f, "event {event:?} is not allowed in state {state:?}: it is a final state")
            }
            Self::NotAllowed { state, event, accepted } => {
                write!(f, "event {event:?} is not allowed in state {state:?} (it accepts {})", accepted.join(", "))
            }
        }
    }
}

impl Definition {
    /// Parses YAML or JSON `text` in any of the accepted shapes; `name` and `version` fill
    /// in what the text does not say.
    pub fn parse(text: &str, name: Option<&str>, version: Option<&str>) -> Result<Self, String> {
        let value: Value = serde_yaml_ng::from_str(text).map_err(|e| format!("not YAML or JSON: {e}"))?;
        let str_at = |v: &Value, path: &[&str]| -> Option<String> {
            path.iter().try_fold(v, |v, key| v.get(*key)).and_then(Value::as_str).map(str::to_owned)
        };
        let mut found_name = str_at(&value, &["metadata", "name"]);
        let machine = if value.get("kind").is_some() || value.get("spec").is_some() {
            value.get("spec").and_then(|s| s.get("stateMachine")).ok_or("spec.stateMachine: required")?
        } else if let Some(machine) = value.get("stateMachine") {
            machine
        } else {
            &value
        };
        let (states, path) = if let Some(states) = machine.get("states") {
            (states, "states")
        } else if let Some(states) = machine.get("stateMachineStates").and_then(|s| s.get("states")) {
            (states, "stateMachineStates.states")
        } else {
            (machine, "")
        };
        let version = str_at(machine, &["version"]).or(version.map(str::to_owned)).unwrap_or_default();
        if found_name.is_none() {
            found_name = name.map(str::to_owned);
        }
        let states = parse_states(states, path)?;
        let definition = Self { name: found_name.unwrap_or_else(|| "statemachine".into()), version, states };
        definition.check()?;
        Ok(definition)
    }

    fn check(&self) -> Result<(), String> {
        if !self.states.contains_key("") {
            return Err("there is no initial state \"\" (a state named with the empty string)".into());
        }
        for (state, events) in &self.states {
            for (event, target) in events {
                if !self.states.contains_key(target) {
                    return Err(format!("state {state:?}: event {event:?} goes to {target:?}, which is not a state"));
                }
            }
        }
        Ok(())
    }

    /// The state `event` moves `state` to.
    pub fn next(&self, state: &str, event: &str) -> Result<&str, Refused> {
        let events = self.states.get(state).ok_or_else(|| Refused::UnknownState(state.to_owned()))?;
        events.get(event).map(String::as_str).ok_or_else(|| Refused::NotAllowed {
            state: state.to_owned(),
            event: event.to_owned(),
            accepted: events.keys().cloned().collect(),
        })
    }

    /// Whether `state` accepts no event.
    pub fn is_final(&self, state: &str) -> bool {
        self.states.get(state).is_some_and(BTreeMap::is_empty)
    }
}

fn parse_states(value: &Value, path: &str) -> Result<BTreeMap<String, BTreeMap<String, String>>, String> {
    let at = |key: &str| if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") };
    let map = value
        .as_mapping()
        .ok_or_else(|| format!("{}: must be a map of states", if path.is_empty() { "the definition" } else { path }))?;
    let mut states = BTreeMap::new();
    for (name, state) in map {
        let name = scalar(name).ok_or_else(|| format!("{}: state names are strings", at("?")))?;
        let events = match state.get("events") {
            None | Some(Value::Null) => BTreeMap::new(),
            Some(Value::Mapping(events)) => events
                .iter()
                .map(|(event, target)| match (scalar(event), scalar(target)) {
                    (Some(e), Some(t)) => Ok((e, t)),
                    _ => Err(format!("{}: events map names to state names", at(&format!("{name}.events")))),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(format!("{}: must be a map of event to state", at(&format!("{name}.events")))),
        };
        if !matches!(state, Value::Mapping(_) | Value::Null) {
            return Err(format!("{}: must be a map with `events`", at(&name)));
        }
        states.insert(name, events);
    }
    Ok(states)
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Null => Some(String::new()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = include_str!("../tests/data/buy-tickets-statemachine.yaml");

    #[test]
    fn every_shape_gives_the_same_states() {
        let seed = Definition::parse(SEED, None, None).unwrap();
        assert_eq!((seed.name.as_str(), seed.version.as_str()), ("buy-tickets-statemachine", "1.0.0"));
        assert_eq!(seed.next("", "JoinedQueue"), Ok("InQueue"));
        assert!(seed.is_final("TicketsPurchased"));
        let crd = "kind: StateMachine\nmetadata: {name: m}\nspec:\n  stateMachine:\n    version: '2'\n    stateMachineStates:\n      states:\n        '': {events: {Go: Done}}\n        Done: {events: {}}\n";
        let bare = "'': {events: {Go: Done}}\nDone: {}\n";
        let spec =
            "{\"stateMachine\": {\"states\": {\"\": {\"events\": {\"Go\": \"Done\"}}, \"Done\": {\"events\": {}}}}}";
        for text in [crd, bare, spec] {
            let definition = Definition::parse(text, Some("fallback"), Some("9")).unwrap();
            assert_eq!(definition.next("", "Go"), Ok("Done"), "{text}");
            assert!(definition.is_final("Done"));
        }
        assert_eq!(Definition::parse(crd, None, None).unwrap().version, "2");
        assert_eq!(Definition::parse(bare, Some("fallback"), Some("9")).unwrap().name, "fallback");
    }

    #[test]
    fn bad_definitions_say_why() {
        let err = |text: &str| Definition::parse(text, None, None).unwrap_err();
        assert_eq!(
            err("A: {events: {Go: B}}\nB: {}"),
            "there is no initial state \"\" (a state named with the empty string)"
        );
        assert_eq!(
            err("'': {events: {Go: Nowhere}}"),
            "state \"\": event \"Go\" goes to \"Nowhere\", which is not a state"
        );
        assert_eq!(err("kind: StateMachine\nspec: {}"), "spec.stateMachine: required");
        assert!(err("'': {events: [a]}").contains("must be a map of event to state"));
        assert!(err("{").starts_with("not YAML or JSON"));
    }

    #[test]
    fn refusals_name_state_and_event() {
        let seed = Definition::parse(SEED, None, None).unwrap();
        assert_eq!(
            seed.next("InQueue", "PaymentAuthorized").unwrap_err().to_string(),
            "event \"PaymentAuthorized\" is not allowed in state \"InQueue\" (it accepts AbandonedQueue, ExitedQueue)"
        );
        assert_eq!(
            seed.next("TicketsPurchased", "JoinedQueue").unwrap_err().to_string(),
            "event \"JoinedQueue\" is not allowed in state \"TicketsPurchased\": it is a final state"
        );
        assert_eq!(seed.next("Nowhere", "X").unwrap_err(), Refused::UnknownState("Nowhere".into()));
    }
}
