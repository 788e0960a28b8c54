//! Replayed state: with `STATE_SECRET`, each signed state carries the instance's step
//! (transitions so far), and this guard remembers, per instance, the step after the
//! highest one it consumed. A state presented again once the instance has moved on is a
//! replay, refused even though its signature is good.
//!
//! The memory is bounded (`STATE_REPLAY_WINDOW` instances) and per process: a replica
//! cannot know what another one consumed, and a restart forgets everything. To make room
//! it forgets the instance moved least recently, but never one moved within
//! `STATE_REPLAY_HOLD`: when every instance it holds moved that recently, a move of an
//! instance it does not hold is refused ([`Refusal::Full`], a `503` to retry) rather than
//! one forgotten. So what other producers send can delay a move, never make a replay
//! pass: a state of an instance that moved within the hold is always refused. Once an
//! instance is forgotten (idle longer than the hold, and its room needed), its old
//! signed states are accepted again, as after a restart.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The steps consumed, by instance, for at most `capacity` instances.
#[derive(Debug)]
pub struct ReplayGuard {
    capacity: usize,
    hold: Duration,
    seen: Mutex<Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    by_id: HashMap<Arc<str>, Entry>,
    /// Instances by their last move (a counter, so equal instants keep their order),
    /// the least recently moved first.
    by_move: BTreeMap<u64, Arc<str>>,
    moves: u64,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// The lowest step the instance may still present: one past the highest consumed.
    next: u64,
    /// Its key in `by_move`.
    order: u64,
    /// When it last moved.
    at: Instant,
}

/// Why a step may not be consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The instance is already at step `next`, past the one presented.
    Replayed { next: u64 },
    /// The guard is full of instances moved within the hold, and does not hold this one.
    Full { capacity: usize, hold: Duration },
}

impl ReplayGuard {
    /// A guard for `capacity` instances that forgets the least recently moved one
    /// whenever it needs room (no hold).
    pub fn new(capacity: usize) -> Self {
        Self { capacity, hold: Duration::ZERO, seen: Mutex::new(Seen::default()) }
    }

    /// This guard, never forgetting an instance moved within `hold`.
    #[must_use]
    pub fn holding(mut self, hold: Duration) -> Self {
        self.hold = hold;
        self
    }

    fn seen(&self) -> MutexGuard<'_, Seen> {
        // A panic while holding the lock cannot leave `Seen` half-written in a way that
        // lets a replay pass: keep using it rather than stop guarding.
        self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether `step` of instance `id` may be consumed at `now`, without consuming it.
    pub fn check(&self, id: &str, step: u64, now: Instant) -> Result<(), Refusal> {
        let seen = self.seen();
        if let Some(entry) = seen.by_id.get(id) {
            return if step < entry.next { Err(Refusal::Replayed { next: entry.next }) } else { Ok(()) };
        }
        if seen.by_id.len() < self.capacity {
            return Ok(());
        }
        let oldest = seen.by_move.first_key_value().and_then(|(_, id)| seen.by_id.get(id));
        match oldest {
            Some(entry) if now.saturating_duration_since(entry.at) < self.hold => {
                Err(Refusal::Full { capacity: self.capacity, hold: self.hold })
            }
            _ => Ok(()),
        }
    }

    /// Consumes `step` of instance `id` now: `Err(next)` when the instance is already at
    /// step `next`, past it (a replay). Makes room by forgetting the instances moved
    /// least recently, whatever the hold: [`Self::check`] first says whether it may.
    pub fn consume(&self, id: &str, step: u64) -> Result<(), u64> {
        self.consume_at(id, step, Instant::now())
    }

    /// [`Self::consume`] at `now`.
    pub fn consume_at(&self, id: &str, step: u64, now: Instant) -> Result<(), u64> {
        let mut seen = self.seen();
        let seen = &mut *seen;
        let key = match seen.by_id.get_key_value(id) {
            Some((_, entry)) if step < entry.next => return Err(entry.next),
            Some((key, entry)) => {
                let key = key.clone();
                seen.by_move.remove(&entry.order);
                key
            }
            None => Arc::from(id),
        };
        seen.moves += 1;
        seen.by_move.insert(seen.moves, key.clone());
        seen.by_id.insert(key, Entry { next: step.saturating_add(1), order: seen.moves, at: now });
        while seen.by_id.len() > self.capacity {
            let Some((_, oldest)) = seen.by_move.pop_first() else { break };
            seen.by_id.remove(&oldest);
        }
        Ok(())
    }

    /// How many instances it holds.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.seen().by_id.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_is_consumed_once_and_the_window_is_bounded() {
        let guard = ReplayGuard::new(2);
        assert_eq!(guard.consume("a", 0), Ok(()));
        assert_eq!(guard.consume("a", 0), Err(1), "the same state again");
        assert_eq!(guard.consume("a", 1), Ok(()));
        assert_eq!(guard.consume("a", 0), Err(2), "an older state");
        assert_eq!(guard.consume("a", 5), Ok(()), "a later step (another replica moved it)");
        guard.consume("b", 0).unwrap();
        guard.consume("c", 0).unwrap();
        assert_eq!(guard.consume("a", 0), Ok(()), "the oldest instance was forgotten");
        assert_eq!(guard.consume("c", 0), Err(1));
    }

    /// Issue 21: with a window of 3, one new instance made the guard forget the instance
    /// moved most recently, because it forgot in the order instances were first seen.
    #[test]
    fn the_instance_moved_least_recently_is_forgotten_not_the_first_seen() {
        let guard = ReplayGuard::new(3);
        for id in ["a", "b", "c"] {
            guard.consume(id, 0).unwrap();
        }
        guard.consume("a", 1).unwrap(); // "a", first seen, is now the most recently moved
        guard.consume("new", 0).unwrap();
        assert_eq!(guard.len(), 3);
        assert_eq!(guard.consume("a", 1), Err(2), "the most recently moved instance is remembered");
        assert_eq!(guard.consume("c", 0), Err(1));
        assert_eq!(guard.consume("b", 0), Ok(()), "the least recently moved one was forgotten");
    }

    #[test]
    fn the_highest_step_counts_and_checking_consumes_nothing() {
        let guard = ReplayGuard::new(10);
        let now = Instant::now();
        assert_eq!(guard.check("a", 4, now), Ok(()));
        assert_eq!(guard.check("a", 4, now), Ok(()), "a check consumes nothing");
        guard.consume_at("a", 4, now).unwrap();
        for step in 0..=4 {
            assert_eq!(guard.check("a", step, now), Err(Refusal::Replayed { next: 5 }), "step {step}");
        }
        assert_eq!(guard.consume_at("a", 2, now), Err(5), "a lower step after a higher one");
        assert_eq!(guard.check("a", 5, now), Ok(()));
    }

    /// Issue 21: 20 000 requests flushed the window and an old signed state passed again.
    /// Within the hold, a full guard refuses newcomers instead of forgetting anyone.
    #[test]
    fn within_the_hold_a_full_guard_refuses_newcomers_rather_than_forget() {
        let hold = Duration::from_secs(3600);
        let guard = ReplayGuard::new(3).holding(hold);
        let start = Instant::now();
        guard.consume_at("victim", 1, start).unwrap();
        for (n, id) in ["x", "y"].into_iter().enumerate() {
            guard.consume_at(id, 0, start + Duration::from_secs(n as u64)).unwrap();
        }
        let flood = start + Duration::from_secs(10);
        for n in 0..1000 {
            let id = format!("flood-{n}");
            assert_eq!(guard.check(&id, 0, flood), Err(Refusal::Full { capacity: 3, hold }));
        }
        assert_eq!(guard.check("victim", 1, flood), Err(Refusal::Replayed { next: 2 }), "still remembered");
        assert_eq!(guard.check("x", 1, flood), Ok(()), "instances it holds go on");
        // Once the least recently moved instance has been idle for the hold, it may go.
        let later = start + hold;
        assert_eq!(guard.check("newcomer", 0, later), Ok(()));
        guard.consume_at("newcomer", 0, later).unwrap();
        assert_eq!(guard.check("victim", 1, later), Ok(()), "forgotten: accepted again, as after a restart");
        assert_eq!(guard.check("x", 0, later), Err(Refusal::Replayed { next: 1 }));
    }
}
