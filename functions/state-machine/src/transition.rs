//! The transition of one event, with no I/O: from the settings, the event and its data,
//! the stored instance (with `STATE_STORE=memory`) and [`Fresh`] values (the time and new
//! ids), it decides what happens: a refusal, or the next state with the instance to keep,
//! the reply and the log line. The extension names the reply carries are defined here.
//!
//! What needs the world stays in [`crate::handler`]: reading and writing the store, the
//! replay guard (it remembers across events), the console, the sink, the clock.

use chrono::{DateTime, Utc};
use fnmesh_runtime::{AttributesReader, Error, Event, EventBuilder, EventBuilderV10};
use serde_json::{Value, json};

use crate::handler::{Config, ReplyMode};
use crate::store::Instance;

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

/// What a transition may need from the clock and the random source, read before it so
/// that the transition itself is a function of its inputs (tests pass fixed values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fresh {
    /// The `time` of a change event.
    pub now: DateTime<Utc>,
    /// The id of an instance the event starts (it names none).
    pub instance_id: String,
    /// The `id` of a change event.
    pub event_id: String,
}

impl Fresh {
    /// The current time and two new UUIDs.
    pub fn now() -> Self {
        Self {
            now: Utc::now(),
            instance_id: uuid::Uuid::new_v4().to_string(),
            event_id: uuid::Uuid::new_v4().to_string(),
        }
    }
}

/// What an event does to its instance.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// The definition does not let the event move the instance: print `log`, then answer
    /// `error`, or nothing at all when it is `None` (`STATE_REJECT=ignore`).
    Refused { log: String, error: Option<Error> },
    /// The instance moves.
    Moved(Box<Move>),
}

/// A transition that the definition allows.
#[derive(Debug, Clone, PartialEq)]
pub struct Move {
    /// The instance after the transition, for the store.
    pub instance: Instance,
    /// The state before.
    pub previous: String,
    /// The step the event presented (`0` when it carried none).
    pub step: u64,
    /// The instance id came from the event or the store, not from [`Fresh`]: only a
    /// known instance can present a state twice.
    pub known: bool,
    /// The line to print.
    pub log: String,
    /// The reply.
    pub reply: Event,
}

impl Move {
    /// The refusal when the replay guard has seen this step already: the instance is at
    /// step `at` or later.
    pub fn replayed(&self, at: u64) -> Error {
        let Self { instance, previous, step, .. } = self;
        Error::Forbidden(format!(
            "instance {}: the state {previous:?} of step {step} was already used (a replay?); the instance is at step \
             {at} or later",
            instance.id
        ))
    }
}

/// An extension's value as text; empty counts as absent.
pub fn ext(event: &Event, name: &str) -> Option<String> {
    event.extension(name).map(ToString::to_string).filter(|v| !v.is_empty())
}

/// The transition `event` asks for. `data` is its data as it arrived (read as JSON for
/// the instance's context); `stored` is the instance the store holds for it, if any: then
/// its state, not the event's, is the current one. With `STATE_SECRET`, the event must
/// carry the signature of the current state at the step it presents, whether that state
/// is the event's or the store's: an instance id alone moves nothing. (That the step is
/// the stored instance's, or one not yet consumed, is for the caller, which remembers.)
/// `Err` is an event that cannot be read as a transition request (bad step, bad or missing
/// signature, a state without an instance).
pub fn decide(
    config: &Config,
    event: &Event,
    data: Option<&[u8]>,
    stored: Option<Instance>,
    fresh: Fresh,
) -> Result<Decision, Error> {
    let definition = &config.definition;
    let correlation = ext(event, CORRELATION);
    let id = ext(event, ID).or_else(|| stored.as_ref().map(|instance| instance.id.clone()));
    let current = match &stored {
        Some(instance) => instance.current.clone(),
        None => ext(event, STATE).unwrap_or_default(),
    };
    let step = match ext(event, STEP) {
        None => 0,
        Some(text) => text.parse::<u64>().map_err(|_| {
            Error::InvalidEvent(format!("{STEP} is {text:?}: expected the number of transitions so far"))
        })?,
    };
    let next_step = step
        .checked_add(1)
        .ok_or_else(|| Error::InvalidEvent(format!("{STEP} is {step}: no transition can follow it")))?;
    if let (Some(signer), Some(id)) = (&config.signer, &id) {
        let signature = ext(event, SIGNATURE).unwrap_or_default();
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
            let log = format!("Event Rejected: {} for state {current:?}", event.ty());
            let error = (!config.ignore_refused).then(|| {
                Error::Unprocessable(match &id {
                    Some(id) => format!("instance {id}: {refused}"),
                    None => refused.to_string(),
                })
            });
            return Ok(Decision::Refused { log, error });
        }
    };
    let known = id.is_some();
    let id = id.unwrap_or(fresh.instance_id);
    let data = data.and_then(|bytes| serde_json::from_slice(bytes).ok());
    let (context, kept_key) = match (stored, data) {
        (Some(instance), Some(Value::Object(new))) => (merge(instance.context, new), Some(instance.correlationkey)),
        (Some(instance), _) => (instance.context, Some(instance.correlationkey)),
        (None, data) => (data.unwrap_or(Value::Null), None),
    };
    let log = format!("Instance {id}: {current:?} --{}--> {next:?}", event.ty());
    let mut reply = match config.reply {
        ReplyMode::Input => event.clone(),
        ReplyMode::ChangeEvent => {
            let data = json!({"id": id, "correlationkey": correlation.clone().unwrap_or_default(), "current": next, "context": context});
            let mut change = EventBuilderV10::new()
                .id(fresh.event_id)
                .ty(CHANGE_TYPE)
                .source(CHANGE_SOURCE)
                .time(fresh.now)
                .build()
                .map_err(|e| Error::Internal(e.to_string()))?;
            change.set_data("application/json", data.to_string().into_bytes());
            change
        }
    };
    reply.set_extension(ID, id.clone());
    reply.set_extension(STATE, next.clone());
    reply.set_extension(PREVIOUS, current.clone());
    reply.set_extension(EVENT, event.ty().to_owned());
    reply.set_extension(FINAL, definition.is_final(&next).to_string());
    if let Some(key) = &correlation {
        reply.set_extension(CORRELATION, key.clone());
    }
    if let Some(signer) = &config.signer {
        reply.set_extension(STEP, next_step.to_string());
        reply.set_extension(SIGNATURE, signer.sign(definition, &id, &next, next_step));
    } else {
        reply.remove_extension(SIGNATURE);
        reply.remove_extension(STEP);
    }
    // The store keeps the key the instance was first seen with.
    let correlationkey = kept_key.or(correlation).unwrap_or_default();
    let instance = Instance { id, correlationkey, current: next, context };
    Ok(Decision::Moved(Box::new(Move { instance, previous: current, step, known, log, reply })))
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

#[cfg(test)]
mod tests {
    use fnmesh_runtime::Data;

    use super::*;
    use crate::definition::Definition;
    use crate::signature::Signer;

    const BUY_TICKETS: &str = include_str!("../tests/data/buy-tickets-statemachine.yaml");
    const DATA: &[u8] = br#"{"name":"Salaboy"}"#;

    fn config(reply: ReplyMode, ignore_refused: bool, signer: Option<Signer>) -> Config {
        let definition = Definition::parse(BUY_TICKETS, None, None).unwrap();
        Config { definition, reply, ignore_refused, signer, memory: false }
    }

    fn plain() -> Config {
        config(ReplyMode::ChangeEvent, false, None)
    }

    /// A clock stopped at 2020-09-14T14:50:00Z, with ids that say what they are.
    fn fixed() -> Fresh {
        Fresh {
            now: DateTime::from_timestamp(1_600_095_000, 0).unwrap(),
            instance_id: "new-instance".into(),
            event_id: "new-event".into(),
        }
    }

    /// An event of type `ty` with these extensions.
    fn event(ty: &str, extensions: &[(&str, &str)]) -> Event {
        let builder = EventBuilderV10::new().id("in-1").source("/test").ty(ty);
        extensions.iter().fold(builder, |b, (name, value)| b.extension(name, *value)).build().unwrap()
    }

    fn moved(decision: Decision) -> Move {
        match decision {
            Decision::Moved(moved) => *moved,
            Decision::Refused { log, error } => panic!("refused: {log}, {error:?}"),
        }
    }

    fn extension(event: &Event, name: &str) -> Option<String> {
        event.extension(name).map(ToString::to_string)
    }

    fn data(event: &Event) -> Value {
        match event.data() {
            Some(Data::Binary(bytes)) => serde_json::from_slice(bytes).unwrap(),
            other => panic!("data {other:?}"),
        }
    }

    #[test]
    fn a_new_instance_takes_its_id_time_and_event_id_from_the_clock() {
        let step = moved(decide(&plain(), &event("JoinedQueue", &[]), Some(DATA), None, fixed()).unwrap());
        assert_eq!(
            step.instance,
            Instance {
                id: "new-instance".into(),
                correlationkey: String::new(),
                current: "InQueue".into(),
                context: json!({"name": "Salaboy"}),
            }
        );
        assert_eq!((step.previous.as_str(), step.step, step.known), ("", 0, false));
        assert_eq!(step.log, r#"Instance new-instance: "" --JoinedQueue--> "InQueue""#);
        let reply = &step.reply;
        assert_eq!((reply.id(), reply.ty(), reply.source().as_str()), ("new-event", CHANGE_TYPE, CHANGE_SOURCE));
        assert_eq!(reply.time(), Some(&fixed().now));
        assert_eq!(
            data(reply),
            json!({"id": "new-instance", "correlationkey": "", "current": "InQueue", "context": {"name": "Salaboy"}})
        );
        let extensions: Vec<_> =
            [ID, STATE, PREVIOUS, EVENT, FINAL, CORRELATION, STEP, SIGNATURE].map(|e| extension(reply, e)).into();
        let some = |v: &str| Some(v.to_owned());
        assert_eq!(
            extensions,
            [some("new-instance"), some("InQueue"), some(""), some("JoinedQueue"), some("false"), None, None, None]
        );
    }

    #[test]
    fn a_known_instance_keeps_its_id_and_a_final_state_says_so() {
        let incoming = event("PaymentAuthorized", &[(ID, "i-1"), (STATE, "WaitingForPaymentAuth"), (CORRELATION, "k")]);
        let step = moved(decide(&plain(), &incoming, None, None, fixed()).unwrap());
        assert!(step.known);
        assert_eq!((step.instance.id.as_str(), step.instance.correlationkey.as_str()), ("i-1", "k"));
        assert_eq!(step.instance.context, Value::Null, "no data");
        assert_eq!(extension(&step.reply, FINAL).as_deref(), Some("true"));
        assert_eq!(extension(&step.reply, CORRELATION).as_deref(), Some("k"));
        assert_eq!(step.log, r#"Instance i-1: "WaitingForPaymentAuth" --PaymentAuthorized--> "TicketsPurchased""#);
    }

    #[test]
    fn the_input_reply_mode_keeps_the_event_and_uses_no_fresh_event_id() {
        let config = config(ReplyMode::Input, false, None);
        let incoming = event("JoinedQueue", &[(SIGNATURE, "stale"), (STEP, "4")]);
        let reply = moved(decide(&config, &incoming, Some(DATA), None, fixed()).unwrap()).reply;
        assert_eq!((reply.id(), reply.ty(), reply.time()), ("in-1", "JoinedQueue", None));
        assert_eq!(extension(&reply, STATE).as_deref(), Some("InQueue"));
        assert_eq!((extension(&reply, SIGNATURE), extension(&reply, STEP)), (None, None), "unsigned: removed");
    }

    #[test]
    fn a_stored_instance_is_the_truth_and_its_context_takes_the_new_fields() {
        let stored = Instance {
            id: "i-1".into(),
            correlationkey: "order-7".into(),
            current: "InQueue".into(),
            context: json!({"name": "old", "seat": 12}),
        };
        // The event names the instance by key only, and claims another state: the store wins.
        let incoming = event("ExitedQueue", &[(STATE, "Nowhere"), (CORRELATION, "order-8")]);
        let step = moved(decide(&plain(), &incoming, Some(DATA), Some(stored), fixed()).unwrap());
        assert!(step.known);
        assert_eq!(
            step.instance,
            Instance {
                id: "i-1".into(),
                correlationkey: "order-7".into(),
                current: "BuyingTickets".into(),
                context: json!({"name": "Salaboy", "seat": 12}),
            }
        );
        assert_eq!(data(&step.reply)["correlationkey"], "order-8", "the event's key, as the runner");
    }

    #[test]
    fn refusals_log_and_answer_422_or_nothing() {
        let incoming = event("PaymentAuthorized", &[(ID, "i-1"), (STATE, "InQueue")]);
        let log = r#"Event Rejected: PaymentAuthorized for state "InQueue""#.to_owned();
        let message = r#"instance i-1: event "PaymentAuthorized" is not allowed in state "InQueue" (it accepts AbandonedQueue, ExitedQueue)"#;
        assert_eq!(
            decide(&plain(), &incoming, None, None, fixed()).unwrap(),
            Decision::Refused { log: log.clone(), error: Some(Error::Unprocessable(message.into())) }
        );
        let ignoring = config(ReplyMode::ChangeEvent, true, None);
        assert_eq!(decide(&ignoring, &incoming, None, None, fixed()).unwrap(), Decision::Refused { log, error: None });
        let anonymous = decide(&plain(), &event("Go", &[(STATE, "Nowhere")]), None, None, fixed());
        assert_eq!(
            anonymous.unwrap_err(),
            Error::InvalidEvent(
                r#"statemachinestate is "Nowhere" but statemachineid is missing: which instance?"#.into()
            )
        );
    }

    /// Issue 21: with `STATE_STORE=memory` and `STATE_SECRET`, the stored state was
    /// trusted and the signature not checked, so an instance id alone moved an instance.
    #[test]
    fn a_stored_instance_needs_the_signature_of_its_stored_state() {
        let signer = Signer::new("s3cret");
        let signed = config(ReplyMode::ChangeEvent, false, Some(signer.clone()));
        let stored = || {
            Some(Instance {
                id: "i-1".into(),
                correlationkey: "order-7".into(),
                current: "InQueue".into(),
                context: Value::Null,
            })
        };
        let by_id = event("ExitedQueue", &[(ID, "i-1")]);
        assert_eq!(
            decide(&signed, &by_id, None, stored(), fixed()).unwrap_err(),
            Error::Forbidden(
                r#"the state "InQueue" of instance i-1 is not signed by this state machine (statemachinesig is missing)"#
                    .into()
            )
        );
        // The event's state is not what is checked: the store's is.
        let sig = signer.sign(&signed.definition, "i-1", "BuyingTickets", 2);
        let claims = event("ExitedQueue", &[(ID, "i-1"), (STATE, "BuyingTickets"), (STEP, "2"), (SIGNATURE, &sig)]);
        assert!(decide(&signed, &claims, None, stored(), fixed()).is_err(), "signed, but not the stored state");
        // Named by its correlation key only: the stored id is the one signed.
        let sig = signer.sign(&signed.definition, "i-1", "InQueue", 1);
        let by_key = event("ExitedQueue", &[(CORRELATION, "order-7"), (STEP, "1"), (SIGNATURE, &sig)]);
        let step = moved(decide(&signed, &by_key, None, stored(), fixed()).unwrap());
        assert_eq!((step.instance.id.as_str(), step.instance.current.as_str(), step.step), ("i-1", "BuyingTickets", 1));
        assert_eq!(extension(&step.reply, SIGNATURE), Some(signer.sign(&signed.definition, "i-1", "BuyingTickets", 2)));
    }

    /// A new instance's step is not signed (it names no instance): the largest one made
    /// `step + 1` overflow, a panic in a debug build.
    #[test]
    fn the_largest_step_has_no_next_one() {
        let signed = config(ReplyMode::ChangeEvent, false, Some(Signer::new("s3cret")));
        let incoming = event("JoinedQueue", &[(STEP, &u64::MAX.to_string())]);
        assert_eq!(
            decide(&signed, &incoming, None, None, fixed()).unwrap_err(),
            Error::InvalidEvent(format!("statemachinestep is {}: no transition can follow it", u64::MAX))
        );
    }

    #[test]
    fn signed_state_is_checked_and_the_reply_signed_for_the_next_step() {
        let signer = Signer::new("s3cret");
        let signed = config(ReplyMode::ChangeEvent, false, Some(signer.clone()));
        let definition = &signed.definition;
        let sig = signer.sign(definition, "i-1", "InQueue", 3);
        let incoming = event("ExitedQueue", &[(ID, "i-1"), (STATE, "InQueue"), (STEP, "3"), (SIGNATURE, &sig)]);
        let step = moved(decide(&signed, &incoming, None, None, fixed()).unwrap());
        assert_eq!((step.step, step.known), (3, true));
        assert_eq!(extension(&step.reply, STEP).as_deref(), Some("4"));
        assert_eq!(extension(&step.reply, SIGNATURE), Some(signer.sign(definition, "i-1", "BuyingTickets", 4)));
        assert_eq!(
            step.replayed(5),
            Error::Forbidden(
                r#"instance i-1: the state "InQueue" of step 3 was already used (a replay?); the instance is at step 5 or later"#
                    .into()
            )
        );
        let unsigned = event("ExitedQueue", &[(ID, "i-1"), (STATE, "InQueue")]);
        assert_eq!(
            decide(&signed, &unsigned, None, None, fixed()).unwrap_err(),
            Error::Forbidden(
                r#"the state "InQueue" of instance i-1 is not signed by this state machine (statemachinesig is missing)"#
                    .into()
            )
        );
        let bad_step = event("ExitedQueue", &[(ID, "i-1"), (STEP, "x")]);
        assert_eq!(
            decide(&signed, &bad_step, None, None, fixed()).unwrap_err(),
            Error::InvalidEvent(r#"statemachinestep is "x": expected the number of transitions so far"#.into())
        );
    }
}
