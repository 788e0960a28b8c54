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

fn get(path: &str) -> CeRequest {
    CeRequest::raw().method(http::Method::GET).path(path)
}

/// The step and signature a reply hands out.
fn signature_of(answer: &Answer) -> (u64, String) {
    (answer.header("ce-statemachinestep").parse().unwrap(), answer.header("ce-statemachinesig").to_owned())
}

/// Issue 21, item 3: with `STATE_STORE=memory`, `STATE_SECRET` was off: the stored state
/// was trusted, so any producer moved any instance with its id alone.
#[tokio::test]
async fn a_stored_instance_moves_only_with_the_signature_of_its_current_state_and_step() {
    let router = machine(&[("STATE_STORE", "memory"), ("STATE_SECRET", "s3cret")]);
    let first = step(&router, "JoinedQueue", None, None).await;
    let id = first.header("ce-statemachineid").to_owned();
    let (step1, sig1) = signature_of(&first);
    let by_id = step(&router, "ExitedQueue", Some(&id), None).await;
    assert_eq!(by_id.status, StatusCode::FORBIDDEN, "{}", by_id.text());
    assert!(by_id.error().contains("statemachinesig is missing"), "{}", by_id.error());
    let forged = call(&router, &signed("ExitedQueue", &id, "InQueue", step1, &"0".repeat(64))).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let moved = call(&router, &signed("ExitedQueue", &id, "InQueue", step1, &sig1)).await;
    assert_eq!((moved.status, moved.header("ce-statemachinestate")), (StatusCode::OK, "BuyingTickets"));
    let replayed = call(&router, &signed("ExitedQueue", &id, "InQueue", step1, &sig1)).await;
    assert_eq!(replayed.status, StatusCode::FORBIDDEN, "{}", replayed.text());
    let (step2, sig2) = signature_of(&moved);
    let on = call(&router, &signed("TicketsReserved", &id, "BuyingTickets", step2, &sig2)).await;
    assert_eq!((on.status, on.header("ce-statemachinestate")), (StatusCode::OK, "PayingTickets"));
    // Named by correlation key only, the stored instance still needs its signature.
    let keyed = call(&router, &event("JoinedQueue", None, None).header("ce-correlationkey", "order-7")).await;
    let (key_step, key_sig) = signature_of(&keyed);
    let by_key = call(&router, &event("ExitedQueue", None, None).header("ce-correlationkey", "order-7")).await;
    assert_eq!(by_key.status, StatusCode::FORBIDDEN, "{}", by_key.text());
    let by_key = event("ExitedQueue", None, None)
        .header("ce-correlationkey", "order-7")
        .header("ce-statemachinestep", &key_step.to_string())
        .header("ce-statemachinesig", &key_sig);
    let answer = call(&router, &by_key).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.header("ce-statemachineid"), keyed.header("ce-statemachineid"));
}

/// Issue 21, item 3: `GET /statemachines` listed every id and context to anyone.
#[tokio::test]
async fn the_instance_api_is_off_with_a_secret_unless_turned_on_or_given_a_token() {
    let signed = [("STATE_STORE", "memory"), ("STATE_SECRET", "s3cret")];
    let router = machine(&signed);
    let id = step(&router, "JoinedQueue", None, None).await.header("ce-statemachineid").to_owned();
    for request in [
        get("/statemachines"),
        get(&format!("/statemachines/{id}")),
        get("/definition"),
        CeRequest::raw().method(http::Method::POST).path("/statemachines"),
    ] {
        let answer = call(&router, &request).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", answer.text());
        assert!(answer.error().contains("the instance API is off"), "{}", answer.error());
        assert!(answer.error().contains("STATE_API=on"), "{}", answer.error());
        assert!(!answer.text().contains(&id) || answer.error().contains(&format!("/statemachines/{id}")));
    }
    let events = call(&router, &event("JoinedQueue", None, None).path("/statemachines/events")).await;
    assert_eq!(events.status, StatusCode::OK, "events are still taken there");

    let on = machine(&[signed[0], signed[1], ("STATE_API", "on")]);
    let id = step(&on, "JoinedQueue", None, None).await.header("ce-statemachineid").to_owned();
    assert_eq!(call(&on, &get("/statemachines")).await.json()[0]["id"], id.as_str());

    let token = "t0ken-4c1b";
    let guarded = machine(&[signed[0], signed[1], ("STATE_API_TOKEN", token)]);
    step(&guarded, "JoinedQueue", None, None).await;
    for (authorization, problem) in [
        (None, "needs Authorization: Bearer"),
        (Some("Bearer wrong".to_owned()), "token is wrong"),
        (Some(format!("Basic {token}")), "needs Authorization: Bearer"),
    ] {
        let request = match &authorization {
            Some(value) => get("/statemachines").header("authorization", value),
            None => get("/statemachines"),
        };
        let answer = call(&guarded, &request).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{authorization:?}");
        assert_eq!(answer.header("www-authenticate"), "Bearer");
        assert!(answer.error().contains(problem), "{}", answer.error());
        assert!(!answer.text().contains(token));
    }
    let bearer = format!("Bearer {token}");
    let listed = call(&guarded, &get("/statemachines").header("authorization", &bearer)).await;
    assert_eq!((listed.status, listed.json().as_array().map(Vec::len)), (StatusCode::OK, Some(1)));
    let created = CeRequest::raw().method(http::Method::POST).path("/statemachines").header("authorization", &bearer);
    assert_eq!(call(&guarded, &created).await.status, StatusCode::OK);
    let open = machine(&[("STATE_STORE", "memory"), ("STATE_API_TOKEN", token)]);
    assert_eq!(call(&open, &get("/statemachines")).await.status, StatusCode::UNAUTHORIZED, "a token, no secret");
    let off = machine(&[("STATE_STORE", "memory"), ("STATE_API", "off")]);
    assert_eq!(call(&off, &get("/statemachines")).await.status, StatusCode::NOT_FOUND, "off, no secret");
}

/// Issue 21, item 3: the store never shrank. Now: finished instances are forgotten to
/// make room, live ones never; full of live ones, a new one is refused with 503.
#[tokio::test]
async fn a_full_store_forgets_finished_instances_and_refuses_new_ones_when_all_are_live() {
    let router = machine(&[("STATE_STORE", "memory"), ("STATE_STORE_MAX", "2")]);
    let a = step(&router, "JoinedQueue", None, None).await.header("ce-statemachineid").to_owned();
    let b = step(&router, "JoinedQueue", None, None).await.header("ce-statemachineid").to_owned();
    let full = step(&router, "JoinedQueue", None, None).await;
    assert_eq!(full.status, StatusCode::SERVICE_UNAVAILABLE, "{}", full.text());
    assert!(full.error().contains("the state store is full"), "{}", full.error());
    assert!(full.error().contains("STATE_STORE_MAX=2"), "{}", full.error());
    let created = call(&router, &CeRequest::raw().method(http::Method::POST).path("/statemachines")).await;
    assert_eq!(created.status, StatusCode::SERVICE_UNAVAILABLE, "{}", created.text());
    // A live instance still moves; one that finishes makes room.
    let moved = step(&router, "ExitedQueue", Some(&b), None).await;
    assert_eq!(moved.header("ce-statemachinestate"), "BuyingTickets");
    let done = step(&router, "AbandonedQueue", Some(&a), None).await;
    assert_eq!(done.header("ce-statemachinefinal"), "true");
    let c = step(&router, "JoinedQueue", None, None).await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.text());
    let kept: Vec<String> = call(&router, &get("/statemachines"))
        .await
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    let mut expected = vec![b, c.header("ce-statemachineid").to_owned()];
    expected.sort();
    assert_eq!(kept, expected, "the finished instance was forgotten");

    let small = machine(&[("STATE_STORE", "memory"), ("STATE_STORE_MAX_BYTES", "4096")]);
    let big = event("JoinedQueue", None, None).json(&json!({"pad": "x".repeat(5000)}));
    let too_large = call(&small, &big).await;
    assert_eq!(too_large.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", too_large.text());
    assert!(too_large.error().contains("STATE_STORE_MAX_BYTES=4096"), "{}", too_large.error());
    let fits = event("JoinedQueue", None, None).json(&json!({"pad": "x".repeat(2000)}));
    assert_eq!(call(&small, &fits).await.status, StatusCode::OK);
    let full = call(&small, &fits).await;
    assert_eq!(full.status, StatusCode::SERVICE_UNAVAILABLE, "{}", full.text());
    assert!(full.error().contains("STATE_STORE_MAX_BYTES=4096"), "{}", full.error());
}

/// Starts instances and moves each once (so that the replay guard holds them); their ids.
async fn started_and_moved(router: &Router, n: usize) -> Vec<Answer> {
    let mut moved = Vec::new();
    for _ in 0..n {
        let first = step(router, "JoinedQueue", None, None).await;
        let (step1, sig) = signature_of(&first);
        moved.push(
            call(router, &signed("ExitedQueue", first.header("ce-statemachineid"), "InQueue", step1, &sig)).await,
        );
    }
    moved
}

/// Issue 21, item 5: with `STATE_REPLAY_WINDOW=3`, one new instance let the most recently
/// moved instance be replayed backwards (forgotten by first sight, not by last move).
#[tokio::test]
async fn the_replay_guard_forgets_the_least_recently_moved_instance() {
    let router = machine(&[("STATE_SECRET", "s3cret"), ("STATE_REPLAY_WINDOW", "3"), ("STATE_REPLAY_HOLD", "0")]);
    let moved = started_and_moved(&router, 3).await;
    let first = &moved[0];
    let id = first.header("ce-statemachineid").to_owned();
    let (step2, sig2) = signature_of(first);
    let on = call(&router, &signed("TicketsReserved", &id, "BuyingTickets", step2, &sig2)).await;
    assert_eq!(on.status, StatusCode::OK, "{}", on.text());
    started_and_moved(&router, 1).await;
    let replayed = call(&router, &signed("TicketsReserved", &id, "BuyingTickets", step2, &sig2)).await;
    assert_eq!(replayed.status, StatusCode::FORBIDDEN, "the most recently moved instance is remembered");
}

/// Issue 21, item 5: 20 000 requests flushed the window, and an old signed state passed
/// again. Within `STATE_REPLAY_HOLD`, newcomers are refused (503) instead.
#[tokio::test]
async fn flooding_the_replay_guard_delays_newcomers_and_replays_stay_refused() {
    let router = machine(&[("STATE_SECRET", "s3cret"), ("STATE_REPLAY_WINDOW", "2")]);
    let victim = started_and_moved(&router, 1).await.remove(0);
    let id = victim.header("ce-statemachineid").to_owned();
    let (step2, sig2) = signature_of(&victim);
    let on = call(&router, &signed("TicketsReserved", &id, "BuyingTickets", step2, &sig2)).await;
    assert_eq!(on.status, StatusCode::OK);
    let flood = started_and_moved(&router, 20).await;
    assert_eq!(flood[0].status, StatusCode::OK, "room for one more");
    for answer in &flood[1..] {
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{}", answer.text());
        assert!(answer.error().contains("STATE_REPLAY_WINDOW=2"), "{}", answer.error());
        assert!(answer.error().contains("STATE_REPLAY_HOLD=1h"), "{}", answer.error());
    }
    let replayed = call(&router, &signed("TicketsReserved", &id, "BuyingTickets", step2, &sig2)).await;
    assert_eq!(replayed.status, StatusCode::FORBIDDEN, "{}", replayed.text());
    let (step3, sig3) = signature_of(&on);
    let next = call(&router, &signed("PaymentRequested", &id, "PayingTickets", step3, &sig3)).await;
    assert_eq!(next.status, StatusCode::OK, "an instance the guard holds goes on: {}", next.text());
}

#[test]
fn start_up_errors_name_the_new_variables() {
    let with = |pairs: &[(&str, &str)]| {
        let mut env = vec![("STATE_MACHINE", BUY_TICKETS)];
        env.extend_from_slice(pairs);
        start_error(&env)
    };
    assert_eq!(with(&[("STATE_STORE_MAX", "10")]), "STATE_STORE_MAX: bounds the store: it needs STATE_STORE=memory");
    assert_eq!(with(&[("STATE_STORE", "memory"), ("STATE_STORE_MAX", "0")]), "STATE_STORE_MAX: must be at least 1");
    assert!(
        with(&[("STATE_STORE", "memory"), ("STATE_STORE_MAX_BYTES", "lots")]).starts_with("STATE_STORE_MAX_BYTES: ")
    );
    assert_eq!(
        with(&[("STATE_STORE", "memory"), ("STATE_STORE_MAX_BYTES", "100")]),
        "STATE_STORE_MAX_BYTES: must be at least 4096"
    );
    assert!(with(&[("STATE_REPLAY_HOLD", "soon")]).starts_with("STATE_REPLAY_HOLD: invalid duration \"soon\""));
    assert_eq!(with(&[("STATE_API", "maybe")]), "STATE_API: \"maybe\" is not one of off, on");
    assert_eq!(with(&[("STATE_API_TOKEN", "")]), "STATE_API_TOKEN: is empty: unset it, or give a token");
    assert_eq!(
        with(&[("STATE_API", "off"), ("STATE_API_TOKEN", "t")]),
        "STATE_API, STATE_API_TOKEN: the API is off but a token is set: unset one of them"
    );
}

#[test]
fn the_api_token_is_not_in_the_machine_s_debug_output() {
    let env = Env::from_pairs([("STATE_MACHINE", BUY_TICKETS), ("STATE_API_TOKEN", "t0ken-4c1b")]);
    let machine = Machine::from_env(&env).unwrap();
    let debug = format!("{machine:?}");
    assert!(debug.contains("Token(..)") && !debug.contains("t0ken"), "{debug}");
}
