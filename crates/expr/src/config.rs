//! Which expression a function runs, and the limits every engine runs it under.

use std::time::Duration;

use fnmesh_runtime::{ConfigError, Env};
use serde::Deserialize;

/// The one variable of `vars` that is set (and not empty), with its value. None or
/// several set is an error that names them all.
pub fn one_of<'a>(env: &'a Env, vars: &[&'a str]) -> Result<(&'a str, &'a str), ConfigError> {
    let set: Vec<(&str, &str)> =
        vars.iter().filter_map(|var| Some((*var, env.get(var).filter(|v| !v.trim().is_empty())?))).collect();
    match set.as_slice() {
        [one] => Ok(*one),
        [] => Err(ConfigError::invalid(vars.join(", "), "set exactly one of these variables; none is set")),
        many => Err(ConfigError::invalid(
            many.iter().map(|(var, _)| *var).collect::<Vec<_>>().join(", "),
            "set exactly one of these variables, not several",
        )),
    }
}

/// Limits for expression engines (JavaScript, jq, JSONPath).
///
/// | variable | default | meaning |
/// |---|---|---|
/// | `FNMESH_EVAL_TIMEOUT` | `100ms` | wall-clock time one evaluation may take |
/// | `FNMESH_EVAL_MEMORY` | `67108864` | bytes of heap one engine may hold (JSONPath: that one evaluation's results may take) |
/// | `FNMESH_EVAL_WORKERS` | number of cores | engines evaluating in parallel |
/// | `FNMESH_EVAL_INLINE_BYTES` | `65536` | JSONPath only: events with at most this many bytes of data are evaluated on the request thread, larger ones on the engines' threads (`0`: all on those) |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct EvalConfig {
    /// `FNMESH_EVAL_TIMEOUT`.
    #[serde(rename = "fnmesh_eval_timeout", default = "default_timeout", deserialize_with = "timeout")]
    pub timeout: Duration,
    /// `FNMESH_EVAL_MEMORY`.
    #[serde(rename = "fnmesh_eval_memory", default = "default_memory")]
    pub memory_bytes: usize,
    /// `FNMESH_EVAL_WORKERS`.
    #[serde(rename = "fnmesh_eval_workers", default = "default_workers")]
    pub workers: usize,
    /// `FNMESH_EVAL_INLINE_BYTES`.
    #[serde(rename = "fnmesh_eval_inline_bytes", default = "default_inline_bytes")]
    pub inline_bytes: usize,
}

impl EvalConfig {
    /// Parsed from `env`, validated.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let config: Self = env.parse()?;
        if config.timeout.is_zero() {
            return Err(ConfigError::invalid("FNMESH_EVAL_TIMEOUT", "must be more than zero"));
        }
        if config.memory_bytes < 1024 * 1024 {
            return Err(ConfigError::invalid("FNMESH_EVAL_MEMORY", "must be at least 1048576 bytes (1 MiB)"));
        }
        if config.workers == 0 {
            return Err(ConfigError::invalid("FNMESH_EVAL_WORKERS", "must be at least 1"));
        }
        Ok(config)
    }

    /// The JSONPath threads' limits: the memory limit bounds what one evaluation keeps.
    pub fn jsonpath_limits(&self) -> crate::jsonpath::Limits {
        crate::jsonpath::Limits {
            timeout: self.timeout,
            memory_bytes: self.memory_bytes,
            workers: self.workers,
            inline_bytes: self.inline_bytes,
            ..crate::jsonpath::Limits::default()
        }
    }

    /// The JavaScript engines' limits.
    pub fn js_limits(&self) -> fnmesh_js::Limits {
        fnmesh_js::Limits {
            timeout: self.timeout,
            memory_bytes: self.memory_bytes,
            workers: self.workers,
            ..fnmesh_js::Limits::default()
        }
    }
}

fn default_timeout() -> Duration {
    Duration::from_millis(100)
}
fn default_memory() -> usize {
    64 * 1024 * 1024
}
fn default_inline_bytes() -> usize {
    crate::jsonpath::DEFAULT_INLINE_BYTES
}
fn default_workers() -> usize {
    std::thread::available_parallelism().map(usize::from).unwrap_or(2)
}
fn timeout<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(de)?;
    humantime::parse_duration(text.trim()).map_err(|e| {
        serde::de::Error::custom(format!(
            "FNMESH_EVAL_TIMEOUT: invalid duration {text:?} ({e}); write e.g. 100ms or 2s"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_one_is_required() {
        let vars = ["FILTER", "FILTER_CESQL", "FILTER_JSONPATH"];
        let env = Env::from_pairs([("FILTER_CESQL", "true")]);
        assert_eq!(one_of(&env, &vars).unwrap(), ("FILTER_CESQL", "true"));
        let none = one_of(&Env::from_pairs([("FILTER", " ")]), &vars).unwrap_err();
        assert_eq!(
            none.to_string(),
            "FILTER, FILTER_CESQL, FILTER_JSONPATH: set exactly one of these variables; none is set"
        );
        let two = one_of(&Env::from_pairs([("FILTER", "true"), ("FILTER_JSONPATH", "$")]), &vars).unwrap_err();
        assert_eq!(two.to_string(), "FILTER, FILTER_JSONPATH: set exactly one of these variables, not several");
    }

    #[test]
    fn limits_are_read_and_checked() {
        let config =
            EvalConfig::from_env(&Env::from_pairs([("FNMESH_EVAL_TIMEOUT", "2s"), ("FNMESH_EVAL_WORKERS", "3")]))
                .unwrap();
        assert_eq!((config.timeout, config.workers), (Duration::from_secs(2), 3));
        assert_eq!(config.jsonpath_limits().inline_bytes, 64 * 1024, "the default");
        let never = EvalConfig::from_env(&Env::from_pairs([("FNMESH_EVAL_INLINE_BYTES", "0")])).unwrap();
        assert_eq!(never.jsonpath_limits().inline_bytes, 0);
        let err = EvalConfig::from_env(&Env::from_pairs([("FNMESH_EVAL_TIMEOUT", "0s")])).unwrap_err();
        assert_eq!(err.to_string(), "FNMESH_EVAL_TIMEOUT: must be more than zero");
        let err = EvalConfig::from_env(&Env::from_pairs([("FNMESH_EVAL_MEMORY", "lots")])).unwrap_err();
        assert!(err.to_string().starts_with("FNMESH_EVAL_MEMORY: invalid value 'lots'"), "{err}");
    }
}
