//! Every flow's diagram is up to date: the Mermaid block in its README and its
//! `flow.svg` are what `fnmesh graph` draws now (run `hack/graphs` to redraw them).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::path::Path;

use fnmesh_mesh::cli::graph::Graph;

#[test]
fn flow_diagrams_are_up_to_date() {
    let flows = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../flows");
    let mut stale = Vec::new();
    for flow in std::fs::read_dir(&flows).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()) {
        let (documents, problems) = fnmesh_mesh::manifests::load(std::slice::from_ref(&flow), "default");
        assert!(problems.is_empty(), "{problems}");
        let graph = Graph::of(&documents);
        let readme = std::fs::read_to_string(flow.join("README.md")).unwrap();
        if !readme.contains(&format!("```mermaid\n{}```", graph.mermaid())) {
            stale.push(format!("{}/README.md", flow.display()));
        }
        let svg = std::fs::read_to_string(flow.join("flow.svg")).unwrap_or_default();
        if svg != graph.svg().unwrap() {
            stale.push(format!("{}/flow.svg", flow.display()));
        }
    }
    assert!(stale.is_empty(), "out of date (run hack/graphs): {stale:?}");
}
