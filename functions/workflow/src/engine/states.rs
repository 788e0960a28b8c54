//! What each state type does with its data: the step of one state, from its input (or,
//! resumed, from its stored data) to where the instance goes next or what it waits for.

use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde_json::Value;

use super::data::{StepError, changes, merge};
use super::{Engine, Resume};
use crate::definition::{ActionMode, CompletionType, End, EventDataFilter, State, StateKind, Transition, duration};
use crate::expr::{self, Scope};
use crate::instance::{Wait, now_ms};

/// Where a state leads.
#[derive(Debug)]
pub enum Outcome {
    /// Leave the state with `data` (before the output filter), by `transition` or `end`.
    Leave {
        /// The state data.
        data: Value,
        /// The transition, if not ending.
        transition: Option<Transition>,
        /// The end, if ending.
        end: Option<End>,
    },
    /// Wait with `data` for `wait`.
    Wait {
        /// The state data.
        data: Value,
        /// What for.
        wait: Wait,
    },
}

fn leave(data: Value, state: &State) -> Outcome {
    Outcome::Leave { data, transition: state.transition.clone(), end: state.end.clone().filter(End::is_end) }
}

fn timeout_of(text: Option<&str>) -> Option<Duration> {
    text.and_then(|t| duration::parse(t).ok())
}

impl Engine {
    /// Runs `state` on `data` (its data already filtered when `resume` is given).
    pub(super) async fn run_state(
        &self,
        state: &State,
        data: Value,
        resume: Option<Resume>,
        received: &std::collections::BTreeMap<String, Value>,
        scope: &Scope,
    ) -> Result<Outcome, StepError> {
        let timeouts = state.timeouts.clone().unwrap_or_default();
        let global = self.definition.workflow.timeouts.clone().unwrap_or_default();
        let action_timeout =
            timeout_of(timeouts.action_exec_timeout.as_deref().or(global.action_exec_timeout.as_deref()));
        let event_timeout = timeout_of(timeouts.event_timeout.as_deref().or(global.event_timeout.as_deref()));
        let until = event_timeout.map(|d| now_ms() + d.as_millis() as i64);
        match &state.kind {
            StateKind::Operation { action_mode, actions } => {
                let data = self.run_actions(actions, *action_mode, data, scope, action_timeout).await?;
                Ok(leave(data, state))
            }
            StateKind::Inject { data: injected } => Ok(leave(merge(&data, injected), state)),
            StateKind::Sleep { duration: text } => match resume {
                Some(_) => Ok(leave(data, state)),
                None => {
                    let wait = duration::parse(text).map_err(|e| StepError::new("workflow", e))?;
                    let wait = Wait { until_ms: Some(now_ms() + wait.as_millis() as i64), ..Wait::default() };
                    Ok(Outcome::Wait { data, wait })
                }
            },
            StateKind::Switch { data_conditions, event_conditions, default_condition } => {
                if event_conditions.is_empty() {
                    for condition in data_conditions {
                        if self.expressions.condition(expr::program_of(&condition.condition), &data, scope).await? {
                            return Ok(Outcome::Leave {
                                data,
                                transition: condition.transition.clone(),
                                end: condition.end.clone(),
                            });
                        }
                    }
                    return match default_condition {
                        Some(d) => Ok(Outcome::Leave { data, transition: d.transition.clone(), end: d.end.clone() }),
                        None => Err(StepError::new(
                            "workflow",
                            format!(
                                "switch state {:?}: no condition matched the data {} and there is no defaultCondition",
                                state.name,
                                excerpt(&data)
                            ),
                        )),
                    };
                }
                match resume {
                    None => {
                        let events = event_conditions.iter().map(|c| c.event_ref.clone()).collect();
                        Ok(Outcome::Wait { data, wait: Wait { events, until_ms: until, ..Wait::default() } })
                    }
                    Some(Resume::Event { name, data: event }) => {
                        let condition = event_conditions
                            .iter()
                            .find(|c| c.event_ref == name)
                            .ok_or_else(|| StepError::new("workflow", format!("no condition for event {name:?}")))?;
                        let data = self.event_into(&data, &event, condition.event_data_filter.as_ref(), scope).await?;
                        Ok(Outcome::Leave {
                            data,
                            transition: condition.transition.clone(),
                            end: condition.end.clone(),
                        })
                    }
                    Some(Resume::Timeout) => match default_condition {
                        Some(d) => Ok(Outcome::Leave { data, transition: d.transition.clone(), end: d.end.clone() }),
                        None => Err(StepError::new("timeout", format!("switch state {:?}: eventTimeout", state.name))),
                    },
                }
            }
            StateKind::Callback { action, event_ref, event_data_filter } => match resume {
                None => {
                    let data = self.run_action(action, data, scope, action_timeout).await?;
                    let wait = Wait { events: vec![event_ref.clone()], until_ms: until, ..Wait::default() };
                    Ok(Outcome::Wait { data, wait })
                }
                Some(Resume::Event { data: event, .. }) => {
                    let data = self.event_into(&data, &event, event_data_filter.as_ref(), scope).await?;
                    Ok(leave(data, state))
                }
                Some(Resume::Timeout) => Err(StepError::new(
                    "timeout",
                    format!("callback state {:?}: no {event_ref} within eventTimeout", state.name),
                )),
            },
            StateKind::Event { exclusive, on_events } => {
                let mut received = match resume {
                    None => {
                        let events = on_events.iter().flat_map(|on| on.event_refs.iter().cloned()).collect();
                        return Ok(Outcome::Wait { data, wait: Wait { events, until_ms: until, ..Wait::default() } });
                    }
                    Some(Resume::Timeout) => {
                        return Err(StepError::new("timeout", format!("event state {:?}: eventTimeout", state.name)));
                    }
                    Some(Resume::Event { name, data: event }) => {
                        let mut received = received.clone();
                        received.insert(name, event);
                        received
                    }
                };
                let all: Vec<&String> = on_events.iter().flat_map(|on| on.event_refs.iter()).collect();
                if !exclusive && !all.iter().all(|name| received.contains_key(*name)) {
                    let events = all.iter().filter(|n| !received.contains_key(**n)).map(|n| (*n).clone()).collect();
                    let wait = Wait { events, received: std::mem::take(&mut received), until_ms: until };
                    return Ok(Outcome::Wait { data, wait });
                }
                let mut data = data;
                for on in on_events {
                    let events: Vec<&Value> = on.event_refs.iter().filter_map(|n| received.get(n)).collect();
                    if events.is_empty() {
                        continue;
                    }
                    for event in events {
                        data = self.event_into(&data, event, on.event_data_filter.as_ref(), scope).await?;
                    }
                    data = self.run_actions(&on.actions, on.action_mode, data, scope, action_timeout).await?;
                }
                Ok(leave(data, state))
            }
            StateKind::Parallel { branches, completion_type, num_completed } => {
                let needed = match completion_type {
                    CompletionType::AllOf => branches.len(),
                    CompletionType::AtLeast => num_completed.as_ref().and_then(|n| n.number()).unwrap_or(1.0) as usize,
                };
                let mut runs: FuturesUnordered<_> = branches
                    .iter()
                    .enumerate()
                    .map(|(i, branch)| {
                        let data = data.clone();
                        let branch_timeout =
                            branch.timeouts.as_ref().and_then(|t| timeout_of(t.branch_exec_timeout.as_deref()));
                        let action_timeout = branch
                            .timeouts
                            .as_ref()
                            .and_then(|t| timeout_of(t.action_exec_timeout.as_deref()))
                            .or(action_timeout);
                        async move {
                            let run =
                                self.run_actions(&branch.actions, ActionMode::Sequential, data, scope, action_timeout);
                            let result = match branch_timeout {
                                Some(limit) => tokio::time::timeout(limit, run).await.unwrap_or_else(|_| {
                                    Err(StepError::new(
                                        "timeout",
                                        format!("branch {:?} ran over branchExecTimeout", branch.name),
                                    ))
                                }),
                                None => run.await,
                            };
                            (i, result)
                        }
                    })
                    .collect();
                let mut done = Vec::new();
                while let Some((i, result)) = runs.next().await {
                    done.push((i, result?));
                    if done.len() >= needed {
                        break;
                    }
                }
                // Branch results merge in the order of the branches, whatever order they ended in.
                done.sort_by_key(|(i, _)| *i);
                let data =
                    done.into_iter().fold(data.clone(), |acc, (_, branch)| merge(&acc, &changes(&data, &branch)));
                Ok(leave(data, state))
            }
            StateKind::Foreach { input_collection, output_collection, iteration_param, batch_size, mode, actions } => {
                let items = self.expressions.value(expr::program_of(input_collection), &data, scope).await?;
                let items = match items {
                    Value::Array(items) => items,
                    Value::Null => Vec::new(),
                    other => {
                        return Err(StepError::new(
                            "expression",
                            format!("foreach {:?}: inputCollection gave {other}, not an array", state.name),
                        ));
                    }
                };
                let param = iteration_param.clone().unwrap_or_else(|| "item".into());
                let batch = match mode {
                    ActionMode::Sequential => 1,
                    ActionMode::Parallel => {
                        batch_size.as_ref().and_then(|b| b.number()).map_or(items.len(), |b| b as usize)
                    }
                }
                .max(1);
                let mut outputs = Vec::with_capacity(items.len());
                for chunk in items.chunks(batch) {
                    let runs =
                        chunk.iter().map(|item| self.iteration(actions, &data, &param, item, scope, action_timeout));
                    for output in futures_util::future::join_all(runs).await {
                        outputs.push(output?);
                    }
                }
                let data = match output_collection {
                    Some(out) => self.expressions.set(out, &data, &Value::Array(outputs), scope).await?,
                    None => data,
                };
                Ok(leave(data, state))
            }
        }
    }

    /// One foreach iteration: the actions run on the state data with the item at
    /// `.<param>` (and as `$<param>`); its output is that data after them, without the item.
    async fn iteration(
        &self,
        actions: &[crate::definition::Action],
        data: &Value,
        param: &str,
        item: &Value,
        scope: &Scope,
        timeout: Option<Duration>,
    ) -> Result<Value, StepError> {
        let mut scope = scope.clone();
        scope.params.insert(param.to_owned(), item.clone());
        let mut input = match data {
            Value::Object(map) => map.clone(),
            _ => serde_json::Map::new(),
        };
        input.insert(param.to_owned(), item.clone());
        let before: Vec<String> = input.keys().cloned().collect();
        let output = self.run_actions(actions, ActionMode::Sequential, Value::Object(input), &scope, timeout).await?;
        // The iteration's own results: what the actions added or changed, the item left out.
        Ok(match output {
            Value::Object(mut map) => {
                map.remove(param);
                let changed: serde_json::Map<String, Value> =
                    map.into_iter().filter(|(k, v)| !before.contains(k) || data.get(k) != Some(v)).collect();
                Value::Object(changed)
            }
            other => other,
        })
    }

    /// `event` (its data, or the whole event) into `data` by `filter`.
    pub(super) async fn event_into(
        &self,
        data: &Value,
        event: &Value,
        filter: Option<&EventDataFilter>,
        scope: &Scope,
    ) -> Result<Value, StepError> {
        let filter = filter.cloned().unwrap_or_default();
        if !filter.use_data {
            return Ok(data.clone());
        }
        let selected = match &filter.data {
            Some(select) => self.expressions.value(expr::program_of(select), event, scope).await?,
            None => event.clone(),
        };
        match &filter.to_state_data {
            Some(to) => Ok(self.expressions.set(to, data, &selected, scope).await?),
            None => Ok(merge(data, &selected)),
        }
    }
}

/// The start of `value`'s JSON, for messages.
fn excerpt(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(200) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text,
    }
}
