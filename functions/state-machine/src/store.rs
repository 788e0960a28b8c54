//! `STATE_STORE=memory`: instances kept in this process, by id and by correlation key,
//! as knative-state's runner keeps them.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::Serialize;

/// One instance, in the runner's JSON shape.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Instance {
    pub id: String,
    pub correlationkey: String,
    pub current: String,
    pub context: serde_json::Value,
}

#[derive(Debug, Default)]
pub struct Store {
    by_id: Mutex<HashMap<String, Instance>>,
    by_key: Mutex<HashMap<String, String>>,
}

impl Store {
    pub fn get(&self, id: &str) -> Option<Instance> {
        self.by_id.lock().ok()?.get(id).cloned()
    }

    pub fn id_for_key(&self, key: &str) -> Option<String> {
        self.by_key.lock().ok()?.get(key).cloned()
    }

    pub fn put(&self, instance: Instance) {
        if let Ok(mut keys) = self.by_key.lock()
            && !instance.correlationkey.is_empty()
        {
            keys.insert(instance.correlationkey.clone(), instance.id.clone());
        }
        if let Ok(mut by_id) = self.by_id.lock() {
            by_id.insert(instance.id.clone(), instance);
        }
    }

    pub fn all(&self) -> Vec<Instance> {
        let mut all: Vec<Instance> = self.by_id.lock().map(|m| m.values().cloned().collect()).unwrap_or_default();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all
    }
}
