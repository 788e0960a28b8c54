//! What the data plane has accepted and not yet finished: every event request at the
//! ingress and every delivery that goes on in the background (broker triggers, async
//! channels, ping sends). `fnmesh run` stops by draining it: new events from outside are
//! refused (`503`, retryable) while what was accepted is delivered, within a grace
//! period, and what is left then is counted as abandoned. The background part is also
//! the backlog a broker or async channel holds in memory, bounded in bytes: when full,
//! new events are refused with a retryable `503`, as a real broker refuses when its
//! queue is full.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

/// The accepted work of a mesh.
#[derive(Debug)]
pub struct Work {
    active: AtomicUsize,
    backlog: AtomicUsize,
    /// The most bytes of events the background deliveries may hold.
    backlog_limit: usize,
    draining: AtomicBool,
    idle: Notify,
}

/// One unit of accepted work; done when dropped.
#[derive(Debug)]
pub struct Ticket {
    work: Arc<Work>,
    bytes: usize,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.work.backlog.fetch_sub(self.bytes, Ordering::AcqRel);
        if self.work.active.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.work.idle.notify_waiters();
        }
    }
}

impl Work {
    /// No work yet; background deliveries may hold `backlog_limit` bytes of events.
    pub fn new(backlog_limit: usize) -> Arc<Self> {
        Arc::new(Self {
            active: AtomicUsize::new(0),
            backlog: AtomicUsize::new(0),
            backlog_limit,
            draining: AtomicBool::new(false),
            idle: Notify::new(),
        })
    }

    /// A ticket for work that holds nothing beyond its request (an event request).
    pub fn enter(self: &Arc<Self>) -> Ticket {
        self.active.fetch_add(1, Ordering::AcqRel);
        Ticket { work: self.clone(), bytes: 0 }
    }

    /// A ticket for a background delivery holding `bytes` of events; `None` when the
    /// backlog is full (the sender is refused and retries).
    pub fn reserve(self: &Arc<Self>, bytes: usize) -> Option<Ticket> {
        let mut held = self.backlog.load(Ordering::Acquire);
        loop {
            // One delivery larger than the limit is let through when nothing else is held.
            if held > 0 && held.saturating_add(bytes) > self.backlog_limit {
                return None;
            }
            match self.backlog.compare_exchange_weak(held, held + bytes, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => break,
                Err(now) => held = now,
            }
        }
        self.active.fetch_add(1, Ordering::AcqRel);
        Some(Ticket { work: self.clone(), bytes })
    }

    /// The bytes of events background deliveries hold now.
    pub fn backlog(&self) -> usize {
        self.backlog.load(Ordering::Acquire)
    }

    /// The limit of [`Self::backlog`].
    pub fn backlog_limit(&self) -> usize {
        self.backlog_limit
    }

    /// From now on, new events from outside the mesh are refused.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Release);
    }

    /// Whether the mesh is stopping.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// How many units of work are in flight.
    pub fn active(&self) -> usize {
        self.active.load(Ordering::Acquire)
    }

    /// Waits until no work is in flight, at most `grace`; how many units were left.
    pub async fn finish(&self, grace: Duration) -> usize {
        let wait = async {
            loop {
                let idle = self.idle.notified();
                if self.active() == 0 {
                    return;
                }
                idle.await;
            }
        };
        let _ = tokio::time::timeout(grace, wait).await;
        self.active()
    }
}

/// What an event holds in memory, roughly: its data and its attributes.
pub fn size_of(event: &fnmesh_runtime::Event) -> usize {
    use fnmesh_runtime::Data;
    let data = match event.data() {
        Some(Data::Binary(bytes)) => bytes.len(),
        Some(Data::String(text)) => text.len(),
        Some(Data::Json(json)) => json_size(json),
        None => 0,
    };
    let attributes: usize = event.iter().map(|(name, value)| name.len() + attribute_size(&value)).sum();
    data + attributes + 256
}

/// The length of an attribute's value as text, without writing it out (numbers and
/// times at their longest).
fn attribute_size(value: &fnmesh_runtime::cloudevents::event::AttributeValue<'_>) -> usize {
    use fnmesh_runtime::cloudevents::event::AttributeValue;
    match value {
        AttributeValue::Boolean(_) => 5,
        AttributeValue::Integer(_) => 20,
        AttributeValue::String(text) => text.len(),
        AttributeValue::Binary(bytes) => bytes.len().div_ceil(3) * 4,
        AttributeValue::URI(url) => url.as_str().len(),
        AttributeValue::URIRef(reference) => reference.len(),
        AttributeValue::Time(_) => 35,
        AttributeValue::SpecVersion(_) => 3,
    }
}

/// About what `value` takes in memory, without serialising it.
fn json_size(value: &serde_json::Value) -> usize {
    use serde_json::Value;
    match value {
        Value::String(text) => text.len() + 24,
        Value::Array(items) => 24 + items.iter().map(json_size).sum::<usize>(),
        Value::Object(map) => 24 + map.iter().map(|(k, v)| k.len() + 24 + json_size(v)).sum::<usize>(),
        _ => 16,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_backlog_is_bounded_and_work_is_awaited() {
        let work = Work::new(100);
        let first = work.reserve(60).unwrap();
        assert!(work.reserve(60).is_none(), "over the limit");
        let second = work.reserve(40).unwrap();
        assert_eq!((work.backlog(), work.active()), (100, 2));
        drop(first);
        let alone = work.reserve(1000);
        assert!(alone.is_none(), "too large while something is held");
        drop(second);
        let big = work.reserve(1000).expect("one large delivery passes alone");
        let request = work.enter();
        assert_eq!(work.finish(Duration::from_millis(10)).await, 2);
        let waiter = tokio::spawn({
            let work = work.clone();
            async move { work.finish(Duration::from_secs(10)).await }
        });
        drop((big, request));
        assert_eq!(waiter.await.unwrap(), 0);
        assert_eq!(work.backlog(), 0);
    }
}
