//! `STATE_STORE=memory`: instances kept in this process, by id and by correlation key,
//! as knative-state's runner keeps them, with each instance's step (transitions so far).
//!
//! The store is bounded: at most `STATE_STORE_MAX` instances and `STATE_STORE_MAX_BYTES`
//! bytes (each instance counts its id, key, state and context as JSON, plus
//! [`RECORD_OVERHEAD`]). To make room it forgets instances in a final state, the least
//! recently moved first; it never forgets a live instance (its workflow would restart
//! from the initial state): when only live instances are left, the write is refused
//! ([`Refused::Full`], a `503` to retry).
//!
//! Contexts are kept as JSON text, so that what is counted is what is held.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use serde::Serialize;
use serde_json::value::RawValue;

/// One instance, in the runner's JSON shape.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Instance {
    pub id: String,
    pub correlationkey: String,
    pub current: String,
    pub context: serde_json::Value,
}

/// An instance as kept, with its step.
#[derive(Debug, Clone, PartialEq)]
pub struct Kept {
    pub instance: Instance,
    /// The instance's transitions so far: the step its next event presents.
    pub step: u64,
}

/// Bytes an instance costs beyond its text: its entries in the maps and the record.
pub const RECORD_OVERHEAD: usize = 256;

/// How much the store may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `STATE_STORE_MAX`.
    pub instances: usize,
    /// `STATE_STORE_MAX_BYTES`.
    pub bytes: usize,
}

/// Why an instance was not written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Another write changed the instance since it was read (its step is not the one
    /// read): read it again.
    Conflict,
    /// No room without forgetting a live instance: the limit that is reached.
    Full(Limit),
    /// The instance alone is larger than the store may hold.
    TooLarge { bytes: usize, limit: usize },
}

/// A limit of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Instances(usize),
    Bytes(usize),
}

#[derive(Debug)]
pub struct Store {
    limits: Limits,
    kept: Mutex<Records>,
}

#[derive(Debug, Default)]
struct Records {
    by_id: HashMap<String, Record>,
    by_key: HashMap<String, String>,
    /// Instances in a final state by their last move, the least recently moved first.
    finals: BTreeMap<u64, String>,
    moves: u64,
    bytes: usize,
    final_bytes: usize,
}

#[derive(Debug)]
struct Record {
    correlationkey: String,
    current: String,
    context: Box<RawValue>,
    step: u64,
    /// Its key in `finals`, when in a final state.
    final_order: Option<u64>,
    bytes: usize,
}

impl Record {
    fn instance(&self, id: &str) -> Instance {
        Instance {
            id: id.to_owned(),
            correlationkey: self.correlationkey.clone(),
            current: self.current.clone(),
            context: serde_json::from_str(self.context.get()).unwrap_or_default(),
        }
    }
}

impl Records {
    fn forget(&mut self, id: &str) {
        let Some(record) = self.by_id.remove(id) else { return };
        self.bytes -= record.bytes;
        if let Some(order) = record.final_order {
            self.finals.remove(&order);
            self.final_bytes -= record.bytes;
        }
        if self.by_key.get(&record.correlationkey).is_some_and(|owner| owner == id) {
            self.by_key.remove(&record.correlationkey);
        }
    }
}

impl Store {
    pub fn new(limits: Limits) -> Self {
        Self { limits, kept: Mutex::new(Records::default()) }
    }

    fn kept(&self) -> MutexGuard<'_, Records> {
        self.kept.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn get(&self, id: &str) -> Option<Kept> {
        let kept = self.kept();
        let record = kept.by_id.get(id)?;
        Some(Kept { instance: record.instance(id), step: record.step })
    }

    pub fn id_for_key(&self, key: &str) -> Option<String> {
        self.kept().by_key.get(key).cloned()
    }

    /// Writes `instance` at `step`, if the store still holds it at step `read` (`None`:
    /// does not hold it), forgetting instances in a final state if it needs room.
    pub fn put(&self, instance: &Instance, step: u64, is_final: bool, read: Option<u64>) -> Result<(), Refused> {
        let context = serde_json::value::to_raw_value(&instance.context).map_err(|_| Refused::Conflict)?;
        let bytes = RECORD_OVERHEAD
            + instance.id.len()
            + instance.correlationkey.len()
            + instance.current.len()
            + context.get().len();
        if bytes > self.limits.bytes {
            return Err(Refused::TooLarge { bytes, limit: self.limits.bytes });
        }
        let mut kept = self.kept();
        let old = kept.by_id.get(&instance.id);
        if old.map(|record| record.step) != read {
            return Err(Refused::Conflict);
        }
        // What the store holds once the old record is replaced, and what it may forget
        // (the finals but this instance).
        let old_bytes = old.map_or(0, |r| r.bytes);
        let old_final = old.is_some_and(|r| r.final_order.is_some());
        let (mut count, mut total) = (kept.by_id.len() + usize::from(old.is_none()), kept.bytes - old_bytes + bytes);
        let (finals, final_bytes) = match old_final {
            true => (kept.finals.len() - 1, kept.final_bytes - old_bytes),
            false => (kept.finals.len(), kept.final_bytes),
        };
        if count - finals > self.limits.instances {
            return Err(Refused::Full(Limit::Instances(self.limits.instances)));
        }
        if total - final_bytes > self.limits.bytes {
            return Err(Refused::Full(Limit::Bytes(self.limits.bytes)));
        }
        while count > self.limits.instances || total > self.limits.bytes {
            let victim = kept.finals.values().find(|id| **id != instance.id).cloned();
            let Some(victim) = victim else { break };
            total -= kept.by_id.get(&victim).map_or(0, |r| r.bytes);
            count -= 1;
            kept.forget(&victim);
        }
        kept.forget(&instance.id);
        let final_order = is_final.then(|| {
            kept.moves += 1;
            kept.moves
        });
        if let Some(order) = final_order {
            kept.finals.insert(order, instance.id.clone());
            kept.final_bytes += bytes;
        }
        kept.bytes += bytes;
        if !instance.correlationkey.is_empty() {
            kept.by_key.insert(instance.correlationkey.clone(), instance.id.clone());
        }
        let record = Record {
            correlationkey: instance.correlationkey.clone(),
            current: instance.current.clone(),
            context,
            step,
            final_order,
            bytes,
        };
        kept.by_id.insert(instance.id.clone(), record);
        Ok(())
    }

    pub fn all(&self) -> Vec<Instance> {
        let kept = self.kept();
        let mut all: Vec<Instance> = kept.by_id.iter().map(|(id, record)| record.instance(id)).collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all
    }

    /// How many instances it holds, and their bytes.
    #[cfg(test)]
    pub fn size(&self) -> (usize, usize) {
        let kept = self.kept();
        (kept.by_id.len(), kept.bytes)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn instance(id: &str, current: &str, context: serde_json::Value) -> Instance {
        Instance { id: id.into(), correlationkey: String::new(), current: current.into(), context }
    }

    fn ids(store: &Store) -> Vec<String> {
        store.all().into_iter().map(|i| i.id).collect()
    }

    #[test]
    fn an_instance_is_kept_with_its_step_and_written_only_at_the_step_read() {
        let store = Store::new(Limits { instances: 10, bytes: 1 << 20 });
        let mut first = instance("a", "One", json!({"n": 1}));
        first.correlationkey = "order-7".into();
        store.put(&first, 1, false, None).unwrap();
        assert_eq!(store.get("a"), Some(Kept { instance: first.clone(), step: 1 }));
        assert_eq!(store.id_for_key("order-7").as_deref(), Some("a"));
        assert_eq!(store.put(&first, 1, false, None), Err(Refused::Conflict), "it exists now");
        assert_eq!(store.put(&first, 2, false, Some(0)), Err(Refused::Conflict), "moved since read");
        let mut second = instance("a", "Two", json!({"n": 2}));
        second.correlationkey = "order-7".into();
        store.put(&second, 2, false, Some(1)).unwrap();
        assert_eq!(store.get("a").map(|k| (k.instance.current, k.step)), Some(("Two".into(), 2)));
        assert_eq!(store.id_for_key("order-7").as_deref(), Some("a"), "the key stays");
        let (count, bytes) = store.size();
        assert_eq!(
            (count, bytes),
            (1, RECORD_OVERHEAD + "a".len() + "order-7".len() + "Two".len() + r#"{"n":2}"#.len())
        );
    }

    #[test]
    fn finals_are_forgotten_least_recently_moved_first_and_live_ones_never() {
        let store = Store::new(Limits { instances: 3, bytes: 1 << 20 });
        store.put(&instance("done-1", "Done", json!(null)), 2, true, None).unwrap();
        store.put(&instance("live", "Half", json!(null)), 1, false, None).unwrap();
        store.put(&instance("done-2", "Done", json!(null)), 2, true, None).unwrap();
        // done-1 moves again (e.g. a final state that was reached again): now the latest.
        store.put(&instance("done-1", "Done", json!(null)), 3, true, Some(2)).unwrap();
        store.put(&instance("new-1", "", json!(null)), 0, false, None).unwrap();
        assert_eq!(ids(&store), ["done-1", "live", "new-1"], "done-2 moved least recently");
        store.put(&instance("new-2", "", json!(null)), 0, false, None).unwrap();
        assert_eq!(ids(&store), ["live", "new-1", "new-2"]);
        assert_eq!(
            store.put(&instance("new-3", "", json!(null)), 0, false, None),
            Err(Refused::Full(Limit::Instances(3))),
            "only live instances: refused, none forgotten"
        );
        assert_eq!(ids(&store), ["live", "new-1", "new-2"]);
        store.put(&instance("live", "Half", json!({"more": 1})), 2, false, Some(1)).unwrap();
        store.put(&instance("new-1", "Done", json!(null)), 1, true, Some(0)).unwrap();
        store.put(&instance("new-3", "", json!(null)), 0, false, None).unwrap();
        assert_eq!(ids(&store), ["live", "new-2", "new-3"], "a live instance that finished makes room");
    }

    #[test]
    fn bytes_are_bounded_too() {
        let big = |n: usize| json!({"pad": "x".repeat(n)});
        let limit = 3 * (RECORD_OVERHEAD + 1000);
        let store = Store::new(Limits { instances: 100, bytes: limit });
        store.put(&instance("done", "Done", big(900)), 1, true, None).unwrap();
        let mut key = instance("keyed", "", big(900));
        key.correlationkey = "k".into();
        store.put(&key, 1, true, None).unwrap();
        store.put(&instance("live-1", "Half", big(900)), 1, false, None).unwrap();
        store.put(&instance("live-2", "Half", big(900)), 1, false, None).unwrap();
        assert_eq!(ids(&store), ["keyed", "live-1", "live-2"]);
        store.put(&instance("live-3", "Half", big(900)), 1, false, None).unwrap();
        assert_eq!(ids(&store), ["live-1", "live-2", "live-3"]);
        assert_eq!(store.id_for_key("k"), None, "a forgotten instance's key goes with it");
        assert_eq!(
            store.put(&instance("live-4", "Half", big(10)), 1, false, None),
            Err(Refused::Full(Limit::Bytes(limit)))
        );
        assert_eq!(
            store.put(&instance("live-1", "Half", big(2000)), 2, false, Some(1)),
            Err(Refused::Full(Limit::Bytes(limit))),
            "a live instance may not grow past the bound either"
        );
        assert!(store.size().1 <= limit);
        assert!(matches!(
            store.put(&instance("huge", "", big(limit)), 0, false, None),
            Err(Refused::TooLarge { limit: l, .. }) if l == limit
        ));
    }
}
