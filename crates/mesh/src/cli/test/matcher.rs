//! Matching what a case received against what it expects: one event against an
//! [`EventMatch`] (a subset of attributes, extensions, headers and data, plus jq and
//! CESQL predicates), lines against a [`LineMatch`], and a whole [`Expectation`] of one
//! service, whose failures say what was expected and what came closest.

use std::collections::HashMap;
use std::path::PathBuf;

use base64::Engine;

use super::format::{EventMatch, Expectation, LineMatch, TextMatch};
use super::stand_ins::Received;

/// How many received events a failure lists (the first and last halves of them).
const LISTED: usize = 20;

/// Compiled predicates (regular expressions, CESQL, jq pools), by their source, shared by
/// every evaluation of a case.
#[derive(Default)]
pub struct Predicates {
    regexes: HashMap<String, regex::Regex>,
    cesql: HashMap<String, fnmesh_cesql::Expression>,
    jq: HashMap<String, fnmesh_jq::JqPool>,
    /// The executable that runs jq workers (`fnmesh` itself by default).
    pub jq_worker: Option<PathBuf>,
}

impl std::fmt::Debug for Predicates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Predicates").field("jq_worker", &self.jq_worker).finish_non_exhaustive()
    }
}

impl Predicates {
    /// No predicate compiled yet; jq workers run by `jq_worker` (`None`: this executable).
    pub fn new(jq_worker: Option<PathBuf>) -> Self {
        Self { jq_worker, ..Self::default() }
    }

    fn regex(&mut self, source: &str) -> Result<&regex::Regex, String> {
        if !self.regexes.contains_key(source) {
            let compiled = regex::Regex::new(source).map_err(|e| format!("regex {source:?}: {e}"))?;
            self.regexes.insert(source.to_owned(), compiled);
        }
        Ok(&self.regexes[source])
    }

    fn cesql(&mut self, source: &str) -> Result<&fnmesh_cesql::Expression, String> {
        if !self.cesql.contains_key(source) {
            let parsed = fnmesh_cesql::Expression::parse(source).map_err(|e| format!("cesql {source:?}: {e}"))?;
            self.cesql.insert(source.to_owned(), parsed);
        }
        Ok(&self.cesql[source])
    }

    async fn jq(&mut self, program: &str, input: &serde_json::Value) -> Result<bool, String> {
        if !self.jq.contains_key(program) {
            let worker = match &self.jq_worker {
                Some(worker) => worker.clone(),
                None => std::env::current_exe().map_err(|e| format!("jq: cannot find this executable: {e}"))?,
            };
            let command = fnmesh_jq::WorkerCommand::new(worker).arg(fnmesh_jq::WORKER_ARG);
            let limits = fnmesh_jq::Limits {
                workers: 1,
                timeout: std::time::Duration::from_secs(2),
                ..fnmesh_jq::Limits::default()
            };
            let pool = fnmesh_jq::JqPool::new(program, limits, command).map_err(|e| format!("jq {program:?}: {e}"))?;
            self.jq.insert(program.to_owned(), pool);
        }
        let outputs = self.jq[program].run(&input.to_string()).await.map_err(|e| format!("jq {program:?}: {e}"))?;
        Ok(outputs == [serde_json::Value::Bool(true)])
    }
}

/// Why `text` does not match `pattern` (`None`: it does).
pub fn text_mismatch(predicates: &mut Predicates, pattern: &TextMatch, text: &str) -> Option<String> {
    let mut wrong = Vec::new();
    if let Some(equals) = &pattern.equals
        && text != equals
    {
        wrong.push(format!("expected {equals:?}"));
    }
    if let Some(prefix) = &pattern.prefix
        && !text.starts_with(prefix.as_str())
    {
        wrong.push(format!("expected a text starting with {prefix:?}"));
    }
    if let Some(part) = &pattern.contains
        && !text.contains(part.as_str())
    {
        wrong.push(format!("expected a text holding {part:?}"));
    }
    if let Some(part) = &pattern.not_contains
        && text.contains(part.as_str())
    {
        wrong.push(format!("expected a text without {part:?}"));
    }
    if let Some(source) = &pattern.regex {
        match predicates.regex(source) {
            Ok(re) if re.is_match(text) => {}
            Ok(_) => wrong.push(format!("expected a match of /{source}/")),
            Err(e) => wrong.push(e),
        }
    }
    if let Some(decoded) = &pattern.base64 {
        match base64::engine::general_purpose::STANDARD.decode(text) {
            Ok(bytes) if bytes == decoded.as_bytes() => {}
            Ok(bytes) => wrong
                .push(format!("expected base64 of {decoded:?} (it decodes to {:?})", String::from_utf8_lossy(&bytes))),
            Err(_) => wrong.push(format!("expected base64 of {decoded:?} (not base64)")),
        }
    }
    (!wrong.is_empty()).then(|| format!("{}, got {text:?}", wrong.join(" and ")))
}

/// Whether `actual` holds `expected`: objects by the keys given, the rest by equality.
/// The mismatches, with their JSON paths under `at`.
fn data_mismatches(expected: &serde_json::Value, actual: Option<&serde_json::Value>, at: &str, out: &mut Vec<String>) {
    match (expected, actual) {
        (serde_json::Value::Object(want), Some(serde_json::Value::Object(got))) => {
            for (key, value) in want {
                data_mismatches(value, got.get(key), &format!("{at}.{key}"), out);
            }
        }
        (want, Some(got)) if want == got => {}
        (want, Some(got)) => out.push(format!("{at}: expected {want}, got {got}")),
        (want, None) => out.push(format!("{at}: expected {want}, got nothing")),
    }
}

/// Every way `event` differs from `pattern` (empty: it matches).
pub async fn event_mismatches(predicates: &mut Predicates, pattern: &EventMatch, event: &Received) -> Vec<String> {
    let mut out = Vec::new();
    let attributes = [
        ("id", &pattern.id),
        ("type", &pattern.ty),
        ("source", &pattern.source),
        ("subject", &pattern.subject),
        ("time", &pattern.time),
        ("datacontenttype", &pattern.datacontenttype),
    ];
    let mut check =
        |predicates: &mut Predicates, name: String, want: Option<&TextMatch>, got: Option<&String>| match (want, got) {
            (None, None) => {}
            (None, Some(value)) => out.push(format!("{name}: expected absent, got {value:?}")),
            (Some(want), None) => out.push(format!("{name}: expected {}, got nothing", describe(want))),
            (Some(want), Some(got)) => {
                if let Some(wrong) = text_mismatch(predicates, want, got) {
                    out.push(format!("{name}: {wrong}"));
                }
            }
        };
    for (name, want) in attributes {
        if let Some(want) = want {
            check(predicates, name.to_owned(), Some(want), event.attributes.get(name));
        }
    }
    for (name, want) in &pattern.extensions {
        check(predicates, format!("extensions.{name}"), want.as_ref(), event.attributes.get(name));
    }
    for (name, want) in &pattern.headers {
        check(predicates, format!("headers.{name}"), want.as_ref(), event.headers.get(&name.to_ascii_lowercase()));
    }
    if let Some(want) = &pattern.path {
        check(predicates, "path".into(), Some(want), Some(&event.path));
    }
    if let Some(want) = &pattern.body {
        check(predicates, "body".into(), Some(want), Some(&event.body));
    }
    if let Some(want) = &pattern.data {
        data_mismatches(want, event.data.as_ref(), "data", &mut out);
    }
    if let Some(source) = &pattern.cesql {
        let attributes: std::collections::BTreeMap<String, fnmesh_cesql::Value> =
            event.attributes.iter().map(|(k, v)| (k.clone(), fnmesh_cesql::Value::from(v.as_str()))).collect();
        match predicates.cesql(source) {
            Ok(expression) if expression.matches(&attributes) => {}
            Ok(_) => out.push(format!("cesql: {source:?} is not true")),
            Err(e) => out.push(e),
        }
    }
    if let Some(program) = &pattern.jq {
        match predicates.jq(program, &event.as_json()).await {
            Ok(true) => {}
            Ok(false) => out.push(format!("jq: {program:?} is not true")),
            Err(e) => out.push(e),
        }
    }
    out
}

/// A pattern as written in a diff.
pub fn describe(pattern: &TextMatch) -> String {
    match pattern {
        TextMatch {
            equals: Some(text),
            prefix: None,
            contains: None,
            not_contains: None,
            regex: None,
            base64: None,
        } => {
            format!("{text:?}")
        }
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// Whether `line` matches `pattern` (its regex compiled in `predicates`).
fn line_matches(predicates: &mut Predicates, pattern: &LineMatch, line: &str) -> bool {
    if let Some(part) = &pattern.contains {
        return line.contains(part.as_str());
    }
    match &pattern.regex {
        Some(source) => predicates.regex(source).is_ok_and(|re| re.is_match(line)),
        None => false,
    }
}

/// The pattern of a line, as written in a diff.
fn describe_line(pattern: &LineMatch) -> String {
    match (&pattern.contains, &pattern.regex) {
        (Some(text), _) => format!("a line holding {text:?}"),
        (None, Some(re)) => format!("a line matching /{re}/"),
        (None, None) => "a line".into(),
    }
}

/// An event, one line, for diffs: its attributes and data.
pub fn summary(event: &Received) -> String {
    if !event.is_event {
        return format!("(not an event) {} body {:?}", event.path, event.body);
    }
    let attributes: Vec<String> = event
        .attributes
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "specversion"))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let data = match &event.data {
        Some(data) => data.to_string(),
        None => format!("{:?}", event.body),
    };
    format!("{} data {data}", attributes.join(" "))
}

/// The failures of `expectation` for service `name` (`received`: the stand-in's
/// requests, `None` for a service that runs; `lines`: what it printed).
pub async fn check(
    predicates: &mut Predicates,
    name: &str,
    expectation: &Expectation,
    received: Option<&[Received]>,
    lines: &[String],
) -> Vec<String> {
    let mut failures = Vec::new();
    let who = match received {
        Some(_) => format!("{name} (stand-in)"),
        None if name == "fnmesh" => "fnmesh (the mesh's log)".to_owned(),
        None => name.to_owned(),
    };
    let received = received.unwrap_or_default();
    let list = |events: &[Received]| -> String {
        if events.is_empty() {
            return "      (nothing)\n".into();
        }
        let shown = |(i, e): (usize, &Received)| format!("      {}. {}\n", i + 1, summary(e));
        if events.len() <= LISTED {
            return events.iter().enumerate().map(shown).collect();
        }
        let mut text: String = events.iter().enumerate().take(LISTED / 2).map(shown).collect();
        text.push_str(&format!("      ... {} more ...\n", events.len() - LISTED));
        text.extend(events.iter().enumerate().skip(events.len() - LISTED / 2).map(shown));
        text
    };
    if let Some(count) = expectation.count
        && received.len() != count
    {
        failures.push(format!(
            "{who}: expected {count} request(s) in all, received {}:\n{}",
            received.len(),
            list(received)
        ));
    }
    let mut previous: Option<usize> = None;
    for (i, pattern) in expectation.events.iter().enumerate() {
        let mut matching = Vec::new();
        let mut closest: Option<(usize, Vec<String>)> = None;
        for (n, event) in received.iter().enumerate() {
            let wrong = event_mismatches(predicates, pattern, event).await;
            if wrong.is_empty() {
                matching.push(n);
            } else if closest.as_ref().is_none_or(|(_, c)| wrong.len() < c.len()) {
                closest = Some((n, wrong));
            }
        }
        let written = serde_json::to_string(pattern).unwrap_or_default();
        let ok = match pattern.count {
            Some(count) => matching.len() == count,
            None => !matching.is_empty(),
        };
        if !ok {
            let wanted = pattern.count.map_or("at least 1".to_owned(), |c| c.to_string());
            let mut text = format!(
                "{who}: events[{i}]: expected {wanted} event(s) matching {written}, {} matched; received {}:\n{}",
                matching.len(),
                received.len(),
                list(received)
            );
            if let Some((n, wrong)) = closest.filter(|_| matching.is_empty()) {
                text.push_str(&format!("    closest, #{}:\n", n + 1));
                for line in wrong {
                    text.push_str(&format!("      - {line}\n"));
                }
            }
            failures.push(text);
            continue;
        }
        if expectation.ordered {
            let next = matching.iter().copied().find(|n| previous.is_none_or(|p| *n > p));
            match next {
                Some(n) => previous = Some(n),
                None => failures.push(format!(
                    "{who}: events[{i}]: out of order: expected after event #{} of:\n{}",
                    previous.map_or(0, |p| p + 1),
                    list(received)
                )),
            }
        }
    }
    for (i, pattern) in expectation.none.iter().enumerate() {
        let mut matching = Vec::new();
        for event in received {
            if event_mismatches(predicates, pattern, event).await.is_empty() {
                matching.push(event.clone());
            }
        }
        if !matching.is_empty() {
            let written = serde_json::to_string(pattern).unwrap_or_default();
            failures.push(format!(
                "{who}: none[{i}]: expected no event matching {written}, received {}:\n{}",
                matching.len(),
                list(&matching)
            ));
        }
    }
    let mut previous: Option<usize> = None;
    for (i, pattern) in expectation.output.iter().enumerate() {
        let matching: Vec<usize> =
            lines.iter().enumerate().filter(|(_, l)| line_matches(predicates, pattern, l)).map(|(n, _)| n).collect();
        let ok = match pattern.count {
            Some(count) => matching.len() == count,
            None => !matching.is_empty(),
        };
        if !ok {
            let wanted = pattern.count.map_or("at least 1".to_owned(), |c| c.to_string());
            let shown: String = lines.iter().rev().take(20).rev().map(|l| format!("      | {l}\n")).collect();
            failures.push(format!(
                "{who}: output[{i}]: expected {wanted} of {}, found {}; it printed {} line(s){}:\n{}",
                describe_line(pattern),
                matching.len(),
                lines.len(),
                if lines.len() > 20 { ", the last 20" } else { "" },
                if shown.is_empty() { "      (nothing)\n".into() } else { shown }
            ));
            continue;
        }
        if expectation.ordered {
            match matching.iter().copied().find(|n| previous.is_none_or(|p| *n > p)) {
                Some(n) => previous = Some(n),
                None => failures.push(format!("{who}: output[{i}]: {} is out of order", describe_line(pattern))),
            }
        }
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(pairs: &[(&str, &str)], data: serde_json::Value) -> Received {
        Received {
            attributes: pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            data: Some(data),
            is_event: true,
            ..Received::default()
        }
    }

    #[tokio::test]
    async fn events_match_by_subset_and_say_what_differs() {
        let mut predicates = Predicates::default();
        let got = event(&[("type", "order"), ("id", "e1"), ("region", "eu")], serde_json::json!({"n": 1, "m": [1]}));
        let pattern = EventMatch {
            ty: Some(TextMatch::equals("order")),
            extensions: [("region".to_owned(), Some(TextMatch::equals("eu")))].into(),
            data: Some(serde_json::json!({"n": 1})),
            cesql: Some("region = 'eu' AND type LIKE 'ord%'".into()),
            ..EventMatch::default()
        };
        assert!(event_mismatches(&mut predicates, &pattern, &got).await.is_empty());
        let wrong = EventMatch {
            ty: Some(TextMatch::equals("order.created")),
            extensions: [("region".to_owned(), None), ("flow".to_owned(), Some(TextMatch::equals("x")))].into(),
            data: Some(serde_json::json!({"n": 2})),
            ..EventMatch::default()
        };
        let mismatches = event_mismatches(&mut predicates, &wrong, &got).await;
        assert_eq!(
            mismatches,
            [
                "type: expected \"order.created\", got \"order\"",
                "extensions.flow: expected \"x\", got nothing",
                "extensions.region: expected absent, got \"eu\"",
                "data.n: expected 2, got 1",
            ]
        );
    }

    #[test]
    fn text_patterns() {
        let mut predicates = Predicates::default();
        let pattern = TextMatch { prefix: Some("20".into()), regex: Some("Z$".into()), ..TextMatch::default() };
        assert_eq!(text_mismatch(&mut predicates, &pattern, "2024-01-01T00:00:00Z"), None);
        assert!(text_mismatch(&mut predicates, &pattern, "1999").is_some());
        let data = TextMatch { base64: Some("busy".into()), ..TextMatch::default() };
        assert_eq!(text_mismatch(&mut predicates, &data, "YnVzeQ=="), None);
        assert!(text_mismatch(&mut predicates, &data, "!!").unwrap().contains("not base64"));
    }
}
