//! `fnmesh graph`: the flow as a diagram, at the level of the manifests' objects:
//! sources -> flows, channels and brokers -> filters and subscribers -> replies, with
//! dead letter sinks dashed. Mermaid (for READMEs), DOT, or SVG laid out in-process
//! (layout-rs, no external program).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::error::{Error, Result};
use crate::manifests::model::*;
use crate::manifests::{Document, Kind, Spec};

/// A node: its id (`ksvc/first`), label, and shape.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Node {
    label: String,
    shape: Shape,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Source,
    Flow,
    Hub,
    Service,
    Uri,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Edge {
    from: String,
    to: String,
    label: String,
    dashed: bool,
}

/// A flow's diagram.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    nodes: BTreeMap<String, Node>,
    edges: Vec<Edge>,
}

/// The kind part of a node's id: as `fnmesh get` names it, channels of any kind alike.
fn short_kind(kind: Kind, written: &str) -> String {
    match kind {
        Kind::InMemoryChannel | Kind::Channel => "channel".into(),
        Kind::Other => written.to_ascii_lowercase(),
        kind => kind.resource().into(),
    }
}

fn shape(kind: &str) -> Shape {
    match kind {
        "pingsource" | "containersource" | "sinkbinding" => Shape::Source,
        "sequence" | "parallel" => Shape::Flow,
        "broker" | "channel" => Shape::Hub,
        _ => Shape::Service,
    }
}

impl Graph {
    fn node(&mut self, id: &str, shape: Shape) -> String {
        self.nodes.entry(id.to_owned()).or_insert_with(|| Node { label: id.to_owned(), shape });
        id.to_owned()
    }

    fn edge(&mut self, from: &str, to: &str, label: impl Into<String>, dashed: bool) {
        self.edges.push(Edge { from: from.to_owned(), to: to.to_owned(), label: label.into(), dashed });
    }

    /// The node a destination points to.
    fn target(&mut self, destination: &Destination, namespace: &str) -> Option<String> {
        match (&destination.reference, &destination.uri) {
            (Some(r), uri) => {
                let kind = short_kind(Kind::of_api_version(&r.api_version, &r.kind), &r.kind);
                let ns =
                    r.namespace.as_deref().filter(|n| *n != namespace).map(|n| format!("{n}/")).unwrap_or_default();
                let id = format!("{kind}/{ns}{}{}", r.name, uri.as_deref().unwrap_or_default());
                Some(self.node(&id, shape(&kind)))
            }
            (None, Some(uri)) => Some(self.node(uri, Shape::Uri)),
            (None, None) => None,
        }
    }

    fn dead_letter(&mut self, from: &str, delivery: Option<&DeliverySpec>, namespace: &str) {
        if let Some(sink) = delivery.and_then(|d| d.dead_letter_sink.as_ref())
            && let Some(to) = self.target(sink, namespace)
        {
            self.edge(from, &to, "dead letter", true);
        }
    }

    /// The diagram of `documents` (those whose spec does not fit are left out: validate first).
    pub fn of(documents: &[Document]) -> Self {
        let mut g = Self::default();
        for doc in documents {
            let kind = short_kind(doc.kind, &doc.kind_name);
            let ns = doc.namespace.as_str();
            let id = format!("{kind}/{}", doc.name);
            match &doc.spec {
                Some(Spec::PingSource(spec)) => {
                    let me = g.node(&id, Shape::Source);
                    if let Some(to) = g.target(&spec.sink, ns) {
                        let schedule = if spec.schedule.is_empty() { "* * * * *" } else { &spec.schedule };
                        g.edge(&me, &to, schedule, false);
                    }
                }
                Some(Spec::ContainerSource(spec)) => {
                    let me = g.node(&id, Shape::Source);
                    if let Some(to) = g.target(&spec.sink, ns) {
                        let image = spec.template.spec.containers.first().map(|c| c.image.clone());
                        g.edge(&me, &to, image.unwrap_or_default(), false);
                    }
                }
                Some(Spec::SinkBinding(spec)) => {
                    let me = g.node(&id, Shape::Source);
                    if let Some(to) = g.target(&spec.sink, ns) {
                        g.edge(&me, &to, subject_label(&spec.subject), false);
                    }
                }
                Some(Spec::Sequence(spec)) => {
                    let mut from = g.node(&id, Shape::Flow);
                    for (i, step) in spec.steps.iter().enumerate() {
                        let Some(to) = g.target(&step.destination(), ns) else { continue };
                        g.edge(&from, &to, format!("step {i}"), false);
                        g.dead_letter(&to, step.delivery.as_ref(), ns);
                        from = to;
                    }
                    if let Some(reply) = spec.reply.as_ref().and_then(|r| g.target(r, ns)) {
                        g.edge(&from, &reply, "reply", false);
                    }
                }
                Some(Spec::Parallel(spec)) => {
                    let me = g.node(&id, Shape::Flow);
                    for (i, branch) in spec.branches.iter().enumerate() {
                        let mut from = me.clone();
                        if let Some(filter) = branch.filter.as_ref().and_then(|f| g.target(f, ns)) {
                            g.edge(&from, &filter, format!("branch {i} filter"), false);
                            from = filter;
                        }
                        let Some(subscriber) = g.target(&branch.subscriber, ns) else { continue };
                        g.edge(&from, &subscriber, format!("branch {i}"), false);
                        g.dead_letter(&subscriber, branch.delivery.as_ref(), ns);
                        if let Some(reply) = branch.reply.as_ref().or(spec.reply.as_ref()).and_then(|r| g.target(r, ns))
                        {
                            g.edge(&subscriber, &reply, "reply", false);
                        }
                    }
                }
                Some(Spec::Broker(_)) => {
                    g.node(&id, Shape::Hub);
                }
                Some(Spec::Trigger(spec)) => {
                    let broker = g.node(&format!("broker/{}", spec.broker_name()), Shape::Hub);
                    let Some(to) = g.target(&spec.subscriber, ns) else { continue };
                    g.edge(&broker, &to, format!("{}: {}", doc.name, filter_label(spec)), false);
                    g.dead_letter(&to, spec.delivery.as_ref(), ns);
                }
                Some(Spec::Subscription(spec)) => {
                    let channel = g.node(&format!("channel/{}", spec.channel.name), Shape::Hub);
                    let Some(to) = spec.subscriber.as_ref().and_then(|s| g.target(s, ns)) else { continue };
                    g.edge(&channel, &to, doc.name.clone(), false);
                    g.dead_letter(&to, spec.delivery.as_ref(), ns);
                    if let Some(reply) = spec.reply.as_ref().and_then(|r| g.target(r, ns)) {
                        g.edge(&to, &reply, "reply", false);
                    }
                }
                Some(Spec::Channel(_)) => {
                    g.node(&id, Shape::Hub);
                }
                Some(Spec::KService(_) | Spec::CoreService(_)) => {
                    g.node(&id, Shape::Service);
                }
                Some(Spec::Deployment(_)) | None => {}
            }
        }
        g
    }

    /// A Serverless Workflow's diagram, as Kogito's editor draws one: its states
    /// (the start as a source, switches as hubs, states that wait for events as flows),
    /// transitions and conditions, the events a state waits for, errors (dashed) and
    /// compensations (dashed, to the compensating state).
    pub fn of_workflow(workflow: &fnmesh_workflow::definition::Workflow) -> Self {
        use fnmesh_workflow::definition::{End, StateKind, Transition};
        let mut g = Self::default();
        let start = match &workflow.start {
            Some(fnmesh_workflow::definition::Start::Name(name))
            | Some(fnmesh_workflow::definition::Start::Object { state_name: name }) => name.clone(),
            None => workflow.states.first().map(|s| s.name.clone()).unwrap_or_default(),
        };
        let id = |name: &str| format!("state/{name}");
        for state in &workflow.states {
            let shape = match &state.kind {
                _ if state.name == start => Shape::Source,
                StateKind::Switch { .. } => Shape::Hub,
                StateKind::Event { .. } | StateKind::Callback { .. } | StateKind::Sleep { .. } => Shape::Flow,
                _ => Shape::Service,
            };
            let from = g.node(&id(&state.name), shape);
            if let Some(node) = g.nodes.get_mut(&from) {
                node.label = format!("{} ({})", state.name, state.type_name());
            }
            let next =
                |g: &mut Self, transition: Option<&Transition>, end: Option<&End>, label: String, dashed: bool| {
                    let label = if label.is_empty() { "then".to_owned() } else { label };
                    if let Some(t) = transition {
                        let label =
                            if t.compensate() { format!("{label} compensate").trim().to_owned() } else { label };
                        g.edge(&from, &id(t.next()), label, dashed);
                    } else if end.is_some_and(End::is_end) {
                        // Not `end`: a Mermaid keyword.
                        let end_node = g.node("workflow/end", Shape::Uri);
                        let compensate = end.is_some_and(End::compensate);
                        let label = if compensate { format!("{label} compensate").trim().to_owned() } else { label };
                        g.edge(&from, &end_node, label, dashed);
                    }
                };
            match &state.kind {
                StateKind::Switch { data_conditions, event_conditions, default_condition } => {
                    for c in data_conditions {
                        let label = c.name.clone().unwrap_or_else(|| c.condition.clone());
                        next(&mut g, c.transition.as_ref(), c.end.as_ref(), label, false);
                    }
                    for c in event_conditions {
                        next(&mut g, c.transition.as_ref(), c.end.as_ref(), format!("on {}", c.event_ref), false);
                    }
                    if let Some(d) = default_condition {
                        next(&mut g, d.transition.as_ref(), d.end.as_ref(), "default".into(), false);
                    }
                }
                kind => {
                    let label = match kind {
                        StateKind::Event { on_events, .. } => {
                            let events: Vec<&str> =
                                on_events.iter().flat_map(|o| o.event_refs.iter().map(String::as_str)).collect();
                            format!("on {}", events.join(", "))
                        }
                        StateKind::Callback { event_ref, .. } => format!("on {event_ref}"),
                        StateKind::Sleep { duration } => format!("after {duration}"),
                        _ => String::new(),
                    };
                    next(&mut g, state.transition.as_ref(), state.end.as_ref(), label, false);
                }
            }
            for on_error in &state.on_errors {
                let label = format!("error {}", on_error.refs().join(", "));
                next(&mut g, on_error.transition.as_ref(), on_error.end.as_ref(), label, true);
            }
            if let Some(by) = &state.compensated_by {
                g.edge(&from, &id(by), "compensated by", true);
            }
        }
        g
    }

    /// Mermaid `flowchart LR`.
    pub fn mermaid(&self) -> String {
        let id = |name: &str| name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect::<String>();
        let mut out = String::from("flowchart LR\n");
        for (name, node) in &self.nodes {
            let label = node.label.replace('"', "'");
            let (open, close) = match node.shape {
                Shape::Source => (">\"", "\"]"),
                Shape::Flow => ("([\"", "\"])"),
                Shape::Hub => ("{{\"", "\"}}"),
                Shape::Service => ("[\"", "\"]"),
                Shape::Uri => ("[/\"", "\"/]"),
            };
            let _ = writeln!(out, "  {}{open}{label}{close}", id(name));
        }
        for edge in &self.edges {
            let label = edge.label.replace('"', "'");
            let arrow = if edge.dashed { format!("-. \"{label}\" .->") } else { format!("-- \"{label}\" -->") };
            let _ = writeln!(out, "  {} {arrow} {}", id(&edge.from), id(&edge.to));
        }
        out
    }

    /// Graphviz DOT.
    pub fn dot(&self) -> String {
        let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
        let mut out = String::from("digraph flow {\n  rankdir=LR;\n");
        for (name, node) in &self.nodes {
            let shape = match node.shape {
                Shape::Source => "cds",
                Shape::Flow => "box",
                Shape::Hub => "hexagon",
                Shape::Service => "box",
                Shape::Uri => "note",
            };
            let _ = writeln!(out, "  {} [label={}, shape={shape}];", quote(name), quote(&node.label));
        }
        for edge in &self.edges {
            let style = if edge.dashed { ", style=dashed" } else { "" };
            let _ =
                writeln!(out, "  {} -> {} [label={}{style}];", quote(&edge.from), quote(&edge.to), quote(&edge.label));
        }
        out.push_str("}\n");
        out
    }

    /// SVG, laid out in this process.
    pub fn svg(&self) -> Result<String> {
        use layout::backends::svg::SVGWriter;
        use layout::gv::{DotParser, GraphBuilder};
        if self.nodes.is_empty() {
            return Err(Error::Output("nothing to draw: these manifests hold no flow".into()));
        }
        let dot = self.dot();
        let mut parser = DotParser::new(&dot);
        let graph = parser.process().map_err(|e| Error::Output(format!("cannot lay out the graph: {e}")))?;
        // layout-rs asserts on shapes it cannot place; a drawing is not worth a crash.
        std::panic::catch_unwind(move || {
            let mut builder = GraphBuilder::new();
            builder.visit_graph(&graph);
            let mut visual = builder.get();
            let mut svg = SVGWriter::new();
            visual.do_it(false, false, false, &mut svg);
            svg.finalize()
        })
        .map_err(|_| Error::Output("the layout engine could not place this graph: use --format dot or mermaid".into()))
    }
}

/// What a SinkBinding binds: `K_SINK of deployment/x`, or of the objects its selector picks.
fn subject_label(subject: &Subject) -> String {
    let kind = short_kind(Kind::of_api_version(&subject.api_version, &subject.kind), &subject.kind);
    match (&subject.name, &subject.selector) {
        (Some(name), _) => format!("K_SINK of {kind}/{name}"),
        (None, Some(selector)) => {
            let labels: Vec<String> = selector.match_labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("K_SINK of {kind} {}", labels.join(","))
        }
        (None, None) => "K_SINK".into(),
    }
}

fn filter_label(spec: &TriggerSpec) -> String {
    if let Some(filters) = &spec.filters {
        let parts: Vec<String> = filters
            .iter()
            .map(|f| {
                if let Some(sql) = &f.cesql {
                    sql.clone()
                } else if let Some(map) = f.exact.as_ref().or(f.prefix.as_ref()).or(f.suffix.as_ref()) {
                    map.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
                } else {
                    "any/all/not".into()
                }
            })
            .collect();
        return parts.join(" AND ");
    }
    match &spec.filter {
        Some(filter) if !filter.attributes.is_empty() => filter
            .attributes
            .iter()
            .map(|(k, v)| if v.is_empty() { format!("{k} present") } else { format!("{k}={v}") })
            .collect::<Vec<_>>()
            .join(", "),
        _ => "all events".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(yaml: &str) -> Graph {
        let dir = tempfile_dir();
        std::fs::write(dir.join("g.yaml"), yaml).unwrap();
        let (documents, problems) = crate::manifests::load(std::slice::from_ref(&dir), "default");
        assert!(problems.is_empty(), "{problems}");
        let _ = std::fs::remove_dir_all(&dir);
        Graph::of(&documents)
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("fnmesh-graph-{}-{:?}", std::process::id(), std::thread::current().id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn sequences_chain_steps_and_dead_letters_are_dashed() {
        let g = graph(
            "apiVersion: flows.knative.dev/v1\nkind: Sequence\nmetadata: {name: s}\nspec:\n  steps:\n  - ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: a}\n    delivery: {deadLetterSink: {uri: 'http://dls'}}\n  - uri: 'http://b'\n  reply: {ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}}\n",
        );
        let mermaid = g.mermaid();
        assert!(mermaid.contains("sequence_s -- \"step 0\" --> ksvc_a"), "{mermaid}");
        assert!(mermaid.contains("ksvc_a -. \"dead letter\" .-> http___dls"), "{mermaid}");
        assert!(mermaid.contains("ksvc_a -- \"step 1\" --> http___b"), "{mermaid}");
        assert!(mermaid.contains("http___b -- \"reply\" --> broker_default"), "{mermaid}");
        assert!(g.dot().contains("\"ksvc/a\" -> \"http://dls\" [label=\"dead letter\", style=dashed];"));
        let svg = g.svg().unwrap();
        assert!(svg.contains("<svg") && svg.contains("ksvc/a"), "{svg}");
    }

    #[test]
    fn container_sources_and_sink_bindings_are_sources_with_an_edge_to_their_sink() {
        let g = graph(
            "apiVersion: sources.knative.dev/v1\nkind: ContainerSource\nmetadata: {name: beats}\nspec:\n  template:\n    spec:\n      containers: [{image: 'gcr.io/knative-releases/knative.dev/eventing/cmd/heartbeats'}]\n  sink: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: display}}\n---\napiVersion: sources.knative.dev/v1\nkind: SinkBinding\nmetadata: {name: bind}\nspec:\n  subject: {apiVersion: apps/v1, kind: Deployment, name: producer}\n  sink: {ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}}\n",
        );
        let mermaid = g.mermaid();
        assert!(mermaid.contains("containersource_beats>\"containersource/beats\"]"), "{mermaid}");
        assert!(
            mermaid.contains(
                "containersource_beats -- \"gcr.io/knative-releases/knative.dev/eventing/cmd/heartbeats\" --> ksvc_display"
            ),
            "{mermaid}"
        );
        assert!(mermaid.contains("sinkbinding_bind>\"sinkbinding/bind\"]"), "{mermaid}");
        assert!(
            mermaid.contains("sinkbinding_bind -- \"K_SINK of deployment/producer\" --> broker_default"),
            "{mermaid}"
        );
    }

    #[test]
    fn a_workflow_draws_its_states_conditions_errors_and_compensations() {
        let workflow: fnmesh_workflow::definition::Workflow = serde_json::from_value(serde_json::json!({
            "id": "w", "start": "Ask",
            "states": [
                {"name": "Ask", "type": "callback", "action": {"functionRef": "f"}, "eventRef": "Answer",
                 "compensatedBy": "Undo", "transition": "Check"},
                {"name": "Check", "type": "switch", "dataConditions": [{"name": "yes", "condition": ".ok", "end": true}],
                 "defaultCondition": {"transition": {"nextState": "Undo", "compensate": true}}},
                {"name": "Undo", "type": "inject", "data": {}, "usedForCompensation": true,
                 "onErrors": [{"errorRef": "E", "end": true}], "end": true}
            ]
        }))
        .unwrap();
        let mermaid = Graph::of_workflow(&workflow).mermaid();
        for line in [
            "  state_Ask>\"Ask (callback)\"]",
            "  state_Check{{\"Check (switch)\"}}",
            "  state_Ask -- \"on Answer\" --> state_Check",
            "  state_Ask -. \"compensated by\" .-> state_Undo",
            "  state_Check -- \"yes\" --> workflow_end",
            "  state_Check -- \"default compensate\" --> state_Undo",
            "  state_Undo -. \"error E\" .-> workflow_end",
        ] {
            assert!(mermaid.contains(line), "{line} not in\n{mermaid}");
        }
    }
}
