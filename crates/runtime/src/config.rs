//! Configuration from environment variables, held as `(key, value)` pairs.
//!
//! Functions never read the process environment themselves: a binary's `main` captures
//! it once into an [`Env`], and `fnmesh run` builds an [`Env`] from a manifest's `env:`
//! list. Every typed config is parsed from an [`Env`] with envy, once, at start, and
//! every error names the variable at fault.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

/// Environment variables as `(key, value)` pairs, in key order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    /// The process environment, read once. Pairs that are not valid UTF-8 are skipped.
    pub fn from_process() -> Self {
        Self::from_pairs(std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))))
    }

    /// An environment made of the given pairs (a later duplicate key wins, as in a pod spec).
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self { vars: pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect() }
    }

    /// This environment with `key` set to `value`.
    #[must_use]
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.vars.insert(key.into(), value.into());
        self
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars.get(key).map(String::as_str)
    }

    /// Every pair, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Parses a typed config with envy. Field `foo_bar` reads variable `FOO_BAR`.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        envy::from_iter(self.vars.iter().map(|(k, v)| (k.clone(), v.clone()))).map_err(ConfigError::from)
    }
}

/// A configuration error; its `Display` is the one line a binary prints before exiting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is not set.
    #[error("{var}: required but not set")]
    Missing {
        /// The variable's name.
        var: String,
    },
    /// A variable is set to a value that cannot be used.
    #[error("{var}: {reason}")]
    Invalid {
        /// The variable's name (or several, for rules that involve more than one).
        var: String,
        /// What is wrong, including the value where that helps.
        reason: String,
    },
}

impl ConfigError {
    /// `var` holds a value that cannot be used, for `reason`.
    pub fn invalid(var: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        Self::Invalid { var: var.into(), reason: reason.to_string() }
    }
}

impl From<envy::Error> for ConfigError {
    fn from(err: envy::Error) -> Self {
        match err {
            envy::Error::MissingValue(field) => Self::Missing { var: field.to_ascii_uppercase() },
            // envy words parse errors as "<why> while parsing value '<v>' provided by <VAR>".
            envy::Error::Custom(msg) => match msg.rsplit_once(" provided by ") {
                Some((what, var)) => match what.split_once(" while parsing value ") {
                    Some((why, value)) => Self::invalid(var, format!("invalid value {value}: {why}")),
                    None => Self::invalid(var, what),
                },
                None => match msg.split_once(": ") {
                    // Our own deserializers prefix their messages with the variable.
                    Some((var, why)) if is_env_name(var) => Self::invalid(var, why),
                    _ => Self::invalid("environment", msg),
                },
            },
        }
    }
}

fn is_env_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// Settings every function shares, from the Knative runtime contract and our own limits.
///
/// | variable | default | meaning |
/// |---|---|---|
/// | `PORT` | `8080` | port to listen on (Knative sets it) |
/// | `FNMESH_LISTEN_ADDR` | `0.0.0.0` | address to listen on (tests use `127.0.0.1`) |
/// | `FNMESH_BODY_LIMIT` | `1048576` | largest request body in bytes; more is `413` |
/// | `FNMESH_MAX_HEADERS` | `100` | most header lines in a request; more is `431` |
/// | `FNMESH_MAX_HEADER_BYTES` | `65536` | most bytes of header names and values; more is `431` |
/// | `FNMESH_JSON_DEPTH` | `128` | deepest nesting of a JSON envelope or JSON data (at most 128); more is `400` |
/// | `FNMESH_SHUTDOWN_GRACE` | `20s` | how long in-flight requests may finish after SIGTERM |
/// | `FNMESH_MAX_CONNECTIONS` | `512` | connections held at once (under a 1 024 file descriptor limit); at the cap, the one idle the longest is closed for a new one |
/// | `FNMESH_IDLE_TIMEOUT` | `120s` | how long a connection may wait for, or send, a request's headers; longer than the 90 s pooling proxies keep idle connections |
/// | `FNMESH_BODY_TIMEOUT` | `30s` | how long a request's body may take to arrive (then `408`), and its reply to be taken (then the connection closes) |
/// | `FNMESH_MAX_INFLIGHT_BYTES` | `4194304` | bytes of request bodies held at once, across requests, until their replies are written; past it a body waits up to 2 s, then `503` with `Retry-After` |
/// | `K_SERVICE`, `K_REVISION`, `K_CONFIGURATION` | unset | Knative names, used in logs |
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ServeConfig {
    /// `PORT`.
    #[serde(default = "default_port")]
    pub port: u16,
    /// `FNMESH_LISTEN_ADDR`.
    #[serde(rename = "fnmesh_listen_addr", default = "default_listen_addr")]
    pub listen_addr: IpAddr,
    /// `FNMESH_BODY_LIMIT`, in bytes.
    #[serde(rename = "fnmesh_body_limit", default = "default_body_limit")]
    pub body_limit: usize,
    /// `FNMESH_MAX_HEADERS`.
    #[serde(rename = "fnmesh_max_headers", default = "default_max_headers")]
    pub max_headers: usize,
    /// `FNMESH_MAX_HEADER_BYTES`: names and values, summed.
    #[serde(rename = "fnmesh_max_header_bytes", default = "default_max_header_bytes")]
    pub max_header_bytes: usize,
    /// `FNMESH_JSON_DEPTH`.
    #[serde(rename = "fnmesh_json_depth", default = "default_json_depth")]
    pub json_depth: usize,
    /// `FNMESH_SHUTDOWN_GRACE`, e.g. `20s` or `500ms`.
    #[serde(rename = "fnmesh_shutdown_grace", default = "default_shutdown_grace", deserialize_with = "shutdown_grace")]
    pub shutdown_grace: Duration,
    /// `FNMESH_MAX_CONNECTIONS`.
    #[serde(rename = "fnmesh_max_connections", default = "default_max_connections")]
    pub max_connections: usize,
    /// `FNMESH_IDLE_TIMEOUT`, e.g. `120s`.
    #[serde(rename = "fnmesh_idle_timeout", default = "default_idle_timeout", deserialize_with = "idle_timeout")]
    pub idle_timeout: Duration,
    /// `FNMESH_BODY_TIMEOUT`, e.g. `30s`.
    #[serde(rename = "fnmesh_body_timeout", default = "default_body_timeout", deserialize_with = "body_timeout")]
    pub body_timeout: Duration,
    /// `FNMESH_MAX_INFLIGHT_BYTES`.
    #[serde(rename = "fnmesh_max_inflight_bytes", default = "default_max_inflight_bytes")]
    pub max_inflight_bytes: usize,
    /// `K_SERVICE`.
    pub k_service: Option<String>,
    /// `K_REVISION`.
    pub k_revision: Option<String>,
    /// `K_CONFIGURATION`.
    pub k_configuration: Option<String>,
}

/// The default body limit: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;
/// The default header count: Envoy's, which fronts Knative services on a cluster.
pub const DEFAULT_MAX_HEADERS: usize = 100;
/// The default bytes of headers: 64 KiB (Envoy, in front of a cluster's services, allows 60).
pub const DEFAULT_MAX_HEADER_BYTES: usize = 64 * 1024;
/// The deepest JSON nesting serde_json parses; `FNMESH_JSON_DEPTH` may only lower it.
pub const MAX_JSON_DEPTH: usize = 128;
/// The default connection cap: half of the usual 1 024 file descriptor limit, so that a
/// flood of connections never makes `accept` fail.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
/// The default idle timeout: longer than the 90 s that Go's HTTP transport (Knative's
/// queue-proxy and activator) keeps a pooled connection idle, so the proxy always closes
/// first and never sends a request on a connection this server is closing.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// The default time a body may take to arrive, and a reply to be taken.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// The default bytes of request bodies in flight: 4 MiB (see SECURITY.md for what that
/// costs each function in memory).
pub const DEFAULT_MAX_INFLIGHT_BYTES: usize = 4 * 1024 * 1024;

impl ServeConfig {
    /// Parsed from `env` and checked: every limit within what the server can honour.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let config: Self = env.parse()?;
        if config.body_limit == 0 {
            return Err(ConfigError::invalid("FNMESH_BODY_LIMIT", "must be at least 1 byte"));
        }
        if !(1..=10_000).contains(&config.max_headers) {
            return Err(ConfigError::invalid("FNMESH_MAX_HEADERS", "must be between 1 and 10000"));
        }
        if !(1024..=16 * 1024 * 1024).contains(&config.max_header_bytes) {
            return Err(ConfigError::invalid(
                "FNMESH_MAX_HEADER_BYTES",
                "must be between 1024 and 16777216 bytes (16 MiB)",
            ));
        }
        if !(1..=MAX_JSON_DEPTH).contains(&config.json_depth) {
            return Err(ConfigError::invalid(
                "FNMESH_JSON_DEPTH",
                format!("must be between 1 and {MAX_JSON_DEPTH} (the JSON parser's own bound)"),
            ));
        }
        if config.max_connections == 0 {
            return Err(ConfigError::invalid("FNMESH_MAX_CONNECTIONS", "must be at least 1"));
        }
        for (var, timeout) in
            [("FNMESH_IDLE_TIMEOUT", config.idle_timeout), ("FNMESH_BODY_TIMEOUT", config.body_timeout)]
        {
            if timeout.is_zero() {
                return Err(ConfigError::invalid(var, "must be longer than 0s"));
            }
        }
        if config.max_inflight_bytes < config.body_limit {
            return Err(ConfigError::invalid(
                "FNMESH_MAX_INFLIGHT_BYTES",
                format!(
                    "must be at least FNMESH_BODY_LIMIT ({} bytes), so that the largest event fits",
                    config.body_limit
                ),
            ));
        }
        Ok(config)
    }
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            port: default_port(),
            listen_addr: default_listen_addr(),
            body_limit: DEFAULT_BODY_LIMIT,
            max_headers: DEFAULT_MAX_HEADERS,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            json_depth: MAX_JSON_DEPTH,
            shutdown_grace: default_shutdown_grace(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            max_inflight_bytes: DEFAULT_MAX_INFLIGHT_BYTES,
            k_service: None,
            k_revision: None,
            k_configuration: None,
        }
    }
}

fn default_port() -> u16 {
    8080
}
fn default_listen_addr() -> IpAddr {
    IpAddr::V4(Ipv4Addr::UNSPECIFIED)
}
fn default_body_limit() -> usize {
    DEFAULT_BODY_LIMIT
}
fn default_max_headers() -> usize {
    DEFAULT_MAX_HEADERS
}
fn default_max_header_bytes() -> usize {
    DEFAULT_MAX_HEADER_BYTES
}
fn default_json_depth() -> usize {
    MAX_JSON_DEPTH
}
fn default_shutdown_grace() -> Duration {
    Duration::from_secs(20)
}
fn default_max_connections() -> usize {
    DEFAULT_MAX_CONNECTIONS
}
fn default_idle_timeout() -> Duration {
    DEFAULT_IDLE_TIMEOUT
}
fn default_body_timeout() -> Duration {
    DEFAULT_BODY_TIMEOUT
}
fn default_max_inflight_bytes() -> usize {
    DEFAULT_MAX_INFLIGHT_BYTES
}

fn shutdown_grace<'de, D: Deserializer<'de>>(de: D) -> Result<Duration, D::Error> {
    duration("FNMESH_SHUTDOWN_GRACE", de)
}
fn idle_timeout<'de, D: Deserializer<'de>>(de: D) -> Result<Duration, D::Error> {
    duration("FNMESH_IDLE_TIMEOUT", de)
}
fn body_timeout<'de, D: Deserializer<'de>>(de: D) -> Result<Duration, D::Error> {
    duration("FNMESH_BODY_TIMEOUT", de)
}

/// Reads a duration written like `20s`, `1m 30s` or `250ms`; errors name `var`.
pub(crate) fn duration<'de, D: Deserializer<'de>>(var: &str, de: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(de)?;
    humantime::parse_duration(text.trim()).map_err(|e| {
        serde::de::Error::custom(format!("{var}: invalid duration {text:?} ({e}); write e.g. 20s or 500ms"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Needs {
        #[allow(dead_code)]
        message: String,
    }

    #[test]
    fn serve_config_defaults() {
        let cfg: ServeConfig = Env::default().parse().unwrap();
        assert_eq!(cfg, ServeConfig::default());
        assert_eq!(cfg.port, 8080);
        assert_eq!(cfg.body_limit, 1024 * 1024);
    }

    #[test]
    fn serve_config_reads_each_variable() {
        let env = Env::from_pairs([
            ("PORT", "9090"),
            ("FNMESH_LISTEN_ADDR", "127.0.0.1"),
            ("FNMESH_BODY_LIMIT", "10"),
            ("FNMESH_SHUTDOWN_GRACE", "1500ms"),
            ("K_SERVICE", "first"),
        ]);
        let cfg: ServeConfig = env.parse().unwrap();
        assert_eq!(cfg.port, 9090);
        assert_eq!(cfg.listen_addr.to_string(), "127.0.0.1");
        assert_eq!(cfg.body_limit, 10);
        assert_eq!(cfg.shutdown_grace, Duration::from_millis(1500));
        assert_eq!(cfg.k_service.as_deref(), Some("first"));
    }

    #[test]
    fn errors_name_the_variable() {
        let err = Env::from_pairs([("PORT", "eighty")]).parse::<ServeConfig>().unwrap_err();
        assert_eq!(err.to_string(), "PORT: invalid value 'eighty': invalid digit found in string");

        let err = Env::from_pairs([("FNMESH_SHUTDOWN_GRACE", "soon")]).parse::<ServeConfig>().unwrap_err();
        assert!(err.to_string().starts_with("FNMESH_SHUTDOWN_GRACE: invalid duration \"soon\""), "{err}");

        let err = Env::default().parse::<Needs>().unwrap_err();
        assert_eq!(err, ConfigError::Missing { var: "MESSAGE".into() });
        assert_eq!(err.to_string(), "MESSAGE: required but not set");
    }

    #[test]
    fn limits_are_read_and_checked() {
        let env = Env::from_pairs([
            ("FNMESH_MAX_HEADERS", "20"),
            ("FNMESH_MAX_HEADER_BYTES", "4096"),
            ("FNMESH_JSON_DEPTH", "8"),
        ]);
        let cfg = ServeConfig::from_env(&env).unwrap();
        assert_eq!((cfg.max_headers, cfg.max_header_bytes, cfg.json_depth), (20, 4096, 8));
        assert_eq!(ServeConfig::from_env(&Env::default()).unwrap(), ServeConfig::default());
        let refused = |var: &str, value: &str| ServeConfig::from_env(&Env::from_pairs([(var, value)])).unwrap_err();
        assert_eq!(refused("FNMESH_BODY_LIMIT", "0").to_string(), "FNMESH_BODY_LIMIT: must be at least 1 byte");
        assert_eq!(refused("FNMESH_MAX_HEADERS", "0").to_string(), "FNMESH_MAX_HEADERS: must be between 1 and 10000");
        assert!(refused("FNMESH_MAX_HEADER_BYTES", "100").to_string().starts_with("FNMESH_MAX_HEADER_BYTES: "));
        assert_eq!(
            refused("FNMESH_JSON_DEPTH", "129").to_string(),
            "FNMESH_JSON_DEPTH: must be between 1 and 128 (the JSON parser's own bound)"
        );
        assert!(refused("FNMESH_JSON_DEPTH", "deep").to_string().starts_with("FNMESH_JSON_DEPTH: invalid value"));
    }

    #[test]
    fn connection_and_body_limits_are_read_and_checked() {
        let env = Env::from_pairs([
            ("FNMESH_MAX_CONNECTIONS", "64"),
            ("FNMESH_IDLE_TIMEOUT", "2m"),
            ("FNMESH_BODY_TIMEOUT", "500ms"),
            ("FNMESH_MAX_INFLIGHT_BYTES", "2097152"),
        ]);
        let cfg = ServeConfig::from_env(&env).unwrap();
        assert_eq!(cfg.max_connections, 64);
        assert_eq!((cfg.idle_timeout, cfg.body_timeout), (Duration::from_secs(120), Duration::from_millis(500)));
        assert_eq!(cfg.max_inflight_bytes, 2 * 1024 * 1024);
        let defaults = ServeConfig::default();
        assert_eq!((defaults.max_connections, defaults.max_inflight_bytes), (512, 4 * 1024 * 1024));
        assert_eq!((defaults.idle_timeout, defaults.body_timeout), (Duration::from_secs(120), Duration::from_secs(30)));

        let refused =
            |pairs: &[(&str, &str)]| ServeConfig::from_env(&Env::from_pairs(pairs.iter().copied())).unwrap_err();
        assert_eq!(
            refused(&[("FNMESH_MAX_CONNECTIONS", "0")]).to_string(),
            "FNMESH_MAX_CONNECTIONS: must be at least 1"
        );
        assert_eq!(
            refused(&[("FNMESH_IDLE_TIMEOUT", "0s")]).to_string(),
            "FNMESH_IDLE_TIMEOUT: must be longer than 0s"
        );
        assert!(
            refused(&[("FNMESH_BODY_TIMEOUT", "soon")])
                .to_string()
                .starts_with("FNMESH_BODY_TIMEOUT: invalid duration")
        );
        assert_eq!(
            refused(&[("FNMESH_BODY_LIMIT", "2097152"), ("FNMESH_MAX_INFLIGHT_BYTES", "1048576")]).to_string(),
            "FNMESH_MAX_INFLIGHT_BYTES: must be at least FNMESH_BODY_LIMIT (2097152 bytes), so that the largest \
             event fits"
        );
    }

    #[test]
    fn later_pairs_win_and_process_env_is_not_read() {
        let env = Env::from_pairs([("PORT", "1"), ("PORT", "2")]);
        assert_eq!(env.get("PORT"), Some("2"));
        assert_eq!(env.get("PATH"), None);
    }
}
