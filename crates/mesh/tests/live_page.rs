//! The live view (`/.fnmesh/`) in a real browser: Debian's `chromium`, headless, driven
//! through the Chrome DevTools Protocol by `chromiumoxide` (a maintained CDP client on
//! tokio; it needs no chromedriver, which Debian does not ship with chromium here). Its
//! typed protocol costs about 1.5 min of a clean debug build, once: cheaper to keep than
//! a hand-written websocket client.
//!
//! Each test starts `fnmesh run` in-process, opens the page, acts as a person would
//! (sends events, clicks rows, fills the form) and asserts what the page shows. Waits are
//! polls with a deadline; nothing asserts on timing. Screenshots go to
//! `target/live-page/*.png`. Without chromium the tests say `skipped: chromium is not
//! installed` and pass.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chromiumoxide::browser::{Browser, BrowserConfig};
use chromiumoxide::handler::viewport::Viewport;
use chromiumoxide::page::{Page, ScreenshotParams};
use fnmesh_mesh::cli::run::{Options, Running, start};
use fnmesh_mesh::output::Out;
use futures_util::StreamExt;
use serde_json::{Value, json};

/// How long any one thing may take to show.
const LIMIT: Duration = Duration::from_secs(20);

/// The page's width: the issue asks for legible at 1280 px.
const WIDTH: u32 = 1280;
const HEIGHT: u32 = 1000;

/// A Broker with two filtering Triggers to an event-display, and a Trigger whose
/// subscriber refuses connections, retried twice, then dead-lettered.
const BROKER: &str = r"
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: default}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: orders}
spec:
  broker: default
  filter: {attributes: {type: order.created}}
  subscriber: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: display}}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: refunds}
spec:
  broker: default
  filter: {attributes: {type: order.refunded, source: /shop}}
  subscriber: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: display}}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: flaky}
spec:
  broker: default
  filter: {attributes: {type: order.cancelled}}
  subscriber: {uri: 'http://127.0.0.1:1/'}
  delivery:
    retry: 2
    backoffPolicy: exponential
    backoffDelay: PT0.1S
    deadLetterSink: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: dead-letters}}
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: display}
spec:
  template:
    spec:
      containers:
      - image: gcr.io/knative-releases/knative.dev/eventing/cmd/event_display
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: dead-letters}
spec:
  template:
    spec:
      containers:
      - image: gcr.io/knative-releases/knative.dev/eventing/cmd/event_display
";

/// Where chromium is, if it is installed.
fn chromium() -> Option<PathBuf> {
    let debian = PathBuf::from("/usr/bin/chromium");
    if debian.is_file() {
        return Some(debian);
    }
    std::env::var_os("PATH")?.to_str()?.split(':').map(|dir| Path::new(dir).join("chromium")).find(|p| p.is_file())
}

/// Where screenshots go: `target/live-page/`.
fn shots() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"), PathBuf::from);
    let dir = target.join("live-page");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A headless chromium and its profile, closed when dropped.
struct Chrome {
    browser: Browser,
    handler: tokio::task::JoinHandle<()>,
    _profile: tempfile::TempDir,
}

impl Chrome {
    async fn launch(executable: &Path) -> Self {
        let profile = tempfile::tempdir().unwrap();
        // Our flags only: chromiumoxide's defaults are puppeteer's, and this closed
        // network needs the background networking flags below or chromium stalls.
        let config = BrowserConfig::builder()
            .chrome_executable(executable)
            .disable_default_args()
            .no_sandbox()
            .user_data_dir(profile.path())
            .window_size(WIDTH, HEIGHT)
            .viewport(Viewport { width: WIDTH, height: HEIGHT, ..Viewport::default() })
            .launch_timeout(LIMIT)
            .request_timeout(LIMIT)
            .args([
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
            ])
            .build()
            .unwrap();
        let (browser, mut handler) = Browser::launch(config).await.expect("chromium starts");
        // The connection's messages are read here; one it cannot parse (a newer chromium
        // than its protocol) is no reason to stop.
        let handler = tokio::spawn(async move { while handler.next().await.is_some() {} });
        Self { browser, handler, _profile: profile }
    }

    /// Opens the live view of the mesh at `ingress` and waits until it is loaded and live.
    async fn open(&self, running: &Running) -> Page {
        let url = format!("http://{}/.fnmesh/", running.ingress);
        let page = self.browser.new_page(url.as_str()).await.expect("the page opens");
        wait(
            &page,
            "the page is loaded and its stream is open",
            r#"
            document.body.dataset.ready === "true" && document.querySelector('#live').dataset.state === "open"
        "#,
        )
        .await;
        page
    }

    async fn close(mut self) {
        let _ = self.browser.close().await;
        let _ = self.browser.wait().await;
        self.handler.abort();
    }
}

/// The value of `expression` in the page (`null` for undefined).
async fn eval(page: &Page, expression: &str) -> Value {
    let wrapped = format!("(() => {{ const v = ({expression}); return v === undefined ? null : v; }})()");
    match page.evaluate(wrapped).await {
        Ok(result) => result.into_value().unwrap_or(Value::Null),
        Err(e) => panic!("evaluating {expression}: {e}"),
    }
}

/// Polls `expression` until it is truthy (at most [`LIMIT`]); its value. On time out a
/// screenshot `timeout.png` is taken and the test fails saying what was awaited.
async fn wait(page: &Page, what: &str, expression: &str) -> Value {
    let deadline = Instant::now() + LIMIT;
    loop {
        let value = eval(page, expression).await;
        let truthy = match &value {
            Value::Null | Value::Bool(false) => false,
            Value::String(s) => !s.is_empty(),
            Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
            Value::Array(a) => !a.is_empty(),
            _ => true,
        };
        if truthy {
            return value;
        }
        if Instant::now() >= deadline {
            screenshot(page, "timeout").await;
            let text = eval(page, "document.body.innerText").await;
            panic!("waited {LIMIT:?} for {what}; the page shows:\n{}", text.as_str().unwrap_or_default());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Saves the whole page as `target/live-page/{name}.png`.
async fn screenshot(page: &Page, name: &str) -> PathBuf {
    let path = shots().join(format!("{name}.png"));
    let png = page.screenshot(ScreenshotParams::builder().full_page(true).build()).await.expect("a screenshot");
    std::fs::write(&path, png).unwrap();
    println!("screenshot: {}", path.display());
    path
}

/// Clicks the element `selector` as a person would (a mouse click at its centre).
async fn click(page: &Page, selector: &str) {
    page.find_element(selector).await.unwrap_or_else(|e| panic!("{selector}: {e}")).click().await.unwrap();
}

/// Runs the manifests in `yaml`.
async fn mesh(yaml: &str) -> (Running, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("manifests.yaml"), yaml).unwrap();
    let options = Options { port: 0, ..Options::new(vec![dir.path().to_owned()]) };
    let running = start(&options, Out::capture().0).await.expect("fnmesh run starts");
    (running, dir)
}

/// Posts an event to the broker `default` through the ingress, as a producer would.
async fn produce(running: &Running, id: &str, ty: &str, source: &str) -> u16 {
    let url = format!(
        "http://{}/.fnmesh/hosts/broker-ingress.knative-eventing.svc.cluster.local/default/default",
        running.ingress
    );
    let response = reqwest::Client::new()
        .post(url)
        .header("ce-specversion", "1.0")
        .header("ce-id", id)
        .header("ce-type", ty)
        .header("ce-source", source)
        .header("content-type", "application/json")
        .body(r#"{"order": 42}"#)
        .send()
        .await
        .expect("the ingress answers");
    response.status().as_u16()
}

/// The row of the event `id`, once its outcome is `outcome`.
async fn row(page: &Page, id: &str, outcome: &str) {
    let selector = format!(r#"#events tr[data-id="{id}"][data-outcome="{outcome}"] .outcome"#);
    let badge = wait(
        page,
        &format!("the row of {id}, {outcome}"),
        &format!("document.querySelector('{selector}')?.textContent"),
    )
    .await;
    let words = match outcome {
        "filtered-out" => "filtered out",
        "in-flight" => "in flight",
        other => other,
    };
    assert_eq!(badge, json!(words), "the badge of {id} says its outcome");
}

/// Waits until no label of the graph covers another label or a node (legibility).
async fn legible(page: &Page) {
    wait(page, "graph labels apart from each other and from the nodes", r"(() => {
        const box = (e) => e.getBoundingClientRect();
        const labels = [...document.querySelectorAll('#graph .edge-label rect')].map(box);
        const nodes = [...document.querySelectorAll('#graph g.node')].map(box);
        const hit = (a, b) => a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1;
        return labels.length > 0 && labels.every((a, i) => labels.every((b, j) => j <= i || !hit(a, b)) && nodes.every((n) => !hit(a, n)));
    })()")
    .await;
}

/// The journey shown once the row of `id` is clicked: each hop's kind and text.
async fn journey(page: &Page, id: &str) -> Vec<(String, String)> {
    click(page, &format!(r#"#events tr[data-id="{id}"] td.type"#)).await;
    wait(page, &format!("the journey of {id}"), &format!(
        r#"document.querySelector('#journey').dataset.id === "{id}" && document.querySelectorAll('#hops tr.hop').length"#
    ))
    .await;
    let hops =
        eval(page, "[...document.querySelectorAll('#hops tr.hop')].map(tr => [tr.dataset.kind, tr.innerText])").await;
    serde_json::from_value(hops).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_view_shows_where_every_event_went() {
    let Some(executable) = chromium() else {
        println!("skipped: chromium is not installed");
        return;
    };
    let (running, _dir) = mesh(BROKER).await;
    let chrome = Chrome::launch(&executable).await;
    let page = chrome.open(&running).await;
    // A mark that a reload would wipe out.
    eval(&page, "window.loadedOnce = true").await;

    // The graph: the broker, its triggers labelled with their filters, the dashed dead
    // letter route.
    let edges = eval(&page, "[...document.querySelectorAll('#graph .edge-label')].map(l => [l.dataset.key, l.querySelector('.label').textContent])").await;
    let edges: Vec<(String, String)> = serde_json::from_value(edges).unwrap();
    assert!(edges.contains(&("trigger/orders".into(), "trigger orders: type=order.created".into())), "{edges:?}");
    assert!(edges.iter().any(|(key, _)| key == "trigger/flaky dead letter"), "{edges:?}");
    assert_eq!(eval(&page, r#"document.querySelector('#graph g.edge[data-key="trigger/flaky dead letter"]').classList.contains('dashed')"#).await, json!(true));
    assert_eq!(
        eval(&page, r#"document.querySelector('#graph g.node[data-id="broker/default"]') !== null"#).await,
        json!(true)
    );
    screenshot(&page, "01-loaded").await;

    // Events sent after the page loaded appear without a reload, newest first.
    assert_eq!(produce(&running, "order-1", "order.created", "/shop").await, 202);
    row(&page, "order-1", "delivered").await;
    assert_eq!(produce(&running, "order-2", "order.unknown", "/shop").await, 202);
    row(&page, "order-2", "filtered-out").await;
    let ids = eval(&page, "[...document.querySelectorAll('#events tbody tr')].map(tr => tr.dataset.id)").await;
    assert_eq!(ids, json!(["order-2", "order-1"]), "newest first");
    assert_eq!(eval(&page, "window.loadedOnce").await, json!(true), "the page was not reloaded");
    // Where each is now: the display took order-1; the filters left order-2 in the broker.
    let now = eval(
        &page,
        "[...document.querySelectorAll('#events tbody tr')].map(tr => tr.querySelector('td.now').textContent)",
    )
    .await;
    assert_eq!(now, json!(["broker/default", "ksvc/display"]));
    // The counts on the graph follow.
    wait(&page, "trigger/orders counts one event", r#"document.querySelector('#graph .edge-label[data-key="trigger/orders"] .count[data-count="events"]').dataset.value === "1""#).await;

    // A filtered event's journey names each trigger that left it out, and why.
    let hops = journey(&page, "order-2").await;
    let filtered: Vec<&String> = hops.iter().filter(|(kind, _)| kind == "filtered").map(|(_, text)| text).collect();
    assert_eq!(filtered.len(), 3, "three triggers filtered it: {hops:?}");
    for trigger in ["orders", "refunds", "flaky"] {
        assert!(filtered.iter().any(|t| t.contains(&format!("trigger/{trigger}"))), "trigger {trigger}: {filtered:?}");
    }
    let orders = filtered.iter().find(|t| t.contains("trigger/orders")).unwrap();
    assert!(orders.contains("order.unknown") || orders.contains("order.created"), "the filter's reason: {orders}");
    // The event at that hop, as event-display prints it, then as JSON.
    let display = wait(
        &page,
        "the event as event-display prints it",
        "document.querySelector('#hop-event pre.event.display')?.textContent",
    )
    .await;
    let display = display.as_str().unwrap();
    assert!(display.contains("Context Attributes") && display.contains("order.unknown"), "{display}");
    click(&page, r#"#view-toggle button[data-view="json"]"#).await;
    let text =
        wait(&page, "the event as JSON", "document.querySelector('#hop-event pre.event.json')?.textContent").await;
    let as_json: Value = serde_json::from_str(text.as_str().unwrap()).unwrap();
    assert_eq!(as_json["attributes"]["type"], json!("order.unknown"));
    assert_eq!(as_json["data"], json!({"order": 42}));
    click(&page, r#"#view-toggle button[data-view="display"]"#).await;
    screenshot(&page, "02-filtered").await;

    // A dead-lettered event shows its attempts, their backoff, and the dead letter sink.
    assert_eq!(produce(&running, "order-3", "order.cancelled", "/shop").await, 202);
    row(&page, "order-3", "dead-lettered").await;
    let now = eval(&page, r#"document.querySelector('#events tr[data-id="order-3"] td.now').textContent"#).await;
    assert_eq!(now, json!("ksvc/dead-letters"));
    let hops = journey(&page, "order-3").await;
    let attempts: Vec<&String> =
        hops.iter().filter(|(kind, _)| kind == "retrying" || kind == "failed").map(|(_, t)| t).collect();
    assert_eq!(attempts.len(), 3, "one attempt and two retries: {hops:?}");
    for (n, text) in attempts.iter().enumerate() {
        assert!(text.contains(&format!("attempt {}", n + 1)), "attempt {}: {text}", n + 1);
        assert!(text.contains("trigger/flaky"), "{text}");
    }
    assert!(attempts[0].contains("then waits 100 ms"), "an attempt says the wait before the next: {}", attempts[0]);
    assert!(attempts[1].contains("then waits 200 ms"), "exponential backoff: {}", attempts[1]);
    assert!(
        hops.iter().any(|(kind, text)| kind == "delivered" && text.contains("ksvc/dead-letters")),
        "the dead letter sink took it: {hops:?}"
    );
    wait(&page, "trigger/flaky counts its failures", r#"Number(document.querySelector('#graph .edge-label[data-key="trigger/flaky"] .count[data-count="failures"]').dataset.value) >= 3"#).await;
    legible(&page).await;
    screenshot(&page, "03-dead-lettered").await;

    // The send form delivers: fill it in, submit, and the new row comes.
    let targets = eval(&page, "[...document.querySelectorAll('#send-target option')].map(o => o.value)").await;
    let targets: Vec<String> = serde_json::from_value(targets).unwrap();
    assert!(
        targets.contains(&"broker/default".to_owned()) && targets.contains(&"ksvc/display".to_owned()),
        "{targets:?}"
    );
    eval(&page, r#"(() => {
        const set = (selector, value) => { const input = document.querySelector(selector); input.value = value; input.dispatchEvent(new Event('input')); };
        set('#send-target', 'broker/default');
        set('#send-type', 'order.refunded');
        set('#send-source', '/shop');
        set('#send-id', 'order-4');
        set('#send-data', '{"refund": 7}');
        set('#send-extensions', 'region=eu-west');
    })()"#)
    .await;
    click(&page, "#send-button").await;
    let result = wait(&page, "the send form's answer", "document.querySelector('#send-result.ok')?.textContent").await;
    assert!(result.as_str().unwrap().contains("answered 202"), "{result}");
    row(&page, "order-4", "delivered").await;
    let hops = journey(&page, "order-4").await;
    assert!(hops.iter().any(|(kind, text)| kind == "delivered" && text.contains("trigger/refunds")), "{hops:?}");
    let display =
        wait(&page, "the sent event", "document.querySelector('#hop-event pre.event.display')?.textContent").await;
    assert!(display.as_str().unwrap().contains("region: eu-west"), "{display}");

    // The filter box: by extension (the server looks in the events), by type.
    let filter = |text: &'static str| {
        let page = &page;
        async move {
            eval(page, &format!("(() => {{ const f = document.querySelector('#filter'); f.value = '{text}'; f.dispatchEvent(new Event('input')); }})()")).await;
        }
    };
    filter("eu-west").await;
    wait(
        &page,
        "only order-4 passes eu-west",
        r#"[...document.querySelectorAll('#events tbody tr')].map(tr => tr.dataset.id).join() === "order-4""#,
    )
    .await;
    filter("order.cancelled").await;
    wait(
        &page,
        "only order-3 passes order.cancelled",
        r#"[...document.querySelectorAll('#events tbody tr')].map(tr => tr.dataset.id).join() === "order-3""#,
    )
    .await;
    filter("").await;
    wait(&page, "every row again", "document.querySelectorAll('#events tbody tr').length === 4").await;
    click(&page, r#"#events tr[data-id="order-4"] td.type"#).await;
    screenshot(&page, "04-sent").await;

    chrome.close().await;
    running.stop().await;
}

/// The seed's Parallel, as a new user sees it: the screenshot for the README.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_view_of_the_parallel_flow() {
    let Some(executable) = chromium() else {
        println!("skipped: chromium is not installed");
        return;
    };
    let flow = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../flows/parallel");
    let options = Options { port: 0, ping_now: true, ..Options::new(vec![flow]) };
    let running = start(&options, Out::capture().0).await.expect("fnmesh run starts");
    let chrome = Chrome::launch(&executable).await;
    let page = chrome.open(&running).await;
    let first = wait(
        &page,
        "the ping's event",
        r#"document.querySelector('#events tr[data-outcome="delivered"]')?.dataset.id"#,
    )
    .await;
    let nodes = eval(&page, "[...document.querySelectorAll('#graph g.node')].map(n => n.dataset.id)").await;
    let nodes: Vec<String> = serde_json::from_value(nodes).unwrap();
    assert!(nodes.iter().any(|n| n.starts_with("parallel/")), "{nodes:?}");
    assert!(nodes.iter().any(|n| n.starts_with("pingsource/")), "{nodes:?}");
    // One more, from the form, to the flow.
    let target = nodes.iter().find(|n| n.starts_with("parallel/")).unwrap().clone();
    eval(&page, &format!("document.querySelector('#send-target').value = '{target}'")).await;
    click(&page, "#send-button").await;
    wait(&page, "two events", "document.querySelectorAll('#events tbody tr').length >= 2").await;
    let first = first.as_str().unwrap();
    click(&page, &format!(r#"#events tr[data-id="{first}"] td.type"#)).await;
    wait(&page, "its journey", "document.querySelectorAll('#hops tr.hop').length > 2").await;
    legible(&page).await;
    screenshot(&page, "parallel").await;
    chrome.close().await;
    running.stop().await;
}

/// Every seed flow (but own-function, which builds its function from source) draws with
/// each object once and no label over another or over a node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_seed_flow_draws_legibly() {
    let Some(executable) = chromium() else {
        println!("skipped: chromium is not installed");
        return;
    };
    let chrome = Chrome::launch(&executable).await;
    for flow in ["sequence", "parallel", "buy-tickets", "saga", "provisioning"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../flows").join(flow);
        let running = start(&Options { port: 0, ..Options::new(vec![path]) }, Out::capture().0)
            .await
            .unwrap_or_else(|e| panic!("flows/{flow}: {e}"));
        let page = chrome.open(&running).await;
        let drawn = eval(
            &page,
            "[document.querySelectorAll('#graph g.node').length, document.querySelectorAll('#graph g.edge').length]",
        )
        .await;
        let graph: Value = serde_json::from_str(
            &reqwest::get(format!("http://{}/.fnmesh/graph", running.ingress)).await.unwrap().text().await.unwrap(),
        )
        .unwrap();
        let planned = json!([graph["nodes"].as_array().unwrap().len(), graph["edges"].as_array().unwrap().len()]);
        assert_eq!(drawn, planned, "flows/{flow}: every node and edge is drawn");
        legible(&page).await;
        screenshot(&page, &format!("flow-{flow}")).await;
        page.close().await.unwrap();
        running.stop().await;
    }
    chrome.close().await;
}
