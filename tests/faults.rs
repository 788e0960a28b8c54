//! Fault injection in `fnmesh run` under a load of N events: a subscriber that fails some
//! events for good, hangs past the timeout on others, fails a fraction of requests once,
//! and is killed half-way. With retries and a dead letter sink, every event id is either
//! delivered or dead-lettered; without a sink, every failure reaches the sender.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a test; counts are its report

use std::collections::BTreeSet;

use fnmesh_tests::mesh::TestMesh;
use fnmesh_tests::recorder::{Received, Recorder, Step};

const HOST: &str = "load-kn-channel.default.svc.cluster.local";
const N: usize = 200;

fn manifests(subscriber: &str, dead_letter: Option<&str>) -> String {
    let dls = dead_letter.map(|url| format!("    deadLetterSink: {{uri: '{url}'}}\n")).unwrap_or_default();
    format!(
        "apiVersion: messaging.knative.dev/v1\nkind: InMemoryChannel\nmetadata: {{name: load}}\n---\n\
         apiVersion: messaging.knative.dev/v1\nkind: Subscription\nmetadata: {{name: load-sub}}\nspec:\n  \
         channel: {{apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: load}}\n  subscriber: {{uri: '{subscriber}'}}\n  \
         delivery:\n    retry: 2\n    timeout: PT0.2S\n{dls}"
    )
}

fn ids(received: &[Received], ok: impl Fn(&Received) -> bool) -> BTreeSet<String> {
    received.iter().filter(|r| ok(r)).map(|r| r.header("ce-id")).collect()
}

/// Sends N events, 8 at a time; the statuses the sender got, by id.
async fn load(mesh: &TestMesh, kill_half_way: Option<&Recorder>) -> Vec<(String, u16)> {
    let mut answers = Vec::new();
    for chunk in (0..N).collect::<Vec<_>>().chunks(8) {
        if chunk.contains(&(N / 2))
            && let Some(recorder) = kill_half_way
        {
            recorder.kill();
        }
        let sends = chunk.iter().map(|i| {
            let id = format!("e-{i:04}");
            async move { (id.clone(), mesh.send(HOST, &id, "load", "{}").await.0) }
        });
        for answer in futures_join(sends).await {
            answers.push(answer);
        }
    }
    answers
}

async fn futures_join<F: std::future::Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut out = Vec::new();
    let handles: Vec<_> = futures.into_iter().map(Box::pin).collect();
    for handle in handles {
        out.push(handle.await);
    }
    out
}

#[tokio::test]
async fn with_a_dead_letter_sink_every_event_is_delivered_or_dead_lettered() {
    let subscriber = Recorder::start(vec![Step::Faulty { fail: "7", hang: "3", flaky: 5 }]).await;
    let dead = Recorder::start(vec![Step::Status(202)]).await;
    let mesh = TestMesh::from_yaml(&manifests(&subscriber.url, Some(&dead.url))).await.unwrap();
    let answers = load(&mesh, Some(&subscriber)).await;
    let sent: BTreeSet<String> = answers.iter().map(|(id, _)| id.clone()).collect();
    assert!(answers.iter().all(|(_, status)| *status == 202), "the sink took every failure: {answers:?}");
    // Two independent records: what the subscriber answered 2xx, what the sink got.
    let delivered = ids(&subscriber.received(), |r| r.answered == Some(200));
    let dead_lettered = ids(&dead.received(), |_| true);
    assert!(delivered.is_disjoint(&dead_lettered), "an event both delivered and dead-lettered");
    let accounted: BTreeSet<String> = delivered.union(&dead_lettered).cloned().collect();
    let lost: Vec<&String> = sent.difference(&accounted).collect();
    assert!(lost.is_empty(), "lost: {lost:?}");
    assert_eq!(delivered.len() + dead_lettered.len(), N, "sent = delivered + dead-lettered");
    assert_eq!(dead.received().len(), dead_lettered.len(), "each dead letter once");
    assert!(dead_lettered.contains("e-0007") && dead_lettered.contains("e-0003"), "failing and hanging ids");
    assert!(dead_lettered.contains(&format!("e-{:04}", N - 1)), "after the kill");
    println!(
        "faults: sent {N}, delivered {}, dead-lettered {}, lost 0 ({} requests reached the subscriber before it was killed)",
        delivered.len(),
        dead_lettered.len(),
        subscriber.received().len()
    );
    mesh.stop().await;
}

#[tokio::test]
async fn without_a_dead_letter_sink_every_failure_reaches_the_sender() {
    let subscriber = Recorder::start(vec![Step::Faulty { fail: "7", hang: "3", flaky: 5 }]).await;
    let mesh = TestMesh::from_yaml(&manifests(&subscriber.url, None)).await.unwrap();
    let answers = load(&mesh, None).await;
    let failed: Vec<&String> = answers.iter().filter(|(_, s)| *s == 500).map(|(id, _)| id).collect();
    let accepted = answers.iter().filter(|(_, s)| *s == 202).count();
    assert_eq!(accepted + failed.len(), N, "every answer is 202 or 500: {answers:?}");
    assert!(
        failed.iter().all(|id| id.ends_with('7') || id.ends_with('3')),
        "only the failing and hanging ids fail: {failed:?}"
    );
    assert_eq!(failed.len(), N / 5, "ids ending in 3 or 7");
    println!(
        "faults without a sink: sent {N}, accepted {accepted}, failed back to the sender {}, lost 0",
        failed.len()
    );
    mesh.stop().await;
}
