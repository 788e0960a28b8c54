//! The test file format of `fnmesh test` (`*.test.yaml`, described in `docs/testing.md`):
//! read once into typed cases, every problem reported with the file and the field path
//! (`cases[1].send[0].target: ...`), as `fnmesh validate` reports manifests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

use crate::manifests::problems::{Place, Problems};

/// One test file: the manifests its cases run by default, and the cases.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TestFile {
    /// Files or folders of manifests, relative to the test file (default: its folder).
    #[serde(default)]
    pub manifests: Vec<PathBuf>,
    /// The namespace of objects that name none (default `default`).
    #[serde(default)]
    pub namespace: Option<String>,
    /// The cases, run independently of each other.
    pub cases: Vec<Case>,
}

/// One case: a fresh mesh, its stand-ins, what is sent, and what must happen.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Case {
    /// Shown on the case's line.
    pub name: String,
    /// Replaces the file's `manifests` for this case.
    #[serde(default)]
    pub manifests: Option<Vec<PathBuf>>,
    /// Services answered by a scripted stand-in, by name.
    #[serde(default)]
    pub services: BTreeMap<String, StandIn>,
    /// `fnmesh run` flags for this case.
    #[serde(default)]
    pub options: MeshOptions,
    /// PingSources fired once, by name, before the events are sent.
    #[serde(default)]
    pub ping: Vec<Ping>,
    /// Events (or raw requests) posted to the ingress, in order.
    #[serde(default)]
    pub send: Vec<Send>,
    /// What must be true once the events are delivered, by service name (`fnmesh` for the
    /// mesh's own log). `None`: nothing checked yet (`--update` writes it).
    #[serde(default)]
    pub expect: Option<BTreeMap<String, Expectation>>,
    /// The time limit of the whole case (default 20s).
    #[serde(default, deserialize_with = "duration")]
    pub timeout: Option<Duration>,
}

/// The `fnmesh run` flags a case may set.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MeshOptions {
    /// `--broker-ttl`.
    #[serde(default)]
    pub broker_ttl: Option<u32>,
    /// `--async-brokers`.
    #[serde(default)]
    pub async_brokers: bool,
}

/// A scripted stand-in for a service: the answers it gives, in order.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StandIn {
    /// The service's namespace (default: the file's).
    #[serde(default)]
    pub namespace: Option<String>,
    /// The answers, one a request (an answer with `times: n` counts n); after the last,
    /// the last repeats, or the script starts again with `cycle: true`. None: `202`.
    #[serde(default)]
    pub answers: Vec<Answer>,
    /// Start the script again after its last answer.
    #[serde(default)]
    pub cycle: bool,
    /// Nothing listens: every connection is refused, as for a crashed pod.
    #[serde(default)]
    pub down: bool,
}

/// One answer of a stand-in.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Answer {
    /// The status (default 200 with a reply or body, else 202).
    #[serde(default)]
    pub status: Option<u16>,
    /// Wait this long before answering (e.g. `5s`, `200ms`).
    #[serde(default, deserialize_with = "duration")]
    pub delay: Option<Duration>,
    /// Response headers (e.g. `Retry-After: "3"`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Answer with an event: the one received, with these changes (binary mode).
    #[serde(default)]
    pub reply: Option<Reply>,
    /// Answer with this body (text).
    #[serde(default)]
    pub body: Option<String>,
    /// Give this answer this many times in a row (default 1).
    #[serde(default)]
    pub times: Option<usize>,
}

/// A reply event: the received event with these attributes, extensions or data changed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Reply {
    /// A new `type`.
    #[serde(default, rename = "type")]
    pub ty: Option<String>,
    /// A new `source`.
    #[serde(default)]
    pub source: Option<String>,
    /// A new `id`.
    #[serde(default)]
    pub id: Option<String>,
    /// Extensions set (or replaced).
    #[serde(default, deserialize_with = "text_map")]
    pub extensions: BTreeMap<String, String>,
    /// New JSON data.
    #[serde(default)]
    pub data: Option<serde_json::Value>,
}

/// A PingSource fired once: its name, and optionally the time it fires at (default now).
#[derive(Debug, Clone)]
pub struct Ping {
    /// The PingSource's name.
    pub name: String,
    /// The event's `time` (RFC 3339); now when absent.
    pub time: Option<chrono::DateTime<chrono::Utc>>,
}

impl<'de> Deserialize<'de> for Ping {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Full {
            name: String,
            #[serde(default)]
            time: Option<chrono::DateTime<chrono::Utc>>,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Name(String),
            Full(Full),
        }
        match Form::deserialize(deserializer)
            .map_err(|_| serde::de::Error::custom("write a PingSource name, or {name: NAME, time: RFC3339}"))?
        {
            Form::Name(name) => Ok(Self { name, time: None }),
            Form::Full(Full { name, time }) => Ok(Self { name, time }),
        }
    }
}

/// A request posted to the ingress: a CloudEvent in binary mode (the default), or a raw
/// `body` with only the `headers` given.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Send {
    /// `sequence/NAME`, `parallel/NAME`, `broker/NAME`, `channel/NAME`, `ksvc/NAME`, or an
    /// in-cluster URL, as `fnmesh send` takes it.
    pub target: String,
    /// The event's `id` (default: `NAME-N`, the case's name and the send's index).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The event's `type` (default `dev.fnmesh.test`).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub ty: Option<String>,
    /// The event's `source` (default `/fnmesh/test`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The event's `time` (none by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// The event's `subject`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Extension attributes.
    #[serde(default, deserialize_with = "text_map", skip_serializing_if = "BTreeMap::is_empty")]
    pub extensions: BTreeMap<String, String>,
    /// JSON data (`application/json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
    /// A file of JSON data, relative to the test file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_file: Option<PathBuf>,
    /// More request headers (`traceparent`, ...).
    #[serde(default, deserialize_with = "text_map", skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// A raw body instead of an event: no `ce-*` header is added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The HTTP method (default POST).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The status the ingress must answer (default: any 2xx).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// What the answer's body must hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<TextMatch>,
}

/// What must be true of one service (a stand-in, or a service that runs), or of the
/// mesh's own log (`fnmesh`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Expectation {
    /// How many requests the stand-in received in all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<usize>,
    /// `events` (and `output`) arrive in the order written.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ordered: bool,
    /// Events the stand-in must receive.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<EventMatch>,
    /// Events the stand-in must NOT receive.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub none: Vec<EventMatch>,
    /// Lines the service (or `fnmesh`) must print.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub output: Vec<LineMatch>,
}

/// What an event received must look like: every field given must match (a subset).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EventMatch {
    /// `id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<TextMatch>,
    /// `type`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub ty: Option<TextMatch>,
    /// `source`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<TextMatch>,
    /// `subject`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<TextMatch>,
    /// `time`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<TextMatch>,
    /// `datacontenttype`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datacontenttype: Option<TextMatch>,
    /// Extensions; `null` means the extension must be absent.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extensions: BTreeMap<String, Option<TextMatch>>,
    /// HTTP request headers (lower-case names); `null` means absent.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, Option<TextMatch>>,
    /// The request path (e.g. `/statemachines/events`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<TextMatch>,
    /// JSON data: objects match when every key given matches (recursively), arrays and
    /// scalars when equal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
    /// The body as received, as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<TextMatch>,
    /// A jq program over the event as JSON (attributes, extensions and `data`) that must
    /// output `true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jq: Option<String>,
    /// A CESQL expression over the attributes and extensions that must be true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cesql: Option<String>,
    /// Exactly this many received events match (default: at least one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<usize>,
}

/// A line a service printed: it holds `contains` or matches `regex`.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LineMatch {
    /// Text the line holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contains: Option<String>,
    /// A regular expression the line matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    /// Exactly this many lines match (default: at least one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<usize>,
}

impl<'de> Deserialize<'de> for LineMatch {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Full {
            #[serde(default)]
            contains: Option<String>,
            #[serde(default)]
            regex: Option<String>,
            #[serde(default)]
            count: Option<usize>,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Text(String),
            Full(Full),
        }
        let form = Form::deserialize(deserializer).map_err(|_| {
            serde::de::Error::custom("write a text the line holds, or {contains: TEXT | regex: RE, count: N}")
        })?;
        let line = match form {
            Form::Text(contains) => Self { contains: Some(contains), ..Self::default() },
            Form::Full(Full { contains, regex, count }) => Self { contains, regex, count },
        };
        if line.contains.is_some() == line.regex.is_some() {
            return Err(serde::de::Error::custom("give one of contains or regex"));
        }
        Ok(line)
    }
}

/// How a text (an attribute, a header, a body) must be: equal to a scalar, or a pattern.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextMatch {
    /// Equal to this.
    pub equals: Option<String>,
    /// Starts with this.
    pub prefix: Option<String>,
    /// Holds this.
    pub contains: Option<String>,
    /// Does not hold this.
    pub not_contains: Option<String>,
    /// Matches this regular expression.
    pub regex: Option<String>,
    /// Decoded from base64 (padded), equal to this: for `knativeerrordata`.
    pub base64: Option<String>,
}

impl Serialize for TextMatch {
    /// As written: a plain text for `equals` alone, else the pattern's keys.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let keys = [
            ("equals", &self.equals),
            ("prefix", &self.prefix),
            ("contains", &self.contains),
            ("notContains", &self.not_contains),
            ("regex", &self.regex),
            ("base64", &self.base64),
        ];
        let given: Vec<(&str, &String)> = keys.iter().filter_map(|(k, v)| v.as_ref().map(|v| (*k, v))).collect();
        if let [("equals", text)] = given.as_slice() {
            return serializer.serialize_str(text);
        }
        let mut map = serializer.serialize_map(Some(given.len()))?;
        for (key, value) in given {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

impl TextMatch {
    /// Equal to `text`.
    pub fn equals(text: impl Into<String>) -> Self {
        Self { equals: Some(text.into()), ..Self::default() }
    }
}

impl<'de> Deserialize<'de> for TextMatch {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields, rename_all = "camelCase")]
        struct Full {
            #[serde(default)]
            equals: Option<String>,
            #[serde(default)]
            prefix: Option<String>,
            #[serde(default)]
            contains: Option<String>,
            #[serde(default)]
            not_contains: Option<String>,
            #[serde(default)]
            regex: Option<String>,
            #[serde(default)]
            base64: Option<String>,
        }
        let value = serde_json::Value::deserialize(deserializer)?;
        match value {
            serde_json::Value::String(text) => Ok(Self::equals(text)),
            serde_json::Value::Number(n) => Ok(Self::equals(n.to_string())),
            serde_json::Value::Bool(b) => Ok(Self::equals(b.to_string())),
            serde_json::Value::Object(_) => {
                let Full { equals, prefix, contains, not_contains, regex, base64 } = serde_json::from_value(value)
                    .map_err(|e| {
                        serde::de::Error::custom(format!(
                            "{e} (write a text, or equals, prefix, contains, notContains, regex, base64)"
                        ))
                    })?;
                let pattern = Self { equals, prefix, contains, not_contains, regex, base64 };
                if pattern == Self::default() {
                    return Err(serde::de::Error::custom(
                        "an empty pattern: give equals, prefix, contains, notContains, regex or base64",
                    ));
                }
                Ok(pattern)
            }
            _ => Err(serde::de::Error::custom(
                "write a text, or {equals | prefix | contains | notContains | regex | base64: TEXT}",
            )),
        }
    }
}

/// A humantime duration (`200ms`, `5s`).
fn duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
    let text = String::deserialize(deserializer)?;
    humantime::parse_duration(&text)
        .map(Some)
        .map_err(|e| serde::de::Error::custom(format!("{text:?}: {e} (write e.g. 200ms, 5s)")))
}

/// A map of texts where YAML numbers and booleans are taken as written (`code: 503`).
fn text_map<'de, D: Deserializer<'de>>(deserializer: D) -> Result<BTreeMap<String, String>, D::Error> {
    let map = BTreeMap::<String, serde_json::Value>::deserialize(deserializer)?;
    map.into_iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => Ok((k, s)),
            serde_json::Value::Number(n) => Ok((k, n.to_string())),
            serde_json::Value::Bool(b) => Ok((k, b.to_string())),
            _ => Err(serde::de::Error::custom(format!("{k}: write a text"))),
        })
        .collect()
}

/// Reads the test file at `path`; its problems (YAML, types, unknown fields) with the
/// field path.
pub fn read(path: &Path) -> Result<(TestFile, serde_yaml_ng::Value), Problems> {
    let mut problems = Problems::default();
    let place = Place::new(path, 0);
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            problems.add(&place, "", format!("cannot read: {e}"));
            return Err(problems);
        }
    };
    let value: serde_yaml_ng::Value = match serde_yaml_ng::from_str(&text) {
        Ok(value) => value,
        Err(e) => {
            problems.add(&place, "", format!("not valid YAML: {e}"));
            return Err(problems);
        }
    };
    match serde_path_to_error::deserialize::<_, TestFile>(value.clone()) {
        Ok(file) => Ok((file, value)),
        Err(e) => {
            let at = e.path().to_string();
            problems.add(&place, if at == "." { String::new() } else { at }, e.into_inner().to_string());
            Err(problems)
        }
    }
}
