//! Router tests: every transition of the seed's buy-tickets machine, refusals, signed
//! state, the runner's API and start-up checks.

use fnmesh_runtime::{Console, Env};
use fnmesh_testkit::{Answer, CeRequest, call};
use http::StatusCode;
use serde_json::json;

use super::*;

const BUY_TICKETS: &str = include_str!("../tests/data/buy-tickets-statemachine.yaml");

fn machine(env: &[(&str, &str)]) -> Router {
    let env = Env::from_pairs([("STATE_MACHINE", BUY_TICKETS)].into_iter().chain(env.iter().copied()));
    SPEC.build(&env, Console::null()).unwrap().0
}

fn start_error(env: &[(&str, &str)]) -> String {
    SPEC.build(&Env::from_pairs(env.iter().copied()), Console::null()).unwrap_err().to_string()
}

fn event(ty: &str, id: Option<&str>, state: Option<&str>) -> CeRequest {
    let mut request = CeRequest::binary().header("ce-type", ty).json(&json!({"name": "Salaboy"}));
    if let Some(id) = id {
        request = request.header("ce-statemachineid", id);
    }
    if let Some(state) = state {
        request = request.header("ce-statemachinestate", state);
    }
    request
}

/// Sends `ty` from `state` and returns the answer.
async fn step(router: &Router, ty: &str, id: Option<&str>, state: Option<&str>) -> Answer {
    call(router, &event(ty, id, state)).await
}

#[tokio::test]
async fn buy_tickets_from_the_queue_to_purchased() {
    let router = machine(&[]);
    let first = step(&router, "JoinedQueue", None, None).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    let id = first.header("ce-statemachineid").to_owned();
    assert_eq!(id.len(), 36, "a new instance gets a UUID");
    assert_eq!(first.header("ce-type"), "statemachine.state.change.event", "not the input type");
    assert_eq!(first.header("ce-source"), "statemachine-runner");
    assert_eq!(first.header("ce-statemachinestate"), "InQueue");
    assert_eq!(first.header("ce-statemachineprev"), "");
    assert_eq!(first.header("ce-statemachineevent"), "JoinedQueue");
    assert_eq!(first.header("ce-statemachinefinal"), "false");
    assert_eq!(
        first.json(),
        json!({"id": id, "correlationkey": "", "current": "InQueue", "context": {"name": "Salaboy"}})
    );
    let path = [
        ("ExitedQueue", "InQueue", "BuyingTickets"),
        ("TicketsReserved", "BuyingTickets", "PayingTickets"),
        ("PaymentRequested", "PayingTickets", "WaitingForPaymentAuth"),
        ("PaymentAuthorized", "WaitingForPaymentAuth", "TicketsPurchased"),
    ];
    for (ty, from, to) in path {
        let answer = step(&router, ty, Some(&id), Some(from)).await;
        assert_eq!(answer.status, StatusCode::OK, "{ty}: {}", answer.text());
        assert_eq!(answer.header("ce-statemachinestate"), to);
        assert_eq!(answer.header("ce-statemachineprev"), from);
        assert_eq!(answer.header("ce-statemachineid"), id);
    }
    let done = step(&router, "PaymentAuthorized", Some(&id), Some("WaitingForPaymentAuth")).await;
    assert_eq!(done.header("ce-statemachinefinal"), "true");
    let abandoned = step(&router, "AbandonedQueue", Some(&id), Some("InQueue")).await;
    assert_eq!(
        (abandoned.header("ce-statemachinestate"), abandoned.header("ce-statemachinefinal")),
        ("NoTicketsPurchased", "true")
    );
}

#[tokio::test]
async fn refused_events_are_422_naming_state_and_event() {
    let router = machine(&[]);
    let answer = step(&router, "PaymentAuthorized", Some("i-1"), Some("InQueue")).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        answer.error(),
        "instance i-1: event \"PaymentAuthorized\" is not allowed in state \"InQueue\" (it accepts AbandonedQueue, ExitedQueue)"
    );
    let done = step(&router, "JoinedQueue", Some("i-1"), Some("TicketsPurchased")).await;
    assert!(done.error().ends_with("it is a final state"), "{}", done.error());
    let unknown = step(&router, "JoinedQueue", Some("i-1"), Some("Nowhere")).await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    let anonymous = step(&router, "ExitedQueue", None, Some("InQueue")).await;
    assert_eq!(anonymous.status, StatusCode::BAD_REQUEST, "a state without an instance");
    let ignoring = machine(&[("STATE_REJECT", "ignore")]);
    let ignored = step(&ignoring, "PaymentAuthorized", Some("i-1"), Some("InQueue")).await;
    assert_eq!((ignored.status, ignored.text()), (StatusCode::OK, ""), "the runner's behaviour");
}

#[tokio::test]
async fn the_input_reply_mode_keeps_the_event() {
    let router = machine(&[("STATE_REPLY", "input")]);
    let answer = step(&router, "JoinedQueue", None, None).await;
    assert_eq!(answer.header("ce-type"), "JoinedQueue");
    assert_eq!(answer.json(), json!({"name": "Salaboy"}));
    assert_eq!(answer.header("ce-statemachinestate"), "InQueue");
}

/// `ty` sent from a signed `state` at `step` of instance `id`.
fn signed(ty: &str, id: &str, state: &str, step: u64, sig: &str) -> CeRequest {
    event(ty, Some(id), Some(state)).header("ce-statemachinestep", &step.to_string()).header("ce-statemachinesig", sig)
}

#[tokio::test]
async fn signed_state_cannot_be_forged_moved_or_left_out() {
    let router = machine(&[("STATE_SECRET", "s3cret")]);
    let first = step(&router, "JoinedQueue", None, None).await;
    let (id, sig) = (first.header("ce-statemachineid").to_owned(), first.header("ce-statemachinesig").to_owned());
    assert_eq!((sig.len(), first.header("ce-statemachinestep")), (64, "1"));
    let next = call(&router, &signed("ExitedQueue", &id, "InQueue", 1, &sig)).await;
    assert_eq!(next.status, StatusCode::OK, "{}", next.text());
    assert_eq!(next.header("ce-statemachinestep"), "2");
    let forged = call(&router, &signed("TicketsReserved", &id, "BuyingTickets", 1, &sig)).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "a state it was not signed for");
    assert!(
        forged.error().contains("is not signed by this state machine (statemachinesig is wrong)"),
        "{}",
        forged.error()
    );
    let moved = call(&router, &signed("ExitedQueue", "another-id", "InQueue", 1, &sig)).await;
    assert_eq!(moved.status, StatusCode::FORBIDDEN, "another instance's signature");
    let other_step = call(&router, &signed("ExitedQueue", &id, "InQueue", 7, &sig)).await;
    assert_eq!(other_step.status, StatusCode::FORBIDDEN, "another step");
    let unsigned = step(&router, "ExitedQueue", Some(&id), Some("InQueue")).await;
    assert!(unsigned.error().contains("statemachinesig is missing"), "{}", unsigned.error());
    let other_key = machine(&[("STATE_SECRET", "other")]);
    assert_eq!(call(&other_key, &signed("ExitedQueue", &id, "InQueue", 1, &sig)).await.status, StatusCode::FORBIDDEN);
    let bad_step =
        call(&router, &signed("ExitedQueue", &id, "InQueue", 1, &sig).header("ce-statemachinestep", "x")).await;
    assert_eq!(bad_step.status, StatusCode::BAD_REQUEST, "{}", bad_step.text());
}

#[tokio::test]
async fn a_signed_state_is_used_once() {
    let router = machine(&[("STATE_SECRET", "s3cret")]);
    let first = step(&router, "JoinedQueue", None, None).await;
    let (id, sig) = (first.header("ce-statemachineid").to_owned(), first.header("ce-statemachinesig").to_owned());
    let moved = call(&router, &signed("ExitedQueue", &id, "InQueue", 1, &sig)).await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.text());
    // The same signed state again: its signature is good, but the instance moved on.
    let replayed = call(&router, &signed("ExitedQueue", &id, "InQueue", 1, &sig)).await;
    assert_eq!(replayed.status, StatusCode::FORBIDDEN, "{}", replayed.text());
    assert!(
        replayed.error().contains("the state \"InQueue\" of step 1 was already used (a replay?)"),
        "{}",
        replayed.error()
    );
    // The newer state goes on.
    let (state, sig2) =
        (moved.header("ce-statemachinestate").to_owned(), moved.header("ce-statemachinesig").to_owned());
    let on = call(&router, &signed("TicketsReserved", &id, &state, 2, &sig2)).await;
    assert_ne!(on.status, StatusCode::FORBIDDEN, "{}", on.text());
    // A refused transition does not use the state up.
    let refused = call(&router, &signed("NoSuchEvent", &id, &state, 2, &sig2)).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.text());
    // STATE_REPLAY_WINDOW=0: replays are not tracked (several replicas, or flows that fan out).
    let open = machine(&[("STATE_SECRET", "s3cret"), ("STATE_REPLAY_WINDOW", "0")]);
    for _ in 0..2 {
        assert_eq!(call(&open, &signed("ExitedQueue", &id, "InQueue", 1, &sig)).await.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn the_runner_api_with_memory_store() {
    let router = machine(&[("STATE_STORE", "memory")]);
    let created = call(&router, &CeRequest::raw().method(http::Method::POST).path("/statemachines")).await;
    assert_eq!(created.status, StatusCode::OK);
    let instance = created.json();
    let id = instance["id"].as_str().unwrap().to_owned();
    assert_eq!(instance, json!({"id": id, "correlationkey": "", "current": "", "context": null}));
    // The seed's curl commands: only the id, no state; the store knows it.
    let joined = call(&router, &event("JoinedQueue", Some(&id), None).path("/statemachines/events")).await;
    assert_eq!(joined.header("ce-statemachinestate"), "InQueue");
    let exited = call(&router, &event("ExitedQueue", Some(&id), None)).await;
    assert_eq!(exited.header("ce-statemachinestate"), "BuyingTickets");
    let got = call(&router, &CeRequest::raw().method(http::Method::GET).path(&format!("/statemachines/{id}"))).await;
    assert_eq!(got.json()["current"], "BuyingTickets");
    assert_eq!(got.json()["context"], json!({"name": "Salaboy"}));
    let by_key = call(&router, &event("JoinedQueue", None, None).header("ce-correlationkey", "order-7")).await;
    let key_id = by_key.header("ce-statemachineid").to_owned();
    let again = call(&router, &event("ExitedQueue", None, None).header("ce-correlationkey", "order-7")).await;
    assert_eq!(
        (again.header("ce-statemachineid"), again.header("ce-statemachinestate")),
        (key_id.as_str(), "BuyingTickets")
    );
    let stateless = machine(&[]);
    let missing = call(&stateless, &CeRequest::raw().method(http::Method::GET).path("/statemachines/x")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.error().contains("STATE_STORE=memory"), "{}", missing.error());
    let definition = call(&stateless, &CeRequest::raw().method(http::Method::GET).path("/definition")).await;
    assert_eq!(definition.json()["states"]["InQueue"]["events"]["ExitedQueue"], "BuyingTickets");
}

#[test]
fn start_up_errors_name_the_variable() {
    assert!(
        start_error(&[])
            .starts_with("STATE_MACHINE, STATE_MACHINE_FILE, STATEMACHINE_DEF, STATEMACHINE_DEF_PATH: set one")
    );
    assert_eq!(
        start_error(&[("STATE_MACHINE", "A: {events: {Go: B}}\nB: {}")]),
        "STATE_MACHINE: there is no initial state \"\" (a state named with the empty string)"
    );
    assert_eq!(
        start_error(&[("STATEMACHINE_DEF", "'': {events: {Go: Lost}}")]),
        "STATEMACHINE_DEF: state \"\": event \"Go\" goes to \"Lost\", which is not a state"
    );
    assert!(
        start_error(&[("STATE_MACHINE_FILE", "/no/such.yaml")])
            .starts_with("STATE_MACHINE_FILE: cannot read /no/such.yaml")
    );
    assert_eq!(
        start_error(&[("STATE_MACHINE", BUY_TICKETS), ("STATE_REPLY", "both")]),
        "STATE_REPLY: \"both\" is not one of event, input"
    );
    assert_eq!(
        start_error(&[("STATE_MACHINE", BUY_TICKETS), ("STATEMACHINE_DEF", BUY_TICKETS)]),
        "STATE_MACHINE, STATEMACHINE_DEF: set only one of these variables"
    );
}
