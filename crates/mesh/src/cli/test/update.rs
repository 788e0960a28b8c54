//! `fnmesh test --update`: for each case without `expect:`, what its stand-ins received
//! becomes its expectation (and each send without `status:` gets the status it was
//! answered), written back into the test file for review. The file is written again
//! from its YAML: comments in it are lost.

use std::collections::BTreeMap;

use super::case::{CaseResult, Loaded};
use super::format::{EventMatch, Expectation, TextMatch};
use super::stand_ins::Received;

/// Extensions that differ at every run: not written as expectations.
const VOLATILE: [&str; 2] = ["knativearrivaltime", "traceparent"];

/// The expectation of one stand-in that received `events`: each distinct event once,
/// with how many times it came, in the order first seen.
fn expectation(events: &[Received]) -> Expectation {
    let uuid = regex::Regex::new("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$").ok();
    let mut patterns: Vec<(String, EventMatch)> = Vec::new();
    for event in events {
        let text = |name: &str| event.attributes.get(name).map(|v| TextMatch::equals(v.clone()));
        let id = text("id")
            .filter(|id| uuid.as_ref().is_none_or(|re| !re.is_match(id.equals.as_deref().unwrap_or_default())));
        let standard = ["specversion", "id", "type", "source", "subject", "time", "datacontenttype", "dataschema"];
        let pattern = EventMatch {
            id,
            ty: text("type"),
            source: text("source"),
            subject: text("subject"),
            extensions: event
                .attributes
                .iter()
                .filter(|(k, _)| !standard.contains(&k.as_str()) && !VOLATILE.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), Some(TextMatch::equals(v.clone()))))
                .collect(),
            data: event.data.clone(),
            body: (event.data.is_none() && !event.body.is_empty()).then(|| TextMatch::equals(event.body.clone())),
            ..EventMatch::default()
        };
        let key = serde_json::to_string(&pattern).unwrap_or_default();
        match patterns.iter_mut().find(|(k, _)| *k == key) {
            Some((_, found)) => found.count = Some(found.count.unwrap_or(1) + 1),
            None => patterns.push((key, EventMatch { count: Some(1), ..pattern })),
        }
    }
    Expectation {
        count: Some(events.len()),
        ordered: true,
        events: patterns.into_iter().map(|(_, p)| p).collect(),
        ..Expectation::default()
    }
}

/// Writes the expectations of the cases of `loaded` that have none; whether it wrote.
pub fn write(loaded: &Loaded, results: &[&CaseResult]) -> Result<bool, String> {
    let mut value = loaded.value.clone();
    let mut changed = false;
    for result in results {
        let case = &loaded.file.cases[result.index];
        if case.expect.is_some() {
            continue;
        }
        let Some(written) = value.get_mut("cases").and_then(|c| c.get_mut(result.index)) else { continue };
        let expect: BTreeMap<&String, Expectation> =
            result.received.iter().map(|(name, events)| (name, expectation(events))).collect();
        let expect = serde_yaml_ng::to_value(expect).map_err(|e| e.to_string())?;
        if let Some(mapping) = written.as_mapping_mut() {
            mapping.insert("expect".into(), expect);
        }
        for (n, status) in result.statuses.iter().enumerate() {
            let send = written.get_mut("send").and_then(|s| s.get_mut(n)).and_then(|s| s.as_mapping_mut());
            if let Some(send) = send
                && !send.contains_key("status")
                && *status > 0
            {
                send.insert("status".into(), (*status).into());
            }
        }
        changed = true;
    }
    if changed {
        let text = serde_yaml_ng::to_string(&value).map_err(|e| e.to_string())?;
        let header = "# Expectations written by `fnmesh test --update`: review them against what the flow should do.\n";
        let text = if text.starts_with('#') { text } else { format!("{header}{text}") };
        std::fs::write(&loaded.path, text).map_err(|e| format!("{}: {e}", loaded.path.display()))?;
    }
    Ok(changed)
}
