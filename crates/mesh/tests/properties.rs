//! Properties: no manifest text makes the loader, the planner, the validator or the
//! graph panic; every problem names a place.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use fnmesh_mesh::cli::graph::Graph;
use fnmesh_mesh::manifests::load;
use fnmesh_mesh::plan::Images;
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

/// Loads `bytes` as one manifest file; every problem must name it.
fn load_bytes(bytes: &[u8]) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("raw.yaml"), bytes).unwrap();
    let (documents, problems) = load(&[dir.path().to_owned()], "default");
    let images = Images::load(&[] as &[&str]).unwrap();
    if let Err(problems) = plan(&documents, Some(&images), problems) {
        for problem in &problems.0 {
            prop_assert!(problem.to_string().contains("raw.yaml"), "{problem}");
        }
    }
    Ok(())
}

/// Bytes weighted towards YAML's own syntax (indicators, anchors, tags, document marks).
fn yaml_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        any::<u8>().prop_map(|b| vec![b]),
        prop::sample::select(vec![
            "---\n",
            "...\n",
            ": ",
            "- ",
            "? ",
            "&a ",
            "*a",
            "!!str ",
            "!x ",
            "{",
            "}",
            "[",
            "]",
            "|\n",
            ">-\n",
            "'",
            "\"",
            "#",
            "%YAML 1.2\n",
            "\n  ",
            "\t",
            "\u{feff}",
            "kind: ",
            "metadata: {name: ",
            "\\u00",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
    ];
    proptest::collection::vec(piece, 0..60).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn raw_bytes_never_panic_the_loader(bytes in yaml_bytes()) {
        load_bytes(&bytes)?;
    }
}

#[test]
fn hostile_yaml_is_a_problem_not_a_hang_or_a_crash() {
    let deep = format!("kind: {}x{}\n", "[".repeat(100_000), "]".repeat(100_000));
    let laughs = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n\
                  c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n\
                  e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n\
                  g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n\
                  i: [*h, *h, *h, *h, *h, *h, *h, *h, *h]\n";
    for (name, text) in [("nested 100 000 deep", deep.as_str()), ("a billion laughs", laughs)] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("hostile.yaml"), text).unwrap();
        let (documents, problems) = load(&[dir.path().to_owned()], "default");
        assert!(documents.is_empty(), "{name}");
        let text = problems.to_string();
        assert!(text.contains("hostile.yaml:doc 1: not valid YAML: "), "{name}: {text}");
    }
}
