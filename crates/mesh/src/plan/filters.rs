//! Trigger filters, compiled when the plan is made and evaluated by the broker for every
//! event (`dataplane::brokers`): `filter.attributes` (exact match, an empty value meaning
//! "present") and `filters` (the Subscriptions API dialects exact, prefix, suffix, all,
//! any, not, cesql; all of the list must match, and `filter` is then ignored).

use fnmesh_cesql::{Attributes, Expression, Value};
use fnmesh_runtime::Event;

use crate::manifests::FieldProblem;
use crate::manifests::model::{SubscriptionsApiFilter, TriggerFilter};

/// A compiled trigger filter.
#[derive(Debug, Clone)]
pub enum EventFilter {
    /// Every event passes.
    Everything,
    /// `filter.attributes`.
    Attributes(Vec<(String, String)>),
    /// `filters`: all must match.
    All(Vec<EventFilter>),
    /// `any`: at least one must match.
    Any(Vec<EventFilter>),
    /// `not`: the inner filter must not match.
    Not(Box<EventFilter>),
    /// `exact`: each attribute is present and equals its value.
    Exact(Vec<(String, String)>),
    /// `prefix`: each attribute is present and starts with its value.
    Prefix(Vec<(String, String)>),
    /// `suffix`: each attribute is present and ends with its value.
    Suffix(Vec<(String, String)>),
    /// `cesql`: a CloudEvents SQL expression that must be true.
    Cesql(Box<Expression>),
}

impl EventFilter {
    /// The filter of a Trigger: `filters` when set, else `filter`; problems are at
    /// paths under `spec`.
    pub fn of_trigger(
        filter: Option<&TriggerFilter>,
        filters: Option<&[SubscriptionsApiFilter]>,
    ) -> Result<Self, Vec<FieldProblem>> {
        if let Some(filters) = filters {
            let mut problems = Vec::new();
            let compiled: Vec<EventFilter> = filters
                .iter()
                .enumerate()
                .filter_map(|(i, f)| compile(f, &format!("spec.filters[{i}]"), &mut problems))
                .collect();
            return if problems.is_empty() { Ok(Self::All(compiled)) } else { Err(problems) };
        }
        match filter {
            Some(filter) if !filter.attributes.is_empty() => {
                Ok(Self::Attributes(filter.attributes.iter().map(|(k, v)| (k.clone(), v.clone())).collect()))
            }
            _ => Ok(Self::Everything),
        }
    }

    /// Why `event` does not pass, naming the attribute and the filter that decided;
    /// `None` when it passes.
    pub fn explain(&self, event: &Event) -> Option<String> {
        let text = |name: &str| event.attribute(name).map(|v| plain(&v));
        let pairs = |pairs: &[(String, String)], dialect: &str, test: &dyn Fn(&str, &str) -> bool| {
            pairs.iter().find_map(|(name, want)| match text(name) {
                None => Some(format!("{dialect}: {name} is missing")),
                Some(have) if !test(&have, want) => Some(format!("{dialect}: {name} {have:?} does not match {want:?}")),
                Some(_) => None,
            })
        };
        match self {
            Self::Everything => None,
            Self::Attributes(list) => pairs(list, "filter.attributes", &|have, want| want.is_empty() || have == want),
            Self::All(filters) => filters.iter().find_map(|f| f.explain(event)),
            Self::Any(filters) => (!filters.iter().any(|f| f.matches(event))).then(|| {
                let why: Vec<String> = filters.iter().filter_map(|f| f.explain(event)).collect();
                format!("any: none matched ({})", why.join("; "))
            }),
            Self::Not(filter) => filter
                .matches(event)
                .then(|| format!("not: the inner filter matched ({})", filter.summary().trim_start_matches(": "))),
            Self::Exact(list) => pairs(list, "exact", &|have, want| have == want),
            Self::Prefix(list) => pairs(list, "prefix", &|have, want| have.starts_with(want)),
            Self::Suffix(list) => pairs(list, "suffix", &|have, want| have.ends_with(want)),
            Self::Cesql(expression) => (!expression.matches(event)).then(|| format!("cesql: {expression} is false")),
        }
    }

    /// The filter in a few words, for a graph's edge: `: type=x`, empty for none.
    pub fn summary(&self) -> String {
        let pairs = |pairs: &[(String, String)], op: &str| {
            pairs.iter().map(|(k, v)| format!("{k}{op}{v}")).collect::<Vec<_>>().join(", ")
        };
        let text = match self {
            Self::Everything => return String::new(),
            Self::Attributes(list) | Self::Exact(list) => pairs(list, "="),
            Self::Prefix(list) => pairs(list, "^="),
            Self::Suffix(list) => pairs(list, "$="),
            Self::All(filters) => filters
                .iter()
                .map(|f| f.summary())
                .map(|s| s.trim_start_matches(": ").to_owned())
                .collect::<Vec<_>>()
                .join(" and "),
            Self::Any(filters) => format!(
                "any({})",
                filters.iter().map(|f| f.summary().trim_start_matches(": ").to_owned()).collect::<Vec<_>>().join(", ")
            ),
            Self::Not(filter) => format!("not({})", filter.summary().trim_start_matches(": ")),
            Self::Cesql(expression) => expression.to_string(),
        };
        if text.is_empty() { String::new() } else { format!(": {text}") }
    }

    /// Whether `event` passes.
    pub fn matches(&self, event: &Event) -> bool {
        let text = |name: &str| event.attribute(name).map(|v| plain(&v));
        match self {
            Self::Everything => true,
            Self::Attributes(pairs) => pairs.iter().all(|(name, want)| match text(name) {
                Some(have) => want.is_empty() || have == *want,
                None => false,
            }),
            Self::All(filters) => filters.iter().all(|f| f.matches(event)),
            Self::Any(filters) => filters.iter().any(|f| f.matches(event)),
            Self::Not(filter) => !filter.matches(event),
            Self::Exact(pairs) => pairs.iter().all(|(name, want)| text(name).is_some_and(|have| have == *want)),
            Self::Prefix(pairs) => {
                pairs.iter().all(|(name, want)| text(name).is_some_and(|have| have.starts_with(want)))
            }
            Self::Suffix(pairs) => pairs.iter().all(|(name, want)| text(name).is_some_and(|have| have.ends_with(want))),
            Self::Cesql(expression) => expression.matches(event),
        }
    }
}

/// A value as the filters compare it: its text.
fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Integer(i) => i.to_string(),
        Value::Boolean(b) => b.to_string(),
    }
}

fn compile(filter: &SubscriptionsApiFilter, path: &str, problems: &mut Vec<FieldProblem>) -> Option<EventFilter> {
    let pairs = |map: &std::collections::BTreeMap<String, String>| -> Vec<(String, String)> {
        map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    };
    let mut set = Vec::new();
    if let Some(map) = &filter.exact {
        set.push(EventFilter::Exact(pairs(map)));
    }
    if let Some(map) = &filter.prefix {
        set.push(EventFilter::Prefix(pairs(map)));
    }
    if let Some(map) = &filter.suffix {
        set.push(EventFilter::Suffix(pairs(map)));
    }
    let many = |list: &[SubscriptionsApiFilter], field: &str, problems: &mut Vec<FieldProblem>| -> Vec<EventFilter> {
        list.iter().enumerate().filter_map(|(i, f)| compile(f, &format!("{path}.{field}[{i}]"), problems)).collect()
    };
    if let Some(list) = &filter.all {
        set.push(EventFilter::All(many(list, "all", problems)));
    }
    if let Some(list) = &filter.any {
        set.push(EventFilter::Any(many(list, "any", problems)));
    }
    if let Some(inner) = &filter.not {
        set.push(EventFilter::Not(Box::new(compile(inner, &format!("{path}.not"), problems)?)));
    }
    if let Some(source) = &filter.cesql {
        match Expression::parse(source) {
            Ok(expression) => set.push(EventFilter::Cesql(Box::new(expression))),
            Err(e) => {
                problems.push(FieldProblem::new(format!("{path}.cesql"), format!("invalid CloudEvents SQL: {e}")));
                return None;
            }
        }
    }
    match set.len() {
        1 => set.pop(),
        n => {
            problems.push(FieldProblem::new(
                path,
                format!("set exactly one of exact, prefix, suffix, all, any, not, cesql ({n} set)"),
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use fnmesh_runtime::{EventBuilder, EventBuilderV10};

    use super::*;

    fn event() -> Event {
        EventBuilderV10::new()
            .id("1")
            .source("/orders")
            .ty("com.example.order.created")
            .extension("region", "eu-west")
            .build()
            .unwrap()
    }

    fn filters(yaml: &str) -> Result<EventFilter, Vec<FieldProblem>> {
        let list: Vec<SubscriptionsApiFilter> = crate::manifests::yaml::from_str(yaml).unwrap();
        EventFilter::of_trigger(None, Some(&list))
    }

    #[test]
    fn attribute_filters_match_exactly_and_empty_means_present() {
        let filter = |pairs: &[(&str, &str)]| {
            let attributes = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            EventFilter::of_trigger(Some(&TriggerFilter { attributes }), None).unwrap()
        };
        assert!(filter(&[("type", "com.example.order.created")]).matches(&event()));
        assert!(!filter(&[("type", "com.example.order")]).matches(&event()));
        assert!(filter(&[("region", "")]).matches(&event()));
        assert!(!filter(&[("subject", "")]).matches(&event()));
        assert!(filter(&[]).matches(&event()));
    }

    #[test]
    fn each_dialect() {
        let pass = |yaml: &str| filters(yaml).unwrap().matches(&event());
        assert!(pass("[{exact: {type: com.example.order.created, region: eu-west}}]"));
        assert!(!pass("[{exact: {region: eu}}]"));
        assert!(pass("[{prefix: {type: com.example.}}]"));
        assert!(pass("[{suffix: {type: .created}}]"));
        assert!(!pass("[{suffix: {nosuch: x}}]"));
        assert!(pass("[{all: [{prefix: {type: com.}}, {exact: {region: eu-west}}]}]"));
        assert!(!pass("[{all: [{prefix: {type: com.}}, {exact: {region: us}}]}]"));
        assert!(pass("[{any: [{exact: {region: us}}, {exact: {region: eu-west}}]}]"));
        assert!(pass("[{not: {exact: {region: us}}}]"));
        assert!(pass("[{cesql: \"region LIKE 'eu-%' AND source = '/orders'\"}]"));
        assert!(!pass("[{cesql: \"nosuch = 'x'\"}]"));
        assert!(!pass("[{prefix: {type: com.}}, {exact: {region: us}}]"), "a list is an AND");
    }

    #[test]
    fn bad_filters_are_named_by_path() {
        let problems =
            filters("[{exact: {a: b}}, {all: [{cesql: 'a = '}]}, {exact: {a: b}, prefix: {a: b}}]").unwrap_err();
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["spec.filters[1].all[0].cesql", "spec.filters[2]"]);
    }
}
