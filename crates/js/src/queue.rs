//! The evaluations waiting for an engine thread: a bounded queue that every engine thread
//! takes from, and that wakes a sleeping engine only when there is one to wake.
//!
//! The pool had a `std::sync::mpsc` receiver behind a mutex: the engine holding the
//! mutex slept in `recv` while the others slept on the mutex, so each job woke two
//! threads (the engine in `recv`, then, as it let the mutex go, the next one, only for
//! it to sleep in `recv` again). Here a job wakes at most one engine, the one that
//! last went to sleep; an engine that finds a job waiting takes it without sleeping.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread::{self, Thread};

/// A multi-producer, multi-consumer queue of at most `capacity` items.
#[derive(Debug)]
pub(crate) struct Queue<T> {
    state: Mutex<State<T>>,
    capacity: usize,
}

#[derive(Debug)]
struct State<T> {
    items: VecDeque<T>,
    /// The engine threads parked in [`Queue::pop`], the last to park last.
    sleeping: Vec<Thread>,
    closed: bool,
}

/// Why [`Queue::push`] refused an item.
#[derive(Debug)]
pub(crate) enum Refused<T> {
    /// `capacity` items wait already.
    Full(T),
    /// No engine will take it any more.
    Closed(T),
}

impl<T> Queue<T> {
    pub(crate) fn new(capacity: usize) -> Self {
        let state = State { items: VecDeque::new(), sleeping: Vec::new(), closed: false };
        Self { state: Mutex::new(state), capacity: capacity.max(1) }
    }

    /// A lock whose holders never panic while holding it.
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `item` and wakes one sleeping engine, if any sleeps.
    pub(crate) fn push(&self, item: T) -> Result<(), Refused<T>> {
        let mut state = self.lock();
        if state.closed {
            return Err(Refused::Closed(item));
        }
        if state.items.len() >= self.capacity {
            return Err(Refused::Full(item));
        }
        state.items.push_back(item);
        let sleeper = state.sleeping.pop();
        drop(state);
        if let Some(sleeper) = sleeper {
            sleeper.unpark();
        }
        Ok(())
    }

    /// The next item, waiting for one (`me` is the calling thread); `None` once closed.
    pub(crate) fn pop(&self, me: &Thread) -> Option<T> {
        loop {
            let mut state = self.lock();
            if let Some(item) = state.items.pop_front() {
                // Woken for nothing (another engine took the job), or not woken at all:
                // either way no longer asleep, so no job should count on waking this one.
                state.sleeping.retain(|t| t.id() != me.id());
                return Some(item);
            }
            if state.closed {
                return None;
            }
            if !state.sleeping.iter().any(|t| t.id() == me.id()) {
                state.sleeping.push(me.clone());
            }
            drop(state);
            // Returns at once if `push` unparked this thread since it was listed.
            thread::park();
        }
    }

    /// The next item, if one waits.
    pub(crate) fn try_pop(&self) -> Option<T> {
        self.lock().items.pop_front()
    }

    /// No more items: wakes every sleeping engine, and `pop` answers `None` once the
    /// queue is empty.
    pub(crate) fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        let sleeping = std::mem::take(&mut state.sleeping);
        drop(state);
        for sleeper in sleeping {
            sleeper.unpark();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Arc;

    use super::*;

    #[test]
    fn every_item_is_taken_once_by_some_consumer() {
        let queue = Arc::new(Queue::new(1000));
        let consumers: Vec<_> = (0..3)
            .map(|_| {
                let queue = queue.clone();
                thread::spawn(move || {
                    let me = thread::current();
                    let mut taken = Vec::new();
                    while let Some(item) = queue.pop(&me) {
                        taken.push(item);
                    }
                    taken
                })
            })
            .collect();
        for item in 0..10_000 {
            let mut item = item;
            while let Err(Refused::Full(back)) = queue.push(item) {
                item = back;
                thread::yield_now();
            }
        }
        queue.close();
        let mut all: Vec<u32> = consumers.into_iter().flat_map(|c| c.join().unwrap()).collect();
        all.sort_unstable();
        assert_eq!(all, (0..10_000).collect::<Vec<_>>());
    }

    #[test]
    fn a_full_or_closed_queue_refuses() {
        let queue = Queue::new(1);
        queue.push(1).unwrap();
        assert!(matches!(queue.push(2), Err(Refused::Full(2))));
        assert_eq!(queue.try_pop(), Some(1));
        queue.close();
        assert!(matches!(queue.push(3), Err(Refused::Closed(3))));
        assert_eq!(queue.pop(&thread::current()), None);
    }
}
