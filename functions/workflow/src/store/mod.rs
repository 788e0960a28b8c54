//! Where instances live between steps: `WORKFLOW_STORE` = `memory`, `sqlite:PATH`,
//! `postgres://...`.
//!
//! Every save is a compare-and-swap on the instance's `version`: the engine claims an
//! instance (saves it with the next version) before it runs a step, so of two
//! processes that load the same instance only one can go on; the other's save is
//! refused and it stops.

mod memory;
mod postgres;
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
    /// A PostgreSQL database: shared by replicas.
    Postgres(Arc<postgres::PostgresStore>),
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
        if setting.starts_with("postgres://") || setting.starts_with("postgresql://") {
            return postgres::PostgresStore::open(setting).map(|s| Self::Postgres(Arc::new(s)));
        }
        Err(format!("{setting:?}: expected memory, sqlite:PATH or postgres://..."))
    }

    /// Whether other processes may share it (then active instances are leased).
    pub fn shared(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }

    /// Adds a new instance.
    pub async fn insert(&self, instance: &Instance) -> Result<(), StoreError> {
        match self {
            Self::Memory(s) => s.insert(instance),
            Self::Sqlite(s) => s.clone().run(move |s, i| s.insert(&i), instance.clone()).await,
            Self::Postgres(s) => s.insert(instance).await,
        }
    }

    /// Saves `instance` if the stored one still has `instance.version - 1`; `false` when
    /// another process saved it meanwhile (or it was deleted).
    pub async fn update(&self, instance: &Instance) -> Result<bool, StoreError> {
        match self {
            Self::Memory(s) => s.update(instance),
            Self::Sqlite(s) => s.clone().run(move |s, i| s.update(&i), instance.clone()).await,
            Self::Postgres(s) => s.update(instance).await,
        }
    }

    /// The instance `id`.
    pub async fn get(&self, id: &str) -> Result<Option<Instance>, StoreError> {
        match self {
            Self::Memory(s) => s.get(id),
            Self::Sqlite(s) => s.clone().run(move |s, id| s.get(&id), id.to_owned()).await,
            Self::Postgres(s) => s.get(id).await,
        }
    }

    /// Removes the instance `id`; whether it was there.
    pub async fn delete(&self, id: &str) -> Result<bool, StoreError> {
        match self {
            Self::Memory(s) => s.delete(id),
            Self::Sqlite(s) => s.clone().run(move |s, id| s.delete(&id), id.to_owned()).await,
            Self::Postgres(s) => s.delete(id).await,
        }
    }

    /// Every instance of workflow `workflow`.
    pub async fn list(&self, workflow: &str) -> Result<Vec<Instance>, StoreError> {
        match self {
            Self::Memory(s) => s.list(workflow),
            Self::Sqlite(s) => s.clone().run(move |s, w| s.list(&w), workflow.to_owned()).await,
            Self::Postgres(s) => s.list(workflow).await,
        }
    }
}
