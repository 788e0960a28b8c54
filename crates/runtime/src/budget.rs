//! The bytes of request bodies a server holds at once, across all its connections
//! (`FNMESH_MAX_INFLIGHT_BYTES`): what keeps many large or slow events within memory.
//!
//! A body's bytes are charged as they arrive and stay charged until its reply has been
//! written, so the bound is on bytes really held. A body starts to be read only when it
//! fits: one of up to [`SMALL_BODY`] bytes when its bytes fit in what is left; a larger
//! one when its declared length fits beside what is held and what the other large bodies
//! declared, so that large events arriving together are read one after another rather
//! than all half-way. A body gets [`PROMPT`] to arrive in full: past it, what it declared
//! no longer counts, and when a newcomer finds no room the body that started first gives
//! way (its request is refused), so a sender that announces bytes and sends them slowly,
//! or stops part-way, cannot keep others out. A body that does not fit waits up to
//! [`ADMISSION_WAIT`], then is refused; a byte that would go past the budget refuses its
//! request at once (it would otherwise wait for bodies that wait for it). One body alone
//! may go past the budget, so that a limit smaller than the largest body slows large
//! events down instead of refusing them all.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Waker};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// Bodies up to this size (64 KiB, what the CloudEvents spec asks every intermediary to
/// forward) never wait behind what larger bodies declared.
pub(crate) const SMALL_BODY: usize = 64 * 1024;
/// How long a body has to arrive before it gives way to others when room is short.
pub(crate) const PROMPT: Duration = Duration::from_secs(1);
/// How long a body waits for room before its request is refused.
pub(crate) const ADMISSION_WAIT: Duration = Duration::from_secs(2);

/// The bytes of request bodies held at once.
#[derive(Debug)]
pub(crate) struct Budget {
    limit: usize,
    ledger: Mutex<Ledger>,
    /// Notified whenever bytes or declarations are given back, if a body waits.
    freed: Notify,
    /// Bodies waiting for room: when none does, nobody is notified.
    waiting: AtomicUsize,
}

#[derive(Debug, Default)]
struct Ledger {
    /// Bytes received and not yet released.
    held: usize,
    next_id: u64,
    bodies: HashMap<u64, Body, BuildHasherDefault<IdHasher>>,
}

/// Hashes the ledger's ids, which the server numbers itself: SipHash's defence against
/// keys chosen by an attacker is not needed, and it costs on every request.
#[derive(Debug, Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.write_u64(self.0.rotate_left(8) ^ u64::from(*byte));
        }
    }

    fn write_u64(&mut self, n: u64) {
        // Fibonacci hashing: consecutive ids spread over the table.
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// One charged body.
#[derive(Debug)]
struct Body {
    /// Bytes received.
    bytes: usize,
    /// What it declared and has not sent, counted until `since + PROMPT` (large bodies).
    outstanding: usize,
    since: Instant,
    arrived: bool,
    /// Wakes the body's reader when it has to give way.
    waker: Option<Waker>,
}

impl Body {
    fn prompt_until(&self) -> Instant {
        self.since + PROMPT
    }

    /// Still arriving after [`PROMPT`]: it gives way when room is short.
    fn overdue(&self, now: Instant) -> bool {
        !self.arrived && self.prompt_until() <= now
    }

    /// What it declared and has not sent, while that counts.
    fn reserved(&self, now: Instant) -> usize {
        if self.arrived || self.prompt_until() <= now { 0 } else { self.outstanding }
    }
}

/// Why a body is refused (`503`, retried later).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// No room for it within [`ADMISSION_WAIT`], or a byte of it would go past the budget.
    Full,
    /// It took longer than [`PROMPT`] and gave way to a newcomer.
    Overdue,
}

impl Budget {
    /// A budget of `limit` bytes.
    pub(crate) fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            limit,
            ledger: Mutex::new(Ledger::default()),
            freed: Notify::new(),
            waiting: AtomicUsize::new(0),
        })
    }

    /// The budget, in bytes.
    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    /// Bytes held now.
    #[cfg(test)]
    pub(crate) fn held(&self) -> usize {
        self.ledger().held
    }

    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        // The ledger is consistent after every statement: a panic elsewhere leaves it usable.
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A charge for a body that says it has `declared` bytes (the body limit when it
    /// does not say), as soon as it fits; [`Refused::Full`] if it did not within [`ADMISSION_WAIT`].
    pub(crate) async fn admit(self: Arc<Self>, declared: usize) -> Result<Charge, Refused> {
        let deadline = Instant::now() + ADMISSION_WAIT;
        // Counted before each look at the ledger, so that no release goes unnotified.
        let _waiting = Waiting::new(&self.waiting);
        loop {
            let mut freed = pin!(self.freed.notified());
            freed.as_mut().enable();
            let now = Instant::now();
            let retry_at = match self.try_admit(declared, now) {
                Ok(charge) => return Ok(charge),
                Err(_) if now >= deadline => return Err(Refused::Full),
                Err(next_change) => next_change.map_or(deadline, |at| at.min(deadline)),
            };
            tokio::select! {
                () = freed => {}
                () = tokio::time::sleep_until(retry_at) => {}
            }
        }
    }

    /// A charge for a body of `declared` bytes if it fits now, without waiting.
    pub(crate) fn admit_now(self: &Arc<Self>, declared: usize) -> Option<Charge> {
        self.try_admit(declared, Instant::now()).ok()
    }

    /// A charge if the body fits now, overdue bodies making room if they can; otherwise
    /// when the next declaration stops counting or the next body becomes overdue.
    fn try_admit(self: &Arc<Self>, declared: usize, now: Instant) -> Result<Charge, Option<Instant>> {
        let mut cut = Vec::new();
        let admitted = self.try_admit_cutting(declared, now, &mut cut);
        for waker in cut {
            waker.wake();
        }
        admitted
    }

    fn try_admit_cutting(
        self: &Arc<Self>,
        declared: usize,
        now: Instant,
        cut: &mut Vec<Waker>,
    ) -> Result<Charge, Option<Instant>> {
        let mut ledger = self.ledger();
        let large = declared > SMALL_BODY;
        let reserved: usize = if large { ledger.bodies.values().map(|b| b.reserved(now)).sum() } else { 0 };
        let committed = ledger.held.saturating_add(reserved);
        if committed.saturating_add(declared) > self.limit && committed > 0 {
            let short = committed.saturating_add(declared) - self.limit;
            let mut overdue: Vec<(Instant, u64, usize)> = ledger
                .bodies
                .iter()
                .filter(|(_, b)| b.overdue(now) && b.bytes > 0)
                .map(|(id, b)| (b.since, *id, b.bytes))
                .collect();
            let room: usize = overdue.iter().map(|(_, _, bytes)| bytes).sum();
            if room < short && room < committed {
                let next = ledger.bodies.values().filter(|b| !b.arrived).map(Body::prompt_until).filter(|at| *at > now);
                return Err(next.min());
            }
            overdue.sort_unstable();
            let mut freed = 0;
            for (_, id, bytes) in overdue {
                if freed >= short {
                    break;
                }
                if let Some(victim) = ledger.bodies.remove(&id) {
                    ledger.held = ledger.held.saturating_sub(bytes);
                    freed += bytes;
                    cut.extend(victim.waker);
                }
            }
        }
        let id = ledger.next_id;
        ledger.next_id += 1;
        let outstanding = if large { declared } else { 0 };
        ledger.bodies.insert(id, Body { bytes: 0, outstanding, since: now, arrived: false, waker: None });
        Ok(Charge { budget: self.clone(), id })
    }

    fn notify_freed(&self) {
        if self.waiting.load(Ordering::SeqCst) > 0 {
            self.freed.notify_waiters();
        }
    }
}

/// One body waiting for room, counted while it waits.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The bytes one request's body holds; given back when dropped.
#[derive(Debug)]
pub(crate) struct Charge {
    budget: Arc<Budget>,
    id: u64,
}

impl Charge {
    /// Charges `bytes` more that arrived: refused if they do not fit (unless this body
    /// is the only one holding any), or if the body gave way to another.
    pub(crate) fn take(&mut self, bytes: usize) -> Result<(), Refused> {
        let mut ledger = self.budget.ledger();
        let held = ledger.held;
        let limit = self.budget.limit;
        let Some(body) = ledger.bodies.get_mut(&self.id) else { return Err(Refused::Overdue) };
        if held.saturating_add(bytes) > limit && held > body.bytes {
            return Err(Refused::Full);
        }
        body.bytes = body.bytes.saturating_add(bytes);
        body.outstanding = body.outstanding.saturating_sub(bytes);
        ledger.held = held.saturating_add(bytes);
        Ok(())
    }

    /// The whole body arrived: what it declared and did not send is given back, and it
    /// no longer gives way to others.
    pub(crate) fn arrived(&mut self) {
        let gave_back = match self.budget.ledger().bodies.get_mut(&self.id) {
            Some(body) => {
                body.arrived = true;
                std::mem::take(&mut body.outstanding) > 0
            }
            None => false,
        };
        if gave_back {
            self.budget.notify_freed();
        }
    }

    /// Whether the body gave way to another; if not, `cx` is woken when it does.
    pub(crate) fn poll_cut(&mut self, cx: &mut Context<'_>) -> bool {
        match self.budget.ledger().bodies.get_mut(&self.id) {
            Some(body) => {
                match &mut body.waker {
                    Some(waker) if waker.will_wake(cx.waker()) => {}
                    slot => *slot = Some(cx.waker().clone()),
                }
                false
            }
            None => true,
        }
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        {
            let mut ledger = self.budget.ledger();
            if let Some(body) = ledger.bodies.remove(&self.id) {
                ledger.held = ledger.held.saturating_sub(body.bytes);
            }
        }
        self.budget.notify_freed();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIB: usize = 1024;

    #[tokio::test(start_paused = true)]
    async fn bytes_are_held_until_the_charge_is_dropped() {
        let budget = Budget::new(100 * KIB);
        let mut first = budget.admit_now(60 * KIB).unwrap();
        first.take(60 * KIB).unwrap();
        first.arrived();
        let mut second = budget.admit_now(40 * KIB).unwrap();
        second.take(40 * KIB).unwrap();
        assert_eq!(budget.held(), 100 * KIB);
        assert!(budget.admit_now(1).is_none(), "nothing left");
        drop(first);
        assert_eq!(budget.held(), 40 * KIB);
        assert!(budget.admit_now(60 * KIB).is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn a_byte_past_the_budget_refuses_its_body_unless_it_is_alone() {
        let budget = Budget::new(100 * KIB);
        let mut small = budget.admit_now(10 * KIB).unwrap();
        small.take(10 * KIB).unwrap();
        let mut liar = budget.admit_now(10 * KIB).unwrap();
        liar.take(90 * KIB).unwrap();
        assert_eq!(liar.take(1), Err(Refused::Full));
        drop(small);
        liar.take(KIB).unwrap();
        assert_eq!(budget.held(), 91 * KIB);
        liar.take(500 * KIB).unwrap();
        assert_eq!(budget.held(), 591 * KIB, "alone, one body may go past the budget");
    }

    #[tokio::test(start_paused = true)]
    async fn large_bodies_wait_for_each_other_small_ones_do_not() {
        let budget = Budget::new(1024 * KIB);
        let mut large = budget.admit_now(1024 * KIB).unwrap();
        large.take(100 * KIB).unwrap();
        assert!(budget.admit_now(512 * KIB).is_none(), "the first large body declared the whole budget");
        let small = budget.admit_now(64 * KIB);
        assert!(small.is_some(), "a small body needs only room for its bytes");
        large.arrived();
        assert!(budget.admit_now(512 * KIB).is_some(), "what arrived is all that is held");
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_body_holds_only_what_it_sent_after_prompt() {
        let budget = Budget::new(1024 * KIB);
        let mut slow = budget.admit_now(1024 * KIB).unwrap();
        slow.take(10).unwrap();
        assert!(budget.admit_now(1024 * KIB - 10).is_none());
        tokio::time::advance(PROMPT).await;
        let other = budget.admit_now(1024 * KIB - 10);
        assert!(other.is_some(), "the slow body's declaration no longer counts");
        drop(other);
        assert_eq!(slow.take(1024 * KIB - 10), Ok(()), "and it may still finish");
    }

    #[tokio::test(start_paused = true)]
    async fn an_overdue_body_gives_way_to_a_newcomer() {
        let budget = Budget::new(1024 * KIB);
        let mut stuck = budget.admit_now(1024 * KIB).unwrap();
        stuck.take(1000 * KIB).unwrap();
        let mut prompt = budget.admit_now(10 * KIB).unwrap();
        prompt.take(10 * KIB).unwrap();
        assert!(budget.admit_now(100 * KIB).is_none(), "within PROMPT, nobody gives way");
        tokio::time::advance(PROMPT).await;
        let newcomer = budget.admit_now(100 * KIB);
        assert!(newcomer.is_some(), "the overdue body made room");
        assert_eq!(budget.held(), 10 * KIB, "its bytes no longer count");
        assert!(stuck.poll_cut(&mut Context::from_waker(std::task::Waker::noop())), "it is told");
        assert_eq!(stuck.take(1), Err(Refused::Overdue));
        prompt.arrived();
        drop(stuck);
        assert_eq!(budget.held(), 10 * KIB);
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiting_body_gets_in_when_room_is_freed_or_is_refused_after_the_wait() {
        let budget = Budget::new(100 * KIB);
        let mut holder = budget.admit_now(10 * KIB).unwrap();
        holder.take(100 * KIB).unwrap();
        let waiting = tokio::spawn({
            let budget = budget.clone();
            async move { budget.admit(50 * KIB).await.map(drop) }
        });
        tokio::time::advance(ADMISSION_WAIT / 2).await;
        drop(holder);
        assert_eq!(waiting.await.unwrap(), Ok(()));

        let mut holder = budget.admit_now(10 * KIB).unwrap();
        holder.take(100 * KIB).unwrap();
        holder.arrived();
        let refused = budget.clone().admit(50 * KIB).await.map(drop);
        assert_eq!(refused, Err(Refused::Full));
    }

    #[tokio::test(start_paused = true)]
    async fn a_large_body_waits_until_a_silent_declaration_expires() {
        let budget = Budget::new(1024 * KIB);
        let _silent = budget.admit_now(1024 * KIB).unwrap();
        let charge = budget.clone().admit(1024 * KIB).await;
        assert!(charge.is_ok(), "admitted once the silent body's declaration expired");
    }
}
