//! What a test file must be beyond its types: targets `fnmesh send` can reach, services
//! and PingSources that exist, expectations on events only where a stand-in records
//! them, patterns that compile. Each problem names the file and the field path.

use std::collections::BTreeSet;

use super::case::Loaded;
use super::format::{EventMatch, LineMatch, TextMatch};
use crate::manifests::Kind;
use crate::manifests::problems::{Place, Problems};

/// Every problem of `loaded`.
pub fn check(loaded: &Loaded) -> Problems {
    let mut problems = Problems::default();
    let place = Place::new(&loaded.path, 0);
    let mut add = |path: String, message: String| problems.add(&place, path, message);
    if loaded.file.cases.is_empty() {
        add("cases".into(), "at least one case is required".into());
    }
    let mut names = BTreeSet::new();
    for (i, case) in loaded.file.cases.iter().enumerate() {
        let at = format!("cases[{i}]");
        if case.name.trim().is_empty() {
            add(format!("{at}.name"), "required".into());
        } else if !names.insert(case.name.clone()) {
            add(format!("{at}.name"), format!("{:?} names another case already", case.name));
        }
        let manifests = loaded.manifests(case);
        for (m, path) in manifests.iter().enumerate() {
            if !path.exists() {
                let field =
                    if case.manifests.is_some() { format!("{at}.manifests[{m}]") } else { format!("manifests[{m}]") };
                add(field, format!("{} does not exist", path.display()));
            }
        }
        let (documents, _) = crate::manifests::load(&manifests, loaded.namespace());
        let services: BTreeSet<&str> = documents
            .iter()
            .filter(|d| matches!(d.kind, Kind::KService | Kind::CoreService))
            .map(|d| d.name.as_str())
            .collect();
        let pings: BTreeSet<&str> =
            documents.iter().filter(|d| d.kind == Kind::PingSource).map(|d| d.name.as_str()).collect();
        for (name, stand_in) in &case.services {
            if !is_dns_label(name) {
                add(format!("{at}.services.{name}"), "a service name is a DNS label: a-z, 0-9 and -".into());
            }
            for (a, answer) in stand_in.answers.iter().enumerate() {
                let path = format!("{at}.services.{name}.answers[{a}]");
                if let Some(status) = answer.status.filter(|s| !(100..=599).contains(s)) {
                    add(format!("{path}.status"), format!("{status} is not an HTTP status"));
                }
                if answer.reply.is_some() && answer.body.is_some() {
                    add(path.clone(), "give reply or body, not both".into());
                }
                if answer.times == Some(0) {
                    add(format!("{path}.times"), "at least 1".into());
                }
            }
        }
        for (p, ping) in case.ping.iter().enumerate() {
            if !pings.contains(ping.name.as_str()) {
                add(format!("{at}.ping[{p}]"), format!("no PingSource {} in the manifests", ping.name));
            }
        }
        for (s, send) in case.send.iter().enumerate() {
            let path = format!("{at}.send[{s}]");
            if let Err(e) = crate::cli::client::locate(&send.target, 0, loaded.namespace()) {
                add(format!("{path}.target"), e.to_string());
            }
            if send.data.is_some() && send.data_file.is_some() {
                add(path.clone(), "give data or dataFile, not both".into());
            }
            if send.body.is_some() && (send.data.is_some() || send.data_file.is_some()) {
                add(path.clone(), "body sends a raw request: give body, or data / dataFile for an event".into());
            }
            if let Some(file) = &send.data_file {
                let full = loaded.folder().join(file);
                match std::fs::read(&full) {
                    Ok(bytes) if serde_json::from_slice::<serde_json::Value>(&bytes).is_err() => {
                        add(format!("{path}.dataFile"), format!("{} is not JSON", full.display()))
                    }
                    Ok(_) => {}
                    Err(e) => add(format!("{path}.dataFile"), format!("{}: {e}", full.display())),
                }
            }
            for name in send.extensions.keys() {
                if !fnmesh_runtime::binding::is_valid_extension_name(name) {
                    add(format!("{path}.extensions.{name}"), "extension names are a-z and 0-9".into());
                }
            }
            if let Some(status) = send.status.filter(|s| !(100..=599).contains(s)) {
                add(format!("{path}.status"), format!("{status} is not an HTTP status"));
            }
            if let Some(answer) = &send.answer {
                text(&format!("{path}.answer"), answer, &mut add);
            }
        }
        for (name, expectation) in case.expect.iter().flatten() {
            let path = format!("{at}.expect.{name}");
            let stand_in = case.services.contains_key(name);
            if !stand_in && name != "fnmesh" && !services.contains(name.as_str()) {
                add(
                    path.clone(),
                    format!("no stand-in or Service {name} in the manifests (and not fnmesh, the mesh's own log)"),
                );
                continue;
            }
            if !stand_in
                && (expectation.count.is_some() || !expectation.events.is_empty() || !expectation.none.is_empty())
            {
                add(
                    path.clone(),
                    format!(
                        "only a stand-in records the events it receives: give {name} a stand-in under \
                         services:, or expect the lines it prints (output:)"
                    ),
                );
            }
            for (e, pattern) in expectation.events.iter().enumerate() {
                event(&format!("{path}.events[{e}]"), pattern, &mut add);
            }
            for (e, pattern) in expectation.none.iter().enumerate() {
                event(&format!("{path}.none[{e}]"), pattern, &mut add);
                if pattern.count.is_some() {
                    add(format!("{path}.none[{e}].count"), "none: means a count of 0; remove count".into());
                }
            }
            for (l, line) in expectation.output.iter().enumerate() {
                self::line(&format!("{path}.output[{l}]"), line, &mut add);
            }
        }
    }
    problems
}

fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

fn text(path: &str, pattern: &TextMatch, add: &mut impl FnMut(String, String)) {
    if let Some(source) = &pattern.regex
        && let Err(e) = regex::Regex::new(source)
    {
        add(format!("{path}.regex"), e.to_string());
    }
}

fn line(path: &str, pattern: &LineMatch, add: &mut impl FnMut(String, String)) {
    if let Some(source) = &pattern.regex
        && let Err(e) = regex::Regex::new(source)
    {
        add(format!("{path}.regex"), e.to_string());
    }
}

fn event(path: &str, pattern: &EventMatch, add: &mut impl FnMut(String, String)) {
    let attributes = [
        ("id", &pattern.id),
        ("type", &pattern.ty),
        ("source", &pattern.source),
        ("subject", &pattern.subject),
        ("time", &pattern.time),
        ("datacontenttype", &pattern.datacontenttype),
        ("path", &pattern.path),
        ("body", &pattern.body),
    ];
    for (name, value) in attributes {
        if let Some(value) = value {
            text(&format!("{path}.{name}"), value, add);
        }
    }
    for (name, value) in pattern.extensions.iter().chain(&pattern.headers) {
        if let Some(value) = value {
            text(&format!("{path}.{name}"), value, add);
        }
    }
    if let Some(source) = &pattern.cesql
        && let Err(e) = fnmesh_cesql::Expression::parse(source)
    {
        add(format!("{path}.cesql"), e.to_string());
    }
    if let Some(program) = &pattern.jq
        && let Err(e) = fnmesh_jq::check_program(program)
    {
        add(format!("{path}.jq"), e.to_string());
    }
}
