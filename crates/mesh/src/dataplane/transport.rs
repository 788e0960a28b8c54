//! Real HTTP on every hop: in-cluster addresses (`first.default.svc.cluster.local`,
//! channel and broker hosts) are routed to loopback ports, keeping the `Host` header
//! where the mesh's ingress needs it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use fnmesh_runtime::Event;
use fnmesh_runtime::binding::{Encoding, encode};
use http::{HeaderMap, HeaderValue, StatusCode};
use url::Url;

use super::headers::INTERNAL_HEADER;
use super::loopback::{self, Loopback, is_redirect};

/// Where in-cluster hosts live on this machine.
#[derive(Debug, Clone, Default)]
pub struct Routes {
    /// Service host to the loopback address its function listens on.
    pub services: HashMap<String, SocketAddr>,
    /// Hosts the ingress answers (channels, broker ingress), on `ingress`.
    pub mesh_hosts: std::collections::HashSet<String>,
    /// The ingress's address, where `mesh_hosts` are sent; `None`: they are not rerouted.
    pub ingress: Option<SocketAddr>,
    /// The secret the mesh's own hops to the ingress carry ([`INTERNAL_HEADER`]).
    pub internal_token: String,
    /// `containerConcurrency` of the services run as commands, by host: at most this
    /// many requests at once, the rest wait (as queue-proxy makes them wait). In-process
    /// functions enforce theirs in their own router.
    pub concurrency: HashMap<String, std::sync::Arc<tokio::sync::Semaphore>>,
    /// The services that can restart (`fnmesh run --watch`), by host: requests to them
    /// wait while they do, as Knative's activator holds requests for a revision that is
    /// not ready.
    pub gates: HashMap<String, std::sync::Arc<Gate>>,
}

/// Whether a service is ready; requests wait while it is not (at most its start-up time),
/// and a restart waits for the requests that got in to be answered, as Knative takes a
/// pod out of its endpoints and lets queue-proxy drain it before it is stopped.
#[derive(Debug)]
pub struct Gate {
    ready: tokio::sync::watch::Sender<bool>,
    wait: Duration,
    inside: std::sync::atomic::AtomicUsize,
}

/// A request that got through a [`Gate`]; it leaves when dropped.
#[derive(Debug)]
pub struct Inside<'a>(&'a Gate);

impl Drop for Inside<'_> {
    fn drop(&mut self) {
        self.0.inside.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Gate {
    /// An open gate; requests wait at most `wait` while it is closed.
    pub fn new(wait: Duration) -> Self {
        Self { ready: tokio::sync::watch::Sender::new(true), wait, inside: std::sync::atomic::AtomicUsize::new(0) }
    }

    /// Closes (`false`: the service restarts) or opens it.
    pub fn set_ready(&self, ready: bool) {
        self.ready.send_replace(ready);
    }

    /// Waits until the service is ready (or its start-up time has passed), and enters.
    pub async fn enter(&self) -> Inside<'_> {
        use std::sync::atomic::Ordering::SeqCst;
        let deadline = tokio::time::Instant::now() + self.wait;
        loop {
            let mut ready = self.ready.subscribe();
            let _ = tokio::time::timeout_at(deadline, ready.wait_for(|ready| *ready)).await;
            self.inside.fetch_add(1, SeqCst);
            // Closed between the wait and the entry: out again, and wait for it to open.
            if *self.ready.borrow() || tokio::time::Instant::now() >= deadline {
                return Inside(self);
            }
            self.inside.fetch_sub(1, SeqCst);
        }
    }

    /// Once closed: waits until every request that got in has its answer (at most `grace`).
    pub async fn drained(&self, grace: Duration) {
        let deadline = tokio::time::Instant::now() + grace;
        while self.inside.load(std::sync::atomic::Ordering::SeqCst) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

/// `name.ns`, `name.ns.svc` and `name.ns.svc.cluster.local` are one host.
pub fn full_host(host: &str) -> String {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.ends_with(".svc.cluster.local") {
        host
    } else if host.ends_with(".svc") {
        format!("{host}.cluster.local")
    } else if host.matches('.').count() == 1 && !host.chars().next().is_some_and(|c| c.is_ascii_digit()) {
        format!("{host}.svc.cluster.local")
    } else {
        host
    }
}

impl Routes {
    /// Whether `url` is one of the mesh's own hosts (a channel, the broker ingress).
    pub fn is_mesh(&self, url: &Url) -> bool {
        url.host_str().is_some_and(|host| self.mesh_hosts.contains(&full_host(host)))
    }

    /// The URL to connect to for `url`, and the `Host` header to send.
    pub fn route(&self, url: &Url) -> (Url, Option<String>) {
        let Some(host) = url.host_str() else { return (url.clone(), None) };
        let host = full_host(host);
        let mut actual = url.clone();
        if let Some(addr) = self.services.get(&host) {
            let _ = actual.set_ip_host(addr.ip());
            let _ = actual.set_port(Some(addr.port()));
            return (actual, Some(host));
        }
        if let Some(ingress) = self.ingress.filter(|_| self.mesh_hosts.contains(&host)) {
            let _ = actual.set_ip_host(ingress.ip());
            let _ = actual.set_port(Some(ingress.port()));
            return (actual, Some(host));
        }
        (actual, None)
    }
}

/// The result of one HTTP attempt.
#[derive(Debug, Clone)]
pub enum Attempt {
    /// An HTTP response, whatever its status.
    Answered {
        /// The response status.
        status: StatusCode,
        /// The response headers.
        headers: HeaderMap,
        /// The response body.
        body: Bytes,
        /// From sending the request to reading the whole body.
        elapsed: Duration,
    },
    /// No response: connection refused, timeout, reset.
    Failed {
        /// What went wrong, in words (e.g. `timed out`).
        reason: String,
        /// From sending the request to the failure.
        elapsed: Duration,
    },
}

/// The mesh's HTTP client.
#[derive(Debug, Clone)]
pub struct Transport {
    client: reqwest::Client,
    /// Plain HTTP to loopback addresses: the mesh's own hops.
    loopback: Loopback,
    /// Fixed once every service listens.
    pub routes: std::sync::Arc<Routes>,
    /// The plan's destinations as [`Routes`] resolve them, worked out on first use.
    resolved: std::sync::Arc<std::sync::RwLock<foldhash::HashMap<Url, std::sync::Arc<Resolved>>>>,
}

/// The most destinations [`Transport`] keeps resolved (a plan has a few dozen).
const RESOLVED: usize = 4096;

/// Where requests for one URL go: the address to connect to, the `Host` to send, and
/// what they pass on the way (the service's gate, its concurrency, the mesh's token).
#[derive(Debug)]
struct Resolved {
    actual: Url,
    /// `actual`, when it is plain HTTP to a loopback address ([`Loopback`]).
    local: Option<http::Uri>,
    host: Option<HeaderValue>,
    gate: Option<std::sync::Arc<Gate>>,
    limit: Option<std::sync::Arc<tokio::sync::Semaphore>>,
    /// The mesh's own hops carry its token ([`INTERNAL_HEADER`]).
    token: Option<HeaderValue>,
    /// A host of the mesh's own (a channel, a broker's ingress).
    mesh: bool,
}

impl Transport {
    /// A client over `routes`; idle connections close after 30 s.
    pub fn new(routes: Routes) -> Self {
        let idle = Duration::from_secs(30);
        let client = reqwest::Client::builder().pool_idle_timeout(idle).build().unwrap_or_default();
        let loopback = Loopback::new(idle);
        Self { client, loopback, routes: std::sync::Arc::new(routes), resolved: std::sync::Arc::default() }
    }

    /// Whether `url` is one of the mesh's own hosts ([`Routes::is_mesh`]), from what is
    /// kept of it.
    pub fn is_mesh(&self, url: &Url) -> bool {
        self.resolved(url).mesh
    }

    /// The URL to connect to for `url`, and the `Host` header to send ([`Routes::route`]).
    pub fn route(&self, url: &Url) -> (Url, Option<String>) {
        self.routes.route(url)
    }

    fn resolve(&self, url: &Url) -> Resolved {
        let (actual, host) = self.route(url);
        let of = |host: &String| (self.routes.gates.get(host).cloned(), self.routes.concurrency.get(host).cloned());
        let (gate, limit) = host.as_ref().map(of).unwrap_or_default();
        let mesh = host.as_ref().is_some_and(|host| self.routes.mesh_hosts.contains(host));
        let token = mesh.then(|| HeaderValue::from_str(&self.routes.internal_token).ok()).flatten();
        let host = host.and_then(|host| HeaderValue::from_str(&host).ok());
        let loopback = match actual.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            _ => false,
        };
        let local = (actual.scheme() == "http" && loopback).then(|| actual.as_str().parse().ok()).flatten();
        Resolved { actual, local, host, gate, limit, token, mesh }
    }

    /// `url` resolved, kept for the next request to it.
    fn resolved(&self, url: &Url) -> std::sync::Arc<Resolved> {
        if let Some(resolved) = self.resolved.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(url) {
            return resolved.clone();
        }
        let resolved = std::sync::Arc::new(self.resolve(url));
        let mut all = self.resolved.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if all.len() < RESOLVED {
            all.insert(url.clone(), resolved.clone());
        }
        resolved
    }

    /// POSTs `event` in `encoding` with `headers` added.
    pub async fn post(
        &self,
        url: &Url,
        event: &Event,
        mut headers: HeaderMap,
        timeout: Option<Duration>,
        encoding: Encoding,
    ) -> Attempt {
        let encoded = encode(event, encoding);
        headers.extend(encoded.headers);
        let resolved = self.resolved(url);
        self.exchange(http::Method::POST, &resolved, headers, encoded.body, timeout).await
    }

    /// Any request (the ingress's proxy uses it too).
    pub async fn send(
        &self,
        method: http::Method,
        url: &Url,
        headers: HeaderMap,
        body: Bytes,
        timeout: Option<Duration>,
    ) -> Attempt {
        self.exchange(method, &self.resolve(url), headers, body, timeout).await
    }

    async fn exchange(
        &self,
        method: http::Method,
        to: &Resolved,
        mut headers: HeaderMap,
        body: Bytes,
        timeout: Option<Duration>,
    ) -> Attempt {
        let _inside = match &to.gate {
            Some(gate) => Some(gate.enter().await),
            None => None,
        };
        let _permit = match &to.limit {
            Some(limit) => limit.clone().acquire_owned().await.ok(),
            None => None,
        };
        headers.remove(&INTERNAL_HEADER);
        if let Some(token) = &to.token {
            headers.insert(INTERNAL_HEADER, token.clone());
        }
        if let Some(host) = &to.host {
            headers.insert(http::header::HOST, host.clone());
        }
        let started = Instant::now();
        let headers = match &to.local {
            Some(uri) => {
                // Kept for a redirect, which reqwest follows.
                let again = headers.clone();
                match self.loopback.send(method.clone(), uri.clone(), headers, body.clone(), timeout).await {
                    Ok((status, answered, _)) if is_redirect(status, &answered) => again,
                    Ok((status, headers, body)) => {
                        return Attempt::Answered { status, headers, body, elapsed: started.elapsed() };
                    }
                    Err(reason) => return Attempt::Failed { reason, elapsed: started.elapsed() },
                }
            }
            None => headers,
        };
        let mut request = self.client.request(method, to.actual.clone()).headers(headers).body(body);
        if let Some(timeout) = timeout {
            request = request.timeout(timeout);
        }
        match request.send().await {
            Ok(mut response) => {
                let status = response.status();
                let headers = std::mem::take(response.headers_mut());
                match response.bytes().await {
                    Ok(body) => Attempt::Answered { status, headers, body, elapsed: started.elapsed() },
                    Err(e) => Attempt::Failed { reason: describe(&e), elapsed: started.elapsed() },
                }
            }
            Err(e) => Attempt::Failed { reason: describe(&e), elapsed: started.elapsed() },
        }
    }
}

/// Why a request got no answer, by its real cause: `timed out`, `connection refused`
/// (and the other I/O errors by their kind), or the innermost error's words (a name that
/// does not resolve, a certificate that is not trusted).
fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return "timed out".into();
    }
    loopback::describe(error, error.is_connect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn https_works_and_failures_name_their_cause() {
        let transport = Transport::new(Routes::default());
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let url = |text: &str| Url::parse(text).unwrap();
        let reason = |attempt: Attempt| match attempt {
            Attempt::Failed { reason, .. } => reason,
            Attempt::Answered { status, .. } => format!("answered {status}"),
        };
        let target = url(&format!("http://{closed}/"));
        let refused = transport.send(http::Method::POST, &target, HeaderMap::new(), Bytes::new(), None).await;
        assert_eq!(reason(refused), "connection refused");
        // A TLS client exists (rustls): talking TLS to a plain HTTP server fails in the
        // handshake, and says so, where without TLS support the request could not be made.
        let plain = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = plain.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = plain.accept().await {
                use tokio::io::AsyncWriteExt;
                let _ = socket.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n").await;
            }
        });
        let target = url(&format!("https://{addr}/"));
        let tls = reason(transport.send(http::Method::POST, &target, HeaderMap::new(), Bytes::new(), None).await);
        // rustls's own words for a server that does not speak TLS, not a false "refused".
        assert!(tls.contains("corrupt message") || tls.contains("InvalidContentType"), "{tls}");
    }

    /// The loopback client answers what reqwest answered: a redirect followed (307 keeps
    /// the method and body), the response's headers and body, a timeout by name.
    #[tokio::test]
    async fn a_loopback_hop_follows_redirects_and_times_out_by_name() {
        use axum::routing::post;
        let app = axum::Router::new()
            .route("/old", post(|| async { (StatusCode::TEMPORARY_REDIRECT, [(http::header::LOCATION, "/new")]) }))
            .route("/new", post(|body: Bytes| async move { ([("x-got", "new")], body) }))
            .route("/slow", post(|| tokio::time::sleep(Duration::from_secs(5))));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let transport = Transport::new(Routes::default());
        let url = |path: &str| Url::parse(&format!("http://{addr}{path}")).unwrap();
        let body = Bytes::from_static(b"{\"n\":1}");
        let sent = transport.send(http::Method::POST, &url("/old"), HeaderMap::new(), body.clone(), None).await;
        let Attempt::Answered { status, headers, body: answered, .. } = sent else { panic!("{sent:?}") };
        assert_eq!((status, &headers["x-got"], answered), (StatusCode::OK, &HeaderValue::from_static("new"), body));
        let slow = transport
            .send(http::Method::POST, &url("/slow"), HeaderMap::new(), Bytes::new(), Some(Duration::from_millis(100)))
            .await;
        assert!(matches!(&slow, Attempt::Failed { reason, .. } if reason == "timed out"), "{slow:?}");
    }

    #[test]
    fn cluster_hosts_route_to_loopback() {
        let mut routes = Routes::default();
        routes.services.insert("first.default.svc.cluster.local".into(), "127.0.0.1:4001".parse().unwrap());
        routes.mesh_hosts.insert("s-kn-sequence-0-kn-channel.default.svc.cluster.local".into());
        routes.ingress = Some("127.0.0.1:8080".parse().unwrap());
        let route = |u: &str| {
            let (url, host) = routes.route(&Url::parse(u).unwrap());
            (url.to_string(), host)
        };
        assert_eq!(route("http://first.default.svc.cluster.local/x?y=1").0, "http://127.0.0.1:4001/x?y=1");
        assert_eq!(route("http://first.default/").0, "http://127.0.0.1:4001/");
        let (url, host) = route("http://s-kn-sequence-0-kn-channel.default.svc.cluster.local");
        assert_eq!(
            (url.as_str(), host.as_deref()),
            ("http://127.0.0.1:8080/", Some("s-kn-sequence-0-kn-channel.default.svc.cluster.local"))
        );
        assert_eq!(route("http://127.0.0.1:9/a"), ("http://127.0.0.1:9/a".into(), None));
        assert_eq!(full_host("first.default.svc"), "first.default.svc.cluster.local");
    }
}
