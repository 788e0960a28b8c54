//! Actions: their condition, sleeps, data filters (`fromStateData`, `results`,
//! `toStateData`, `useResults`), the call itself (a function or a produced event) under
//! `actionExecTimeout`, and its retries (`retryRef`, `retryableErrors`,
//! `nonRetryableErrors`, `autoRetries`).

use std::time::Duration;

use futures_util::future::join_all;
use serde_json::Value;

use super::Engine;
use super::data::{StepError, changes, merge};
use crate::definition::{Action, ActionMode, RetryDef, duration};
use crate::expr::{self, Scope};
use crate::services::{self, Callable};

/// Retries of an action under `autoRetries` without a `retryRef`.
const AUTO_RETRY_ATTEMPTS: f64 = 3.0;

impl Engine {
    /// Runs `actions` over `data` (in order, or all at once on the same data with their
    /// results merged in order); the new data.
    pub(super) async fn run_actions(
        &self,
        actions: &[Action],
        mode: ActionMode,
        data: Value,
        scope: &Scope,
        timeout: Option<Duration>,
    ) -> Result<Value, StepError> {
        match mode {
            ActionMode::Sequential => {
                let mut data = data;
                for action in actions {
                    data = self.run_action(action, data, scope, timeout).await?;
                }
                Ok(data)
            }
            ActionMode::Parallel => {
                let runs = actions.iter().map(|a| self.run_action(a, data.clone(), scope, timeout));
                let mut merged = data.clone();
                for result in join_all(runs).await {
                    merged = merge(&merged, &changes(&data, &result?));
                }
                Ok(merged)
            }
        }
    }

    /// Runs one action; the state data after it.
    pub(super) async fn run_action(
        &self,
        action: &Action,
        data: Value,
        scope: &Scope,
        timeout: Option<Duration>,
    ) -> Result<Value, StepError> {
        if let Some(condition) = &action.condition
            && !self.expressions.condition(expr::program_of(condition), &data, scope).await?
        {
            return Ok(data);
        }
        if let Some(before) = action.sleep.as_ref().and_then(|s| s.before.as_deref()) {
            tokio::time::sleep(duration::parse(before).unwrap_or_default()).await;
        }
        let filter = action.action_data_filter.clone().unwrap_or_default();
        let input = match &filter.from_state_data {
            Some(from) => self.expressions.value(expr::program_of(from), &data, scope).await?,
            None => data.clone(),
        };
        let result = self.with_retries(action, &input, scope, timeout).await?;
        if let Some(after) = action.sleep.as_ref().and_then(|s| s.after.as_deref()) {
            tokio::time::sleep(duration::parse(after).unwrap_or_default()).await;
        }
        if !filter.use_results {
            return Ok(data);
        }
        let result = match &filter.results {
            Some(results) => self.expressions.value(expr::program_of(results), &result, scope).await?,
            None => result,
        };
        match &filter.to_state_data {
            Some(to) => Ok(self.expressions.set(to, &data, &result, scope).await?),
            None => Ok(merge(&data, &result)),
        }
    }

    async fn with_retries(
        &self,
        action: &Action,
        input: &Value,
        scope: &Scope,
        timeout: Option<Duration>,
    ) -> Result<Value, StepError> {
        let policy = match &action.retry_ref {
            Some(name) => self.definition.retry(name).cloned(),
            None if self.definition.workflow.auto_retries => Some(RetryDef {
                name: "auto".into(),
                delay: Some("PT1S".into()),
                max_delay: None,
                increment: None,
                multiplier: None,
                max_attempts: Some(crate::definition::NumberOrText::Number(AUTO_RETRY_ATTEMPTS)),
                jitter: None,
            }),
            None => None,
        };
        let max_attempts = policy.as_ref().and_then(|p| p.max_attempts.as_ref()).and_then(|n| n.number());
        let max_attempts = max_attempts.map_or(if policy.is_some() { 3 } else { 1 }, |n| n.max(1.0) as u32);
        let mut attempt = 1;
        loop {
            let call = self.invoke(action, input, scope, timeout);
            let outcome = match timeout {
                Some(limit) => tokio::time::timeout(limit, call).await.unwrap_or_else(|_| {
                    Err(StepError::new("timeout", format!("action {} ran over actionExecTimeout", action.label())))
                }),
                None => call.await,
            };
            let error = match outcome {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            let Some(policy) = &policy else { return Err(error) };
            if attempt >= max_attempts || !self.retryable(action, &error) {
                return Err(error);
            }
            let wait = retry_delay(policy, attempt);
            tracing::info!(action = %action.label(), attempt, ?wait, error = %error, "retrying");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// Whether `error` may be retried for `action`.
    fn retryable(&self, action: &Action, error: &StepError) -> bool {
        if let Some(only) = &action.retryable_errors {
            return only.iter().any(|name| self.error_matches(name, error));
        }
        if let Some(never) = &action.non_retryable_errors {
            return !never.iter().any(|name| self.error_matches(name, error));
        }
        true
    }

    /// Calls the action's function, or produces its event; the result.
    async fn invoke(
        &self,
        action: &Action,
        input: &Value,
        scope: &Scope,
        timeout: Option<Duration>,
    ) -> Result<Value, StepError> {
        if let Some(event) = &action.event_ref {
            let data = match &event.data {
                Some(data) => {
                    let template = crate::definition::validate::wrap_string(data);
                    self.expressions.template(&template, input, scope).await?
                }
                None => input.clone(),
            };
            self.produce(&event.produce_event_ref, data, event.context_attributes.as_ref(), input, scope).await?;
            return Ok(Value::Null);
        }
        let Some(function) = &action.function_ref else {
            return Err(StepError::new("workflow", format!("action {} calls nothing", action.label())));
        };
        let name = function.ref_name();
        let callable = self
            .definition
            .callables
            .get(name)
            .ok_or_else(|| StepError::new("workflow", format!("no function named {name:?}")))?;
        let arguments = match function.arguments() {
            Some(arguments) => self.expressions.template(arguments, input, scope).await?,
            None => Value::Null,
        };
        match callable {
            Callable::Expression(program) => {
                // The expression sees the action's input, with the arguments merged in.
                let input = merge(input, &arguments);
                Ok(self.expressions.value(program, &input, scope).await?)
            }
            http => {
                let arguments = if arguments.is_null() { input.clone() } else { arguments };
                Ok(services::call(&self.client, &self.resolution, http, &arguments, timeout).await?)
            }
        }
    }
}

/// The wait before retry `attempt` + 1: `delay * multiplier^(attempt-1) + increment *
/// (attempt-1)`, at most `maxDelay`, plus a random jitter (a fraction of the delay, or
/// a duration).
pub fn retry_delay(policy: &RetryDef, attempt: u32) -> Duration {
    let seconds =
        |text: &Option<String>| text.as_deref().and_then(|t| duration::parse(t).ok()).map(|d| d.as_secs_f64());
    let delay = seconds(&policy.delay).unwrap_or(1.0);
    let multiplier = policy.multiplier.as_ref().and_then(|m| m.number()).unwrap_or(1.0);
    let increment = seconds(&policy.increment).unwrap_or(0.0);
    let n = f64::from(attempt.saturating_sub(1));
    let mut wait = delay * multiplier.powf(n) + increment * n;
    if let Some(max) = seconds(&policy.max_delay) {
        wait = wait.min(max);
    }
    let jitter = match &policy.jitter {
        Some(crate::definition::NumberOrText::Text(t)) if t.starts_with('P') => {
            duration::parse(t).map(|d| d.as_secs_f64()).unwrap_or(0.0)
        }
        Some(j) => j.number().unwrap_or(0.0) * wait,
        None => 0.0,
    };
    let random = f64::from(uuid::Uuid::new_v4().as_bytes()[0]) / 255.0;
    Duration::from_secs_f64((wait + jitter * random).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::NumberOrText;

    #[test]
    fn delays_grow_by_multiplier_and_increment_up_to_max_delay() {
        let policy = RetryDef {
            name: "r".into(),
            delay: Some("PT1S".into()),
            max_delay: Some("PT5S".into()),
            increment: Some("PT0.5S".into()),
            multiplier: Some(NumberOrText::Number(2.0)),
            max_attempts: None,
            jitter: None,
        };
        assert_eq!(retry_delay(&policy, 1), Duration::from_secs(1));
        assert_eq!(retry_delay(&policy, 2), Duration::from_millis(2500));
        assert_eq!(retry_delay(&policy, 3), Duration::from_secs(5));
        let jittered = RetryDef { jitter: Some(NumberOrText::Text("PT1S".into())), max_delay: None, ..policy };
        let wait = retry_delay(&jittered, 1);
        assert!(wait >= Duration::from_secs(1) && wait <= Duration::from_secs(2), "{wait:?}");
    }
}
