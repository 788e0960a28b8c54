//! Quarkus's `application.properties`, as far as Kogito users set service URLs there:
//! `quarkus.rest-client.<file id>.url=${ENV_VAR:default}`, and the environment variable
//! Quarkus derives from a key, which wins over the file.

use std::collections::BTreeMap;
use std::path::Path;

use fnmesh_runtime::Env;

/// The properties of a file (`key=value` or `key: value` lines; `#`/`!` comments).
#[derive(Debug, Clone, Default)]
pub struct Properties {
    values: BTreeMap<String, String>,
}

impl Properties {
    /// Reads `path`; a missing file is no properties.
    pub fn read(path: &Path) -> Result<Self, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(Self::parse(&text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(format!("{}: cannot read: {e}", path.display())),
        }
    }

    /// Parses the text of a properties file (no line continuations or escapes: what
    /// Kogito examples use).
    pub fn parse(text: &str) -> Self {
        let mut values = BTreeMap::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
                continue;
            }
            let split = line.find(['=', ':']).map(|i| (line[..i].trim(), line[i + 1..].trim()));
            if let Some((key, value)) = split {
                values.insert(key.to_owned(), value.to_owned());
            }
        }
        Self { values }
    }

    /// The value of `key`: the environment variable Quarkus derives from it first, then
    /// the file's value with `${VAR:default}` expanded from `env`.
    pub fn get(&self, key: &str, env: &Env) -> Option<String> {
        if let Some(value) = env.get(&env_name(key)).filter(|v| !v.is_empty()) {
            return Some(value.to_owned());
        }
        self.values.get(key).map(|value| expand(value, env))
    }
}

/// The variable MicroProfile Config reads for `key`: non-alphanumerics become `_`,
/// letters upper case (`quarkus.rest-client.a_yaml.url` → `QUARKUS_REST_CLIENT_A_YAML_URL`).
pub fn env_name(key: &str) -> String {
    key.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect()
}

/// The id Kogito gives an OpenAPI file: its name, non-alphanumerics as `_`, lower case
/// (`specs/subscription-service.yaml` → `subscription_service_yaml`).
pub fn file_id(file: &str) -> String {
    let name = file.rsplit('/').next().unwrap_or(file);
    name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect()
}

/// `${VAR}` and `${VAR:default}` expanded from `env`.
fn expand(value: &str, env: &Env) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let inner = &rest[start + 2..start + end];
        let (var, default) = inner.split_once(':').unwrap_or((inner, ""));
        out.push_str(env.get(var).unwrap_or(default));
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_derived_variable_wins_then_the_file_with_its_defaults() {
        let props = Properties::parse("# c\nquarkus.rest-client.s_yaml.url=${S_URL:http://localhost:8282}\nother: x\n");
        let key = "quarkus.rest-client.s_yaml.url";
        assert_eq!(props.get(key, &Env::default()).as_deref(), Some("http://localhost:8282"));
        assert_eq!(props.get(key, &Env::from_pairs([("S_URL", "http://a")])).as_deref(), Some("http://a"));
        let env = Env::from_pairs([("S_URL", "http://a"), ("QUARKUS_REST_CLIENT_S_YAML_URL", "http://b")]);
        assert_eq!(props.get(key, &env).as_deref(), Some("http://b"));
        assert_eq!(props.get("other", &env).as_deref(), Some("x"));
        assert_eq!(file_id("specs/subscription-service.yaml"), "subscription_service_yaml");
        assert_eq!(env_name(key), "QUARKUS_REST_CLIENT_S_YAML_URL");
    }
}
