//! Where instances live between steps: `WORKFLOW_STORE` = `memory`, `sqlite:PATH`.
//!
//! Every save is a compare-and-swap on the instance's `version`: the engine claims an
//! instance (saves it with the next version) before it runs a step, so of two
//! processes that load the same instance only one can go on; the other's save is
//! refused and it stops.

mod memory;
mod sqlite;

use std::sync::Arc;

use crate::instance::Instance;

/// A store error.
#[derive(Debug, Clone, thiserror::Error)]
#[error("store: {0}")]
pub struct StoreError(pub String);

/// The configured store.
#[derive(Debug, Clone)]
pub enum Store {
    /// In this process only (tests).
    Memory(Arc<memory::MemoryStore>),
    /// An SQLite file: durable on one machine.
    Sqlite(Arc<sqlite::SqliteStore>),
}

impl Store {
    /// Opens the store `setting` names (`memory`, `sqlite:PATH`).
    pub fn open(setting: &str) -> Result<Self, String> {
        if setting == "memory" {
            return Ok(Self::Memory(Arc::default()));
        }
        if let Some(path) = setting.strip_prefix("sqlite:") {
            return sqlite::SqliteStore::open(path).map(|s| Self::Sqlite(Arc::new(s)));
        }
        Err(format!("{setting:?}: expected memory or sqlite:PATH"))
    }

    /// Adds a new instance.
    pub async fn insert(&self, instance: &Instance) -> Result<(), StoreError> {
        match self {
            Self::Memory(s) => s.insert(instance),
            Self::Sqlite(s) => s.clone().run(move |s, i| s.insert(&i), instance.clone()).await,
        }
    }

    /// Saves `instance` if the stored one still has `instance.version - 1`; `false` when
    /// another process saved it meanwhile (or it was deleted).
    pub async fn update(&self, instance: &Instance) -> Result<bool, StoreError> {
        match self {
            Self::Memory(s) => s.update(instance),
            Self::Sqlite(s) => s.clone().run(move |s, i| s.update(&i), instance.clone()).await,
        }
    }

    /// The instance `id`.
    pub async fn get(&self, id: &str) -> Result<Option<Instance>, StoreError> {
        match self {
            Self::Memory(s) => s.get(id),
            Self::Sqlite(s) => s.clone().run(move |s, id| s.get(&id), id.to_owned()).await,
        }
    }

    /// Removes the instance `id`; whether it was there.
    pub async fn delete(&self, id: &str) -> Result<bool, StoreError> {
        match self {
            Self::Memory(s) => s.delete(id),
            Self::Sqlite(s) => s.clone().run(move |s, id| s.delete(&id), id.to_owned()).await,
        }
    }

    /// Every instance of workflow `workflow`.
    pub async fn list(&self, workflow: &str) -> Result<Vec<Instance>, StoreError> {
        match self {
            Self::Memory(s) => s.list(workflow),
            Self::Sqlite(s) => s.clone().run(move |s, w| s.list(&w), workflow.to_owned()).await,
        }
    }
}
