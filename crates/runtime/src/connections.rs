//! The connections a server holds (`FNMESH_MAX_CONNECTIONS`) and how long a reply may
//! take to leave (`FNMESH_BODY_TIMEOUT`).
//!
//! Each connection is either busy (a request arrived and its reply is not yet written)
//! or idle (waiting for, or receiving, the headers of its next request). At the cap, an
//! idle connection is closed to make room for a new one: one that has never completed a
//! request before one that has, the one idle the longest first, and only once it has been
//! idle for [`EVICTABLE_AFTER`] (a new client has that long to send its headers). Until
//! one can be closed, the server stops accepting (the kernel's backlog keeps the
//! newcomers waiting). Idle connections also close on their own after
//! `FNMESH_IDLE_TIMEOUT` (hyper's header read timeout, see `server::http1`), so a flood
//! of idle or slow-header connections neither exhausts file descriptors nor keeps a new
//! client out for long.
//!
//! [`MeteredIo`] is the socket as hyper sees it: it gives back a reply's charge on the
//! in-flight budget once the reply has been written out, and closes the connection when a
//! reply has not been taken by its deadline, so a client that does not read cannot hold
//! memory for long.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::{Instant, Sleep};

use crate::budget::Charge;

/// How long a connection must have been idle before it may be closed for a newcomer.
pub(crate) const EVICTABLE_AFTER: Duration = Duration::from_millis(250);

/// The connections open at once, at most `limit`.
#[derive(Debug)]
pub(crate) struct Connections {
    limit: usize,
    open: Mutex<Registry>,
    /// Notified when a connection closes, becomes idle, or declines to be closed for a
    /// newcomer: what a newcomer waiting at the cap waits for.
    changed: Arc<Notify>,
}

#[derive(Debug, Default)]
struct Registry {
    next_id: u64,
    connections: HashMap<u64, Arc<ConnectionState>>,
}

impl Connections {
    pub(crate) fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self { limit, open: Mutex::new(Registry::default()), changed: Arc::new(Notify::new()) })
    }

    fn registry(&self) -> MutexGuard<'_, Registry> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Room for one more connection: at once under the cap; at the cap, once an idle
    /// connection has been closed for it, or any connection has closed.
    pub(crate) async fn admit(self: &Arc<Self>) -> Admitted {
        loop {
            let mut changed = pin!(self.changed.notified());
            changed.as_mut().enable();
            let retry_at = {
                let mut registry = self.registry();
                if registry.connections.len() < self.limit {
                    let id = registry.next_id;
                    registry.next_id += 1;
                    let state = Arc::new(ConnectionState::new(self.changed.clone()));
                    registry.connections.insert(id, state.clone());
                    return Admitted { connections: self.clone(), id, state };
                }
                if registry.connections.values().any(|c| c.activity().evicted) {
                    None
                } else {
                    evict_one(&registry, Instant::now())
                }
            };
            match retry_at {
                Some(at) => tokio::select! {
                    () = changed => {}
                    () = tokio::time::sleep_until(at) => {}
                },
                None => changed.await,
            }
        }
    }

    /// Connections open now.
    #[cfg(test)]
    pub(crate) fn open(&self) -> usize {
        self.registry().connections.len()
    }
}

/// Asks an idle connection to close: one that never completed a request before one that
/// did, the one idle the longest first, once idle for [`EVICTABLE_AFTER`]. When none may
/// be closed yet, when the first will.
fn evict_one(registry: &Registry, now: Instant) -> Option<Instant> {
    let idle = registry.connections.values().filter_map(|c| {
        let activity = c.activity();
        (!activity.busy).then(|| ((activity.served > 0, activity.idle_since), c))
    });
    let (mut victim, mut first_evictable) = (None, None::<Instant>);
    for ((served, idle_since), connection) in idle {
        let evictable_at = idle_since + EVICTABLE_AFTER;
        if evictable_at > now {
            first_evictable = Some(first_evictable.map_or(evictable_at, |at| at.min(evictable_at)));
        } else if victim.as_ref().is_none_or(|(key, _)| (served, idle_since) < *key) {
            victim = Some(((served, idle_since), connection));
        }
    }
    match victim {
        Some((_, victim)) => {
            victim.activity().evicted = true;
            victim.evict.notify_one();
            None
        }
        None => first_evictable,
    }
}

/// One connection's place under the cap; dropping it frees the place.
#[derive(Debug)]
pub(crate) struct Admitted {
    connections: Arc<Connections>,
    id: u64,
    state: Arc<ConnectionState>,
}

impl Admitted {
    /// What the connection's service and socket share.
    pub(crate) fn state(&self) -> Arc<ConnectionState> {
        self.state.clone()
    }

    /// Runs `connection` (hyper's, under the server's graceful shutdown) until it ends, or
    /// until it is asked to make room for a newcomer while idle: then it is dropped, which
    /// closes the socket.
    pub(crate) async fn serve<C, E>(self, connection: C)
    where
        C: Future<Output = Result<(), E>>,
        E: std::fmt::Display,
    {
        let mut connection = pin!(connection);
        loop {
            tokio::select! {
                ended = connection.as_mut() => {
                    if let Err(err) = ended {
                        tracing::trace!(%err, "connection ended with an error");
                    }
                    break;
                }
                () = self.state.evict.notified() => {
                    if self.state.confirm_eviction() {
                        tracing::debug!("closing an idle connection to make room (FNMESH_MAX_CONNECTIONS)");
                        break;
                    }
                    self.connections.changed.notify_one();
                }
            }
        }
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.connections.registry().connections.remove(&self.id);
        // A reply's charge parked on a connection that died is given back here.
        self.state.activity().parked = None;
        self.connections.changed.notify_one();
    }
}

/// What a connection's service ([`crate::exchange`]) and its socket ([`MeteredIo`]) share.
#[derive(Debug)]
pub(crate) struct ConnectionState {
    activity: Mutex<Activity>,
    /// [`Activity::replied`], readable without the lock: hyper flushes often.
    replied: AtomicBool,
    evict: Notify,
    /// [`Connections::changed`].
    changed: Arc<Notify>,
}

#[derive(Debug)]
struct Activity {
    /// A request arrived and its reply is not yet written out.
    busy: bool,
    /// The reply's body has been handed to hyper entirely: the next flush writes its end.
    replied: bool,
    idle_since: Instant,
    served: u64,
    evicted: bool,
    /// The reply's deadline, from when its head was ready.
    reply_deadline: Option<Instant>,
    /// The request's charge, held until its reply is out.
    parked: Option<Charge>,
}

impl ConnectionState {
    fn new(changed: Arc<Notify>) -> Self {
        let activity = Activity {
            busy: false,
            replied: false,
            idle_since: Instant::now(),
            served: 0,
            evicted: false,
            reply_deadline: None,
            parked: None,
        };
        Self { activity: Mutex::new(activity), replied: AtomicBool::new(false), evict: Notify::new(), changed }
    }

    fn activity(&self) -> MutexGuard<'_, Activity> {
        self.activity.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A request arrived.
    pub(crate) fn begin(&self) {
        let mut activity = self.activity();
        activity.busy = true;
        activity.replied = false;
    }

    /// The reply is ready to be written; it must be out by `deadline`.
    pub(crate) fn replying(&self, deadline: Instant) {
        self.activity().reply_deadline = Some(deadline);
    }

    /// hyper has taken the whole reply: `charge` is held until it is written out.
    pub(crate) fn replied(&self, charge: Option<Charge>) {
        let mut activity = self.activity();
        activity.replied = true;
        activity.parked = charge;
        self.replied.store(true, Ordering::Release);
    }

    /// Everything written so far is out.
    fn flushed(&self) {
        if !self.replied.load(Ordering::Acquire) {
            return;
        }
        let charge = {
            let mut activity = self.activity();
            if !activity.replied {
                return;
            }
            activity.replied = false;
            self.replied.store(false, Ordering::Release);
            activity.busy = false;
            activity.reply_deadline = None;
            activity.idle_since = Instant::now();
            activity.served += 1;
            activity.parked.take()
        };
        drop(charge);
        // A newcomer waiting at the cap may now close this connection.
        self.changed.notify_one();
    }

    fn reply_deadline(&self) -> Option<Instant> {
        self.activity().reply_deadline
    }

    /// Whether the connection may close now that it was asked to: not when a request
    /// arrived since.
    fn confirm_eviction(&self) -> bool {
        let mut activity = self.activity();
        activity.evicted = !activity.busy;
        activity.evicted
    }
}

/// A socket that ends the connection when a reply is not taken by its deadline, and
/// tells the connection when what was written is out.
#[derive(Debug)]
pub(crate) struct MeteredIo<T> {
    io: T,
    state: Arc<ConnectionState>,
    timer: Option<Pin<Box<Sleep>>>,
}

impl<T> MeteredIo<T> {
    pub(crate) fn new(io: T, state: Arc<ConnectionState>) -> Self {
        Self { io, state, timer: None }
    }

    /// Whether the reply's deadline has passed; if not, `cx` is woken when it does.
    fn reply_overdue(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(deadline) = self.state.reply_deadline() else { return false };
        let timer = self.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if timer.deadline() != deadline {
            timer.as_mut().reset(deadline);
        }
        timer.as_mut().poll(cx).is_ready()
    }

    fn stalled<R>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<R>> {
        if self.reply_overdue(cx) {
            let error = "the reply was not taken within FNMESH_BODY_TIMEOUT";
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, error)));
        }
        Poll::Pending
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for MeteredIo<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for MeteredIo<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.io).poll_write(cx, buf) {
            Poll::Pending => self.stalled(cx),
            ready => ready,
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.io).poll_write_vectored(cx, bufs) {
            Poll::Pending => self.stalled(cx),
            ready => ready,
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.io).poll_flush(cx) {
            Poll::Pending => self.stalled(cx),
            Poll::Ready(result) => {
                // hyper flushes the socket only once its own buffer is written out.
                if result.is_ok() {
                    self.state.flushed();
                }
                Poll::Ready(result)
            }
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn at_the_cap_the_idle_connection_that_never_served_makes_room() {
        let connections = Connections::new(3);
        let served = connections.admit().await;
        served.state.begin();
        served.state.replied(None);
        served.state.flushed();
        let busy = connections.admit().await;
        busy.state.begin();
        let silent = connections.admit().await;
        assert_eq!(connections.open(), 3);

        let newcomer = tokio::spawn({
            let connections = connections.clone();
            async move { connections.admit().await }
        });
        // Once idle long enough, the silent connection is asked to close; its task
        // confirms and drops its place.
        silent.state.evict.notified().await;
        assert!(silent.state.confirm_eviction());
        drop(silent);
        let newcomer = newcomer.await.unwrap();
        assert_eq!(connections.open(), 3);
        assert!(!served.state.activity().evicted && !busy.state.activity().evicted);
        drop(newcomer);
    }

    #[tokio::test(start_paused = true)]
    async fn when_every_connection_is_busy_a_newcomer_waits_for_one_to_close() {
        let connections = Connections::new(1);
        let busy = connections.admit().await;
        busy.state.begin();
        let newcomer = tokio::spawn({
            let connections = connections.clone();
            async move { connections.admit().await.id }
        });
        tokio::task::yield_now().await;
        assert!(!newcomer.is_finished());
        drop(busy);
        newcomer.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_newcomer_waiting_at_the_cap_takes_the_place_of_a_connection_that_goes_idle() {
        let connections = Connections::new(1);
        let busy = connections.admit().await;
        busy.state.begin();
        let newcomer = tokio::spawn({
            let connections = connections.clone();
            async move { connections.admit().await.id }
        });
        tokio::task::yield_now().await;
        busy.state.replied(None);
        busy.state.flushed();
        busy.state.evict.notified().await;
        assert!(busy.state.confirm_eviction(), "idle now, it is asked to close");
        drop(busy);
        newcomer.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_asked_to_close_stays_if_a_request_arrived_since() {
        let connections = Connections::new(1);
        let idle = connections.admit().await;
        let now = Instant::now();
        assert_eq!(evict_one(&connections.registry(), now), Some(now + EVICTABLE_AFTER), "too new to be closed");
        tokio::time::advance(EVICTABLE_AFTER).await;
        assert_eq!(evict_one(&connections.registry(), Instant::now()), None, "asked to close");
        idle.state.begin();
        assert!(!idle.state.confirm_eviction());
    }
}
