//! The in-memory store: a map behind a mutex, for tests and throwaway runs.

use std::collections::HashMap;
use std::sync::Mutex;

use super::StoreError;
use crate::instance::Instance;

/// Instances by id.
#[derive(Debug, Default)]
pub struct MemoryStore {
    instances: Mutex<HashMap<String, Instance>>,
}

impl MemoryStore {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instance>> {
        self.instances.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn insert(&self, instance: &Instance) -> Result<(), StoreError> {
        self.map().insert(instance.id.clone(), instance.clone());
        Ok(())
    }

    pub(super) fn update(&self, instance: &Instance) -> Result<bool, StoreError> {
        let mut map = self.map();
        match map.get_mut(&instance.id) {
            Some(stored) if stored.version == instance.version - 1 => {
                *stored = instance.clone();
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    pub(super) fn get(&self, id: &str) -> Result<Option<Instance>, StoreError> {
        Ok(self.map().get(id).cloned())
    }

    pub(super) fn delete(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.map().remove(id).is_some())
    }

    pub(super) fn list(&self, workflow: &str) -> Result<Vec<Instance>, StoreError> {
        let mut list: Vec<Instance> = self.map().values().filter(|i| i.workflow == workflow).cloned().collect();
        list.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(list)
    }
}
