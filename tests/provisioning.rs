//! `flows/provisioning` (seed 003's stable and unstable states): entering an unstable
//! state runs its entry flow, which brings the VM back to a stable state; a failed entry
//! flow ends in Failed; and since the state travels in the events, a new mesh (after a
//! crash) resumes from the last event sent again.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::time::Duration;

use fnmesh_tests::mesh::{TestMesh, repo};

const BROKER: &str = "broker-ingress.knative-eventing.svc.cluster.local";
const PATH: &str = "/default/provisioning";
const WAIT: Duration = Duration::from_secs(10);

async fn send(mesh: &TestMesh, ty: &str, extensions: &[(&str, &str)]) {
    let mut headers = vec![("ce-specversion", "1.0"), ("ce-id", "req"), ("ce-source", "/ops"), ("ce-type", ty)];
    headers.extend_from_slice(extensions);
    let (status, body) = mesh.post(BROKER, PATH, &headers, r#"{"size": "small"}"#).await;
    assert_eq!(status, 202, "{body}");
}

fn state_lines(output: &str) -> Vec<String> {
    output.lines().filter_map(|l| l.strip_prefix("status |   statemachinestate: ")).map(str::to_owned).collect()
}

#[tokio::test]
async fn unstable_states_run_their_entry_flows_back_to_stable_ones() {
    let mesh = TestMesh::from_paths(&[repo().join("flows/provisioning")], false).await.unwrap();
    send(&mesh, "Create", &[]).await;
    assert!(mesh.wait_for("status |   statemachinestate: Running", WAIT).await, "{}", mesh.output());
    let id =
        mesh.output().lines().find_map(|l| l.strip_prefix("status |   statemachineid: ").map(str::to_owned)).unwrap();
    assert_eq!(state_lines(&mesh.output()), ["Creating", "Running"]);
    send(&mesh, "Delete", &[("ce-statemachineid", &id), ("ce-statemachinestate", "Running")]).await;
    assert!(mesh.wait_for("status |   statemachinestate: Deleted", WAIT).await, "{}", mesh.output());
    assert_eq!(state_lines(&mesh.output()), ["Creating", "Running", "Deleting", "Deleted"]);
    assert!(mesh.output().contains("status |   statemachinefinal: true"));
    mesh.stop().await;
}

#[tokio::test]
async fn a_failing_entry_flow_ends_in_failed() {
    let dir = tempfile::tempdir().unwrap();
    let flow = repo().join("flows/provisioning");
    std::fs::copy(flow.join("lifecycle.yaml"), dir.path().join("lifecycle.yaml")).unwrap();
    let services = std::fs::read_to_string(flow.join("services.yaml")).unwrap();
    let broken = services
        .replace("({vm: event.statemachineid, address: '10.0.0.7'})", "(() => { throw new Error('no capacity') })()");
    assert_ne!(broken, services, "the allocate step was found");
    std::fs::write(dir.path().join("services.yaml"), broken).unwrap();
    let mesh = TestMesh::from_paths(&[dir.path().to_owned()], false).await.unwrap();
    send(&mesh, "Create", &[]).await;
    assert!(mesh.wait_for("status |   statemachinestate: Failed", WAIT).await, "{}", mesh.output());
    assert_eq!(state_lines(&mesh.output()), ["Creating", "Failed"]);
    assert!(mesh.output().contains("\"reason\": \"422\""), "{}", mesh.output());
    mesh.stop().await;
}

#[tokio::test]
async fn a_new_mesh_resumes_from_the_last_event() {
    // What vm-lifecycle emits on entering Creating; after a crash nothing else is left.
    let last = [
        ("ce-statemachineid", "vm-7"),
        ("ce-statemachinestate", "Creating"),
        ("ce-statemachineprev", ""),
        ("ce-statemachineevent", "Create"),
    ];
    let mesh = TestMesh::from_paths(&[repo().join("flows/provisioning")], false).await.unwrap();
    send(&mesh, "statemachine.state.change.event", &last).await;
    assert!(mesh.wait_for("status |   statemachinestate: Running", WAIT).await, "{}", mesh.output());
    assert!(mesh.output().contains("status |   statemachineid: vm-7"));
    assert!(mesh.output().contains("\"vm\": \"vm-7\""), "the entry flow ran for that VM:\n{}", mesh.output());
    mesh.stop().await;
}
