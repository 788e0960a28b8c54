//! The CESQL TCK of cloudevents/spec, read in place from `../shared/cesql/cesql_tck/`
//! (next to the checkout). A clone without that folder skips this test and says so.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fnmesh_cesql::{Expression, Value};
use serde_yaml_ng::Value as Yaml;

/// How many cases the TCK of cesql@v1.0.0 has: all must run.
const CASES: usize = 275;

fn tck_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/cesql/cesql_tck")
}

#[test]
fn every_tck_case_passes() {
    let dir = tck_dir();
    if !dir.is_dir() {
        eprintln!("skipped: the CESQL TCK is not at {} (it is only on the development machine)", dir.display());
        return;
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 18, "TCK files in {}", dir.display());

    let mut ran = 0;
    let mut failures = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let doc: Yaml = serde_yaml_ng::from_str(&text).unwrap();
        let tests = doc["tests"].as_sequence().unwrap();
        let expressions = raw_expressions(&text);
        assert_eq!(expressions.len(), tests.len(), "expression lines in {}", file.display());
        for (test, raw) in tests.iter().zip(expressions) {
            ran += 1;
            let name = format!("{}: {}", file.file_name().unwrap().to_string_lossy(), scalar(&test["name"]));
            // A quoted scalar is what YAML says; a plain one is the text as written
            // (`TRUE` and `0` are not to be read as YAML booleans and numbers).
            let source = match &test["expression"] {
                Yaml::String(s) if raw.starts_with(['"', '\'']) => s.clone(),
                _ => raw,
            };
            if let Err(problem) = run(test, &source) {
                failures.push(format!("{name} [{source}]: {problem}"));
            }
        }
    }
    assert!(failures.is_empty(), "{} TCK case(s) failed:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(ran, CASES, "TCK cases run");
}

fn run(test: &Yaml, source: &str) -> Result<(), String> {
    let error = test.get("error").and_then(Yaml::as_str);
    let expression = match Expression::parse(source) {
        Ok(_) if error == Some("parse") => return Err("parsed, but a parse error is expected".into()),
        Ok(expression) => expression,
        Err(_) if error == Some("parse") => return Ok(()),
        Err(e) => return Err(format!("parse error: {e}")),
    };
    let evaluation = expression.evaluate(&event(test));
    let kinds: Vec<&str> = evaluation.errors.iter().map(|e| e.kind.tck_name()).collect();
    match error {
        None if !kinds.is_empty() => return Err(format!("unexpected errors {:?}", evaluation.errors)),
        Some(kind) if !kinds.contains(&kind) => {
            return Err(format!("expected a {kind} error, got {:?}", evaluation.errors));
        }
        _ => {}
    }
    if let Some(expected) = test.get("result") {
        let expected = match expected {
            Yaml::Bool(b) => Value::Boolean(*b),
            Yaml::Number(n) => Value::Integer(n.as_i64().and_then(|n| i32::try_from(n).ok()).ok_or("bad result")?),
            Yaml::String(s) => Value::String(s.clone()),
            other => return Err(format!("unreadable result {other:?}")),
        };
        if evaluation.value != expected {
            return Err(format!("got {}, expected {expected}", evaluation.value));
        }
    }
    Ok(())
}

/// The test's event: `event` as given, or a minimal valid event with `eventOverrides`.
fn event(test: &Yaml) -> BTreeMap<String, Value> {
    let mut attributes: BTreeMap<String, Value> = [
        ("specversion", "1.0"),
        ("id", "tck-1"),
        ("source", "https://example.com/tck"),
        ("type", "io.cloudevents.tck"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), Value::from(v)))
    .collect();
    if let Some(Yaml::Mapping(event)) = test.get("event") {
        attributes.clear();
        attributes.extend(entries(event));
    }
    if let Some(Yaml::Mapping(overrides)) = test.get("eventOverrides") {
        attributes.extend(entries(overrides));
    }
    attributes
}

fn entries(mapping: &serde_yaml_ng::Mapping) -> impl Iterator<Item = (String, Value)> + '_ {
    mapping.iter().map(|(k, v)| {
        let value = match v {
            Yaml::Bool(b) => Value::Boolean(*b),
            Yaml::Number(n) => {
                n.as_i64().and_then(|n| i32::try_from(n).ok()).map_or(Value::String(n.to_string()), Value::Integer)
            }
            Yaml::String(s) => Value::String(s.clone()),
            other => Value::String(serde_yaml_ng::to_string(other).unwrap_or_default()),
        };
        (k.as_str().unwrap_or_default().to_owned(), value)
    })
}

/// A scalar as text (some test names read as YAML numbers or booleans).
fn scalar(value: &Yaml) -> String {
    match value {
        Yaml::String(s) => s.clone(),
        other => serde_yaml_ng::to_string(other).unwrap_or_default().trim().to_owned(),
    }
}

/// The text after `expression:` on each line that has it, in file order.
fn raw_expressions(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.trim_start().trim_start_matches("- ").strip_prefix("expression:"))
        .map(|rest| rest.trim().to_owned())
        .collect()
}
