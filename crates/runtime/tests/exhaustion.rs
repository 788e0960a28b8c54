//! What a client can hold of a server, over loopback TCP: slow bodies, bodies past the
//! in-flight budget, bodies that stall part-way, replies that are never read, and more
//! connections than the cap. Each attack is bounded in count and time, and each test
//! shows the attacker cut off while a good request is still answered.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failed assertion

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::HeaderMap;
use axum::routing::post;
use fnmesh_runtime::server::{any_path, ce_post, serve, service};
use fnmesh_runtime::{AttributesReader, IncomingEvent, Router, ServeConfig};
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, oneshot};

/// Longer than any answer can take here: a test that waits this long has failed.
const PATIENCE: Duration = Duration::from_secs(30);

struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start(router: Router, config: ServeConfig) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, router, async move { drop(stopped.await) }, &config));
        Self { addr, stop: Some(stop), task }
    }

    async fn stop(mut self) {
        self.stop.take().unwrap().send(()).unwrap();
        tokio::time::timeout(PATIENCE, self.task).await.unwrap().unwrap().unwrap();
    }
}

/// The functions' service around a handler that answers an event's id.
fn echo_id(config: &ServeConfig) -> Router {
    service(any_path(ce_post(|incoming: IncomingEvent| async move { incoming.event.id().to_owned() })), config)
}

/// A binary-mode event's request head, for a body of `length` bytes.
fn head(id: &str, length: usize) -> String {
    format!(
        "POST / HTTP/1.1\r\nhost: x\r\nce-specversion: 1.0\r\nce-id: {id}\r\nce-source: /s\r\nce-type: t\r\n\
         content-type: text/plain\r\ncontent-length: {length}\r\n\r\n"
    )
}

/// A whole event with a `length`-byte body, on a new connection that closes after it.
fn event(id: &str, length: usize) -> Vec<u8> {
    let mut request = head(id, length).replace("host: x\r\n", "host: x\r\nconnection: close\r\n").into_bytes();
    request.extend(std::iter::repeat_n(b'x', length));
    request
}

/// Sends `request` on a new connection and reads until the server closes it.
async fn exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    read_answer(&mut stream).await
}

/// Everything the server sends until it closes (a reset ends it too).
async fn read_answer(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let read = tokio::time::timeout(PATIENCE, async {
        let mut buf = [0u8; 8192];
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    assert!(read.is_ok(), "the server neither answered nor closed");
    String::from_utf8_lossy(&answer).into_owned()
}

/// A connection that sent `sent` and keeps quiet; the server's answer, when it comes.
fn stalled(addr: SocketAddr, sent: Vec<u8>) -> tokio::task::JoinHandle<String> {
    tokio::spawn(async move {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(&sent).await.unwrap();
        read_answer(&mut stream).await
    })
}

fn status(answer: &str) -> &str {
    answer.split(' ').nth(1).unwrap_or("(closed)")
}

#[tokio::test]
async fn slow_bodies_get_a_json_408_while_a_good_request_is_answered() {
    let config = ServeConfig { body_timeout: Duration::from_secs(1), ..ServeConfig::default() };
    let server = Server::start(echo_id(&config), config).await;
    let slow: Vec<_> = (0..20)
        .map(|i| {
            let mut sent = head(&format!("slow-{i}"), 1000).into_bytes();
            sent.extend_from_slice(b"only ten b");
            stalled(server.addr, sent)
        })
        .collect();
    let good = exchange(server.addr, &event("good", 100)).await;
    assert!(good.starts_with("HTTP/1.1 200") && good.ends_with("good"), "{good}");
    for answer in slow {
        let answer = answer.await.unwrap();
        assert_eq!(status(&answer), "408", "{answer}");
        assert!(answer.to_ascii_lowercase().contains("connection: close"), "{answer}");
        assert!(
            answer.ends_with(r#"{"error":"the request body did not arrive within 1s (FNMESH_BODY_TIMEOUT)"}"#),
            "{answer}"
        );
    }
    server.stop().await;
}

/// A router whose handler reads the whole body, reports it, then waits for a permit.
fn holding(entered: mpsc::Sender<usize>, permits: Arc<Semaphore>) -> Router {
    any_path(post(move |body: Body| {
        let (entered, permits) = (entered.clone(), permits.clone());
        async move {
            let bytes = body.collect().await.map_err(|_| http::StatusCode::BAD_REQUEST)?.to_bytes();
            entered.send(bytes.len()).await.unwrap();
            permits.acquire().await.unwrap().forget();
            Ok::<_, http::StatusCode>("held")
        }
    }))
}

#[tokio::test]
async fn a_body_past_the_budget_waits_then_gets_a_json_503_with_retry_after() {
    let kib16 = 16 * 1024;
    let config = ServeConfig { body_limit: kib16, max_inflight_bytes: 2 * kib16, ..ServeConfig::default() };
    let (entered_tx, mut entered) = mpsc::channel(4);
    let permits = Arc::new(Semaphore::new(0));
    let server = Server::start(holding(entered_tx, permits.clone()), config).await;
    let held: Vec<_> = (0..2).map(|i| stalled(server.addr, event(&format!("held-{i}"), kib16))).collect();
    for _ in 0..2 {
        assert_eq!(entered.recv().await, Some(kib16));
    }
    // The budget holds both bodies until their replies are out: a third waits, then is refused.
    let refused = exchange(server.addr, &event("third", kib16)).await;
    assert_eq!(status(&refused), "503", "{refused}");
    let lower = refused.to_ascii_lowercase();
    assert!(lower.contains("retry-after: 1\r\n") && lower.contains("connection: close\r\n"), "{refused}");
    assert!(
        refused.ends_with(
            r#"{"error":"the bodies of requests in flight take all of FNMESH_MAX_INFLIGHT_BYTES (32768 bytes): retry later"}"#
        ),
        "{refused}"
    );
    permits.add_permits(3);
    for answer in held {
        let answer = answer.await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200") && answer.ends_with("held"), "{answer}");
    }
    let after = exchange(server.addr, &event("after", kib16)).await;
    assert!(after.starts_with("HTTP/1.1 200"), "the budget is given back: {after}");
    server.stop().await;
}

/// A router whose handler reports each part of the body as it arrives.
fn reporting(arrived: mpsc::UnboundedSender<usize>) -> Router {
    any_path(post(move |body: Body| {
        let arrived = arrived.clone();
        async move {
            let mut body = body;
            let mut total = 0;
            while let Some(frame) = body.frame().await {
                let Ok(frame) = frame else { return "cut" };
                total += frame.data_ref().map_or(0, bytes::Bytes::len);
                arrived.send(total).unwrap();
            }
            "whole"
        }
    }))
}

#[tokio::test]
async fn a_body_that_stops_part_way_makes_room_for_a_newcomer() {
    let kib = 1024;
    let config = ServeConfig { body_limit: 64 * kib, max_inflight_bytes: 64 * kib, ..ServeConfig::default() };
    let (arrived_tx, mut arrived) = mpsc::unbounded_channel();
    let server = Server::start(reporting(arrived_tx), config).await;
    let mut sent = head("stuck", 64 * kib).into_bytes();
    sent.extend(std::iter::repeat_n(b'x', 60 * kib));
    let stuck = stalled(server.addr, sent);
    while arrived.recv().await.unwrap() < 60 * kib {}
    // 60 KiB held and 10 KiB more do not fit: the newcomer waits until the stuck body is
    // overdue, which then makes room.
    let newcomer = exchange(server.addr, &event("newcomer", 10 * kib)).await;
    assert!(newcomer.starts_with("HTTP/1.1 200") && newcomer.ends_with("whole"), "{newcomer}");
    let stuck = stuck.await.unwrap();
    assert_eq!(status(&stuck), "503", "{stuck}");
    assert!(stuck.contains("made room for another within FNMESH_MAX_INFLIGHT_BYTES"), "{stuck}");
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_does_not_read_its_reply_is_cut_off_and_gives_its_bytes_back() {
    let kib16 = 16 * 1024;
    let config = ServeConfig {
        body_limit: kib16,
        max_inflight_bytes: kib16,
        body_timeout: Duration::from_secs(1),
        ..ServeConfig::default()
    };
    // Replies with as many bytes as the request's `x-reply-bytes` asks for.
    let router = any_path(post(|headers: HeaderMap, body: Body| async move {
        let _ = body.collect().await;
        let size: usize = headers.get("x-reply-bytes").and_then(|v| v.to_str().ok()?.parse().ok()).unwrap_or(0);
        vec![b'r'; size]
    }));
    let server = Server::start(router, config).await;
    let big_reply = 64 * 1024 * 1024;
    let with_reply = |id: &str, bytes: usize| {
        let request = event(id, kib16);
        let text = String::from_utf8(request).unwrap();
        text.replacen("host: x\r\n", &format!("host: x\r\nx-reply-bytes: {bytes}\r\n"), 1).into_bytes()
    };
    // A client with a small receive buffer that reads nothing: its reply stalls, and its
    // body's bytes stay charged until the reply deadline closes the connection.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut sleeper = socket.connect(server.addr).await.unwrap();
    sleeper.write_all(&with_reply("sleeper", big_reply)).await.unwrap();
    // This body fits only once the sleeper's bytes are given back.
    let next = exchange(server.addr, &with_reply("next", 10)).await;
    assert!(next.starts_with("HTTP/1.1 200") && next.ends_with("rrrrrrrrrr"), "{next}");
    let cut = read_answer(&mut sleeper).await;
    assert!(cut.starts_with("HTTP/1.1 200"), "{}", &cut[..cut.len().min(200)]);
    assert!(cut.len() < big_reply, "the reply was cut off after {} bytes", cut.len());
    server.stop().await;
}

#[tokio::test]
async fn connections_past_the_cap_make_room_and_idle_ones_are_closed() {
    let config = ServeConfig { max_connections: 4, idle_timeout: Duration::from_secs(1), ..ServeConfig::default() };
    let server = Server::start(echo_id(&config), config).await;
    // Connections that never send a byte, and ones that stop in the middle of their headers.
    let mut quiet: Vec<_> = (0..4).map(|_| stalled(server.addr, Vec::new())).collect();
    quiet.extend((0..4).map(|_| stalled(server.addr, b"POST / HTTP/1.1\r\nhost: x\r\nce-id: ".to_vec())));
    for _ in 0..3 {
        let good = exchange(server.addr, &event("good", 10)).await;
        assert!(good.starts_with("HTTP/1.1 200") && good.ends_with("good"), "{good}");
    }
    for answer in quiet {
        let answer = answer.await.unwrap();
        assert!(answer.is_empty() || status(&answer) == "408", "closed without an answer: {answer}");
    }
    server.stop().await;
}
