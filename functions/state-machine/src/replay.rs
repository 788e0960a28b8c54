//! Replayed state: with `STATE_SECRET`, each signed state carries the instance's step
//! (transitions so far), and this guard remembers, per instance, the step after the last
//! one it consumed. A state presented again once the instance has moved on is a replay,
//! refused even though its signature is good. The memory is bounded (the most recently
//! moved `STATE_REPLAY_WINDOW` instances) and per process: a replica cannot know what
//! another one consumed.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// The steps consumed, by instance, for at most `capacity` instances.
#[derive(Debug)]
pub struct ReplayGuard {
    capacity: usize,
    seen: Mutex<Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    /// Instance id to the lowest step it may still present.
    next: HashMap<String, u64>,
    /// Instances in the order they were first seen, the oldest forgotten first.
    order: VecDeque<String>,
}

impl ReplayGuard {
    pub fn new(capacity: usize) -> Self {
        Self { capacity, seen: Mutex::new(Seen::default()) }
    }

    /// Consumes `step` of instance `id`: `Err(next)` when the instance is already at step
    /// `next`, past it (a replay).
    pub fn consume(&self, id: &str, step: u64) -> Result<(), u64> {
        let Ok(mut seen) = self.seen.lock() else { return Ok(()) };
        match seen.next.get(id) {
            Some(&next) if step < next => return Err(next),
            Some(_) => {}
            None => seen.order.push_back(id.to_owned()),
        }
        seen.next.insert(id.to_owned(), step + 1);
        while seen.order.len() > self.capacity {
            if let Some(oldest) = seen.order.pop_front() {
                seen.next.remove(&oldest);
            }
        }
        Ok(())
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
}
