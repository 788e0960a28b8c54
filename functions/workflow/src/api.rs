//! The HTTP face of the engine: Kogito's REST contract on `/{workflow id}` and
//! CloudEvents on `POST /`.
//!
//! | request | answer |
//! |---|---|
//! | `POST /{id}` with the input, or `{"workflowdata": input}` | `201` `{"id", "workflowdata"}` once the instance ends or waits; `400` naming the field that fails `dataInputSchema`; `422` when an error no `onErrors` handles stops it |
//! | `GET /{id}` | `200`, the instances not ended (`[{"id", "workflowdata", "status", "state"}]`) |
//! | `GET /{id}/{instance}` | `200` the instance; `404` once it has ended |
//! | `DELETE /{id}/{instance}` | `200` the aborted instance; `404` if there is none |
//! | `POST /` a CloudEvent | `202` when it resumed or started an instance; `422` when nothing consumes it |

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use fnmesh_runtime::{AttributesReader, Error, IncomingEvent, Router, server};
use serde_json::{Value, json};

use crate::engine::{Engine, EventMatch, StepError, Stopped};

/// The routes of `engine`.
pub fn router(engine: Arc<Engine>) -> Router {
    let health_engine = engine.clone();
    axum::Router::new()
        .route("/", post(on_event))
        .route("/{workflow}", post(start).get(list))
        .route("/{workflow}/{instance}", get(show).delete(abort))
        .with_state(engine)
        .route(
            "/healthz",
            server::health(move || {
                // The first probe (Knative sends them from the start) re-arms timers.
                let engine = health_engine.clone();
                tokio::spawn(async move { engine.recover().await });
                Ok(())
            }),
        )
}

fn check_workflow(engine: &Engine, workflow: &str) -> Result<(), Error> {
    if workflow == engine.definition.id {
        Ok(())
    } else {
        Err(Error::NotFound(format!("/{workflow}: this function runs workflow {:?}", engine.definition.id)))
    }
}

fn internal(error: StepError) -> Error {
    Error::Internal(error.to_string())
}

fn answer(stopped: Stopped) -> Response {
    match stopped {
        Stopped::Ended(instance) | Stopped::Waiting(instance) => {
            (StatusCode::CREATED, Json(json!({"id": instance.id, "workflowdata": instance.data}))).into_response()
        }
        Stopped::Failed(instance) => Error::Unprocessable(format!(
            "instance {} failed in state {:?}: {}",
            instance.id,
            instance.state,
            instance.error.unwrap_or_default()
        ))
        .into_response(),
        Stopped::Conflict(id) => {
            Error::Unavailable(format!("instance {id} was moved by another replica")).into_response()
        }
    }
}

async fn start(
    State(engine): State<Arc<Engine>>,
    Path(workflow): Path<String>,
    body: Bytes,
) -> Result<Response, Error> {
    engine.recover().await;
    check_workflow(&engine, &workflow)?;
    let input: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(&body).map_err(|e| Error::BadData(format!("the body is not JSON: {e}")))?
    };
    // Kogito accepts the input itself or wrapped as {"workflowdata": ...}.
    let input = match input {
        Value::Object(mut map) if map.len() == 1 && map.contains_key("workflowdata") => {
            map.remove("workflowdata").unwrap_or(Value::Null)
        }
        other => other,
    };
    engine.definition.check_input(&input).map_err(|e| Error::BadData(format!("dataInputSchema: {e}")))?;
    // On a task of its own: a client that hangs up does not stop the instance midway.
    let run = engine.clone();
    let stopped = tokio::spawn(async move { run.start(input, None).await })
        .await
        .map_err(|e| Error::Internal(format!("the instance's task failed: {e}")))?
        .map_err(internal)?;
    Ok(answer(stopped))
}

async fn list(State(engine): State<Arc<Engine>>, Path(workflow): Path<String>) -> Result<Json<Value>, Error> {
    engine.recover().await;
    check_workflow(&engine, &workflow)?;
    let instances = engine.store().list(&workflow).await.map_err(|e| Error::Unavailable(e.to_string()))?;
    Ok(Json(Value::Array(instances.iter().map(|i| i.view()).collect())))
}

async fn show(
    State(engine): State<Arc<Engine>>,
    Path((workflow, id)): Path<(String, String)>,
) -> Result<Json<Value>, Error> {
    engine.recover().await;
    check_workflow(&engine, &workflow)?;
    match engine.store().get(&id).await.map_err(|e| Error::Unavailable(e.to_string()))? {
        Some(instance) if instance.workflow == workflow => Ok(Json(instance.view())),
        _ => Err(Error::NotFound(format!("/{workflow}/{id}: no such instance (or it has ended)"))),
    }
}

async fn abort(
    State(engine): State<Arc<Engine>>,
    Path((workflow, id)): Path<(String, String)>,
) -> Result<Json<Value>, Error> {
    check_workflow(&engine, &workflow)?;
    match engine.abort(&id).await.map_err(internal)? {
        Some(instance) => {
            engine.log(&format!("instance {id} aborted"));
            Ok(Json(json!({"id": instance.id, "workflowdata": instance.data})))
        }
        None => Err(Error::NotFound(format!("/{workflow}/{id}: no such instance"))),
    }
}

async fn on_event(State(engine): State<Arc<Engine>>, incoming: IncomingEvent) -> Result<Response, Error> {
    engine.recover().await;
    let IncomingEvent { event, wire_data, .. } = incoming;
    let run = engine.clone();
    let (event, handled) = tokio::spawn(async move {
        let handled = run.on_event(&event, wire_data.as_deref()).await;
        (event, handled)
    })
    .await
    .map_err(|e| Error::Internal(format!("the event's task failed: {e}")))?;
    let handled = handled.map_err(internal)?;
    let handled = match handled {
        EventMatch::Handled(stopped) => Ok(*stopped),
        EventMatch::Unmatched(why) => Err(why),
    };
    match handled {
        Ok(Stopped::Conflict(id)) => {
            Err(Error::Unavailable(format!("instance {id} was moved by another replica; retry")))
        }
        Ok(Stopped::Failed(instance)) => {
            // The event was consumed; the failure is the instance's, visible on GET.
            tracing::warn!(instance = %instance.id, error = ?instance.error, "instance failed");
            Ok(StatusCode::ACCEPTED.into_response())
        }
        Ok(_) => Ok(StatusCode::ACCEPTED.into_response()),
        Err(why) => {
            engine.log(&format!("event {} ({}) refused: {why}", event.id(), event.ty()));
            Err(Error::Unprocessable(why))
        }
    }
}
