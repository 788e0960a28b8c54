//! Properties: no manifest text makes the loader, the planner, the validator or the
//! graph panic; every problem names a place.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use fnmesh_mesh::graph::Graph;
use fnmesh_mesh::images::Images;
use fnmesh_mesh::manifest::load;
use fnmesh_mesh::plan::plan;
use proptest::prelude::*;

/// YAML-ish text built from Knative-looking pieces, so that the planner sees many shapes.
fn manifest() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just("apiVersion: flows.knative.dev/v1\n".to_owned()),
        Just("apiVersion: eventing.knative.dev/v1\n".to_owned()),
        Just("kind: Sequence\n".to_owned()),
        Just("kind: Trigger\n".to_owned()),
        Just("kind: PingSource\n".to_owned()),
        Just("metadata: {name: x}\n".to_owned()),
        Just("spec:\n".to_owned()),
        Just("  steps: [{uri: 'http://a'}, {ref: {apiVersion: v1, kind: Service, name: y}}]\n".to_owned()),
        Just("  broker: default\n".to_owned()),
        Just("  subscriber: {uri: 'http://b'}\n".to_owned()),
        Just("  schedule: '* * * * *'\n".to_owned()),
        Just("  sink: {uri: x}\n".to_owned()),
        Just("  filters: [{cesql: 'a ='}]\n".to_owned()),
        Just("---\n".to_owned()),
        "[ -~]{0,12}\n",
    ];
    proptest::collection::vec(pieces, 0..14).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn any_manifest_is_checked_without_panicking(text in manifest()) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("m.yaml"), &text).unwrap();
        let (documents, problems) = load(&[dir.path().to_owned()], "default");
        let images = Images::load(&[] as &[&str]).unwrap();
        if let Err(problems) = plan(&documents, Some(&images), problems) {
            for problem in &problems.0 {
                prop_assert!(problem.to_string().contains("m.yaml"), "{problem}");
            }
        }
        let graph = Graph::of(&documents);
        let _ = graph.mermaid();
        let _ = graph.dot();
        let _ = graph.svg();
    }
}
